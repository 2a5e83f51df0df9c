"""The bounded job that one-off batch runs (``pipelines.batch``) and watch rounds
(``pipelines.watch``) both run: sources -> extract -> dedup -> Parquet tables.

    config, run, options = prepare(["--input", "pages/", "--output", "out"])
    summary = execute(config, run, options, runstate.begin_run(run.output, run.run_id))

Flags not listed in ``parse_args`` are Beam pipeline options (``--runner``,
``--direct_num_workers`` ...); locally the runner defaults to the FnApiRunner (Beam's
DirectRunner would first try to download Prism).  With no argument at all (or with ``--sample``)
the job runs on the bundled sample; with an output or a config but no input it stops with an error.
"""

import argparse
import contextlib
import shlex
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipelines import progress, runstate
from pipelines.config import (
    Config,
    ConfigError,
    SourcesConfig,
    check_beam_args,
    load_config,
)
from pipelines.runners import dataflow
from pipelines.runners.memory import DEFAULT_RUNNER, local_processes, runs_in_this_process
from pipelines.runstate import RunContext
from schemas.tables import ARTICLES, FAILURES, PASSAGE_INDEX, REUSE, STORIES, STORY_INDEX, TableSpec
from transforms.dedup.batch import DetectReprints
from transforms.dedup.by_url import DedupByUrl
from transforms.dedup.reuse import DetectReuse
from transforms.dedup.spill import spill_folder
from transforms.extract.isolated import start_early
from transforms.extract.transform import Extract
from transforms.fetch.client import FetchConfig
from transforms.fetch.crawl import CrawlWeb
from transforms.sinks.parquet import (
    ReadTable,
    WriteTable,
    column_values,
    table_footers,
)
from transforms.sinks.tables import CollectFailures, write_tables
from transforms.sources.files import ReadHtmlFiles, file_patterns
from transforms.sources.warc import ReadWarc

SAMPLE_PAGES = Path(__file__).parent / "sample" / "pages"


def read_sources(pipeline: beam.Pipeline, sources: SourcesConfig, fetch: FetchConfig, crawl_state: dict,
                 max_page_bytes: int):
    """Every configured source as raw pages (files and WARC payloads read up to ``max_page_bytes``),
    plus their failures and (for web sources) state updates."""
    outputs, updates = [], None
    if sources.html:
        outputs.append(pipeline | "ReadHtml" >> ReadHtmlFiles(sources.html, max_page_bytes))
    if sources.warc:
        outputs.append(pipeline | "ReadWarc" >> ReadWarc(sources.warc, max_page_bytes))
    if sources.fetches():
        pages, failures, updates = pipeline | "CrawlWeb" >> CrawlWeb(fetch, sources.feeds, sources.url_lists, crawl_state)
        outputs.append((pages, failures))
    pages = [pages for pages, _ in outputs] | "AllPages" >> beam.Flatten()
    return pages, [failures for _, failures in outputs], updates


def read_state(pipeline: beam.Pipeline, root: str, spec: TableSpec, version_column: str, version: str):
    """A state table earlier runs wrote under ``root`` (the story or passage index; None on the
    first run); ``StateError`` when a file of it is damaged or holds rows of another ``version``
    (a newsbeam upgrade or changed ``dedup``/``reuse`` settings: ``newsbeam repair`` redoes them).
    A dry run on gs:// translates the read unchecked, offline."""
    if dataflow.reads_at_build(pipeline.options, root):
        footers = table_footers(root, spec)
        if not footers:
            return None
        for path, footer in footers:
            if isinstance(footer, str):
                raise runstate.damaged(root, path, f"not a readable Parquet file ({footer})")
        for path, versions in stale_files(footers, version_column, version)[:1]:
            raise runstate.damaged(root, path, f"{spec.name} rows of {version_column} {sorted(versions)}, but "
                                               f"these settings give {version!r}")
    label = "".join(part.title() for part in spec.name.split("_"))
    return pipeline | f"Read{label}" >> ReadTable(root, spec)


def read_story_index(pipeline: beam.Pipeline, root: str, config: Config):
    """The story index earlier runs wrote under ``root`` (``read_state``)."""
    return read_state(pipeline, root, STORY_INDEX, "fingerprint_version", config.dedup.fingerprint_version)


def stale_files(footers: list, version_column: str, version: str) -> list:
    """(path, other versions) of each state-table file (``table_footers``) holding rows of another
    ``version`` in ``version_column``."""
    stale = []
    for path, footer in footers:
        versions = column_values(footer, version_column) - {version}
        if versions:
            stale.append((path, versions))
    return stale


