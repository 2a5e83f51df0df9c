import gzip
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.archiveiterator import ArchiveIterator

from tests.support.paths import SHARED_DATA
from transforms.sources.warc import ReadWarc, iter_warc_pages

WARC = SHARED_DATA / "warc"
WARCIO = WARC / "warcio" / "test" / "data"
RESILIPARSE = WARC / "resiliparse" / "tests" / "data"
CC_EXCERPT = RESILIPARSE / "warcfile.warc"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"corpus {path} is absent (see ../shared/data/README.md)")
    return path


def read(path: Path):
    """(pages, failures) of one archive."""
    results = list(iter_warc_pages(str(need(path)), path.name))
    pages = [r for r in results if "error_type" not in r]
    return pages, [r for r in results if "error_type" in r]


def kinds(failures):
    return [(f["source"].replace(f["source"].split("#")[0], ""), f["error_type"]) for f in failures]


def test_every_archive_in_the_corpus_reads_without_exception():
    files = sorted(
        p for p in need(WARC).rglob("*") if p.is_file() and (".warc" in p.name or ".arc" in p.name)
    )
    summary = Counter()
    for path in files:
        pages, failures = read(path)
        summary["files"] += 1
        summary["files with pages"] += bool(pages)
        summary["pages"] += len(pages)
        summary.update(f["error_type"] for f in failures)
        for page in pages:
            assert isinstance(page["body"], bytes) and page["body"]
            assert page["source"].startswith(f"{path.name}#offset=")
            assert page["url"].startswith("http")
        assert all(f["stage"] == "warc" for f in failures)
    print(dict(summary))
    assert summary["files"] == len(files) >= 30
    assert summary["pages"] >= 75
    assert summary["TruncatedRecord"] >= 3 and summary["ArchiveLoadFailed"] >= 4


@pytest.mark.parametrize("name", ["warcfile.warc", "warcfile.warc.gz"])
def test_common_crawl_excerpt_yields_its_16_html_responses(name):
    pages, failures = read(RESILIPARSE / name)
    assert failures == []
    assert len(pages) == 16
    assert (pages[0]["url"], pages[0]["fetched_at"]) == (
        "http://003338.cn/l41/481397.html",
        datetime(2020, 8, 8, 17, 27, 41, tzinfo=UTC),
    )
    assert all(b"<html" in page["body"][:2000].lower() for page in pages)


def test_offsets_point_at_the_records_in_the_stored_file():
    pages, _ = read(need(RESILIPARSE / "warcfile.warc.gz"))
    with open(RESILIPARSE / "warcfile.warc.gz", "rb") as handle:
        for page in pages:
            handle.seek(int(page["source"].rsplit("=", 1)[1]))
            record = next(iter(ArchiveIterator(handle)))
            assert record.rec_headers.get_header("WARC-Target-URI") == page["url"]
            assert record.content_stream().read() == page["body"]


def test_plain_and_gzipped_archives_give_the_same_pages():
    plain, _ = read(CC_EXCERPT)
    gzipped, _ = read(RESILIPARSE / "warcfile.warc.gz")
    assert [(p["url"], p["body"]) for p in plain] == [(p["url"], p["body"]) for p in gzipped]


def test_payload_is_dechunked_and_decoded_and_charset_comes_from_http_header():
    (chunked,), _ = read(WARCIO / "example-iana.org-chunked.warc")
    assert chunked["body"].startswith(b"<!doctype html>") and chunked["charset"] == "UTF-8"
    (gzipped,), _ = read(WARCIO / "example.warc.gz")  # Content-Encoding: gzip
    assert gzipped["body"].startswith(b"<!doctype html>") and gzipped["charset"] is None
    quirk, _ = read(RESILIPARSE / "clueweb-quirk.warc.gz")
    assert quirk[0]["charset"] == "EUC-JP"
    assert quirk[0]["fetched_at"] is None  # ClueWeb09's invalid WARC-Date '2008-10-294T...'


def test_arc_files_are_read():
    for name in ("example.arc", "example.arc.gz"):
        (page,), failures = read(WARCIO / name)
        assert failures == []
        assert (page["url"], page["fetched_at"]) == (
            "http://example.com/",
            datetime(2014, 2, 16, 5, 2, 21, tzinfo=UTC),
        )


