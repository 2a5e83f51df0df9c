"""Reprint-detection quality: the batch pipeline against baselines on the same extracted texts.

    python tests/benchmarks/bench_reprints.py [--skip-hard] [-- extra pipeline args]

1. Runs the batch pipeline (``pipelines.batch``) on ../shared/data/reprints-dev/pages and reads
   its articles Parquet; pages are matched to manifest.csv (gold ``story_id``) by source path.
2. Prints pairwise precision/recall/F1, adjusted Rand index, merged hard-negative story pairs
   and canonical accuracy (is the ``is_original`` page the one marked canonical) for the
   pipeline and, on the same extracted texts, for: exact hashing, trafilatura's simhash
   (Hamming <= 8), datasketch MinHashLSH (128 perms, word 5-grams, threshold 0.5) and the
   NEWS-COPY setting (256 perms, word 2-grams, threshold 0.45), each with connected
   components; baselines pick the page with the earliest extracted date as canonical.
   A last line re-runs DetectReprints on the same texts with the manifest's true publication
   times, to separate canonical errors of date extraction from those of the dedup stage.
3. Times the MinHash libraries on those texts (rensa, datasketch, numpy + xxhash).
4. Runs the pipeline on the hand-made hard cases (tests/fixtures/reprints_hard): templated-report
   merges and compilation pages gluing two stories must both be zero.
5. Passage reuse (the ``reuse`` table): links (page, donor story) against the dev set's gold
   ``reused_from`` (precision/recall/F1) and, for the found links, word 5-gram overlap of the
   passages with the gold reused paragraphs; the same on our Vietnamese set
   (tests/fixtures/reuse_vi: seed-like pages, compilations without originals).
"""

import argparse
import csv
import itertools
import json
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from datetime import datetime, timezone
from math import comb
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines import batch  # noqa: E402

DEV = REPO.parent / "shared" / "data" / "reprints-dev"
HARD = REPO / "tests" / "fixtures" / "reprints_hard"
REUSE_VI = REPO / "tests" / "fixtures" / "reuse_vi"


# ------------------------------------------------------------------ running the pipeline


