"""Reprint detection: near-duplicate story clusters, incremental across runs.

    articles, stories, index_rows = articles | DetectReprints(ReprintParams(), prior_index)

How it decides (pure functions below, Beam wiring in ``DetectReprints``):

1. *Fingerprint* each article: ``textmatch.token_hashes`` (attribution/captions dropped,
   case-fold, punctuation, Vietnamese tone marks unified), word n-gram shingles, a MinHash
   signature of the whole text, a small MinHash of its lead (truncated reprints and updated
   versions keep the lead), and a sketch of its numbers in context.
2. *Candidates*: LSH bands of both signatures (see ``transforms.minhash`` for the S-curve).
3. *Verify* every candidate pair on the signatures: estimated Jaccard OR containment of
   the smaller text in the larger (truncated reprints), AND no conflicting numbers in shared
   contexts (templated daily reports: same wording, other numbers/dates -> other stories).
4. *Anchor clustering*: articles are ordered by ``sort_key`` (earliest published, then a
   wire/agency domain, then longest, then id).  An article with no verified earlier article is
   an anchor (the original of a new story); one that verifies with at least one anchor joins
   the most similar of them (then the earliest); one whose verified earlier articles are all
   members starts its own story.  Stories never chain through members, so a compilation page
   stitching stories A and B joins one of them and never glues the other to it.  Anchor
   status is resolved in ``resolution_rounds`` rounds (each a join of the still-open
   articles with their earlier matches' status; chains are short in practice, and articles
   still open after the last round start their own story).  Articles matching an anchor kept
   in the prior story index join that story first: a reprint arriving tomorrow gets
   yesterday's ``story_id``; an article already in the index keeps its story (reruns create
   nothing, and only new articles produce index rows).
5. *Stories*: canonical = ``sort_key`` minimum over all members (prior ones included);
   ``similarity`` = max(Jaccard, containment) to the canonical.  A story keeps at most
   ``max_cluster_size`` members (later ones start their own stories).

Every decision is a function of the article set and its sort keys, never of input order or
bundling; story ids derive from the anchor's ``article_id`` and are kept once indexed.

Scale (100M articles on Dataflow).  Nothing is gathered on one worker.  Every shuffle moves
shard batches: one pickled list per (bundle, shard) with shard = id hash % ``lsh_shards``, so
the runner's per-element cost is paid per batch, and each step works on one shard's items
with plain Python and numpy.  LSH: the fingerprint step sends, per node batch and shard of the
band-key space, one element of packed numpy arrays (band key, id hash, prior flag: 17 B per
band, 58 bands -> ~1 KB per article, ~100 GB for 100M); a shard sorts its keys and pairs the
articles sharing one (numpy), so shard memory is entries x 17 B (100M articles with
``lsh_shards`` = 10,000 -> ~10 MB each).  Candidates are verified on the signatures after one
join by id-hash shard that sends each ``match_node`` (~450 B: 16-bit MinHash, number sketch,
ids) to its partners' shards; the clustering steps join by article- or story-id shard.  Per
article: one fingerprint, its node (~620 B) in ~3 shuffles and the article itself, zstd-
compressed (~40% of its pickled size), in one, so cost is linear in articles plus candidate
pairs, and a shard holds about articles / ``lsh_shards`` of them (set ``lsh_shards`` to
~articles / 10,000).  With 3 rows per band unrelated texts (Jaccard ~0.01) become candidates
with probability ~4e-5 per pair, and a bucket larger than ``max_bucket_size`` (boilerplate)
pairs each article with at most that many others, so candidates stay ~linear.  The prior index
is read whole each run (an input of the LSH and of the story join); for frequent runs keep it
bucketed by band key.
"""

import concurrent.futures
import hashlib
import multiprocessing
import threading
from collections import defaultdict, deque
from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils import shared

from transforms import minhash
from transforms.fingerprints import (
    ReprintParams,
    fingerprint_batch,
    from_epoch_seconds,
    id_hash,
    index_row,
    node_from_index,
    pack,
    prior_nodes,
    signature_of,
    split_by_shard,
    unpacked,
)

_STORIES = Metrics.counter("reprints", "stories")
_OPEN_AFTER_ROUND = Metrics.counter("reprints", "open_after_round")
_CLUSTER_SIZE_GUARD = Metrics.counter("reprints", "cluster_size_guard")

