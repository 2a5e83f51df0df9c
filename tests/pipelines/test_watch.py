"""Watch mode: incremental rounds, and kill -9 at any moment loses and duplicates nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.support.cli import read_table, run_cli
from tests.support.pagegen import article_html
from tests.support.paths import REPO

TOPICS = ["cảng biển", "lúa gạo", "điện gió", "đường sắt", "du lịch", "giáo dục", "y tế", "thủy sản", "cà phê", "nhà ở", "chứng khoán", "bóng đá"]


def write_page(folder: Path, i: int) -> None:
    topic = TOPICS[i]
    paragraphs = [
        f"Bản tin số {i} về {topic}: các cơ quan chức năng vừa công bố số liệu mới nhất trong tuần này.",
        f"Theo báo cáo, lĩnh vực {topic} ghi nhận nhiều chuyển biến tích cực so với cùng kỳ năm trước.",
        f"Các chuyên gia nhận định {topic} sẽ còn tăng trưởng trong những tháng cuối năm {2000 + i}.",
    ]
    html = article_html(f"Tin {topic} số {i}", paragraphs, canonical=f"https://watch.example/tin-{i}.html")
    temp = folder / f".tin-{i}.tmp"
    temp.write_text(html, encoding="utf-8")
    temp.rename(folder / f"tin-{i:02d}.html")  # appear atomically, as a downloader would do


def start(incoming: Path, out: Path, interval: float = 0.2) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = ["watch", "--input", str(incoming), "--output", str(out), "--interval", str(interval)]
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def state(out: Path) -> dict:
    path = out / "_state" / "crawl_state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def written_but_not_committed(out: Path) -> bool:
    pending = state(out).get("pending_run")
    return bool(pending) and any((out / "articles").rglob(f"part-{pending}-*.parquet"))


def wait_for(predicate, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def articles(out: Path) -> list:
    files = sorted(str(f) for f in out.glob("articles/*/part-*.parquet"))
    return ds.dataset(files, format="parquet").to_table(columns=["article_id", "source"]).to_pylist() if files else []


def test_killed_and_restarted_watch_loses_and_duplicates_nothing(tmp_path):
    incoming, out = tmp_path / "incoming", tmp_path / "out"
    incoming.mkdir()
    proc = start(incoming, out)
    try:
        for i in range(4):
            write_page(incoming, i)
        assert wait_for(lambda: state(out).get("pending_run")), "no round started"
        proc.send_signal(signal.SIGKILL)  # mid-run: tables half written, state pending
        proc.wait()
        for i in range(4, 8):
            write_page(incoming, i)
        proc = start(incoming, out)
        assert wait_for(lambda: len(state(out).get("files", {})) >= 4)
        for i in range(8, 12):
            write_page(incoming, i)
        assert wait_for(lambda: written_but_not_committed(out))
        proc.send_signal(signal.SIGKILL)  # tables written, commit not yet done: the rollback must remove them
        proc.wait()
        proc = start(incoming, out)
        assert wait_for(lambda: len(state(out).get("files", {})) == 12 and not state(out).get("pending_run"))
    finally:
        proc.kill()
        proc.wait()
    rows = articles(out)
    assert sorted(Path(r["source"]).name for r in rows) == [f"tin-{i:02d}.html" for i in range(12)]
    assert len({r["article_id"] for r in rows}) == 12
    assert not list(out.rglob(".tmp-*")), "temporary files left behind"


@pytest.mark.slow  # two watch rounds through the CLI
def test_a_broken_link_in_the_watched_folder_is_one_failure_row(tmp_path):
    incoming, out = tmp_path / "incoming", tmp_path / "out"
    incoming.mkdir()
    write_page(incoming, 0)
    (incoming / "gone.html").symlink_to(tmp_path / "nowhere.html")
    for _ in range(2):  # the second round finds nothing new
        run_cli("watch", "--once", "--input", str(incoming), "--output", str(out))
    failures = read_table(out, "failures").to_pylist()
    assert [(Path(f["source"]).name, f["stage"], f["error_type"]) for f in failures] == [("gone.html", "read", "FileNotFoundError")]
    assert [Path(a["source"]).name for a in articles(out)] == ["tin-00.html"]
