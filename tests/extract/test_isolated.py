"""trafilatura in an isolated process with a time budget (transforms/extract/isolated.py)."""

import os
import signal
import subprocess
import sys

import pytest

from tests.support.pagegen import PARAGRAPHS_VI, article_html
from transforms.extract import isolated
from transforms.extract.articles import ExtractConfig
from transforms.extract.decode import PageRejected
from transforms.extract.isolated import IsolatedExtractor, start_early
from transforms.records import raw_page

VI_PAGE = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI)
PAGE = raw_page("page.html", VI_PAGE.encode())


def test_isolated_extractor_times_out_then_recovers():
    slow = IsolatedExtractor(ExtractConfig(timeout_s=0.0001))
    with pytest.raises(PageRejected) as info:
        slow(raw_page("big.html", VI_PAGE.encode() * 50))
    assert info.value.error_type == "ExtractionTimeout"
    slow.close()
    normal = IsolatedExtractor(ExtractConfig())
    article = normal(PAGE)
    assert PARAGRAPHS_VI[1] in article["text"] and article["language"] == "vi"
    normal.close()


def test_a_child_killed_before_reading_its_page_is_a_crash_row_then_replaced():
    """The page still sits unread in the dead child's pipe: the parent's read is reset, not at EOF."""
    extractor = IsolatedExtractor(ExtractConfig())
    try:
        extractor.submit(PAGE)
        os.kill(extractor._process.pid, signal.SIGKILL)  # still starting up: the page is unread
        with pytest.raises(PageRejected) as info:
            extractor.result()
        assert info.value.error_type == "ExtractorCrashed"
        assert PARAGRAPHS_VI[1] in extractor(PAGE)["text"]
    finally:
        extractor.close()


def test_extractors_take_the_children_started_early_for_their_config():
    """A job in this process starts its children before it builds its graph: its extractors take
    them (a call again only tops them up); an extractor of other settings starts its own."""
    config, other = ExtractConfig(), ExtractConfig(min_words=5)
    extractors = []
    try:
        start_early(config, 2)
        start_early(config, 2)
        early = [process for c, process, _ in isolated._EARLY if c == config]
        assert len(early) == 2
        extractors = [IsolatedExtractor(config), IsolatedExtractor(config), IsolatedExtractor(other)]
        answers = [extractor(PAGE) for extractor in extractors]
        assert {extractor._process for extractor in extractors[:2]} == set(early)
        assert extractors[2]._process not in early and isolated._EARLY == []
        assert all(PARAGRAPHS_VI[1] in answer["text"] for answer in answers)
    finally:
        for extractor in extractors:
            extractor.close()
        for _, process, _ in isolated._EARLY:
            process.kill()
        isolated._EARLY.clear()


def test_ready_gives_the_extractors_whose_answer_is_in_without_waiting_for_the_others():
    slow, quick = IsolatedExtractor(ExtractConfig()), IsolatedExtractor(ExtractConfig())
    try:
        slow.submit(raw_page("long.html", article_html("Dài", PARAGRAPHS_VI * 5000).encode()))  # seconds of work
        quick.submit(PAGE)
        assert IsolatedExtractor.ready([slow, quick]) == [quick]
        assert PARAGRAPHS_VI[1] in quick.result()["text"]
    finally:
        slow.close()
        quick.close()


_PARENT = """
import sys, time
from transforms.extract.articles import ExtractConfig
from transforms.extract import isolated
from transforms.extract.isolated import IsolatedExtractor, start_early
from transforms.records import raw_page

extractor = IsolatedExtractor(ExtractConfig())
extractor.submit(raw_page("page.html", sys.argv[1].encode()))
if sys.argv[2] == "answered":
    extractor._conn.poll(60)  # the child's answer waits, unread, in the pipe
print(extractor._process.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("moment", ["working", "answered"])
def test_the_child_exits_quietly_when_its_parent_is_killed(moment):
    """kill -9 of a run: its extractor child finds the pipe broken (while sending its answer) or
    reset (the answer it sent was never read) and exits without a traceback in the run's log."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, VI_PAGE, moment], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    child_pid = parent.stdout.readline().strip()
    parent.kill()
    try:
        _, log = parent.communicate(timeout=60)  # ends when the child, which writes to the same pipes, is gone
    except subprocess.TimeoutExpired:
        os.kill(int(child_pid), signal.SIGKILL)
        raise
    assert child_pid.isdigit(), log
    assert "Traceback" not in log, log