# ---------------------------------------------------------------------------- pure functions


def story_id_for(anchor_article_id: str) -> str:
    return "st-" + hashlib.sha1(anchor_article_id.encode("utf-8")).hexdigest()[:20]


def shard_pairs(shard_parts: tuple, params: ReprintParams) -> np.ndarray:
    """Candidate pairs of one shard, articles sharing a band key: an (n, 2) array of id hashes
    (smaller, larger), unique, sorted.

    Pairs of two prior articles are skipped (the index has them already); in a bucket of more
    than ``max_bucket_size`` articles (boilerplate), each is paired with at most that many
    (the first ones in id-hash order)."""
    parts = list(shard_parts[1])
    keys = np.concatenate([np.frombuffer(k, dtype=np.uint64) for k, _, _ in parts])
    ids = np.concatenate([np.frombuffer(i, dtype=np.int64) for _, i, _ in parts])
    prior = np.concatenate([np.frombuffer(p, dtype=np.bool_) for _, _, p in parts])
    by_key = np.argsort(keys)
    repeated = keys[by_key][1:] == keys[by_key][:-1]
    shared = by_key[np.r_[repeated, False] | np.r_[False, repeated]]  # entries of buckets of 2 or more
    order = shared[np.lexsort((ids[shared], keys[shared]))]
    keys, ids, prior = keys[order], ids[order], prior[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    starts, sizes = starts[sizes > 1], sizes[sizes > 1]  # (none left when no key repeats)
    # every (i, j), i < j, i < max_bucket_size, of every bucket: first the js, then their is
    bucket_of_j = np.repeat(np.arange(len(starts)), sizes - 1)
    j = np.arange(len(bucket_of_j)) - np.repeat(np.cumsum(sizes - 1) - (sizes - 1), sizes - 1) + 1
    partners = np.minimum(j, params.max_bucket_size)
    row = np.repeat(np.arange(len(j)), partners)
    i = np.arange(len(row)) - np.repeat(np.cumsum(partners) - partners, partners)
    first, second = starts[bucket_of_j[row]] + i, starts[bucket_of_j[row]] + j[row]
    keep = (ids[first] != ids[second]) & ~(prior[first] & prior[second])
    a, b = ids[first[keep]], ids[second[keep]]
    return unique_rows(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))


def unique_rows(pairs: np.ndarray) -> np.ndarray:
    """The distinct rows of an (n, 2) array, sorted (``np.unique(axis=0)``, 3x faster)."""
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs[np.r_[True, (pairs[1:] != pairs[:-1]).any(axis=1)]] if len(pairs) else pairs


def verify_nodes(a: dict, b: dict, params: ReprintParams):
    """``minhash.verify`` on two nodes: a Verdict or None."""
    return minhash.verify(
        signature_of(a), a["n"], np.frombuffer(a["nums"], dtype=np.uint32),
        signature_of(b), b["n"], np.frombuffer(b["nums"], dtype=np.uint32),
        min_jaccard=params.min_jaccard, min_containment=params.min_containment, min_shingles=params.min_shingles,
        max_number_conflict_ratio=params.max_number_conflict_ratio, number_sketch_size=params.number_sketch_size,
    )


def pair_edge(a: dict, b: dict, params: ReprintParams):
    """The verified edge of a candidate pair, as (new article id, other node summary), or None.

    The summary is (kind, id, sort key, story id, Jaccard): kind "prior" for an anchor of the
    prior index (earlier or later), "new" for an earlier article of this run.  Pairs of an
    article with itself, or of two prior articles, or with a prior non-anchor say nothing."""
    earlier, later = (a, b) if a["key"] <= b["key"] else (b, a)
    if earlier["id"] == later["id"] or (earlier["story"] is not None and later["story"] is not None):
        return None
    if later["story"] is not None:  # a prior node after a new one: key the edge on the new one
        earlier, later = later, earlier
    if earlier["story"] is not None and not earlier["anchor"]:
        return None
    verdict = verify_nodes(earlier, later, params)
    if verdict is None:
        return None
    kind = "prior" if earlier["story"] is not None else "new"
    return later["id"], (kind, earlier["id"], earlier["key"], earlier["story"], verdict.jaccard)


