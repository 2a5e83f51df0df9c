"""Streaming job (pipelines/stream.py): options and the whole pipeline on a TestStream of pages
(BundleBasedDirectRunner).  Its Dataflow translation, with
the real sources (PeriodicImpulse, Pub/Sub), is checked in tests/pipelines/test_dataflow_dryrun.py."""

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipelines import batch, current, stream
from pipelines.config import Config, ConfigError
from tests.support.beam import epoch, read_table, streaming_pipeline
from tests.support.localweb import Reply
from tests.support.pagegen import PARAGRAPHS_VI, article_html
from tests.support.paths import REPO
from transforms.dedup.rules import story_id_for
from transforms.fetch.client import FetchConfig
from transforms.records import raw_page, url_entry

SAMPLE = REPO / "pipelines" / "sample"
SUBSCRIPTION = "projects/newsbeam-test/subscriptions/news"
HOUR = 3600


# ---------------------------------------------------------------- options


@pytest.mark.parametrize("argv, message", [
    (["--output", "out", "--runner=DataflowRunner"], "needs --feed and/or --pubsub_subscription"),
    (["--feed", "https://a.example/rss", "--runner=FnApiRunner"], "streaming runner"),
    (["--feed", "https://a.example/rss"], "streaming runner"),
    (["--pubsub_subscription", "news", "--runner=DataflowRunner"], "projects/<project>/subscriptions/<name>"),
])
def test_options_are_checked_before_anything_runs(argv, message):
    with pytest.raises(ConfigError, match=message):
        stream.prepare(argv)


def test_prepare_makes_a_streaming_job():
    config, settings, options = stream.prepare(
        ["--feed", "https://a.example/rss", "--pubsub_subscription", SUBSCRIPTION, "--runner=DataflowRunner",
         "--ttl_days", "2", "--window_s", "60", "--output", "gs://bucket/news"]
    )
    assert options.view_as(StandardOptions).streaming
    assert (settings.feeds, settings.subscription, settings.ttl_s, settings.window_s) == (
        ("https://a.example/rss",), SUBSCRIPTION, 2 * 86400, 60.0,
    )
    assert settings.output == config.output.root == "gs://bucket/news" and settings.start is not None


# ---------------------------------------------------------------- the whole job on a TestStream

def sample_pages():
    """The three outlets' copies of one wire story ("w4-norvale-chip-plant") and their original."""
    rows = [r for r in csv.DictReader(open(SAMPLE / "manifest.csv", encoding="utf-8")) if r["story_group"] == "w4-norvale-chip-plant"]
    pages = {r["canonical_url"]: raw_page(str(SAMPLE / "pages" / r["path"]), (SAMPLE / "pages" / r["path"]).read_bytes()) for r in rows}
    original = next(r["canonical_url"] for r in rows if r["is_original"] == "true")
    return pages, original


def test_stream_job_assigns_stories_corrects_them_and_writes_windows(tmp_path):
    pages, original = sample_pages()
    reprints = sorted(url for url in pages if url != original)
    start = datetime(2026, 11, 17, 23, 0, tzinfo=timezone.utc)
    events = (
        TestStream()
        .add_elements([TimestampedValue(pages[url], epoch(start) + i) for i, url in enumerate(reprints)])
        .add_elements([TimestampedValue(raw_page("empty.html", b""), epoch(start) + 5)])
        .advance_watermark_to(epoch(start + timedelta(minutes=61)))
        .add_elements([TimestampedValue(pages[original], epoch(start + timedelta(minutes=70)))])  # the original, late
        .advance_watermark_to(epoch(start + timedelta(days=1)))
        .advance_watermark_to_infinity()
    )
    settings = stream.StreamSettings(run_id="s1", output=str(tmp_path), window_s=HOUR)
    with streaming_pipeline() as p:
        stream.build_pipeline(p, Config(), settings, sources=lambda pipeline, *_: ([], [pipeline | events], []))

    articles = read_table(tmp_path, "articles")  # keyed by URL below (article ids are hashes of it)
    first_story = {r["story_id"] for r in articles if r["row_kind"] == "new" and r["url"] in reprints}
    assert len(first_story) == 1  # the reprints found each other before the original came
    latest = {}
    for r in sorted(articles, key=lambda r: r["row_at"]):
        latest[r["url"]] = r
    assert set(latest) == set(pages)
    original_id = latest[original]["article_id"]
    assert {r["story_id"] for r in latest.values()} == {story_id_for(original_id)}
    assert [url for url, r in latest.items() if r["is_canonical"]] == [original]
    corrections = [r for r in articles if r["row_kind"] == "correction"]
    assert corrections and {r["url"] for r in corrections} <= set(reprints)
    assert {r["ingest_date"] for r in corrections} == {"2026-11-18"}  # written in the original's window
    current = {}
    for story in sorted(read_table(tmp_path, "stories"), key=lambda s: s["row_at"]):
        current[story["story_id"]] = story
    assert (current[story_id_for(original_id)]["canonical_article_id"], current[story_id_for(original_id)]["article_count"]) == (original_id, 3)
    assert current[first_story.pop()]["article_count"] == 0  # emptied by the corrections
    failures = read_table(tmp_path, "failures")
    assert [(f["source"], f["error_type"]) for f in failures] == [("empty.html", "EmptyPage")]
    names = [f.name for f in (tmp_path / "articles").rglob("*.parquet")]
    assert all(n.startswith("part-s1-2026111") for n in names)
    passages = read_table(tmp_path, "passage_index")  # records for the next batch run's reuse decisions
    assert sorted(p["article_id"] for p in passages) == sorted(r["article_id"] for r in latest.values())
    assert all(p["seeds"] and p["reuse_digest"] is None for p in passages)


