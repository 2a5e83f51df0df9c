"""Reprint-detection cases shared by the batch and streaming tests: the hand-made hard set,
two unrelated stories, article records and a DetectReprints run."""

import csv
import json
import pickle
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from tests.support.paths import FIXTURES
from transforms.dedup.batch import DetectReprints
from transforms.dedup.reuse import DetectReuse
from transforms.dedup.rules import DedupConfig
from transforms.extract.metadata import content_sha1

HARD = FIXTURES / "reprints_hard"
T0 = datetime(2025, 3, 10, 6, tzinfo=timezone.utc)

STORY = (
    "The city council voted on Monday to build a network of protected cycling lanes across the old town, ending a "
    "debate that had divided residents and shop owners for almost two years. Under the plan, painted lanes on the "
    "main avenues will be replaced by kerb-separated tracks, and several side streets will be closed to through "
    "traffic. Supporters say the change will make cycling safe enough for children and older people."
)
OTHER = (
    "Researchers have found microplastic particles in remote mountain lakes that receive no water from rivers, "
    "suggesting that the fragments travel through the air before settling on the surface. The team collected water "
    "and sediment from lakes above the tree line over three summers and identified fibres under the microscope."
)


def hard_set():
    manifest = {row["url"]: row for row in csv.DictReader(open(HARD / "manifest.csv", encoding="utf-8"))}
    return fixture_articles(HARD), manifest


def fixture_articles(folder) -> list:
    """The article dicts of a fixture set's ``articles.jsonl`` (times parsed, contents hashed)."""
    articles = []
    for line in open(folder / "articles.jsonl", encoding="utf-8"):
        article = json.loads(line)
        article["published_at"] = datetime.fromisoformat(article["published_at"])
        article["content_sha1"] = content_sha1(article["text"])
        articles.append(article)
    return articles


OUTPUTS = ("articles", "stories", "index", "failures")
REUSE_OUTPUTS = ("reuse", "passages")


class _Keep(beam.DoFn):
    """Pickles each bundle's rows into one file of ``folder``."""

    def __init__(self, folder: str):
        self.folder = folder

    def start_bundle(self):
        self.rows = []

    def process(self, row):
        self.rows.append(row)

    def finish_bundle(self):
        if self.rows:
            (Path(self.folder) / f"{uuid.uuid4().hex}.pkl").write_bytes(pickle.dumps(self.rows))


def run_detect(articles, tmp_path, prior=None, params=DedupConfig(), reuse=None, prior_passages=None):
    """Run DetectReprints (and with a ``ReuseConfig`` ``reuse``, DetectReuse after it) on the
    FnApiRunner as run number n in ``tmp_path``; return its (articles, stories, index, failures
    [, reuse, passages]) rows, stamped with ``row_at`` = T0 + n hours as the table writer does.

    Rows are kept by a plain DoFn on a plain Pipeline: WriteToText's file-sink stages and
    TestPipeline's extra runner-API round trip doubled the cost of a run (the Dataflow translation
    of the whole job is checked in tests/pipelines/test_dataflow_dryrun.py)."""
    n = len(list(tmp_path.iterdir()))
    out, row_at = tmp_path / f"run{n}", T0 + timedelta(hours=n)
    names = OUTPUTS + (REUSE_OUTPUTS if reuse is not None else ())
    with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions([])) as p:
        prior_rows = p | "Prior" >> beam.Create(prior) if prior is not None else None
        *results, members, records = p | "Articles" >> beam.Create(articles) | DetectReprints(params, prior_rows, reuse)
        if reuse is not None:
            passages = p | "PriorPassages" >> beam.Create(prior_passages) if prior_passages is not None else None
            results += list((records, members) | DetectReuse(params, reuse, passages))
        for name, rows in zip(names, results):
            (out / name).mkdir(parents=True)
            rows | f"Keep{name}" >> beam.ParDo(_Keep(str(out / name)))
    return tuple(
        [{"row_at": row_at, **row} for f in sorted((out / name).iterdir()) for row in pickle.loads(f.read_bytes())]
        for name in names
    )


def current_state(*article_rows) -> dict:
    """{article id: (story id, is canonical, similarity)} after all these runs' article rows."""
    state = {}
    for row in sorted((r for rows in article_rows for r in rows), key=lambda r: r["row_at"]):
        state[row["article_id"]] = (row["story_id"], row["is_canonical"], row["similarity"])
    return state


def clusters(rows):
    by_story = defaultdict(set)
    for row in rows:
        by_story[row["story_id"]].add(row["article_id"])
    return {frozenset(members) for members in by_story.values()}


def article(article_id, text, hours=0.0, domain="site.example", title=None):
    return {
        "article_id": article_id, "url": article_id, "source": article_id, "domain": domain,
        "title": title or article_id,
        "published_at": T0 + timedelta(hours=hours), "text": text, "word_count": len(text.split()),
        "content_sha1": content_sha1(text),
    }