def first_decision(node: dict, known: Optional[dict], incoming: list):
    """What an article's own edges decide: (story id, is anchor), or None when that depends on
    earlier articles of this run (see ``open_state``).

    ``known`` is its index row when an earlier run clustered it (it keeps its story);
    ``incoming`` its verified edges.  A match with a prior anchor wins (best Jaccard, then
    earliest); no earlier match makes it an anchor."""
    if known is not None:
        return known["story_id"], known["is_anchor"]
    priors = [e for e in incoming if e[0] == "prior"]
    if priors:
        return min(priors, key=_best_anchor)[3], False
    if not incoming:
        return story_id_for(node["id"]), True
    return None


def _best_anchor(edge: tuple) -> tuple:
    """Order of verified anchors, best first: the most similar, then the earliest."""
    _, _, key, _, jaccard = edge
    return -jaccard, key


def open_state(incoming: list) -> dict:
    """Per earlier article: [kind, id, sort key, story (known once it is an anchor), Jaccard, status]."""
    return {e[1]: list(e) + [None] for e in incoming}


def own_status(state: dict):
    """'member' once any earlier match is an anchor, 'anchor' once all are members, else None."""
    statuses = [p[5] for p in state.values()]
    if "anchor" in statuses:
        return "member"
    return "anchor" if all(s == "member" for s in statuses) else None


def settle(node: dict, state: dict, final: bool = False):
    """(story id, is anchor) once every earlier match's status is known (or on the last round):
    join the best anchor among them, else start a story."""
    if not final and any(p[5] is None for p in state.values()):
        return None
    anchors = [tuple(p[:5]) for p in state.values() if p[5] == "anchor"]
    if anchors:
        return min(anchors, key=_best_anchor)[3], False
    return story_id_for(node["id"]), True


def new_member(node: dict, is_anchor: bool, indexed: bool) -> dict:
    return {"node": node, "new": True, "is_anchor": is_anchor, "indexed": indexed}


def prior_member(row: dict) -> dict:
    return {"node": node_from_index(row), "new": False, "is_anchor": row["is_anchor"], "indexed": True}


def build_stories(story_id: str, members: list, params: ReprintParams) -> tuple:
    """(story fields per new article id, story rows, new index rows) of one story's members.

    Members are ``new_member``/``prior_member`` dicts; a new article also in the index counts
    once.  Members beyond ``max_cluster_size`` (latest first) become stories of their own."""
    new_ids = {m["node"]["id"] for m in members if m["new"]}
    members = sorted((m for m in members if m["new"] or m["node"]["id"] not in new_ids), key=lambda m: m["node"]["key"])
    kept, overflow = members[: params.max_cluster_size], members[params.max_cluster_size :]
    canonical = kept[0]["node"]
    fields, index_rows = [], []
    for m in kept:
        if not m["new"]:
            continue
        node = m["node"]
        is_canonical = node is canonical
        similarity = 1.0 if is_canonical else similarity_to(canonical, node)
        fields.append((node["id"], {"story_id": story_id, "is_canonical": is_canonical, "similarity": similarity}))
        if not m["indexed"]:
            index_rows.append(index_row(node, story_id, m["is_anchor"], params))
    domains = sorted({m["node"]["domain"] for m in kept if m["node"]["domain"]})
    published = [m["node"]["published_at"] for m in kept if m["node"]["published_at"] is not None]
    stories = [{
        "story_id": story_id,
        "canonical_article_id": canonical["id"],
        "title": canonical["title"],
        "first_published_at": from_epoch_seconds(min(published, default=None)),
        "article_count": len(kept),
        "domain_count": len(domains),
        "domains": domains,
    }]
    for m in overflow:
        if m["new"]:
            _CLUSTER_SIZE_GUARD.inc()
            alone = {**m, "is_anchor": True, "indexed": False}
            more = build_stories(story_id_for(m["node"]["id"]), [alone], params)
            fields, stories, index_rows = fields + more[0], stories + more[1], index_rows + more[2]
    return fields, stories, index_rows


def similarity_to(canonical: dict, node: dict) -> float:
    """Similarity of a member to its canonical: max(Jaccard, containment) on the signatures."""
    jaccard = minhash.estimate_jaccard(signature_of(canonical), signature_of(node))
    return round(max(jaccard, minhash.containment(jaccard, canonical["n"], node["n"])), 4)


