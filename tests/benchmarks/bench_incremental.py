"""Runs add up: the current state after many schedules of CLI runs against one batch run.

    python tests/benchmarks/bench_incremental.py [--schedules 21] [--seed 0]

On ../shared/data/reprints-dev, each schedule feeds the pages to ``newsbeam`` on one output in
several runs, as a user would: random splits into 2-8 runs, reprints first with their originals
in the last run, originals last, a re-run of an earlier batch, and ``newsbeam watch --once`` one
page per round (on a subset of 40 pages: a round costs a CLI start).  Every page keeps one path
(an inbox of hard links), so a re-run is the same input.  For each schedule the current state
(``pipelines.current``) is scored against the gold stories and against one run over the same
pages: pairwise F1 and canonical = original (gold), agreement ARI and equal canonical sets (one
run), stories with more than one canonical, articles with more than one ``new`` row, and the
rows a re-run added (articles, stories, index).
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))

from bench_reprints import DEV, read_manifest, scores  # noqa: E402

from pipelines import current  # noqa: E402
from schemas.tables import STORY_INDEX  # noqa: E402
from transforms.sinks.parquet import table_files  # noqa: E402

WATCH_PAGES = 40


def newsbeam(*args) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"newsbeam {' '.join(args[:3])}... failed: {proc.stderr[-2000:]}")
    return proc.stdout


def link_pages(paths: list, inbox: Path) -> None:
    for path in paths:
        target = inbox / path
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(DEV / path, target)
            except OSError:
                shutil.copy(DEV / path, target)


def batch_run(paths: list, inbox: Path, out: Path) -> None:
    link_pages(paths, inbox)
    newsbeam(*[arg for path in paths for arg in ("--input", str(inbox / path))], "--output", str(out))


def state(out: Path) -> dict:
    """{page path: (story id, is canonical)} of an output's current state."""
    rows = current.connect(str(out)).sql("select source, story_id, is_canonical from articles").fetchall()
    return {source[source.rfind("pages/"):]: (story, canonical) for source, story, canonical in rows}


def event_counts(out: Path) -> dict:
    con = current.connect(str(out))
    return {
        "several_canonicals": con.sql(
            "select count(*) from (select story_id from articles where is_canonical group by 1 having count(*) > 1)"
        ).fetchall()[0][0],
        "duplicate_new_rows": con.sql(
            "select count(*) from (select article_id from article_events where row_kind = 'new' group by 1 having count(*) > 1)"
        ).fetchall()[0][0],
        "rows": {
            table: con.sql(f"select count(*) from {view}").fetchall()[0][0]
            for table, view in (("articles", "article_events"), ("stories", "story_events"))
        },
    }


def index_rows(out: Path) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{table_files(str(out), STORY_INDEX)}')").fetchall()[0][0]


def split(paths: list, runs: int, rng: random.Random) -> list:
    cuts = sorted(rng.sample(range(1, len(paths)), runs - 1))
    return [paths[a:b] for a, b in zip([0, *cuts], [*cuts, len(paths)])]


def schedules(manifest: dict, count: int, seed: int) -> list:
    """[(name, [[page paths of a run], ...], watch: bool, rerun: bool)]."""
    rng = random.Random(seed)
    pages = sorted(manifest)
    originals = [p for p in pages if manifest[p]["is_original"] == "True"]
    reprints = [p for p in pages if manifest[p]["is_original"] != "True"]
    made = []
    for i in range(count):
        kind = i % 7
        shuffled = rng.sample(pages, len(pages))
        if kind in (0, 1, 2):
            runs = rng.randint(2, 8)
            made.append((f"random split, {runs} runs", split(shuffled, runs, rng), False, False))
        elif kind == 3:
            runs = rng.randint(2, 5)
            made.append((f"reprints first, {runs} runs", [*split(rng.sample(reprints, len(reprints)), runs - 1, rng), originals], False, False))
        elif kind == 4:
            made.append(("originals last, 2 runs", [rng.sample(reprints, len(reprints)), rng.sample(originals, len(originals))], False, False))
        elif kind == 5:
            runs = split(shuffled, rng.randint(2, 6), rng)
            made.append((f"{len(runs)} runs + re-run of one", [*runs, rng.choice(runs)], False, True))
        else:
            subset = subset_of_stories(manifest, rng)
            made.append((f"watch, 1 page a round ({len(subset)} pages)", [[p] for p in rng.sample(subset, len(subset))], True, False))
    return made