def test_a_stream_continues_the_backfill_in_its_output(tmp_path):
    """`newsbeam batch` over the reprints, then the stream on the same output gets the original."""
    pages, original = sample_pages()
    backfill = tmp_path / "backfill"
    backfill.mkdir()
    for url, page in pages.items():
        if url != original:
            (backfill / Path(page["source"]).name).write_bytes(page["body"])
    out = tmp_path / "out"
    batch.run(["--input", str(backfill), "--output", str(out)])  # the CLI's batch command, in this process
    start = datetime.now(timezone.utc).replace(microsecond=0)
    events = (
        TestStream()
        .add_elements([TimestampedValue(pages[original], epoch(start) + 60)])
        .advance_watermark_to(epoch(start + timedelta(days=1)))
        .advance_watermark_to_infinity()
    )
    settings = stream.StreamSettings(run_id="s3", output=str(out), window_s=HOUR, start=epoch(start))
    with streaming_pipeline() as p:
        stream.build_pipeline(p, Config(), settings, sources=lambda pipeline, *_: ([], [pipeline | events], []))

    con = current.connect(str(out))
    by_run = con.sql("select run_id like 's3%' as stream, row_kind, count(*) from article_events group by all order by all")
    assert by_run.fetchall() == [(False, "new", 2), (True, "correction", 2), (True, "new", 1)]
    rows = con.sql("select url, story_id, is_canonical from articles").fetchall()
    assert len(rows) == 3 and len({story for _, story, _ in rows}) == 1
    assert [url for url, _, canonical in rows if canonical] == [original]
    assert con.sql("select canonical_article_id, article_count from stories").fetchall() == [
        (con.sql(f"select article_id from articles where url = '{original}'").fetchall()[0][0], 3),
    ]


def test_a_batch_run_continues_a_stream_output(tmp_path):
    """The stream gets the reprints; a later `newsbeam batch` on its output gets the original and a
    reprint again: the original re-anchors the story, the repeat is a DuplicateUrl row."""
    pages, original = sample_pages()
    reprints = sorted(url for url in pages if url != original)
    start = datetime.now(timezone.utc).replace(microsecond=0)
    events = (
        TestStream()
        .add_elements([TimestampedValue(pages[url], epoch(start) + i) for i, url in enumerate(reprints)])
        .advance_watermark_to(epoch(start + timedelta(days=1)))
        .advance_watermark_to_infinity()
    )
    out = tmp_path / "out"
    with streaming_pipeline() as p:
        stream.build_pipeline(p, Config(), stream.StreamSettings(run_id="s4", output=str(out), window_s=HOUR),
                              sources=lambda pipeline, *_: ([], [pipeline | events], []))
    later = tmp_path / "later"
    later.mkdir()
    for url in (original, reprints[0]):
        (later / Path(pages[url]["source"]).name).write_bytes(pages[url]["body"])
    summary = batch.run(["--input", str(later), "--output", str(out)])  # the CLI's batch command, in this process
    assert (summary["failures"], summary["failures_by_reason"]) == (1, {"dedup.DuplicateUrl": 1})
    con = current.connect(str(out))
    rows = con.sql("select url, story_id, is_canonical from articles").fetchall()
    assert len(rows) == 3 and len({story for _, story, _ in rows}) == 1
    assert [url for url, _, canonical in rows if canonical] == [original]


def test_url_entries_are_fetched_once_per_ttl(local_web, tmp_path):
    page = local_web.route("/a.html", Reply(200, article_html("Mưa lớn ở miền Trung", PARAGRAPHS_VI).encode(), {"Content-Type": "text/html"}))
    gone = local_web.route("/gone.html", Reply(404, b"no"))
    start = datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc)
    events = (
        TestStream()
        .add_elements([TimestampedValue(url_entry(u, "poll-1"), epoch(start)) for u in (page, gone)])
        .advance_watermark_to(epoch(start + timedelta(minutes=61)))
        .add_elements([TimestampedValue(url_entry(page, "poll-2"), epoch(start + timedelta(minutes=65)))])  # seen before
        .advance_watermark_to(epoch(start + timedelta(days=1)))
        .advance_watermark_to_infinity()
    )
    config = Config(fetch=FetchConfig(allow_loopback=True, per_host_delay_s=0.01, max_retries=1, backoff_base_s=0.01))
    settings = stream.StreamSettings(run_id="s2", output=str(tmp_path), window_s=HOUR)
    with streaming_pipeline() as p:
        stream.build_pipeline(p, config, settings, sources=lambda pipeline, *_: ([pipeline | events], [], []))
    pages_fetched = sorted(hit.path for hit in local_web.hits if hit.path != "/robots.txt")
    assert pages_fetched == ["/a.html", "/gone.html"]  # the second poll's repeat is not fetched again
    assert [(a["source"], a["row_kind"]) for a in read_table(tmp_path, "articles")] == [(page, "new")]
    assert [(f["source"], f["http_status"]) for f in read_table(tmp_path, "failures")] == [(gone, 404)]
