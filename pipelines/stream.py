"""Unbounded pipeline: Pub/Sub and polled feeds -> fetch -> extract -> stories -> windowed Parquet.

    newsbeam stream --pubsub_subscription projects/P/subscriptions/S --feed https://site/rss \\
        --output gs://bucket/news --runner=DataflowRunner --project=P --region=R \\
        --temp_location=gs://bucket/tmp --setup_file=./pyproject.toml

Sources: feeds polled every ``--poll_interval_s`` (``PeriodicImpulse``; ``PollFeeds`` keeps each
feed's validators between polls) and a Pub/Sub subscription
whose messages are either a URL (fetched) or a page's HTML (attribute ``url`` = where it was served
from).  URL entries pass a first-seen filter (``--ttl_days``), are fetched politely, extracted, and
assigned to stories by ``transforms.dedup.stream.AssignStories`` (the batch reprint rules with state
bounded by the TTL), starting from the story index a backfill (``newsbeam batch``) left in ``--output``.  Tables (``articles``, ``stories``, ``failures``) are written per event-time
window of ``--window_s`` seconds by ``WriteWindowedTable``: append-only, with ``row_kind``/``row_at``
saying why and when a row was written (the latest row per id is the current state), and the
``story_index`` rows of its decisions, so a later batch run on the same output continues it.

Beam's local runners cannot run this job offline (see BEAM-NOTES: PeriodicImpulse busy-waits on the
FnApiRunner; nothing after a GroupByKey is emitted); it targets Dataflow and is checked offline with
``--dry_run=True``.  Locally, ``newsbeam watch`` runs the same stages as repeated bounded runs, and
tests feed ``build_pipeline`` a TestStream in place of the sources.
"""

import argparse
import sys
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Optional

import apache_beam as beam
from apache_beam.io.gcp.pubsub import parse_subscription
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.transforms.window import FixedWindows, GlobalWindows
from apache_beam.utils.timestamp import Timestamp

from pipelines.bounded import read_story_index
from pipelines.config import Config, ConfigError, check_beam_args, load_config
from pipelines.runners import dataflow
from pipelines.runners.memory import local_processes
from schemas.tables import ARTICLES, FAILURES, PASSAGE_INDEX, STORIES, STORY_INDEX
from transforms.dedup.reuse import RecordPassages
from transforms.dedup.stream import AssignStories
from transforms.extract.transform import Extract
from transforms.fetch.client import FetchConfig
from transforms.fetch.first_seen import FirstSeenUrls
from transforms.fetch.polite import FetchPages, PollFeeds
from transforms.sinks.parquet import WriteWindowedTable
from transforms.sinks.tables import CollectFailures, write_tables
from transforms.sources.feeds import ParseFeeds
from transforms.sources.pubsub import ReadPubSubMessages
from transforms.windowing import FlattenInto

LOCAL_RUNNERS = {"directrunner", "fnapirunner", "bundlebaseddirectrunner", "prismrunner"}


@dataclass(frozen=True)
class StreamSettings:
    run_id: str
    output: str
    feeds: tuple = ()
    subscription: Optional[str] = None
    poll_interval_s: float = 300.0
    window_s: float = 300.0
    ttl_s: float = 7 * 86400.0
    start: Optional[float] = None  # first feed poll (epoch seconds); PeriodicImpulse needs it explicit