# ---------------------------------------------------------------------------- Beam wiring
#
# Every shuffle below moves shard batches, (shard, pickled [items]) with shard = id hash %
# lsh_shards: one element per shard and bundle instead of one per article, so the runner's
# per-element cost is paid a few hundred times per run, not ~15 times per article, and a batch
# is coded as one bytes value (pickle codes dicts and datetimes several times faster than
# Beam's element coders).


def shard_of(key, shards: int) -> int:
    """The shard of an article or story id (or of an id hash)."""
    return (key if isinstance(key, int) else id_hash(key)) % shards


class BatchByShard(beam.DoFn):
    """Elements -> (shard of ``key(element)``, packed [elements]) per shard of each bundle, at
    most ``max_size`` a batch (global window: the batch pipeline's)."""

    def __init__(self, key, shards: int, max_size: int = 256):
        super().__init__()
        self.key, self.shards, self.max_size = key, shards, max_size

    def start_bundle(self):
        self.pending = defaultdict(list)

    def process(self, element):
        shard = shard_of(self.key(element), self.shards)
        batch = self.pending[shard]
        batch.append(element)
        if len(batch) >= self.max_size:
            del self.pending[shard]
            yield shard, pack(batch)

    def finish_bundle(self):
        for shard, batch in self.pending.items():
            yield GlobalWindows.windowed_value((shard, pack(batch)))
        self.pending.clear()


class _Outbox:
    """One shard's outputs, batched by the shard of their key: TaggedOutput(tag, (shard, packed
    [items])) (plain (shard, packed [items]) for the tag None)."""

    def __init__(self, shards: int):
        self.shards, self.batches = shards, defaultdict(list)

    def put(self, tag, key, item):
        self.batches[(tag, shard_of(key, self.shards))].append(item)

    def emit(self):
        for (tag, shard), items in self.batches.items():
            batch = (shard, pack(items))
            yield batch if tag is None else TaggedOutput(tag, batch)


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


class Fingerprinting(beam.DoFn):
    """A FlatMap of ``fn(batch, params)`` (``fingerprint_batch`` or ``prior_nodes``: a list of
    (output tag, value) pairs) over (shard, packed) batches.  With ``params.processes`` > 1 the
    calls run in a pool of that many spawned processes (which import ``transforms.fingerprints``,
    not Beam), shared by both steps, up to twice as many in flight: for runs where one process
    runs the whole pipeline (the in-process FnApiRunner); with 1, in the worker itself
    (Dataflow runs a worker process per core already)."""

    def __init__(self, fn, params: ReprintParams):
        super().__init__()
        self.fn, self.params = fn, params

    def setup(self):
        self.pool = None
        processes = self.params.processes
        if processes > 1:
            self.pool = _POOLS.acquire(lambda: _StepPool(processes), tag=f"processes={processes}")
            self.pool.enter()

    def start_bundle(self):
        self.pending = deque()

    def process(self, batch):
        if self.pool is None:
            outputs = self.fn(batch, self.params)
        else:
            self.pending.append(self.pool.executor.submit(self.fn, batch, self.params))
            if len(self.pending) <= 2 * self.params.processes:
                return
            outputs = self.pending.popleft().result()
        for tag, value in outputs:
            yield TaggedOutput(tag, value)

    def finish_bundle(self):
        while self.pending:
            for tag, value in self.pending.popleft().result():
                yield TaggedOutput(tag, GlobalWindows.windowed_value(value))

    def teardown(self):
        if self.pool is not None:
            self.pool.leave()
            self.pool = None


class LshCandidates(beam.PTransform):
    """{"nodes", "prior_nodes": match node batches, "bands", "prior_bands": their LSH entries} ->
    batches of (id hash, node of a candidate partner), both ways of every candidate pair, keyed
    by the shard of that id hash.

    Band keys travel as numpy arrays, one element per (node batch, LSH shard); each LSH shard
    pairs the articles sharing a key; each node is then sent to its partners (one join by id
    hash shard), so verification happens where the article's own decision is made."""

    def __init__(self, params: ReprintParams):
        super().__init__()
        self.params = params

    def expand(self, inputs):
        params = self.params
        requests = (
            (inputs["bands"], inputs["prior_bands"])
            | "AllBands" >> beam.Flatten()
            | "GroupShards" >> beam.GroupByKey()
            | "Requests" >> beam.FlatMap(_requests, params)
        )
        return (
            {"nodes": inputs["nodes"], "prior_nodes": inputs["prior_nodes"], "requests": requests}
            | "JoinRequests" >> beam.CoGroupByKey()
            | "SendNodes" >> beam.FlatMap(_send_nodes, params.lsh_shards)
        )