def pipeline_articles(pages: Path, extra_args: list) -> tuple[list, list, float]:
    """The articles and reuse rows the batch pipeline writes for a folder of pages, and the run time."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        batch.run(["--input", str(pages), "--output", out, "--runner", "FnApiRunner", *extra_args])
        elapsed = time.perf_counter() - started
        rows, reuse = (
            ds.dataset(Path(out) / name, format="parquet", partitioning="hive").to_table().to_pylist()
            if (Path(out) / name).exists() else []
            for name in ("articles", "reuse")
        )
    return rows, reuse, elapsed


def match_manifest(rows: list, manifest: dict) -> dict:
    """Gold row -> pipeline row, by the page path at the end of ``source``."""
    by_path = {}
    for row in rows:
        source = row["source"].replace("\\", "/")
        rel = source[source.rfind("pages/"):]
        by_path[rel] = row
    return {path: by_path[path] for path in manifest if path in by_path}


# ------------------------------------------------------------------ metrics


def pair_count(labels) -> int:
    return sum(comb(n, 2) for n in Counter(labels).values())


def scores(gold: dict, pred: dict, canonical: dict, manifest: dict) -> dict:
    """Pairwise P/R/F1, ARI, merged hard-negative story pairs, canonical accuracy."""
    keys = sorted(gold)
    g, p = [gold[k] for k in keys], [pred[k] for k in keys]
    both, gold_pairs, pred_pairs = pair_count(zip(g, p)), pair_count(g), pair_count(p)
    precision = both / pred_pairs if pred_pairs else 1.0
    recall = both / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = comb(len(keys), 2)
    expected = gold_pairs * pred_pairs / total
    ari = (both - expected) / ((gold_pairs + pred_pairs) / 2 - expected)
    stories_in = defaultdict(set)
    for k in keys:
        stories_in[pred[k]].add(gold[k])
    merged = {pair for found in stories_in.values() for pair in itertools.combinations(sorted(found), 2)}
    groups = {manifest[k]["story_id"]: manifest[k]["hard_negative_group"] for k in keys}
    hard_merged = sum(1 for a, b in merged if groups[a] and groups[a] == groups[b])
    sizes = Counter(g)
    originals = [k for k in keys if manifest[k]["is_original"] == "True" and sizes[gold[k]] > 1]
    canon = sum(1 for k in originals if canonical[k]) / len(originals)
    return {"P": precision, "R": recall, "F1": f1, "ARI": ari, "merged_pairs": len(merged),
            "hard_neg_merged": hard_merged, "canonical": canon}


def components(keys: list, edges) -> dict:
    """Connected components (union-find) -> key: component id."""
    parent = {k: k for k in keys}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: find(k) for k in keys}


def earliest_canonical(keys: list, cluster: dict, published: dict) -> dict:
    first = {}
    for k in sorted(keys, key=lambda k: (published[k], k)):
        first.setdefault(cluster[k], k)
    return {k: first[cluster[k]] == k for k in keys}


# ------------------------------------------------------------------ baselines


def words(text: str) -> list:
    return re.findall(r"\w+", text.lower())


def exact_clusters(texts: dict) -> dict:
    return {k: hash(t) for k, t in texts.items()}


def simhash_clusters(texts: dict) -> dict:
    from trafilatura.deduplication import Simhash

    keys = sorted(texts)
    hashes = {k: Simhash(texts[k]).hash for k in keys}
    edges = [(a, b) for a, b in itertools.combinations(keys, 2) if (hashes[a] ^ hashes[b]).bit_count() <= 8]
    return components(keys, edges)


def datasketch_clusters(texts: dict, num_perm: int, ngram: int, threshold: float) -> dict:
    from datasketch import MinHash, MinHashLSH

    keys = sorted(texts)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    signatures = {}
    for k in keys:
        tokens = words(texts[k])
        m = MinHash(num_perm=num_perm)
        m.update_batch([" ".join(tokens[i : i + ngram]).encode() for i in range(max(1, len(tokens) - ngram + 1))])
        signatures[k] = m
        lsh.insert(k, m)
    edges = [(k, other) for k in keys for other in lsh.query(signatures[k]) if other != k]
    return components(keys, edges)


def minhash_library_speed(texts: list) -> dict:
    """Docs/s of 128-perm signatures over word 4-gram shingles, per library (same shingles)."""
    import rensa
    import xxhash
    from datasketch import MinHash

    from transforms.dedup import minhash
    from transforms.dedup.textmatch import token_hashes

    hashes, _, offsets = token_hashes(texts)
    shingle_sets = minhash.shingle_rows(hashes, offsets, 4)
    byte_sets = [[int(h).to_bytes(8, "little") for h in s] for s in shingle_sets]
    results = {}

    started = time.perf_counter()
    minhash.signatures(shingle_sets, 128)
    results["rensa (batch, u64 shingles)"] = len(texts) / (time.perf_counter() - started)

    started = time.perf_counter()
    for s in byte_sets:
        m = rensa.RMinHash(128, 42)
        m.update(s)
        m.digest()
    results["rensa (per doc, bytes)"] = len(texts) / (time.perf_counter() - started)

    started = time.perf_counter()
    for s in byte_sets:
        m = MinHash(num_perm=128)
        m.update_batch(s)
    results["datasketch"] = len(texts) / (time.perf_counter() - started)

    rng = np.random.default_rng(1)
    prime = np.uint64((1 << 61) - 1)
    a = rng.integers(1, 1 << 61, size=128, dtype=np.uint64)
    b = rng.integers(0, 1 << 61, size=128, dtype=np.uint64)
    started = time.perf_counter()
    for s in byte_sets:
        hashes = np.fromiter((xxhash.xxh64_intdigest(x) for x in s), dtype=np.uint64, count=len(s))
        with np.errstate(over="ignore"):
            ((hashes[:, None] * a + b) % prime).min(axis=0)
    results["numpy + xxhash"] = len(texts) / (time.perf_counter() - started)
    return results


def detect_with_true_dates(matched: dict, manifest: dict) -> tuple:
    """DetectReprints alone on the pipeline's articles, published_at replaced by the gold time."""
    import apache_beam as beam

    from transforms.dedup.batch import DetectReprints

    articles = [
        {**row, "article_id": path, "published_at_precision": "second",
         "published_at": datetime.fromisoformat(manifest[path]["published_at"].replace("Z", "+00:00"))}
        for path, row in matched.items()
    ]
    with tempfile.TemporaryDirectory() as out:
        with beam.Pipeline(runner="FnApiRunner") as p:
            rows, *_ = p | beam.Create(articles) | DetectReprints()
            (rows | beam.Map(lambda r: f"{r['article_id']}\t{r['story_id']}\t{int(r['is_canonical'])}")
             | beam.io.WriteToText(f"{out}/result"))
        lines = [line.split("\t") for f in Path(out).glob("result*") for line in f.read_text().splitlines()]
    return {k: s for k, s, _ in lines}, {k: c == "1" for k, _, c in lines}


