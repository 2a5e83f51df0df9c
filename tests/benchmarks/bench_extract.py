"""Extraction throughput and fidelity: our batch pipeline against a plain trafilatura loop.

    python tests/benchmarks/bench_extract.py [--pages 300]

On the first N pages of ../shared/data/extraction/trafilatura-eval (unpacked to a temp folder)
it times, in one run: (a) a single-process ``trafilatura.bare_extraction`` loop, (b1) the batch
pipeline as a user runs it (in-process, an extractor per core), (b2) the same with one extractor
(``extract.processes: 1``) and (b3) with two worker processes (one extractor each), and prints
pages/s and the ratios b/a.  It then checks page by page that the pipeline's article text equals
trafilatura's own output (after the pipeline's documented normalisation: NFC + whitespace), and
scores both texts against the corpus gold (``evaldata.json``: snippets each page's text must and
must not contain; precision, recall and F1 as trafilatura's own evaluation counts them).
"""

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
import trafilatura

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines import batch
from transforms.extract.articles import DATE_PARAMS, ExtractConfig
from transforms.extract.metadata import clean_text, word_count

EVAL = REPO.parent / "shared" / "data" / "extraction" / "trafilatura-eval"
TARBALL = EVAL / "trafilatura-tests-eval-cache.tar.gz"


def unpack_pages(folder: Path, limit: int) -> list:
    with tarfile.open(TARBALL) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".html")), key=lambda m: m.name)
        members = members[:limit]
        tar.extractall(folder, members=members, filter="data")
    return [folder / m.name for m in members]


def trafilatura_loop(paths: list) -> tuple[float, dict]:
    """(a): read each file and run bare_extraction with the options the pipeline uses."""
    config = ExtractConfig()
    texts = {}
    started = time.perf_counter()
    for path in paths:
        doc = trafilatura.bare_extraction(
            path.read_bytes(),
            with_metadata=True,
            deduplicate=False,
            include_tables=config.include_tables,
            include_comments=config.include_comments,
            date_extraction_params=DATE_PARAMS,
        )
        texts[str(path)] = doc.text if doc is not None else None
    return time.perf_counter() - started, texts


def pipeline_run(folder: Path, out: Path, extra_args: list) -> tuple[float, dict]:
    started = time.perf_counter()
    batch.run(["--input", str(folder), "--output", str(out), *extra_args])
    elapsed = time.perf_counter() - started
    table = ds.dataset(out / "articles", format="parquet", partitioning="hive").to_table(columns=["source", "text"])
    return elapsed, dict(zip(table.column("source").to_pylist(), table.column("text").to_pylist()))


def compare(reference: dict, ours: dict, min_words: int) -> tuple[list, list]:
    """Pages where the pipeline's text differs from trafilatura's (normalised the same way): those
    that differ only by the page's lead opening ours (``metadata.with_lead``: the standfirst
    trafilatura leaves out), and the others."""
    lead_added, mismatches = [], []
    for source, text in reference.items():
        expected = clean_text(text) if text else None
        if expected is not None and word_count(expected) < min_words:
            expected = None  # the pipeline records such pages as TooShort failures
        got = ours.get(source)
        if got == expected:
            continue
        if expected and got and got.endswith("\n" + expected) and "\n" not in got[: -len(expected) - 1]:
            lead_added.append(source)
        else:
            mismatches.append(source)
    return lead_added, mismatches


def snippet_scores(texts: dict) -> str:
    """Precision, recall and F1 of texts (source path -> text or None) against the gold snippets of
    ``evaldata.json``: a "with" snippet found is a true positive, a "without" one a false positive."""
    gold = {item["file"]: item for item in json.loads((EVAL / "evaldata.json").read_text(encoding="utf-8")).values()}
    tp = fp = fn = 0
    for source, text in texts.items():
        item = gold.get(Path(source).name)
        if item is None:
            continue
        found = " ".join((text or "").split())
        hits = sum(" ".join(w.split()) in found for w in item["with"])
        tp, fn = tp + hits, fn + len(item["with"]) - hits
        fp += sum(" ".join(w.split()) in found for w in item["without"])
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return f"precision {precision:.4f}  recall {recall:.4f}  F1 {2 * tp / max(1, 2 * tp + fp + fn):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    if not TARBALL.exists():
        sys.exit(f"skipped: {TARBALL} not found (needs ../shared/data beside the repo)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = unpack_pages(tmp / "pages", args.pages)
        n = len(paths)
        print(f"{n} pages from trafilatura-eval, {sum(p.stat().st_size for p in paths) / n / 1024:.0f} KB average")
        loop_s, reference = trafilatura_loop(paths)
        one_extractor = tmp / "one-extractor.yaml"
        one_extractor.write_text("extract:\n  processes: 1\n")
        runs = {
            "pipeline, defaults": [],
            "one extractor": ["--config", str(one_extractor)],
            "2 worker processes": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
        }
        print(f"{'(a) trafilatura loop':<32}{n / loop_s:8.2f} pages/s  {loop_s:7.1f} s")
        results = {}
        for i, (name, extra) in enumerate(runs.items(), start=1):
            elapsed, texts = pipeline_run(tmp / "pages", tmp / f"out{i}", extra)
            results[name] = texts
            print(f"{'(b' + str(i) + ') ' + name:<32}{n / elapsed:8.2f} pages/s  {elapsed:7.1f} s  ratio b/a = {loop_s / elapsed:.2f}x")
        lead_added, mismatches = compare(reference, results["pipeline, defaults"], ExtractConfig().min_words)
        equal = n - len(mismatches)
        print(f"text equal to trafilatura's own output: {equal}/{n} pages ({equal / n:.1%}), {len(lead_added)} of them"
              " opened by the page's lead that trafilatura left out")
        for source in mismatches[:20]:
            print(f"  mismatch: {Path(source).name}")
        print(f"gold snippets, trafilatura loop: {snippet_scores(reference)}")
        print(f"gold snippets, pipeline:         {snippet_scores(results['pipeline, defaults'])}")


if __name__ == "__main__":
    main()
