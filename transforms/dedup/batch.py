"""Reprint detection in the batch job: near-duplicate story clusters, incremental across runs.

    articles, stories, index_rows, failures, members, records = articles | DetectReprints(DedupConfig(), prior_index, reuse)

How it decides (the rules in ``transforms.dedup.rules``, per-shard steps in
``transforms.dedup.clustering``, Beam wiring here):

1. *Fingerprint* each article (``dedup.fingerprints``): matching tokens (attribution/captions
   dropped, case-fold, punctuation, Vietnamese tone marks unified), word n-gram shingles, a
   MinHash signature of the whole text, a small MinHash of its lead (truncated reprints and
   updated versions keep the lead), and a sketch of its numbers in context.
2. *Candidates*: LSH bands of both signatures (see ``dedup.minhash`` for the S-curve).
3. *Verify* every candidate pair on the signatures: estimated Jaccard OR containment of
   the smaller text in the larger (truncated reprints), AND no conflicting numbers in shared
   contexts (templated daily reports: same wording, other numbers/dates -> other stories),
   unless the later text only reuses passages of the earlier (``rules.reuses_passages``).
4. *Anchor clustering*: articles are ordered by ``sort_key`` (earliest published, then a
   wire/agency domain, then longest, then id).  An article with no verified earlier article is
   an anchor (the original of a new story); one that verifies with at least one anchor joins
   the best of them (most similar, then earliest); one whose verified earlier articles are all
   members starts its own story.  Stories never chain through members, so a compilation page
   stitching stories A and B joins one of them and never glues the other to it.  Anchor
   status is resolved in ``resolution_rounds`` rounds (each a join of the still-open
   articles with their earlier matches' status; chains are short in practice, and articles
   still open after the last round start their own story).
5. *Stories*: canonical = ``sort_key`` minimum; ``similarity`` = max(Jaccard, containment) to
   the canonical; story id = ``story_id_for(anchor)``.  A story keeps at most
   ``max_cluster_size`` members (later ones start their own stories).

Runs add up: every run decides all stories again over the story index (the latest row of every
article earlier runs clustered, its fingerprint and story) and its own articles, with the same
rules, so the stories, canonicals and similarities are those of one run over all the articles,
whatever their order and split into runs.  What changed is written as events: rows for new and
updated articles, ``correction`` rows for indexed articles whose story fields changed (a late
original re-keys its story: the story id is always its anchor's), ``stories`` rows for the
stories that changed, and index rows for all of these.  Every decision is a function of the
article set and its sort keys, never of input order or bundling.  Every shuffle moves shard
batches, so cost is linear in articles plus candidate pairs; the capacity arithmetic for 100M
articles on Dataflow is in ``docs/scale.md``.
"""

import concurrent.futures
import functools
import multiprocessing
import threading
from collections import defaultdict, deque
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils import shared

from transforms.dedup import clustering
from transforms.dedup.clustering import COUNTERS
from transforms.dedup.fingerprints import fingerprint_batch, pack, shard_of, unpacked
from transforms.dedup.passages import ReuseConfig, record_items
from transforms.dedup.rules import DedupConfig
from transforms.dedup.spill import loaded, payload_bytes, spilled, spilling
from transforms.records import FAILED, failure

# ---------------------------------------------------------------------------- Beam wiring
#
# Every shuffle below moves shard batches, (shard, pickled [items]) with shard = id hash %
# lsh_shards: one element per shard and bundle instead of one per article, so the runner's
# per-element cost is paid a few hundred times per run, not ~15 times per article, and a batch
# is coded as one bytes value (pickle codes dicts and datetimes several times faster than
# Beam's element coders).


class BatchByShard(beam.DoFn):
    """Elements -> (shard of ``key(element)``, packed [elements]) per shard of each bundle, at
    most ``max_size`` a batch (global window: the batch pipeline's), spilled to ``folder``
    (``dedup.spill``)."""

    def __init__(self, key, shards: int, max_size: int = 256, folder: Optional[str] = None):
        super().__init__()
        self.key, self.shards, self.max_size, self.folder = key, shards, max_size, folder

    def start_bundle(self):
        self.pending = defaultdict(list)

    def process(self, element):
        shard = shard_of(self.key(element), self.shards)
        batch = self.pending[shard]
        batch.append(element)
        if len(batch) >= self.max_size:
            del self.pending[shard]
            yield shard, spilled(pack(batch), self.folder)

    def finish_bundle(self):
        batches = spilled([pack(batch) for batch in self.pending.values()], self.folder)  # one file
        for shard, batch in zip(self.pending, batches):
            yield GlobalWindows.windowed_value((shard, batch))
        self.pending.clear()


class _StepPool:
    """The process pool of a worker process's steps: started by the first step that enters it,
    shut down when the last one leaves (teardown)."""

    def __init__(self, processes: int):
        self.processes, self.users, self.executor, self.lock = processes, 0, None, threading.Lock()

    def enter(self):
        with self.lock:
            if not self.users:
                spawn = multiprocessing.get_context("spawn")  # a forked Beam worker's threads would be lost
                self.executor = concurrent.futures.ProcessPoolExecutor(self.processes, mp_context=spawn)
            self.users += 1

    def leave(self):
        with self.lock:
            self.users -= 1
            if not self.users:
                self.executor.shutdown(cancel_futures=True)