# ------------------------------------------------------------------ reporting


def read_manifest(root: Path) -> dict:
    with open(root / "manifest.csv", encoding="utf-8") as fh:
        return {row["path"]: row for row in csv.DictReader(fh)}


def print_row(name: str, s: dict) -> None:
    print(f"{name:<34} {s['P']:.4f} {s['R']:.4f} {s['F1']:.4f} {s['ARI']:.4f} {s['hard_neg_merged']:>6} "
          f"{s['merged_pairs']:>7} {s['canonical']:>8.1%}")


def dev_benchmark(extra_args: list) -> None:
    manifest = read_manifest(DEV)
    rows, reuse, elapsed = pipeline_articles(DEV / "pages", extra_args)
    matched = match_manifest(rows, manifest)
    print(f"reprints-dev: {len(manifest)} pages, {len(matched)} articles from the batch pipeline "
          f"({elapsed:.1f} s including extraction)")
    keys = sorted(matched)
    gold = {k: manifest[k]["story_id"] for k in keys}
    published = {k: matched[k]["published_at"] or datetime.max.replace(tzinfo=timezone.utc) for k in keys}
    texts = {k: matched[k]["text"] or "" for k in keys}
    print(f"{'method':<34} {'P':>6} {'R':>6} {'F1':>6} {'ARI':>6} {'hardneg':>6} {'merged':>7} {'canonical':>8}")
    pipeline_scores = scores(gold, {k: matched[k]["story_id"] for k in keys},
                             {k: bool(matched[k]["is_canonical"]) for k in keys}, manifest)
    print_row("batch pipeline (DetectReprints)", pipeline_scores)
    for name, make in (
        ("exact hash", lambda: exact_clusters(texts)),
        ("trafilatura simhash (<=8 bits)", lambda: simhash_clusters(texts)),
        ("datasketch LSH 128/5-gram/0.5", lambda: datasketch_clusters(texts, 128, 5, 0.5)),
        ("NEWS-COPY 256/2-gram/0.45", lambda: datasketch_clusters(texts, 256, 2, 0.45)),
    ):
        cluster = make()
        print_row(name, scores(gold, cluster, earliest_canonical(keys, cluster, published), manifest))
    print_row("  same, true publication times", scores(gold, *detect_with_true_dates(matched, manifest), manifest))
    passage_gold = {
        row["path"]: (row["story_id"], row["reused_from"] or [], row["reuse_neutral"] or [], row["reused_text"] or [])
        for row in pq.read_table(DEV / "manifest.parquet").to_pylist()
    }
    print_reuse("passage reuse (reprints-dev)", reuse_scores(reuse, matched, passage_gold))
    print("\nMinHash libraries, 128 perms over the same word 4-gram shingles (docs/s, one core, noisy box):")
    for name, rate in minhash_library_speed(list(texts.values())).items():
        print(f"  {name:<30} {rate:>9.0f}")


def hard_benchmark(extra_args: list) -> None:
    manifest = read_manifest(HARD)
    rows, _, _ = pipeline_articles(HARD / "pages", extra_args)
    matched = match_manifest(rows, manifest)
    story_of = {k: matched[k]["story_id"] for k in matched}
    found = defaultdict(set)  # gold story -> predicted stories of its non-compilation pages
    for k, m in manifest.items():
        if m["case"] != "compilation" and k in story_of:
            found[m["story_id"]].add(story_of[k])
    templated = [s for s in found if manifest_case(manifest, s) == "templated"]
    templated_merges = sum(1 for a, b in itertools.combinations(templated, 2) if found[a] & found[b])
    glued = sum(
        1 for m in manifest.values()
        if m["case"] == "compilation" and found[m["story_id"]] & found[m["secondary_story_id"]]
    )
    keys = sorted(k for k in matched if manifest[k]["case"] != "compilation")
    s = scores({k: manifest[k]["story_id"] for k in keys}, {k: story_of[k] for k in keys},
               {k: bool(matched[k]["is_canonical"]) for k in keys},
               {k: {**manifest[k], "hard_negative_group": ""} for k in keys})
    print(f"\nhard cases ({len(matched)} of {len(manifest)} pages): templated-report merges {templated_merges} "
          f"(of {comb(len(templated), 2)} day pairs), compilation pages gluing two stories {glued}, "
          f"F1 without compilations {s['F1']:.4f}, canonical {s['canonical']:.0%}")


