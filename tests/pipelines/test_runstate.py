from datetime import datetime, timedelta, timezone

from pipelines import runstate
from pipelines.runstate import load_state, save_state, state_path
from transforms.fetch.crawl_state import empty_state, remember

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


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
    assert runstate.load_state(root)["pending_run"] is None


def test_commit_forgets_settled_urls_past_the_retention(tmp_path):
    from datetime import datetime, timezone

    root = str(tmp_path)
    state = runstate.begin_run(root, "r1")
    old = (datetime.now(timezone.utc) - runstate.SEEN_RETENTION).replace(year=2000).isoformat()
    recent = datetime.now(timezone.utc).isoformat()
    state = {**state, "seen": {"https://a.example/old": old, "https://a.example/recent": recent}}
    state = runstate.commit_run(root, "r1", state)
    assert list(state["seen"]) == ["https://a.example/recent"]


def entry(url):
    return {"url": url, "source": "http://f/rss", "feed_url": "http://f/rss", "title": None, "published_at": None,
            "guid": None}


def test_first_run_has_an_empty_state(tmp_path):
    assert load_state(str(tmp_path)) == empty_state()


def test_round_trip_replaces_the_file_atomically(tmp_path):
    root = str(tmp_path / "out")
    body = {"feed_url": "http://f/rss", "body": b"<rss/>", "etag": '"v1"', "last_modified": None,
            "body_sha1": "ab", "not_modified": False}
    first = remember(empty_state(), [body], [entry("https://báo.vn/tin-1?utm_source=x")], NOW)
    save_state(root, first)
    assert load_state(root) == first
    assert first["validators"] == {"http://f/rss": {"etag": '"v1"', "last_modified": None, "body_sha1": "ab"}}

    second = remember(first, [], [entry("https://b.vn/2")], NOW + timedelta(hours=1))
    save_state(root, second)
    assert load_state(root) == second
    assert [p.name for p in (tmp_path / "out" / "_state").iterdir()] == ["crawl_state.json"]  # no temp left
    assert state_path(root).endswith("crawl_state.json")
