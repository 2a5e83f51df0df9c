"""Scale of the dedup stage alone: docs/s and peak memory at 10k, 100k, 1M synthetic articles.

    python tests/benchmarks/bench_dedup_scale.py [--sizes 10000 100000 1000000] [--processes 2] [--workers 2] [--write]
        [--repeat 3] [-- beam args]

Articles are built by mutating the real texts of ../shared/data/reprints-dev/manifest.parquet
(``body_text``): 70% are new stories (two real texts' sentences interleaved, half of the words
swapped for words of the whole corpus, so no two stories share much), 30% are reprints of an
earlier article (truncated, a sentence dropped, word edits, an attribution line, a later time).
They are written once per size to Parquet files of 2,000 articles in a temporary folder (in
``--processes`` processes; not timed), so a pipeline streams them from disk as a real run reads
its input, and nothing holds them all in memory but the dedup stage's own shuffles.

Each size then runs in its own process three times: read then count, read then ``DetectReprints``
then count, and read then ``DetectReprints`` and passage reuse (``DetectReuse``) then count; with
``--write`` a fourth time: read, ``DetectReprints``, then the articles, stories and story index
tables written as the job writes them (its seconds beyond the second run's, and its peak).  The
dedup stage's time is the difference of the first two runs' wall-clock seconds, its CPU seconds
the difference of their CPU seconds (the process and its children: the fingerprinting pool of
``--processes``, ``dedup.processes``, counts once it exits); the last columns give the stage with
passage reuse the same way, and its CPU seconds as a multiple of the stage without it.  With
``--repeat N`` each run is made N times, interleaved, and its seconds are the median.  Peak memory
is each run's max RSS (FnApiRunner runs in-process; with ``--workers 2`` the two worker
processes are not counted).  Like the batch job on an in-process runner, each run has glibc keep
freed memory for reuse (``pipelines.runners.memory``; ``--malloc-defaults``: glibc's defaults) and
keeps the dedup shuffles' batches in files of a spill folder (``dedup.spill``; ``--no-spill``: in
the runner's memory).  The box is shared: timings are noisy.
"""

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

MANIFEST = REPO.parent / "shared" / "data" / "reprints-dev" / "manifest.parquet"
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
REPRINT_SHARE = 0.3
FILE_ARTICLES = 2000


@functools.cache
def load_corpus() -> tuple:
    import pyarrow.parquet as pq

    texts = sorted({t for t in pq.read_table(MANIFEST, columns=["body_text"]).column(0).to_pylist() if t})
    vocabulary = sorted({w for t in texts for w in t.split()})
    return [t.split(". ") for t in texts], vocabulary


def story_text(n: int, corpus: tuple) -> str:
    """The text of synthetic story ``n``: deterministic in ``n``."""
    sentences, vocabulary = corpus
    rng = random.Random(n)
    a, b = rng.choice(sentences), rng.choice(sentences)
    mixed = [s for pair in zip(a, b) for s in pair] or a
    out = []
    for sentence in mixed[: rng.randint(8, 30)]:
        words = [w if rng.random() < 0.5 else rng.choice(vocabulary) for w in sentence.split()]
        out.append(" ".join(words))
    return ".\n".join(out)