def _requests(shard, params):
    """(shard of a, (a, b) id hash arrays) for both ways of every candidate pair of an LSH shard."""
    pairs = shard_pairs(shard, params)
    pairs = np.concatenate([pairs, pairs[:, ::-1]])
    for target, (part,) in split_by_shard(pairs[:, 0] % params.lsh_shards, pairs):
        yield target, part


def _send_nodes(item, shards):
    _, groups = item
    nodes = defaultdict(list)
    for node in unpacked([*groups["nodes"], *groups["prior_nodes"]]):
        nodes[node["h"]].append(node)
    requested = [np.frombuffer(r, dtype=np.int64).reshape(-1, 2) for r in groups["requests"]]
    if not requested:
        return
    outbox = _Outbox(shards)
    for source, target in unique_rows(np.concatenate(requested)).tolist():
        for node in nodes.get(source, ()):
            outbox.put(None, target, (target, node))
    yield from outbox.emit()


def _decide(item, params):
    """Anchor clustering, step 1 for one shard: verify each article's candidate pairs; articles
    decided by their own edges get their story, the rest stay open."""
    _, groups = item
    known, partners = defaultdict(list), defaultdict(list)
    for row in unpacked(groups["known"]):
        known[id_hash(row["article_id"])].append(row)
    for target, node in unpacked(groups["partners"]):
        partners[target].append(node)
    outbox = _Outbox(params.lsh_shards)
    for node in unpacked(groups["node"]):
        _decide_one(node, known.get(node["h"], ()), partners.get(node["h"], ()), outbox, params)
    yield from outbox.emit()


def _decide_one(node, known_rows, partners, outbox, params):
    article_id = node["id"]
    known = min(known_rows, key=lambda r: r["story_id"], default=None)
    incoming, asked = [], False
    for other in partners:
        if other["story"] is None and node["key"] < other["key"]:
            asked = True  # the later article verifies the pair, and may ask for this one's status
            continue
        edge = pair_edge(node, other, params)
        if edge is not None:
            incoming.append(edge[1])
    decision = first_decision(node, known, incoming)
    if decision is None:
        _open(article_id, (node, None, open_state(incoming), asked), outbox)
        return
    story, is_anchor = decision
    outbox.put("assigned", story, (story, new_member(node, is_anchor, known is not None)))
    if asked:
        outbox.put("status", article_id, (article_id, ("anchor" if is_anchor else "member", story)))


def _open(article_id, entry, outbox):
    _OPEN_AFTER_ROUND.inc()
    outbox.put("open", article_id, (article_id, entry))
    for earlier_id, pred in entry[2].items():
        if pred[5] is None:
            outbox.put("asks", earlier_id, (earlier_id, article_id))


def _answer(item, shards):
    """Tell every article that asked about an earlier one what that one's status is."""
    _, groups = item
    statuses = dict(unpacked(groups["status"]))
    outbox = _Outbox(shards)
    for earlier_id, later_id in unpacked(groups["asks"]):
        if earlier_id in statuses:
            outbox.put(None, later_id, (later_id, (earlier_id, statuses[earlier_id])))
    yield from outbox.emit()


def _round(item, final, shards):
    """Anchor clustering, one round for a shard's open articles: take in the answers, emit an
    article's own status when it becomes known, and its story once it is settled."""
    _, groups = item
    answers = defaultdict(list)
    for article_id, answer in unpacked(groups["answers"]):
        answers[article_id].append(answer)
    outbox = _Outbox(shards)
    for article_id, (node, status, state, asked) in unpacked(groups["open"]):
        for earlier_id, (earlier_status, story) in answers.get(article_id, ()):
            state[earlier_id][5], state[earlier_id][3] = earlier_status, story
        if status is None:
            status = own_status(state) or ("anchor" if final else None)
            if status is not None and asked:
                story = story_id_for(article_id) if status == "anchor" else None
                outbox.put("status", article_id, (article_id, (status, story)))
        decision = settle(node, state, final)
        if decision is None:
            _open(article_id, (node, status, state, asked), outbox)
        else:
            outbox.put("assigned", decision[0], (decision[0], new_member(node, decision[1], False)))
    yield from outbox.emit()


