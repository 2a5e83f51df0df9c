"""Anchor clustering of fingerprinted articles: the per-shard steps of ``transforms.dedup.batch``
(pure functions, no Beam).

Candidates are paired per LSH shard (``candidate_requests``), nodes sent to their partners
(``send_nodes``), each article decided on its verified edges (``decide_shard``), open articles
resolved in rounds (``answer``, ``resolve``) and stories built (``stories``), by the rules of
``transforms.dedup.rules``.  Each step takes one shard's grouped input and returns its outputs
as (output tag, value) pairs (tag None: the main output; ``COUNTERS``: {counter name:
increment}), so the Beam wiring can run it in the worker or in a process pool that does not
import Beam.
"""

from collections import Counter, defaultdict
from typing import NamedTuple, Optional

import numpy as np

from transforms.dedup.fingerprints import (
    id_hash,
    index_row,
    node_from_index,
    pack,
    split_by_shard,
    unpacked,
)
from transforms.dedup.rules import (
    DedupConfig,
    Edge,
    Node,
    best_anchor,
    similarity_to,
    story_id_for,
    story_row,
    verify_nodes,
)

COUNTERS = "counters"  # the tag of a step's {counter name: increment}


class Decision(NamedTuple):
    story_id: str
    is_anchor: bool


class Earlier(NamedTuple):
    """An open article's verified earlier match, and that match's status once it is known
    ("anchor" or "member"; an anchor's ``edge.story`` is then its story)."""

    edge: Edge
    status: Optional[str] = None


class OpenArticle(NamedTuple):
    """An article whose story depends on the status of earlier articles of this run."""

    node: Node
    status: Optional[str]  # its own status, once known
    earlier: dict  # {earlier article id: Earlier}
    asked: bool  # whether a later article asks for its status


class Member(NamedTuple):
    """A member of a story, as the story step sees it."""

    node: Node
    new: bool  # clustered in this run (else from the prior index)
    is_anchor: bool
    indexed: bool  # already has an index row


def shard_pairs(shard_parts: tuple, config: DedupConfig) -> np.ndarray:
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
    partners = np.minimum(j, config.max_bucket_size)
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


def pair_edge(a: Node, b: Node, config: DedupConfig) -> Optional[tuple[str, Edge]]:
    """The verified edge of a candidate pair, as (new article id, edge to the other node), or None.

    The edge's kind is "prior" for an anchor of the prior index (earlier or later), "new" for an
    earlier article of this run.  Pairs of an article with itself, or of two prior articles, or
    with a prior non-anchor say nothing."""
    earlier, later = (a, b) if a["key"] <= b["key"] else (b, a)
    if earlier["id"] == later["id"] or (earlier["story"] is not None and later["story"] is not None):
        return None
    if later["story"] is not None:  # a prior node after a new one: key the edge on the new one
        earlier, later = later, earlier
    if earlier["story"] is not None and not earlier["anchor"]:
        return None
    verdict = verify_nodes(earlier, later, config)
    if verdict is None:
        return None
    kind = "prior" if earlier["story"] is not None else "new"
    return later["id"], Edge(kind, earlier["id"], earlier["key"], earlier["story"], verdict.jaccard)


def first_decision(node: Node, known: Optional[dict], incoming: list[Edge]) -> Optional[Decision]:
    """What an article's own edges decide, or None when that depends on earlier articles of this
    run (see ``settle``).

    ``known`` is its index row when an earlier run clustered it (it keeps its story);
    ``incoming`` its verified edges.  A match with a prior anchor wins (``rules.best_anchor``);
    no earlier match makes it an anchor."""
    if known is not None:
        return Decision(known["story_id"], known["is_anchor"])
    priors = [e for e in incoming if e.kind == "prior"]
    if priors:
        return Decision(best_anchor(priors).story, False)
    if not incoming:
        return Decision(story_id_for(node["id"]), True)
    return None


def own_status(earlier: dict) -> Optional[str]:
    """'member' once any earlier match is an anchor, 'anchor' once all are members, else None."""
    statuses = [e.status for e in earlier.values()]
    if "anchor" in statuses:
        return "member"
    return "anchor" if all(s == "member" for s in statuses) else None


