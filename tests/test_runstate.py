from pipelines import runstate
from transforms import crawlstate


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_begin_run_rolls_back_the_run_a_crash_left_pending(tmp_path):
    root = str(tmp_path)
    committed = tmp_path / "articles" / "ingest_date=2026-11-16" / "part-runA-0000.parquet"
    touch(committed)
    runstate.commit_run(root, "runA", runstate.begin_run(root, "runA"), ["in/a.html"])
    aborted = [
        tmp_path / "articles" / "ingest_date=2026-11-16" / "part-runB-0000.parquet",
        tmp_path / "stories" / "ingest_date=2026-11-17" / "part-runB-0003.parquet",
        tmp_path / "failures" / "ingest_date=2026-11-16" / ".tmp-part-runB-0000.parquet",
    ]
    runstate.begin_run(root, "runB")
    for path in aborted:
        touch(path)
    state = runstate.begin_run(root, "runC")  # runB crashed before its commit
    assert state["pending_run"] == "runC"
    assert not any(path.exists() for path in aborted)
    assert committed.exists()
    assert list(state["files"]) == ["in/a.html"]


def test_commit_records_files_once_and_clears_pending(tmp_path):
    root = str(tmp_path)
    state = runstate.commit_run(root, "r1", runstate.begin_run(root, "r1"), ["a.html", "b.html"])
    first_seen = state["files"]["a.html"]
    state = runstate.commit_run(root, "r2", runstate.begin_run(root, "r2"), ["a.html", "c.html"])
    assert state["files"]["a.html"] == first_seen and set(state["files"]) == {"a.html", "b.html", "c.html"}
    assert crawlstate.load_state(root)["pending_run"] is None


def test_commit_forgets_settled_urls_past_the_retention(tmp_path):
    from datetime import datetime, timezone

    root = str(tmp_path)
    state = runstate.begin_run(root, "r1")
    old = (datetime.now(timezone.utc) - runstate.SEEN_RETENTION).replace(year=2000).isoformat()
    recent = datetime.now(timezone.utc).isoformat()
    state = {**state, "seen": {"https://a.example/old": old, "https://a.example/recent": recent}}
    state = runstate.commit_run(root, "r1", state)
    assert list(state["seen"]) == ["https://a.example/recent"]