def _stories(item, params):
    """Story rows, index rows and (per shard of article id) story fields of a shard's stories."""
    _, groups = item
    members, prior = defaultdict(list), defaultdict(list)
    for story_id, member in unpacked(b for tag, batches in groups.items() if tag != "prior" for b in batches):
        members[story_id].append(member)
    for row in unpacked(groups["prior"]):
        prior[row["story_id"]].append(prior_member(row))
    outbox, story_count = _Outbox(params.lsh_shards), 0
    for story_id, new in members.items():
        fields, stories, index_rows = build_stories(story_id, new + prior.get(story_id, []), params)
        story_count += len(stories)
        for article_id, story_fields in fields:
            outbox.put(None, article_id, (article_id, story_fields))
        for story in stories:
            yield TaggedOutput("stories", story)
        for row in index_rows:
            yield TaggedOutput("index", row)
    _STORIES.inc(story_count)
    yield from outbox.emit()


def _with_story(item):
    _, groups = item
    fields = dict(unpacked(groups["fields"]))
    for article in unpacked(groups["article"]):
        if article["article_id"] in fields:
            yield {**article, **fields[article["article_id"]]}


class DetectReprints(beam.PTransform):
    """Articles -> (articles + story_id/is_canonical/similarity, stories rows, STORY_INDEX rows).

    ``prior_index``: an optional PCollection of STORY_INDEX rows written by earlier runs
    (rows of another ``fingerprint_version`` are ignored).  Only articles not yet in the
    index produce index rows, so appending every run's rows keeps one row per article."""

    def __init__(self, params: ReprintParams = ReprintParams(), prior_index=None):
        super().__init__()
        self.params = params
        self.prior_index = prior_index

    def expand(self, articles):
        params, shards = self.params, self.params.lsh_shards
        version = params.fingerprint_version
        prior = self.prior_index
        if prior is None:
            prior = articles.pipeline | "NoPriorIndex" >> beam.Create([])
        prior = prior | "CompatiblePrior" >> beam.Filter(lambda r: r["fingerprint_version"] == version)
        article_batches = articles | "ArticlesByShard" >> beam.ParDo(BatchByShard(lambda a: a["article_id"], shards))
        prior_batches = prior | "PriorByShard" >> beam.ParDo(BatchByShard(lambda r: r["article_id"], shards))
        new = article_batches | "Fingerprint" >> beam.ParDo(Fingerprinting(fingerprint_batch, params)).with_outputs(
            "nodes", "match", "bands", "articles"
        )
        old = prior_batches | "PriorNodes" >> beam.ParDo(Fingerprinting(prior_nodes, params)).with_outputs(
            "match", "bands"
        )
        candidates = {
            "nodes": new.match, "bands": new.bands, "prior_nodes": old.match, "prior_bands": old.bands,
        } | "Lsh" >> LshCandidates(params)
        step = (
            {"node": new.nodes, "known": prior_batches, "partners": candidates}
            | "JoinCandidates" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMap(_decide, params).with_outputs("assigned", "status", "open", "asks")
        )
        assigned = [step.assigned]
        for n in range(1, params.resolution_rounds + 1):
            answers = (
                {"asks": step.asks, "status": step.status}
                | f"JoinStatus{n}" >> beam.CoGroupByKey()
                | f"Answer{n}" >> beam.FlatMap(_answer, shards)
            )
            step = (
                {"open": step.open, "answers": answers}
                | f"JoinAnswers{n}" >> beam.CoGroupByKey()
                | f"Round{n}" >> beam.FlatMap(_round, n == params.resolution_rounds, shards).with_outputs(
                    "assigned", "status", "open", "asks"
                )
            )
            assigned.append(step.assigned)
        results = (
            {  # each round's assignments as its own input: a Flatten would copy them once more on some runners
                **{f"new{n}": batches for n, batches in enumerate(assigned)},
                "prior": prior | "PriorByStory" >> beam.ParDo(BatchByShard(lambda r: r["story_id"], shards)),
            }
            | "JoinStories" >> beam.CoGroupByKey()
            | "Stories" >> beam.FlatMap(_stories, params).with_outputs("stories", "index", main="fields")
        )
        with_story = (
            {"article": new.articles, "fields": results.fields}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "AddStory" >> beam.FlatMap(_with_story)
        )
        return with_story, results.stories, results.index