def settle(node: Node, earlier: dict, final: bool = False) -> Optional[Decision]:
    """The decision once every earlier match's status is known (or on the last round): join the
    best anchor among them, else start a story."""
    if not final and any(e.status is None for e in earlier.values()):
        return None
    anchors = [e.edge for e in earlier.values() if e.status == "anchor"]
    if anchors:
        return Decision(best_anchor(anchors).story, False)
    return Decision(story_id_for(node["id"]), True)


def build_stories(story_id: str, members: list[Member], config: DedupConfig) -> tuple:
    """(story fields per new article id, story rows, new index rows) of one story's members.

    A new article also in the index counts once.  Members beyond ``max_cluster_size`` (latest
    first) become stories of their own."""
    new_ids = {m.node["id"] for m in members if m.new}
    members = sorted((m for m in members if m.new or m.node["id"] not in new_ids), key=lambda m: m.node["key"])
    kept, overflow = members[: config.max_cluster_size], members[config.max_cluster_size :]
    canonical = kept[0].node
    fields, index_rows = [], []
    for m in kept:
        if not m.new:
            continue
        is_canonical = m.node is canonical
        similarity = 1.0 if is_canonical else similarity_to(canonical, m.node)
        fields.append((m.node["id"], {"story_id": story_id, "is_canonical": is_canonical, "similarity": similarity}))
        if not m.indexed:
            index_rows.append(index_row(m.node, story_id, m.is_anchor, config))
    stories = [story_row(story_id, [m.node for m in kept])]
    for m in overflow:
        if m.new:
            alone = m._replace(is_anchor=True, indexed=False)
            more_fields, more_stories, more_index_rows = build_stories(story_id_for(m.node["id"]), [alone], config)
            fields, stories, index_rows = fields + more_fields, stories + more_stories, index_rows + more_index_rows
    return fields, stories, index_rows


def shard_of(key, shards: int) -> int:
    """The shard of an article or story id (or of an id hash)."""
    return (key if isinstance(key, int) else id_hash(key)) % shards


class _Outbox:
    """One shard's outputs, batched by the shard of their key: (tag, (shard, packed [items]))
    pairs, then its counters."""

    def __init__(self, shards: int):
        self.shards, self.batches, self.counters = shards, defaultdict(list), Counter()

    def put(self, tag, key, item):
        self.batches[(tag, shard_of(key, self.shards))].append(item)

    def count(self, name: str, increment: int = 1):
        if increment:  # a counter is reported only once something happened
            self.counters[name] += increment

    def pairs(self) -> list:
        batches = [(tag, (shard, pack(items))) for (tag, shard), items in self.batches.items()]
        return batches + ([(COUNTERS, dict(self.counters))] if self.counters else [])


# ---------------------------------------------------------------------------- steps


def candidate_requests(group: tuple, config: DedupConfig) -> list:
    """(shard of a, (a, b) id hash array) for both ways of every candidate pair of an LSH shard."""
    pairs = shard_pairs(group, config)
    pairs = np.concatenate([pairs, pairs[:, ::-1]])
    return [(None, (target, part)) for target, (part,) in split_by_shard(pairs[:, 0] % config.lsh_shards, pairs)]


def send_nodes(group: tuple, config: DedupConfig) -> list:
    """Each requested node of a shard, to the shard of the article that asked for it."""
    _, groups = group
    requested = [np.frombuffer(r, dtype=np.int64).reshape(-1, 2) for r in groups["requests"]]
    if not requested:  # no candidate pair asks for this shard's nodes: skip unpacking them
        return []
    nodes = defaultdict(list)
    for node in unpacked([*groups["nodes"], *groups["prior_nodes"]]):
        nodes[node["h"]].append(node)
    outbox = _Outbox(config.lsh_shards)
    for source, target in unique_rows(np.concatenate(requested)).tolist():
        for node in nodes.get(source, ()):
            outbox.put(None, target, (target, node))
    return outbox.pairs()


def decide_shard(group: tuple, config: DedupConfig) -> list:
    """Anchor clustering, step 1 for one shard: verify each article's candidate pairs; articles
    decided by their own edges get their story ("assigned"), the rest stay "open"."""
    _, groups = group
    known, partners = defaultdict(list), defaultdict(list)
    for row in unpacked(groups["known"]):
        known[id_hash(row["article_id"])].append(row)
    for target, node in unpacked(groups["partners"]):
        partners[target].append(node)
    outbox = _Outbox(config.lsh_shards)
    for node in unpacked(groups["node"]):
        _decide_one(node, known.get(node["h"], ()), partners.get(node["h"], ()), outbox, config)
    return outbox.pairs()