def subset_of_stories(manifest: dict, rng: random.Random) -> list:
    """About WATCH_PAGES pages: whole gold stories, picked at random."""
    by_story = {}
    for path, row in manifest.items():
        by_story.setdefault(row["story_id"], []).append(path)
    stories = sorted(by_story)
    rng.shuffle(stories)
    chosen = []
    for story in stories:
        if len(chosen) >= WATCH_PAGES:
            break
        chosen += by_story[story]
    return sorted(chosen)


def run_schedule(name: str, runs: list, watch: bool, rerun: bool, work: Path) -> dict:
    inbox, out = work / "inbox", work / "out"
    rows_before = None
    for n, run in enumerate(runs):
        if rerun and n == len(runs) - 1:
            before = event_counts(out)["rows"]
            rows_before = (before["articles"], before["stories"], index_rows(out))
        if watch:
            link_pages(run, inbox)
            newsbeam("watch", "--once", "--input", str(inbox), "--output", str(out))
        else:
            batch_run(run, inbox, out)
    counts = event_counts(out)
    added = None
    if rows_before is not None:
        after = (counts["rows"]["articles"], counts["rows"]["stories"], index_rows(out))
        added = tuple(a - b for a, b in zip(after, rows_before))
    return {"state": state(out), "counts": counts, "rerun_added": added}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=21)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (DEV / "manifest.csv").exists():
        print(f"skipped: {DEV} is absent (see ../shared/data/README.md)")
        return 0
    manifest = read_manifest(DEV)
    singles = {}  # page set -> the one-run state over it
    header = (f"{'schedule':<34} {'runs':>4} {'pages':>5} {'F1':>6} {'canon':>6} {'ARI~1':>6} {'canon=1':>7} "
              f"{'>1canon':>7} {'dupnew':>6} {'rerun+':>9} {'s':>5}")
    print(header)
    all_equal = True
    for name, runs, watch, rerun in schedules(manifest, args.schedules, args.seed):
        pages = frozenset(p for run in runs for p in run)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if pages not in singles:
                batch_run(sorted(pages), work / "single-inbox", work / "single")
                singles[pages] = state(work / "single")
            started = time.perf_counter()
            result = run_schedule(name, runs, watch, rerun, work)
            elapsed = time.perf_counter() - started
        single, got = singles[pages], result["state"]
        keys = sorted(set(single) & set(got))
        subset = {k: manifest[k] for k in keys}
        gold = scores({k: manifest[k]["story_id"] for k in keys}, {k: got[k][0] for k in keys},
                      {k: got[k][1] for k in keys}, subset)
        agreement = scores({k: single[k][0] for k in keys}, {k: got[k][0] for k in keys},
                           {k: got[k][1] for k in keys}, subset)
        same_canonicals = {k for k in keys if got[k][1]} == {k for k in keys if single[k][1]}
        same = agreement["ARI"] > 0.99999 and same_canonicals and len(keys) == len(single) == len(got)
        all_equal &= same
        counts, added = result["counts"], result["rerun_added"]
        print(f"{name:<34} {len(runs):>4} {len(keys):>5} {gold['F1']:>6.4f} {gold['canonical']:>6.1%} "
              f"{agreement['ARI']:>6.4f} {str(same_canonicals):>7} {counts['several_canonicals']:>7} "
              f"{counts['duplicate_new_rows']:>6} {'-' if added is None else '/'.join(map(str, added)):>9} {elapsed:>5.0f}",
              flush=True)
    print(f"every schedule's current state equals one run over its pages: {all_equal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