def build_pipeline(pipeline: beam.Pipeline, config: Config, run: RunContext, crawl_state: dict) -> None:
    """Wire the bounded job onto ``pipeline``."""
    pages, failure_sets, updates = read_sources(pipeline, config.sources, config.fetch, crawl_state, config.extract.max_page_bytes)
    extracted, extract_failures = pages | "Extract" >> Extract(config.extract)
    articles, dup_failures = extracted | "DedupByUrl" >> DedupByUrl(config.dedup)
    prior_index = read_story_index(pipeline, run.output, config)
    reuse = config.reuse if config.reuse.enabled else None
    article_rows, stories, index_rows, known_failures, members, records = (
        articles | "Reprints" >> DetectReprints(config.dedup, prior_index, reuse)
    )
    failures = [*failure_sets, extract_failures, dup_failures, known_failures] | "Failures" >> CollectFailures()
    tables = [(ARTICLES, article_rows), (STORIES, stories), (FAILURES, failures), (STORY_INDEX, index_rows)]
    if reuse is not None:
        prior_passages = read_state(pipeline, run.output, PASSAGE_INDEX, "passage_version", reuse.passage_version)
        reuse_rows, passage_rows = (records, members) | "Reuse" >> DetectReuse(config.dedup, reuse, prior_passages)
        tables += [(REUSE, reuse_rows), (PASSAGE_INDEX, passage_rows)]
    write_tables(
        tables, lambda spec: WriteTable(
            spec, run.output, run.run_id, run.ingest_date, config.output.shards, run.started_at, config.dedup.spill_dir
        ),
    )
    progress.attach(pipeline, {"read": [pages], "extracted": [extracted, extract_failures], "clustered": [article_rows]})
    if updates is not None:
        path = runstate.pending_updates_path(run.output, run.run_id)
        (
            updates
            | "CollectStateUpdates" >> beam.combiners.ToList()
            | "WriteStateUpdates" >> beam.Map(runstate.write_updates, path)
        )


def run_summary(result, elapsed_s: float) -> dict:
    """Counts from the job's metrics: what the run wrote and changed, failures by stage.reason, pages/s."""
    counters = result.metrics().query(MetricsFilter())["counters"]
    totals = {namespace: Counter() for namespace in ("write", "failures", "reprints")}
    for counter in counters:
        name, value = counter.key.metric, counter.committed or counter.attempted or 0
        if name.namespace in totals:
            totals[name.namespace][name.name] += value
    written, reprints = totals["write"], totals["reprints"]
    articles = written["articles"] - reprints["corrections"]  # new and updated articles
    stories, failures = written["stories"] - reprints["gone_stories"], written["failures"]  # stories with members
    return {
        "articles": articles,
        "stories": stories,
        "reprint_ratio": round(1 - stories / articles, 4) if articles else 0.0,
        "changes": {
            "new_articles": articles - reprints["updated_articles"],
            "updated_articles": reprints["updated_articles"],
            "articles_sharing_a_url": reprints["url_variants"],
            "joined_earlier_stories": reprints["joined_earlier_stories"],
            "corrections": reprints["corrections"],
            "new_stories": reprints["new_stories"],
            "gone_stories": reprints["gone_stories"],
        },
        "failures": failures,
        "failures_by_reason": dict(sorted(totals["failures"].items())),
        "pages_per_s": round((articles + failures) / elapsed_s, 2) if elapsed_s else 0.0,
        "elapsed_s": round(elapsed_s, 2),
    }