def _decide_one(node: Node, known_rows, partners, outbox: _Outbox, config: DedupConfig):
    article_id = node["id"]
    known = min(known_rows, key=lambda r: r["story_id"], default=None)
    incoming, asked = [], False
    for other in partners:
        if other["story"] is None and node["key"] < other["key"]:
            asked = True  # the later article verifies the pair, and may ask for this one's status
            continue
        pair = pair_edge(node, other, config)
        if pair is not None:
            _, edge = pair
            incoming.append(edge)
    decision = first_decision(node, known, incoming)
    if decision is None:
        _open(OpenArticle(node, None, {e.id: Earlier(e) for e in incoming}, asked), outbox)
        return
    outbox.put("assigned", decision.story_id, (decision.story_id, Member(node, True, decision.is_anchor, known is not None)))
    if asked:
        status = "anchor" if decision.is_anchor else "member"
        outbox.put("status", article_id, (article_id, (status, decision.story_id)))


def _open(article: OpenArticle, outbox: _Outbox):
    article_id = article.node["id"]
    outbox.count("open_after_round")
    outbox.put("open", article_id, (article_id, article))
    for earlier_id, earlier in article.earlier.items():
        if earlier.status is None:
            outbox.put("asks", earlier_id, (earlier_id, article_id))


def answer(group: tuple, config: DedupConfig) -> list:
    """Tell every article that asked about an earlier one what that one's status is."""
    _, groups = group
    statuses = dict(unpacked(groups["status"]))
    outbox = _Outbox(config.lsh_shards)
    for earlier_id, later_id in unpacked(groups["asks"]):
        if earlier_id in statuses:
            outbox.put(None, later_id, (later_id, (earlier_id, statuses[earlier_id])))
    return outbox.pairs()


def resolve(group: tuple, config: DedupConfig, final: bool) -> list:
    """Anchor clustering, one round for a shard's open articles: take in the answers, emit an
    article's own status when it becomes known, and its story once it is settled."""
    _, groups = group
    answers = defaultdict(list)
    for article_id, reply in unpacked(groups["answers"]):
        answers[article_id].append(reply)
    outbox = _Outbox(config.lsh_shards)
    for article_id, article in unpacked(groups["open"]):
        earlier, status = dict(article.earlier), article.status
        for earlier_id, (earlier_status, story) in answers.get(article_id, ()):
            earlier[earlier_id] = Earlier(earlier[earlier_id].edge._replace(story=story), earlier_status)
        if status is None:
            status = own_status(earlier) or ("anchor" if final else None)
            if status is not None and article.asked:
                story = story_id_for(article_id) if status == "anchor" else None
                outbox.put("status", article_id, (article_id, (status, story)))
        decision = settle(article.node, earlier, final)
        if decision is None:
            _open(article._replace(status=status, earlier=earlier), outbox)
        else:
            outbox.put("assigned", decision.story_id, (decision.story_id, Member(article.node, True, decision.is_anchor, False)))
    return outbox.pairs()


def stories(group: tuple, config: DedupConfig) -> list:
    """Story rows ("stories"), index rows ("index") and, per shard of article id, story fields
    (main output) of a shard's stories."""
    _, groups = group
    members, prior = defaultdict(list), defaultdict(list)
    for story_id, member in unpacked(b for tag, batches in groups.items() if tag != "prior" for b in batches):
        members[story_id].append(member)
    for row in unpacked(groups["prior"]):
        prior[row["story_id"]].append(Member(node_from_index(row), False, row["is_anchor"], True))
    outbox, rows = _Outbox(config.lsh_shards), []
    for story_id, new in members.items():
        fields, story_rows, index_rows = build_stories(story_id, new + prior.get(story_id, []), config)
        outbox.count("stories", len(story_rows))
        outbox.count("cluster_size_guard", len(story_rows) - 1)  # members beyond max_cluster_size
        for article_id, story_fields in fields:
            outbox.put(None, article_id, (article_id, story_fields))
        rows += [("stories", row) for row in story_rows] + [("index", row) for row in index_rows]
    return rows + outbox.pairs()