_POOLS = shared.Shared()  # one _StepPool per worker process (and pool size)


@beam.typehints.with_output_types(beam.typehints.Any)  # its values are whatever ``fn`` returns (declared: Beam
class PoolStep(beam.DoFn):  # does not read the bytecode of every step to infer it, ~50 ms each at graph build)
    """A FlatMap of ``fn(element, config, *args)``, a step returning (output tag, value) pairs
    (``dedup.fingerprints``, ``dedup.clustering``; ``COUNTERS`` become Beam counters).
    With ``config.processes`` > 1 the calls run in a pool of that many spawned processes (which
    import those modules, not Beam), shared by every step: for runs where one process runs the
    whole pipeline (the in-process FnApiRunner); with 1, in the worker itself (Dataflow runs a
    worker process per core already).  In flight: two calls per process, plus ``burst`` (steps
    fed by ``BatchByShard``, which fills its shards' batches at about the same time, take one
    per shard: the worker then reads on while the pool works through the burst).  An element
    carrying less than ``config.pool_min_bytes`` runs in the worker: a small run never starts
    the pool (its processes would cost more than the steps).  With a ``config.spill_dir`` its input is read
    back from files and its values written to them (``dedup.spill``)."""

    def __init__(self, fn, config: DedupConfig, *args, burst: int = 0):
        super().__init__()
        self.fn, self.config, self.args, self.window = fn, config, args, config.processes * 2 + burst

    def setup(self):
        self.pool = None
        processes = self.config.processes
        if processes > 1:
            self.pool = _POOLS.acquire(lambda: _StepPool(processes), tag=f"processes={processes}")
            self.pool.enter()

    def start_bundle(self):
        self.pending = deque()

    def process(self, element):
        if self.pool is None or payload_bytes(element) < self.config.pool_min_bytes:
            yield from _step(element, self.fn, self.config, *self.args)
            return
        self.pending.append(self.pool.executor.submit(spilling, self.fn, element, self.config.spill_dir, self.config, *self.args))
        if len(self.pending) > self.window:
            yield from _outputs(self.pending.popleft().result())

    def finish_bundle(self):
        while self.pending:
            yield from _outputs(self.pending.popleft().result(), GlobalWindows.windowed_value)

    def teardown(self):
        if self.pool is not None:
            self.pool.leave()
            self.pool = None


def _step(element, fn, config: DedupConfig, *args):
    """A step in the worker itself (also ``stories``: its rows cost more to pickle back from a
    pool than to build)."""
    return _outputs(spilling(fn, element, config.spill_dir, config, *args))


def _outputs(pairs, wrap=lambda value: value):
    for tag, value in pairs:
        if tag == COUNTERS:
            for name, increment in value.items():
                Metrics.counter("reprints", name).inc(increment)
        elif tag is None:
            yield wrap(value)
        else:
            yield TaggedOutput(tag, wrap(value))


class LshCandidates(beam.PTransform):
    """{"nodes": match node batches, "bands": their LSH entries} -> batches of (id hash, node of a
    candidate partner), both ways of every candidate pair, keyed by the shard of that id hash.

    Band keys travel as numpy arrays, one element per (node batch, LSH shard); each LSH shard
    pairs the articles sharing a key; each node is then sent to its partners (one join by id
    hash shard), so verification happens where the article's own decision is made."""

    def __init__(self, config: DedupConfig):
        super().__init__()
        self.config = config

    def expand(self, inputs):
        config = self.config
        requests = (
            inputs["bands"]
            | "GroupShards" >> beam.GroupByKey()
            | "Requests" >> beam.ParDo(PoolStep(clustering.candidate_requests, config))
        )
        return (
            {"nodes": inputs["nodes"], "requests": requests}
            | "JoinRequests" >> beam.CoGroupByKey()
            | "SendNodes" >> beam.ParDo(PoolStep(clustering.send_nodes, config))
        )


def batch_rows(batch):
    """The items of a (shard, packed [items]) batch (a step's table rows, batched so that a Flatten or
    a shuffle before their writer moves references, not rows)."""
    _, packed = loaded(batch)
    yield from unpacked([packed])


def _story_rows(batch):
    """The rows of a (shard, packed [(story id, row, changed)]) batch of the stories step."""
    for _, row, _ in batch_rows(batch):
        yield row


def _article_rows(item):
    """New and updated articles with their ids and story fields, and the corrections of indexed
    articles; a same-content copy of an indexed article is a ``dedup``/``DuplicateUrl`` failure."""
    _, groups = loaded(item)
    yield from unpacked(groups["corrections"])
    fields = dict(unpacked(groups["fields"]))
    duplicates = dict(unpacked(groups["duplicates"]))
    for article in unpacked(groups["article"]):
        article_id = article["article_id"]
        if article_id in duplicates:
            message = f"same content as article {duplicates[article_id]}, ingested by an earlier run"
            yield TaggedOutput(FAILED, failure(article["source"], "dedup", "DuplicateUrl", message))
        elif article_id in fields:
            yield {**article, **fields[article_id]}