def format_summary(summary: dict) -> str:
    reasons = ", ".join(f"{k}={v}" for k, v in summary["failures_by_reason"].items()) or "none"
    changes = summary["changes"]
    return (
        f"run {summary['run_id']} -> {summary['output']}\n"
        f"  articles {summary['articles']}, stories {summary['stories']}, reprint ratio {summary['reprint_ratio']:.1%}\n"
        f"  changes: {changes['new_articles']} new articles ({changes['articles_sharing_a_url']} sharing a URL), "
        f"{changes['updated_articles']} updated, "
        f"{changes['joined_earlier_stories']} joined earlier stories, {changes['corrections']} corrections, "
        f"{changes['new_stories']} new stories, {changes['gone_stories']} gone\n"
        f"  failures {summary['failures']} ({reasons})\n"
        f"  {summary['pages_per_s']} pages/s over {summary['elapsed_s']} s\n"
        f"  see what was found: newsbeam report --output {shlex.quote(summary['output'])}"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", help="glob or folder of HTML files (repeatable)")
    parser.add_argument("--warc", action="append", help="glob of WARC/ARC files (repeatable)")
    parser.add_argument("--feed", action="append", help="RSS/Atom feed URL (repeatable)")
    parser.add_argument("--url-list", action="append", help="glob of URL-list files (repeatable)")
    parser.add_argument("--output", help="output root (local path or gs://...)")
    parser.add_argument("--config", help="YAML configuration (see configs/default.yaml)")
    parser.add_argument("--wait", type=float, nargs="?", const=float("inf"), metavar="SECONDS",
                        help="wait (for ever, or SECONDS) while another run writes the same output")
    parser.add_argument("--sample", action="store_true", help="read the bundled sample pages (what plain `newsbeam` does)")
    args, beam_args = parser.parse_known_args(argv)
    check_beam_args(beam_args, list(parser._option_string_actions))
    return args, beam_args


def check_inputs(sources: SourcesConfig, options: PipelineOptions) -> None:
    """``ConfigError`` for an input that matches no file or cannot be listed; a dry run lists no
    gs:// input (it stays offline)."""
    inputs = [(item, file_patterns([item])) for item in sources.html]
    inputs += [(pattern, [pattern]) for pattern in (*sources.warc, *sources.url_lists)]
    for item, patterns in inputs:
        if not dataflow.reads_at_build(options, item):
            continue
        try:
            found = any(FileSystems.match([pattern])[0].metadata_list for pattern in patterns)
        except BeamIOError as exc:
            raise ConfigError(f"cannot list {item}: {exc}") from None
        if not found:
            raise ConfigError(f"no input files match {item}")


def prepare(argv, allow_empty_inputs: bool = False) -> tuple[Config, RunContext, PipelineOptions]:
    """Configuration (file + flags), a new run context and the Beam options; inputs that match
    nothing are an error unless ``allow_empty_inputs`` (watch mode waits for files to arrive)."""
    args, beam_args = parse_args(argv)
    config = load_config(args.config)
    sources = replace(
        config.sources,
        html=tuple(args.input or config.sources.html),
        warc=tuple(args.warc or config.sources.warc),
        feeds=tuple(args.feed or config.sources.feeds),
        url_lists=tuple(args.url_list or config.sources.url_lists),
    )
    if args.sample or not (sources.html or sources.warc or sources.fetches() or args.output or args.config):
        sources = replace(sources, html=(*sources.html, str(SAMPLE_PAGES)))
    elif not (sources.html or sources.warc or sources.fetches()):
        raise ConfigError(
            "nothing to read: give --input, --warc, --feed or --url-list (or sources in --config), "
            "or --sample for the bundled sample"
        )
    try:
        output = replace(
            config.output, root=args.output or config.output.root,
            lease_wait_s=config.output.lease_wait_s if args.wait is None else args.wait,
        )
    except ValueError as exc:
        raise ConfigError(f"{exc} (--wait)") from exc
    config = replace(config, sources=sources, output=output)
    options = PipelineOptions(beam_args)
    if not allow_empty_inputs:
        check_inputs(sources, options)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return config, runstate.new_run_context(output.root), options


def for_runner(config: Config, options: PipelineOptions, spill_dir: Optional[str] = None) -> Config:
    """The config as a job with these options runs it: its ``processes`` settings resolved
    (``local_processes``), its dedup batches spilled to ``spill_dir`` (None: kept in memory)."""
    return replace(
        config,
        extract=replace(config.extract, processes=local_processes(config.extract.processes, options)),
        dedup=replace(config.dedup, processes=local_processes(config.dedup.processes, options), spill_dir=spill_dir),
    )


def execute(config: Config, run: RunContext, options: PipelineOptions, state: dict) -> dict:
    """Build the job, run it to completion and return its summary (or, for jobs the Dataflow
    runner only translates, the translation's summary)."""
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    in_process = runs_in_this_process(options)
    with spill_folder(config.dedup.spill_dir) if config.dedup.spill and in_process else contextlib.nullcontext() as folder:
        job_config = for_runner(config, options, folder)
        if in_process:  # the extractors warm up while the graph is built
            start_early(job_config.extract, job_config.extract.processes)
        build_pipeline(pipeline, job_config, run, state)
        with progress.shown(options, config.sources):
            result = pipeline.run()
            if dataflow.translated_only(options):
                return {"run_id": run.run_id, "output": run.output, **dataflow.translation_summary(pipeline.runner, options)}
            result.wait_until_finish()
    return {"run_id": run.run_id, "output": run.output, **run_summary(result, time.monotonic() - started)}