def new_run_id(now: Optional[datetime] = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"stream-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------- sources


def read_sources(pipeline: beam.Pipeline, settings: StreamSettings, fetch: FetchConfig) -> tuple:
    """The unbounded sources: (URL entry PCollections, raw page PCollections, failure PCollections)."""
    entries, pages, failures = [], [], []
    if settings.feeds:
        bodies, fetch_failures = (
            pipeline
            | "Polls" >> PeriodicImpulse(
                start_timestamp=Timestamp(settings.start), fire_interval=settings.poll_interval_s, apply_windowing=True
            )
            | "FeedUrls" >> beam.FlatMap(lambda _, urls: urls, sorted(settings.feeds))
            | "PollFeeds" >> PollFeeds(fetch)
        )
        feed_entries, feed_failures = bodies | "ParseFeeds" >> ParseFeeds()
        entries.append(feed_entries)
        failures += [fetch_failures, feed_failures]
    if settings.subscription:
        message_entries, message_pages, message_failures = pipeline | "PubSub" >> ReadPubSubMessages(settings.subscription)
        entries.append(message_entries)
        pages.append(message_pages)
        failures.append(message_failures)
    return entries, pages, failures


# ---------------------------------------------------------------------------- pipeline


def build_pipeline(pipeline: beam.Pipeline, config: Config, settings: StreamSettings, sources=read_sources) -> None:
    """Wire the streaming job onto ``pipeline``.  ``sources(pipeline, settings, fetch_config)``
    returns (entry PCollections, page PCollections, failure PCollections): tests pass TestStreams."""
    entry_sets, page_sets, failure_sets = sources(pipeline, settings, config.fetch)
    windows = FixedWindows(settings.window_s)
    if entry_sets:
        fetched, fetch_failures = (
            entry_sets
            | "AllEntries" >> FlattenInto(GlobalWindows())
            | "FirstSeenUrls" >> FirstSeenUrls(settings.ttl_s)
            | "FetchWindows" >> beam.WindowInto(windows)
            | "FetchPages" >> FetchPages(config.fetch)
        )
        page_sets, failure_sets = [*page_sets, fetched], [*failure_sets, fetch_failures]
    extract = replace(config.extract, processes=local_processes(config.extract.processes, pipeline.options))
    articles, extract_failures = page_sets | "AllPages" >> FlattenInto(windows) | "Extract" >> Extract(extract)
    prior_index = read_story_index(pipeline, settings.output, config)  # a backfill's index
    rows, stories, index_rows, dup_failures = articles | "Stories" >> AssignStories(
        config.dedup, settings.ttl_s, prior_index, settings.start
    )
    failures = [*failure_sets, extract_failures, dup_failures] | "Failures" >> CollectFailures(windows)
    tables = [(ARTICLES, rows), (STORIES, stories), (FAILURES, failures), (STORY_INDEX, index_rows)]
    if config.reuse.enabled:
        tables.append((PASSAGE_INDEX, rows | "Passages" >> RecordPassages(config.reuse)))
    write_tables(
        tables,
        lambda spec: WriteWindowedTable(spec, settings.output, settings.run_id, settings.window_s, config.output.shards),
    )


# ---------------------------------------------------------------------------- command line


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feed", action="append", help="RSS/Atom feed URL to poll (repeatable)")
    parser.add_argument("--pubsub_subscription", "--pubsub-subscription", dest="subscription",
                        help="projects/<project>/subscriptions/<name>: messages are URLs or HTML pages")
    parser.add_argument("--output", help="output root (gs://... on Dataflow)")
    parser.add_argument("--config", help="YAML configuration (see configs/default.yaml)")
    parser.add_argument("--poll_interval_s", "--poll-interval-s", type=float, default=300.0, help="feed poll interval")
    parser.add_argument("--window_s", "--window-s", type=float, default=300.0, help="event-time window of the tables")
    parser.add_argument("--ttl_days", "--ttl-days", type=float, default=7.0,
                        help="how long URLs and fingerprints are remembered (event time)")
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, list(parser._option_string_actions))
    return args, beam_args


def prepare(argv) -> tuple[Config, StreamSettings, PipelineOptions]:
    args, beam_args = parse_args(argv)
    config = load_config(args.config)
    feeds = tuple(args.feed or config.sources.feeds)
    if not (feeds or args.subscription):
        raise ConfigError("the streaming job needs --feed and/or --pubsub_subscription")
    if args.subscription:
        try:
            parse_subscription(args.subscription)
        except ValueError as exc:
            raise ConfigError(f"--pubsub_subscription: {exc} (expected projects/<project>/subscriptions/<name>)") from exc
    options = PipelineOptions(beam_args)
    runner = options.view_as(StandardOptions).runner
    if runner is None or runner.lower() in LOCAL_RUNNERS:
        raise ConfigError(
            "the streaming job needs a streaming runner such as --runner=DataflowRunner "
            "(Beam's local runners cannot run it offline); locally use `newsbeam watch`"
        )
    options.view_as(StandardOptions).streaming = True
    output = args.output or config.output.root
    config = replace(config, output=replace(config.output, root=output))
    settings = StreamSettings(
        run_id=new_run_id(), output=output, feeds=feeds, subscription=args.subscription,
        poll_interval_s=args.poll_interval_s, window_s=args.window_s, ttl_s=args.ttl_days * 86400,
        start=datetime.now(timezone.utc).timestamp(),
    )
    return config, settings, options


def run(argv=None) -> dict:
    """Submit the streaming job (or translate it only); returns what was submitted."""
    config, settings, options = prepare(argv)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config, settings)
    result = pipeline.run()
    summary = {"run_id": settings.run_id, "output": settings.output}
    if dataflow.translated_only(options):
        return {**summary, **dataflow.translation_summary(pipeline.runner, options)}
    return {**summary, "job": result.job_id() if hasattr(result, "job_id") else str(result)}


def main(argv=None) -> int:
    summary = run(argv)
    if "translated_only" in summary:
        print(dataflow.format_translation(summary))
    else:
        print(f"streaming job {summary['job']} submitted (run {summary['run_id']}) -> {summary['output']}")
    return 0


if __name__ == "__main__":
    from pipelines import cli

    sys.exit(cli.run_command("stream", sys.argv[1:]))