class DetectReprints(beam.PTransform):
    """Articles -> (``articles`` rows, ``stories`` rows, ``story_index`` rows, failures, members,
    passage records).

    ``prior_index``: an optional PCollection of the ``story_index`` rows earlier runs wrote (rows
    of another ``fingerprint_version`` are ignored).  Every story is decided again over the
    index's latest rows and this run's articles, so the current state is the one a single run
    over all of them gives; articles rows are the new and updated articles and a ``correction``
    for every indexed article whose story fields changed, ``stories`` rows the stories that
    changed (``article_count`` 0: gone), index rows those of new, updated and corrected
    articles.  A same-content copy of an indexed article is a ``DuplicateUrl`` failure.  Members:
    every article's story as shard batches (``clustering.stories``), and with a ``ReuseConfig``
    ``reuse`` passage records: the articles' (``passages.record_items``, made from the tokens
    fingerprinting makes), both for ``reuse.DetectReuse``."""

    def __init__(self, config: DedupConfig = DedupConfig(), prior_index=None, reuse: Optional[ReuseConfig] = None):
        super().__init__()
        self.config, self.prior_index, self.reuse = config, prior_index, reuse

    def expand(self, articles):
        config, shards = self.config, self.config.lsh_shards
        first_run = self.prior_index is None  # no index: the new articles' nodes are all there is
        article_batches = articles | "ArticlesByShard" >> beam.ParDo(
            BatchByShard(lambda a: a["article_id"], shards, folder=config.spill_dir)
        )
        records = functools.partial(record_items, self.reuse) if self.reuse is not None else None
        new = article_batches | "Fingerprint" >> beam.ParDo(
            PoolStep(fingerprint_batch, config, first_run, records, burst=shards)
        ).with_outputs("nodes", "articles", "match", "bands", "duplicates", "records")
        nodes = new if first_run else self._reconciled(new.nodes)
        candidates = {"nodes": nodes.match, "bands": nodes.bands} | "Lsh" >> LshCandidates(config)
        step = (
            {"node": nodes.nodes, "partners": candidates}
            | "JoinCandidates" >> beam.CoGroupByKey()
            | "Decide" >> beam.ParDo(PoolStep(clustering.decide_shard, config)).with_outputs(
                "assigned", "status", "open", "asks"
            )
        )
        assigned = [step.assigned]
        for n in range(1, config.resolution_rounds + 1):
            answers = (
                {"asks": step.asks, "status": step.status}
                | f"JoinStatus{n}" >> beam.CoGroupByKey()
                | f"Answer{n}" >> beam.ParDo(PoolStep(clustering.answer, config))
            )
            step = (
                {"open": step.open, "answers": answers}
                | f"JoinAnswers{n}" >> beam.CoGroupByKey()
                | f"Round{n}" >> beam.ParDo(PoolStep(clustering.resolve, config, n == config.resolution_rounds)).with_outputs(
                    "assigned", "status", "open", "asks"
                )
            )
            assigned.append(step.assigned)
        results = (
            # each round's assignments as its own input: a Flatten would copy them once more on some runners
            {f"round{n}": batches for n, batches in enumerate(assigned)}
            | "JoinStories" >> beam.CoGroupByKey()
            | "Stories" >> beam.FlatMap(_step, clustering.stories, config).with_outputs(
                "stories", "left", "corrections", "index", "members", main="fields"
            )
        )
        if first_run:  # every story is new: nothing to compare with
            story_rows = results.stories | "StoryRows" >> beam.FlatMap(_story_rows)
        else:
            story_rows = (
                {"stories": results.stories, "left": results.left}
                | "JoinStoryChanges" >> beam.CoGroupByKey()
                | "ChangedStories" >> beam.FlatMap(_step, clustering.changed_stories, config)
            )
        rows = (
            # corrections joined in too: a Flatten of two steps' rows would hold them all in an in-process runner's memory
            {"article": new.articles, "fields": results.fields, "duplicates": nodes.duplicates,
             "corrections": results.corrections}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "ArticleRows" >> beam.FlatMap(_article_rows).with_outputs(FAILED, main="rows")
        )
        return rows.rows, story_rows, results.index, rows[FAILED], results.members, new.records

    def _reconciled(self, new_nodes):
        """The new nodes reconciled with the story index's latest rows (``clustering.reconcile``)."""
        config, version = self.config, self.config.fingerprint_version
        prior_batches = (
            self.prior_index
            | "CompatiblePrior" >> beam.Filter(lambda r: r["fingerprint_version"] == version)
            | "PriorByShard" >> beam.ParDo(
                BatchByShard(lambda r: r.get("url_article_id") or r["article_id"], config.lsh_shards, folder=config.spill_dir)
            )
        )
        return (
            {"new": new_nodes, "prior": prior_batches}
            | "JoinPrior" >> beam.CoGroupByKey()
            | "Reconcile" >> beam.ParDo(PoolStep(clustering.reconcile, config)).with_outputs(
                "nodes", "match", "bands", "duplicates"
            )
        )