def reprint(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if rng.random() < 0.5:
        lines = lines[: max(3, int(len(lines) * rng.uniform(0.5, 0.9)))]
    if len(lines) > 4 and rng.random() < 0.5:
        del lines[rng.randrange(1, len(lines) - 1)]
    words = " ".join(lines).split(" ")
    for _ in range(rng.randint(0, 5)):
        del words[rng.randrange(len(words))]
    return "Theo TTXVN\n" + " ".join(words) if rng.random() < 0.5 else " ".join(words)


def article(i: int, corpus: tuple) -> dict:
    """Article ``i``: a reprint of an earlier story for 30% of indexes, else a new story."""
    rng = random.Random(-1 - i)
    if i > 50 and rng.random() < REPRINT_SHARE:
        original = i - rng.randint(1, 50)
        text, published = reprint(story_text(original, corpus), rng), T0 + timedelta(minutes=original + 30)
    else:
        text, published = story_text(i, corpus), T0 + timedelta(minutes=i)
    url = f"https://site{i % 97}.example/{i}"
    return {"article_id": url, "url": url, "source": url, "domain": f"site{i % 97}.example", "feed_url": None,
            "title": f"story {i}", "author": None, "published_at": published, "published_at_source": "page",
            "fetched_at": published, "language": "vi", "text": text, "word_count": len(text.split()),
            "content_sha1": None}


def write_part(start: int, stop: int, folder: str) -> str:
    """Articles ``start``..``stop`` as one Parquet file: its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = f"{folder}/articles-{start:09d}.parquet"
    pq.write_table(pa.Table.from_pylist([article(i, load_corpus()) for i in range(start, stop)]), path)
    return path


def write_articles(size: int, folder: str, processes: int) -> list:
    """``size`` articles as Parquet files in ``folder``, built in ``processes`` processes: their paths."""
    parts = [(start, min(start + FILE_ARTICLES, size), folder) for start in range(0, size, FILE_ARTICLES)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return pool.starmap(write_part, parts)


def read_part(path: str):
    import pyarrow.parquet as pq

    yield from pq.read_table(path).to_pylist()


def run_once(folder: str, stage: str, params: dict, beam_args: list, spill: bool) -> dict:
    """One pipeline in this process over the Parquet files of ``folder`` (with ``spill``, the
    dedup batches in a spill folder): its wall-clock and CPU seconds and peak RSS MB (counts are
    printed as they come)."""
    from transforms.dedup.spill import spill_folder

    started = time.time()
    with spill_folder() if spill else contextlib.nullcontext() as spill_dir:
        _pipeline(folder, stage, {**params, "spill_dir": spill_dir}, beam_args)
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return {"seconds": time.time() - started, "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in usage),
            "peak_rss_mb": usage[0].ru_maxrss / 1024}


def _pipeline(folder: str, stage: str, params: dict, beam_args: list):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from schemas.tables import ARTICLES, STORIES, STORY_INDEX
    from transforms.dedup.batch import DetectReprints
    from transforms.dedup.fingerprints import DedupConfig
    from transforms.dedup.passages import ReuseConfig
    from transforms.dedup.reuse import DetectReuse
    from transforms.sinks.parquet import WriteTable
    from transforms.sinks.tables import write_tables

    output = f"{folder}/tables"  # (written once per size; the articles are the folder's own *.parquet)
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", *beam_args])) as p:
        articles = (
            p
            | "Files" >> beam.Create(sorted(str(path) for path in Path(folder).glob("*.parquet")))
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(read_part)
        )
        if stage != "count":
            reuse = ReuseConfig() if stage == "reuse" else None
            rows, stories, index, _, members, records = articles | "Dedup" >> DetectReprints(DedupConfig(**params), None, reuse)
            counted = {"articles": rows, "stories": stories, "index": index}
            if reuse is not None:
                reuse, passages = (records, members) | "Reuse" >> DetectReuse(DedupConfig(**params), reuse)
                counted.update(reuse=reuse, passages=passages)
            if stage == "write":
                tables = ((ARTICLES, rows), (STORIES, stories), (STORY_INDEX, index))
                write_tables(tables, lambda spec: WriteTable(spec, output, "bench", "2025-01-01", spill_dir=params["spill_dir"]))
        else:
            counted = {"articles": articles}
        for name, pcoll in counted.items():
            pcoll | f"Count{name}" >> beam.combiners.Count.Globally() | f"Print{name}" >> beam.Map(
                lambda n, name=name: print(json.dumps({"count": name, "n": n}), flush=True)
            )


def measure(folder: str, stage: str, params: dict, beam_args: list, keep_memory: bool, spill: bool) -> dict:
    """run_once in a fresh process (so peak memory is per run), with ``KEEP_FREED`` in its
    environment as the batch job has it on an in-process runner, or glibc's defaults."""
    from pipelines.runners.memory import KEEP_FREED

    env = {name: value for name, value in os.environ.items() if name not in KEEP_FREED}
    cmd = [sys.executable, __file__, "--one", folder, "--params", json.dumps(params), "--stage", stage,
           *([] if spill else ["--no-spill"]), "--", *beam_args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**KEEP_FREED, **env} if keep_memory else env).stdout
    result, counts = {}, {}
    for line in out.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            if "count" in item:
                counts[item["count"]] = item["n"]
            else:
                result = item
    return {**result, **counts}