@pytest.mark.parametrize(
    "name, expected",
    [
        ("clipped.warc.gz", [("#offset=0", "TruncatedRecord")]),
        ("example-trunc.warc", [("#offset=1197", "TruncatedRecord")]),
        ("example-wrong-chunks.warc.gz", [("#offset=0", "TruncatedRecord"), ("", "ArchiveLoadFailed")]),
        ("example-bad-non-chunked.warc.gz", [("", "ArchiveLoadFailed")]),
        ("warcfile.warc.lz4", [("", "ArchiveLoadFailed")]),  # warcio reads no LZ4
    ],
)
def test_broken_archives_become_failures(name, expected):
    path = next(need(WARC).rglob(name))
    pages, failures = read(path)
    assert pages == []
    assert kinds(failures) == expected


def test_good_records_before_a_break_are_kept():
    good = need(WARCIO / "example.warc.gz").read_bytes()
    broken = good + gzip.compress(b"GARBAGE\r\n\r\n")
    results = list(iter_warc_pages(io.BytesIO(broken), "mem.warc.gz"))
    assert [r.get("url") for r in results[:-1]] == ["http://example.com/"]
    assert results[-1]["error_type"] == "ArchiveLoadFailed" and results[-1]["source"] == "mem.warc.gz"


@pytest.mark.parametrize("name", ["warcfile.warc", "warcfile.warc.gz"])
def test_archive_cut_in_the_middle_keeps_the_pages_before_the_cut(name):
    whole = need(RESILIPARSE / name).read_bytes()
    all_pages, _ = read(RESILIPARSE / name)
    results = list(iter_warc_pages(io.BytesIO(whole[: len(whole) // 2]), name))
    pages = [r for r in results if "error_type" not in r]
    assert 5 <= len(pages) < 16
    assert pages == all_pages[: len(pages)]
    assert [r["error_type"] for r in results if "error_type" in r] == ["TruncatedRecord"]


def test_missing_file_is_one_failure():
    results = list(iter_warc_pages(str(WARC / "no-such-file.warc.gz"), "no-such-file.warc.gz"))
    assert [(r["source"], r["error_type"]) for r in results] == [
        ("no-such-file.warc.gz", "ArchiveOpenFailed")
    ]


@pytest.mark.parametrize(
    "content, error_type",
    [(b"", "EmptyArchive"), (b"Apache License\nVersion 2.0, January 2004\n" * 20, "ArchiveLoadFailed")],
)
def test_files_that_are_no_archives_are_one_failure(content, error_type):
    results = list(iter_warc_pages(io.BytesIO(content), "notes.warc"))
    assert [(r["source"], r["stage"], r["error_type"]) for r in results] == [("notes.warc", "warc", error_type)]


def test_read_warc_pipeline_with_metrics():
    pattern = str(need(RESILIPARSE) / "warcfile.warc*")  # .warc, .warc.gz and .warc.lz4
    expected_pages = [
        (f"{RESILIPARSE}/{name}#{p['source'].split('#')[1]}", p["url"])
        for name in ("warcfile.warc", "warcfile.warc.gz")
        for p in read(RESILIPARSE / name)[0]
    ]
    pipeline = test_pipeline.TestPipeline(runner="FnApiRunner")
    pages, failures = pipeline | "ReadWarc" >> ReadWarc([pattern])
    assert_that(
        pages | "Ids" >> beam.Map(lambda p: (p["source"], p["url"])), equal_to(expected_pages), label="Pages"
    )
    assert_that(
        failures | "Kinds" >> beam.Map(lambda f: (f["source"], f["error_type"])),
        equal_to([(f"{RESILIPARSE}/warcfile.warc.lz4", "ArchiveLoadFailed")]),
        label="Failures",
    )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace("warc"))["counters"]
    }
    assert counters == {
        "html_pages": 32,
        "skipped_request": 34,
        "skipped_metadata": 32,
        "skipped_warcinfo": 2,
        "failures": 1,
    }