def reuse_vi_benchmark(extra_args: list) -> None:
    """Passage reuse on our Vietnamese set (tests/fixtures/reuse_vi): seed-like pages lifting
    paragraphs of two stories, compilations without originals, follow-ups quoting a sentence."""
    manifest = read_manifest(REUSE_VI)
    rows, reuse, _ = pipeline_articles(REUSE_VI / "pages", extra_args)
    matched = match_manifest(rows, manifest)
    passage_gold = {
        path: (m["story_id"], *(json.loads(m[column] or "[]") for column in ("reused_from", "reuse_neutral", "reused_text")))
        for path, m in manifest.items()
    }
    keys = sorted(matched)
    s = scores({k: manifest[k]["story_id"] for k in keys}, {k: matched[k]["story_id"] for k in keys},
               {k: bool(matched[k]["is_canonical"]) for k in keys}, {k: {**manifest[k], "hard_negative_group": ""} for k in keys})
    print(f"\nreuse_vi ({len(matched)} of {len(manifest)} pages): stories F1 {s['F1']:.4f}, canonical {s['canonical']:.0%}")
    print_reuse("passage reuse (reuse_vi)", reuse_scores(reuse, matched, passage_gold))


def reuse_scores(reuse: list, matched: dict, gold: dict) -> dict:
    """Links (page, donor story) of the ``reuse`` rows against the gold ``reused_from`` (a row links
    its page to the gold story of its source; rows whose source is of the page's own gold story are
    not scored, nor links to ``reuse_neutral`` stories), and for the found links how much of the
    gold reused paragraphs their passages cover (word 5-grams of the passages' text vs the gold's)."""
    path_of = {row["article_id"]: path for path, row in matched.items()}
    text_of = {row["article_id"]: row["text"] or "" for row in matched.values()}
    passages = defaultdict(list)
    for row in reuse:
        page, source = path_of.get(row["article_id"]), path_of.get(row["source_article_id"])
        if page is None or source is None or gold[source][0] == gold[page][0] or gold[source][0] in gold[page][2]:
            continue
        passages[(page, gold[source][0])].append(text_of[row["article_id"]][row["start"]:row["end"]])
    links = {(page, donor) for page in matched for donor in gold[page][1]}
    hits = links & passages.keys()
    precision = len(hits) / len(passages) if passages else 1.0
    recall = len(hits) / len(links) if links else 1.0
    shared = found_grams = gold_grams = 0
    for page, donor in hits:
        want = set().union(set(), *(five_grams(t.split("\t", 1)[1]) for t in gold[page][3] if t.split("\t", 1)[0] == donor))
        got = set().union(set(), *(five_grams(t) for t in passages[(page, donor)]))
        shared, found_grams, gold_grams = shared + len(want & got), found_grams + len(got), gold_grams + len(want)
    return {
        "P": precision, "R": recall, "F1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "found": len(passages), "gold": len(links),
        "span_P": shared / found_grams if found_grams else 0.0, "span_R": shared / gold_grams if gold_grams else 0.0,
    }


def five_grams(text: str) -> set:
    tokens = words(unicodedata.normalize("NFC", text))
    return {tuple(tokens[i : i + 5]) for i in range(max(1, len(tokens) - 4))} if tokens else set()


def print_reuse(name: str, s: dict) -> None:
    print(f"{name}: links P {s['P']:.4f} R {s['R']:.4f} F1 {s['F1']:.4f} ({s['found']} found, {s['gold']} gold); "
          f"span P {s['span_P']:.4f} R {s['span_R']:.4f}")


def manifest_case(manifest: dict, story: str) -> str:
    return next(m["case"] for m in manifest.values() if m["story_id"] == story)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-hard", action="store_true")
    args, extra = parser.parse_known_args(argv)
    if not (DEV / "manifest.csv").exists():
        print(f"skipped: {DEV} is absent (see ../shared/data/README.md)")
        return 0
    dev_benchmark(extra)
    if not args.skip_hard:
        hard_benchmark(extra)
        reuse_vi_benchmark(extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