def median_run(runs: list) -> dict:
    """One stage's runs as one: the median seconds and CPU seconds, the highest peak, the counts."""
    return {**runs[0], "seconds": statistics.median(r["seconds"] for r in runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=1, help="FnApiRunner worker processes")
    parser.add_argument("--processes", type=int, default=1,
                        help="fingerprinting processes (dedup.processes), and processes writing the articles")
    parser.add_argument("--lsh-shards", type=int, help="dedup.lsh_shards (default: DedupConfig')")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="run with glibc's defaults, not pipelines.runners.memory.KEEP_FREED")
    parser.add_argument("--no-spill", action="store_true", help="keep the dedup batches in the runner's memory (dedup.spill off)")
    parser.add_argument("--write", action="store_true",
                        help="also a run that writes the articles, stories and story index tables after dedup (as the job does)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each stage, interleaved; the figures are their medians (the box is noisy)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--stage", default="dedup", help=argparse.SUPPRESS)
    args, beam_args = parser.parse_known_args(argv)
    beam_args = [a for a in beam_args if a != "--"]
    if args.one:
        print(json.dumps(run_once(args.one, args.stage, json.loads(args.params), beam_args, not args.no_spill)), flush=True)
        return 0
    params = {"processes": args.processes, **({"lsh_shards": args.lsh_shards} if args.lsh_shards else {})}
    if not MANIFEST.exists():
        print(f"skipped: {MANIFEST} is absent (see ../shared/data/README.md)")
        return 0
    if args.workers > 1:
        beam_args += [f"--direct_num_workers={args.workers}", "--direct_running_mode=multi_processing"]
    print(f"{'articles':>9} {'count s':>8} {'dedup+count s':>13} {'dedup s':>8} {'dedup docs/s':>12} "
          f"{'dedup cpu s':>11} {'docs/cpu s':>10} {'count MB':>9} {'dedup MB':>9} {'stories':>8} {'time/x prev':>11} "
          f"{'+reuse s':>9} {'+reuse cpu s':>12} {'reuse MB':>9} {'reuse rows':>10} {'x dedup cpu':>11}"
          + (f" {'+write s':>9} {'write MB':>9}" if args.write else ""))
    previous = None
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"dedup-scale-{size}-") as folder:
            write_articles(size, folder, args.processes)
            stages = ("count", "dedup", "reuse", *(("write",) if args.write else ()))
            runs = {stage: [] for stage in stages}
            for _ in range(args.repeat):  # interleaved, so a slow spell of the box hits every stage alike
                for stage in stages:
                    runs[stage].append(measure(folder, stage, params, beam_args, not args.malloc_defaults, not args.no_spill))
            base, full, reuse, *written = (median_run(runs[stage]) for stage in stages)
        dedup_s = max(full["seconds"] - base["seconds"], 1e-9)
        dedup_cpu = max(full["cpu_seconds"] - base["cpu_seconds"], 1e-9)
        growth = f"{dedup_s / previous[1]:.1f}x/{size / previous[0]:.0f}x" if previous else ""
        print(f"{size:>9} {base['seconds']:>8.1f} {full['seconds']:>13.1f} {dedup_s:>8.1f} {size / dedup_s:>12.0f} "
              f"{dedup_cpu:>11.1f} {size / dedup_cpu:>10.0f} {base['peak_rss_mb']:>9.0f} {full['peak_rss_mb']:>9.0f} "
              f"{full.get('stories', 0):>8} {growth:>11} {reuse['seconds'] - base['seconds']:>9.1f} "
              f"{reuse['cpu_seconds'] - base['cpu_seconds']:>12.1f} {reuse['peak_rss_mb']:>9.0f} {reuse.get('reuse', 0):>10} "
              f"{(reuse['cpu_seconds'] - base['cpu_seconds']) / dedup_cpu:>11.2f}"
              + "".join(f" {w['seconds'] - full['seconds']:>9.1f} {w['peak_rss_mb']:>9.0f}" for w in written), flush=True)
        previous = (size, dedup_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
