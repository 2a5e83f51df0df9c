"""Fetching in Beam (transforms/fetch/polite.py): every URL ends as a page or a failure, hosts are
paced, feeds use conditional GET."""

import itertools
from dataclasses import replace

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue

from tests.support.beam import streaming_pipeline
from tests.support.fetching import CONFIG, RSS, entry
from tests.support.localweb import Reply
from transforms.fetch.polite import FetchFeeds, FetchPages, PollFeeds


def test_fetch_pages_loses_nothing_and_keeps_the_per_host_delay(local_web):
    delay = 0.1
    good, bad = [], []
    for host in range(3):
        for i in range(4):
            good.append(local_web.route(f"/h{host}/p{i}", Reply(200, f"page {host} {i}".encode()), host=host))
        bad.append(local_web.route(f"/h{host}/missing", Reply(404), host=host))
    bad += ["http://10.0.0.1/x", "mailto:someone@example.com", "http://[::1/broken"]
    config = replace(CONFIG, per_host_delay_s=delay)

    with TestPipeline(runner="FnApiRunner") as p:
        pages, failures = (
            p | "Entries" >> beam.Create([entry(u) for u in good + bad]) | "Fetch" >> FetchPages(config)
        )
        assert_that(pages | "PageUrls" >> beam.Map(lambda page: page["source"]), equal_to(good), label="Pages")
        assert_that(
            failures | "FailureKinds" >> beam.Map(lambda f: (f["source"], f["stage"], f["error_type"])),
            equal_to([(u, "fetch", "HTTPError") for u in bad[:3]]
                     + [(u, "ssrf", "Blocked") for u in bad[3:]]),
            label="Failures",
        )

    by_host = {}
    for hit in local_web.hits:
        by_host.setdefault(hit.host, []).append(hit.at)
    assert sorted(by_host) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    for times in by_host.values():
        assert len(times) == 6  # robots.txt + 4 pages + 1 missing
        # The pacer spaces request *starts*; arrival adds connection set-up jitter (ms) on a busy box.
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= delay * 0.8, gaps
        assert times[-1] - times[0] >= (len(times) - 1) * delay - 0.02, gaps
    # Hosts ran concurrently: every host had its second request before any host had its last.
    assert max(times[1] for times in by_host.values()) < min(times[-1] for times in by_host.values())


def test_fetch_feeds_transform(local_web):
    url = local_web.route("/rss", Reply(200, RSS, {"ETag": '"v1"'}))
    missing = local_web.route("/none.xml", Reply(404))
    with TestPipeline(runner="FnApiRunner") as p:
        bodies, failures = p | beam.Create([url, missing]) | FetchFeeds(CONFIG, {url: {"etag": '"v0"'}})
        assert_that(bodies | "Keys" >> beam.Map(lambda b: (b["feed_url"], b["body"], b["not_modified"])),
                    equal_to([(url, RSS, False)]), label="Bodies")
        assert_that(failures | "Sources" >> beam.Map(lambda f: f["source"]), equal_to([missing]), label="Failures")
    assert local_web.hits_for("/rss")[0].headers["If-None-Match"] == '"v0"'




def test_fetched_pages_keep_the_window_of_their_entry(local_web):
    urls = [local_web.route(f"/p{i}", Reply(200, f"page {i}".encode())) for i in range(4)]
    stream = TestStream().add_elements([TimestampedValue(entry(url), 1000 * i + 10) for i, url in enumerate(urls)])
    with streaming_pipeline() as p:
        pages, _ = (
            p | stream.advance_watermark_to_infinity()
            | beam.WindowInto(FixedWindows(1000))
            | FetchPages(CONFIG)
        )
        assert_that(
            pages | beam.Map(lambda page, window=beam.DoFn.WindowParam: (page["source"], int(window.start))),
            equal_to([(url, 1000 * i) for i, url in enumerate(urls)]),
        )


def test_polled_feeds_are_fetched_conditionally_on_their_last_poll(local_web):
    """The streaming job's polls: the second poll sends the first one's validators and a 304
    yields a not-modified body; a feed that changed is read again."""
    unchanged = local_web.route("/rss", Reply(200, RSS, {"ETag": '"v1"'}), Reply(304, headers={"ETag": '"v1"'}))
    changing = local_web.route("/news.rss", Reply(200, RSS, {"ETag": '"a"'}), Reply(200, RSS + b" ", {"ETag": '"b"'}))
    polls = (
        TestStream()
        .add_elements([TimestampedValue(url, 10) for url in (unchanged, changing)])
        .advance_watermark_to(300)
        .add_elements([TimestampedValue(url, 310) for url in (unchanged, changing)])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        bodies, failures = p | polls | beam.WindowInto(FixedWindows(300)) | PollFeeds(CONFIG)
        assert_that(
            bodies | beam.Map(lambda b: (b["feed_url"], b["etag"], b["not_modified"])),
            equal_to([(unchanged, '"v1"', False), (changing, '"a"', False), (unchanged, '"v1"', True), (changing, '"b"', False)]),
            label="Bodies",
        )
        assert_that(failures, equal_to([]), label="NoFailures")
    second = [hit.headers.get("If-None-Match") for hit in local_web.hits if hit.path in ("/rss", "/news.rss")]
    assert sorted(second, key=str) == sorted([None, None, '"v1"', '"a"'], key=str)
