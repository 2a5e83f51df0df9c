"""Streaming job (pipelines/stream.py): Pub/Sub messages, options, the windowed Parquet writer and the
whole pipeline on a TestStream of pages (BundleBasedDirectRunner).  Its Dataflow translation, with
the real sources (PeriodicImpulse, Pub/Sub), is checked in test_dataflow_dryrun.py."""

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from pipelines import stream
from pipelines.config import Config, ConfigError
from schemas.tables import FAILURES
from tests.localweb import Reply
from tests.pagegen import PARAGRAPHS_VI, article_html
from transforms.feeds import url_entry
from transforms.fetch import FetchConfig
from transforms.records import FAILURES as FAILURES_TAG
from transforms.records import failure, raw_page
from transforms.clustering import story_id_for
from transforms.urls import canonical_url
from transforms.write import TableSpec, WriteWindowedTable, content_tag

SAMPLE = Path(__file__).resolve().parents[1] / "pipelines" / "sample"
SUBSCRIPTION = "projects/newsbeam-test/subscriptions/news"
HOUR = 3600


def streaming_pipeline():
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def epoch(when: datetime) -> float:
    return when.timestamp()


def read(root, table):
    return ds.dataset(Path(root) / table, format="parquet", partitioning="hive").to_table().to_pylist()


# ---------------------------------------------------------------- messages and options


def run_parse(message):
    outputs = list(stream.parse_message(message, SUBSCRIPTION))
    assert len(outputs) == 1
    out = outputs[0]
    return (out.tag, out.value) if isinstance(out, beam.pvalue.TaggedOutput) else ("entries", out)


def test_pubsub_messages_are_urls_pages_or_failures():
    url = " https://Site.example/a?utm_source=zalo \n".encode()
    tag, entry = run_parse(PubsubMessage(url, {}, message_id="7"))
    assert tag == "entries" and entry["url"] == canonical_url("https://site.example/a") and entry["source"] == f"{SUBSCRIPTION}#7"
    html = "<html><body><p>Hòa bình</p></body></html>".encode("utf-8")
    published = datetime(2026, 11, 17, 8, tzinfo=timezone.utc)
    message = PubsubMessage(html, {"url": "https://site.example/x", "charset": "utf-8"}, message_id="8", publish_time=published)
    tag, page = run_parse(message)
    assert tag == "pages" and page["body"] == html and page["source"] == "https://site.example/x"
    assert page["fetched_at"] == published
    assert page["url"] == "https://site.example/x" and page["charset"] == "utf-8"
    tag, row = run_parse(PubsubMessage(b"hello world", {}, message_id="9"))
    assert tag == FAILURES_TAG and (row["stage"], row["error_type"], row["source"]) == (
        "pubsub", "UnrecognisedMessage", f"{SUBSCRIPTION}#9",
    )


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


# ---------------------------------------------------------------- windowed writer

SPEC = TableSpec("failures", FAILURES, ("source",))
T = datetime(2026, 11, 16, 23, 0, tzinfo=timezone.utc)


def row(name, at):
    return TimestampedValue(failure(name, "extract", "TooShort", "short", at=at), epoch(at))


def test_content_tag_ignores_row_order():
    rows = [{"a": 1}, {"a": 2}]
    assert content_tag(rows) == content_tag(rows[::-1]) != content_tag(rows[:1])


def test_windowed_writer_writes_a_file_per_window_and_keeps_late_rows(tmp_path):
    events = (
        TestStream()
        .add_elements([row("a", T), row("b", T + timedelta(minutes=10))])
        .advance_watermark_to(epoch(T + timedelta(minutes=61)))  # window 23:00 closes
        .add_elements([row("c", T + timedelta(minutes=75)), row("late", T + timedelta(minutes=5))])
        .advance_watermark_to(epoch(T + timedelta(days=1)))
        .add_elements([row("very-late", T - timedelta(hours=13))])  # 14 h behind the watermark
        .advance_watermark_to(epoch(T + timedelta(days=2)))
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        p | events | WriteWindowedTable(SPEC, str(tmp_path), "run1", HOUR)
    root = tmp_path / "failures"
    files = sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())
    assert all(f.endswith(".parquet") and "/part-run1-" in f for f in files)  # no temp file left behind
    by_window = {}
    for name in files:
        folder, file = name.split("/")
        sources = sorted(r["source"] for r in pq.read_table(root / name).to_pylist())
        by_window.setdefault((folder, file.split("-")[2]), []).append(sources)
    by_window = {window: sorted(files) for window, files in by_window.items()}
    assert by_window == {
        ("ingest_date=2026-11-16", "20261116T100000Z"): [["very-late"]],
        ("ingest_date=2026-11-16", "20261116T230000Z"): [["a", "b"], ["late"]],
        ("ingest_date=2026-11-17", "20261117T000000Z"): [["c"]],
    }
    table = read(tmp_path, "failures")
    assert len(table) == 5 and {r["run_id"] for r in table} == {"run1"}


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

    articles = read(tmp_path, "articles")  # keyed by URL below (article ids are hashes of it)
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
    for story in sorted(read(tmp_path, "stories"), key=lambda s: s["row_at"]):
        current[story["story_id"]] = story
    assert (current[story_id_for(original_id)]["canonical_article_id"], current[story_id_for(original_id)]["article_count"]) == (original_id, 3)
    assert current[first_story.pop()]["article_count"] == 0  # emptied by the corrections
    failures = read(tmp_path, "failures")
    assert [(f["source"], f["error_type"]) for f in failures] == [("empty.html", "EmptyPage")]
    names = [f.name for f in (tmp_path / "articles").rglob("*.parquet")]
    assert all(n.startswith("part-s1-2026111") for n in names)


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
    assert [(a["source"], a["row_kind"]) for a in read(tmp_path, "articles")] == [(page, "new")]
    assert [(f["source"], f["http_status"]) for f in read(tmp_path, "failures")] == [(gone, 404)]
