"""Markup crafted against backtracking regexes (tags that never close, attribute names that never
end): the scans of a page's HTML cost time in proportion to its size, and such a page, fetched
from a loopback server, ends as a row well within ``extract.timeout_s``.

Every measurement runs in a fresh process killed at a limit: a regex stuck in C code holds the
GIL, so no thread of the test could stop it."""

import multiprocessing
import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support.fetching import CONFIG, entry
from tests.support.localweb import Reply
from tests.support.pagegen import PARAGRAPHS_VI, article_html
from transforms.extract import metadata
from transforms.extract.articles import ExtractConfig
from transforms.extract.decode import decode_html
from transforms.extract.transform import Extract
from transforms.fetch.client import Fetcher, HostPacer
from transforms.fetch.polite import fetch_page

ADVERSARIAL = {  # name -> markup of about ``size`` characters
    "unclosed time tags": lambda size: "<time class='x " * (size // 15),
    "unclosed spans": lambda size: "<span " * (size // 6),
    "dated class never closed": lambda size: "<p class='date " * (size // 15),
    "dated elements, no date": lambda size: "<p class='date'>Jan 12:30 2026 2027</p>" * (size // 40),
    "unclosed meta tags": lambda size: "<meta " * (size // 6),
    "endless attribute name": lambda size: "<meta " + "a" * size + ">",
    "endless attribute names": lambda size: "<meta " + "a " * (size // 2) + ">",
    "unclosed html tags": lambda size: "<html " * (size // 6),
    "json-ld key": lambda size: '"datePublished" ' * (size // 16),
    "dates without a time": lambda size: "01/02/2026 " * (size // 11),
}


def run_bounded(target, *args, limit_s: float):
    """``target(*args)`` in a fresh process; fails the test if it has not returned within ``limit_s``."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_send_result, args=(sender, target, args))
    process.start()
    sender.close()
    try:
        assert receiver.poll(limit_s), f"{target.__name__}{args} still running after {limit_s} s"
        status, value = receiver.recv()
    finally:
        process.kill()
        process.join()
    assert status == "ok", value
    return value


def _send_result(sender, target, args) -> None:
    try:
        sender.send(("ok", target(*args)))
    except Exception as exc:  # noqa: BLE001 (reported to the test)
        sender.send(("error", repr(exc)))


def _scan_seconds(body: bytes) -> float:
    """Seconds to decode and scan (``page_hints``) one page body."""
    started = time.perf_counter()
    metadata.page_hints(decode_html(body))
    return time.perf_counter() - started


def _scaling(name: str) -> tuple[float, float]:
    """Best of five scans of the adversarial markup ``name`` at 40 KB and at 80 KB, interleaved so
    that a busy machine slows both alike."""
    bodies = [ADVERSARIAL[name](size).encode() for size in (40_000, 80_000)]
    runs = [[_scan_seconds(body) for body in bodies] for _ in range(5)]
    return min(run[0] for run in runs), min(run[1] for run in runs)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_page_scans_take_linear_time(name):
    at_40kb, at_80kb = run_bounded(_scaling, name, limit_s=30)
    assert at_40kb < 3.0, f"{at_40kb:.2f} s for 40 KB"
    assert at_80kb <= 3 * at_40kb + 0.05, f"40 KB: {at_40kb:.3f} s, 80 KB: {at_80kb:.3f} s"


def _extract_seconds(pages: list, timeout_s: float) -> list:
    """Seconds the Extract stage takes to turn each page into an article (asserted), page by page."""
    seconds = []
    for page in pages:
        started = time.monotonic()
        with TestPipeline(runner="FnApiRunner") as p:
            articles, failures = p | beam.Create([page]) | Extract(ExtractConfig(timeout_s=timeout_s))
            assert_that(articles | beam.Map(lambda a: a["source"]), equal_to([page["source"]]), label="Articles")
            assert_that(failures, equal_to([]), label="Failures")
        seconds.append(time.monotonic() - started)
    return seconds


def test_a_fetched_page_of_unclosed_tags_is_extracted_within_the_budget(local_web):
    html = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI)
    junk = "<time class='x " * 2500  # 37.5 KB: minutes of backtracking for a nested-quantifier date scan
    local_web.route("/plain", Reply(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"}))
    local_web.route("/junk", Reply(200, html.replace("<footer>", junk + "<footer>").encode(),
                                   {"Content-Type": "text/html; charset=utf-8"}))
    fetcher = Fetcher(CONFIG)
    try:
        pages = [fetch_page(fetcher, HostPacer(0), entry(local_web.url(path))) for path in ("/plain", "/junk")]
    finally:
        fetcher.close()
    timeout_s = 5.0
    plain_s, junk_s = run_bounded(_extract_seconds, pages, timeout_s, limit_s=90)
    assert junk_s - plain_s < timeout_s, f"plain page {plain_s:.1f} s, junk page {junk_s:.1f} s"
