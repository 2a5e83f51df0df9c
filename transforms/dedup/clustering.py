"""Anchor clustering of fingerprinted articles: the per-shard steps of ``transforms.dedup.batch``
(pure functions, no Beam).

The articles of this run and the story index's latest rows are reconciled into one node per
article (``reconcile``: a same-content copy of an indexed article is a duplicate, changed content
an update), candidates are paired per LSH shard (``candidate_requests``), nodes sent to their
partners (``send_nodes``), each article decided on its verified edges (``decide_shard``), open
articles resolved in rounds (``answer``, ``resolve``), stories built and compared with what the
index held (``stories``) and the stories that changed written (``changed_stories``), by the rules
of ``transforms.dedup.rules``.  Each step takes one shard's grouped input and returns its outputs
as (output tag, value) pairs (tag None: the main output; ``COUNTERS``: {counter name:
increment}), so the Beam wiring can run it in the worker or in a process pool that does not
import Beam.
"""

from collections import Counter, defaultdict
from typing import NamedTuple, Optional

import numpy as np

from transforms.dedup.fingerprints import (
    LSH_ENTRY,
    arrival_id,
    by_shard,
    home_id,
    index_row,
    joined_table,
    latest_rows,
    node_batch,
    node_from_index,
    pack,
    renamed,
    shard_of,
    split_by_shard,
    unpacked,
    variant_id,
)
from transforms.dedup.rules import (
    DedupConfig,
    Edge,
    Node,
    best_anchor,
    claim_url,
    similarity_to,
    story_id_for,
    story_row,
    verify_nodes,
)
from transforms.records import StoryFields

COUNTERS = "counters"  # the tag of a step's {counter name: increment}
_CLAIM_COUNTERS = {"duplicate": "duplicate_articles", "update": "updated_articles", "variant": "url_variants"}


class Earlier(NamedTuple):
    """An open article's verified earlier match, and that match's status once it is known
    ("anchor" or "member"; an anchor's ``edge.story`` is then its story)."""

    edge: Edge
    status: Optional[str] = None


class OpenArticle(NamedTuple):
    """An article whose story depends on the status of earlier articles."""

    node: Node
    status: Optional[str]  # its own status, once known
    earlier: dict  # {earlier article id: Earlier}
    asked: bool  # whether a later article asks for its status


def shard_pairs(shard_parts: tuple, config: DedupConfig) -> np.ndarray:
    """Candidate pairs of one shard, articles sharing a band key: an (n, 2) array of id hashes
    (smaller, larger), unique, sorted.

    In a bucket of more than ``max_bucket_size`` articles (boilerplate), each is paired with at
    most that many (the first ones in id-hash order)."""
    entries = joined_table((part for (part,) in shard_parts[1]), LSH_ENTRY)
    keys, ids = entries["key"], entries["id"]
    by_key = np.argsort(keys)
    repeated = keys[by_key][1:] == keys[by_key][:-1]
    shared = by_key[np.r_[repeated, False] | np.r_[False, repeated]]  # entries of buckets of 2 or more
    order = shared[np.lexsort((ids[shared], keys[shared]))]
    keys, ids = keys[order], ids[order]
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
    keep = ids[first] != ids[second]
    a, b = ids[first[keep]], ids[second[keep]]
    return unique_rows(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))


def unique_rows(pairs: np.ndarray) -> np.ndarray:
    """The distinct rows of an (n, 2) array, sorted (``np.unique(axis=0)``, 3x faster)."""
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return pairs[np.r_[True, (pairs[1:] != pairs[:-1]).any(axis=1)]] if len(pairs) else pairs


def pair_edge(a: Node, b: Node, config: DedupConfig) -> Optional[tuple[str, Edge]]:
    """The verified edge of a candidate pair, as (later article id, edge to the earlier one), or
    None (not the same story, or an article with itself)."""
    earlier, later = (a, b) if a["key"] <= b["key"] else (b, a)
    if earlier["id"] == later["id"]:
        return None
    verdict = verify_nodes(earlier, later, config)
    if verdict is None:
        return None
    return later["id"], Edge(earlier["id"], earlier["key"], None, verdict.jaccard)


def own_status(earlier: dict) -> Optional[str]:
    """'member' once any earlier match is an anchor, 'anchor' once all are members, else None."""
    statuses = [e.status for e in earlier.values()]
    if "anchor" in statuses:
        return "member"
    return "anchor" if all(s == "member" for s in statuses) else None


def settle(node: Node, earlier: dict, final: bool = False) -> Optional[str]:
    """The article's story once every earlier match's status is known (or on the last round):
    the best anchor's among them, else its own."""
    if not final and any(e.status is None for e in earlier.values()):
        return None
    anchors = [e.edge for e in earlier.values() if e.status == "anchor"]
    return best_anchor(anchors).story if anchors else story_id_for(node["id"])


def split_story(story_id: str, members: list[Node], config: DedupConfig) -> list[tuple[str, list[Node]]]:
    """[(story id, members by sort key)]: the story, and past ``max_cluster_size`` members
    (latest first) a story of its own for each."""
    members = sorted(members, key=lambda node: node["key"])
    kept, overflow = members[: config.max_cluster_size], members[config.max_cluster_size :]
    return [(story_id, kept)] + [(story_id_for(node["id"]), [node]) for node in overflow]


def story_fields(story_id: str, members: list[Node]) -> list[tuple[Node, StoryFields]]:
    """Each member's story fields: the canonical is the first by sort key; similarity to it."""
    canonical = members[0]
    return [
        (node, StoryFields(
            story_id=story_id, is_canonical=node is canonical,
            similarity=1.0 if node is canonical else similarity_to(canonical, node),
        ))
        for node in members
    ]


class Outbox:
    """One shard's outputs: batched by the shard of their key, (tag, (shard, packed [items]))
    pairs (``put``: for a later join), or one pair per row (``emit``: for a table), then its
    counters."""

    def __init__(self, shards: int):
        self.shards, self.batches, self.rows, self.counters = shards, defaultdict(list), [], Counter()

    def put(self, tag, key, item):
        self.batches[(tag, shard_of(key, self.shards))].append(item)

    def emit(self, tag, row: dict):
        self.rows.append((tag, row))

    def count(self, name: str, increment: int = 1):
        if increment:  # a counter is reported only once something happened
            self.counters[name] += increment

    def pairs(self) -> list:
        batches = [(tag, (shard, pack(items))) for (tag, shard), items in self.batches.items()]
        return batches + self.rows + ([(COUNTERS, dict(self.counters))] if self.counters else [])


# ---------------------------------------------------------------------------- steps


def reconcile(group: tuple, config: DedupConfig) -> list:
    """One node per article of a shard of URL ids (``home_id``): the new articles' nodes and the
    story index's latest rows for the others, each to the shard of its id ("nodes", in
    ``node_batch``es with their match nodes and LSH entries).

    A new article is held against the indexed articles claiming its URL (``rules.same_content``,
    as ``by_url`` does within a run): a copy of one's text is a duplicate ("duplicates": (the id
    it arrived with, the indexed one's); the indexed node stays), another version of one an
    "update" of it (under its id), other content a new article (under its ``variant_id`` when
    an indexed article holds its id)."""
    _, groups = group
    indexed = {article_id: node_from_index(row) for article_id, row in latest_rows(groups["prior"]).items()}
    claims = defaultdict(list)
    for node in sorted(indexed.values(), key=lambda node: node["key"]):
        claims[home_id(node)].append(node)
    outbox = Outbox(config.lsh_shards)
    for node in sorted(unpacked(groups["new"]), key=lambda node: node["key"]):
        home = home_id(node)
        kind, known = claim_url(node, claims[home])
        if kind in _CLAIM_COUNTERS:
            outbox.count(_CLAIM_COUNTERS[kind])
        if kind == "duplicate":
            outbox.put("duplicates", node["id"], (node["id"], known["id"]))
            continue
        if kind == "update":
            claims[home].remove(known)
            node = {**renamed(node, known["id"], known["home"]), "origin": "update", "prev": known["prev"]}
        elif kind == "variant":
            node = renamed(node, variant_id(home, node["sha"]), home)
        indexed[node["id"]] = node
    batches = by_shard(indexed.values(), lambda node: node["id"], config.lsh_shards)
    return [output for shard, nodes in batches.items() for output in node_batch(shard, nodes, config)] + outbox.pairs()


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
    for node in unpacked(groups["nodes"]):
        nodes[node["h"]].append(node)
    outbox = Outbox(config.lsh_shards)
    for source, target in unique_rows(np.concatenate(requested)).tolist():
        for node in nodes.get(source, ()):
            outbox.put(None, target, (target, node))
    return outbox.pairs()


def decide_shard(group: tuple, config: DedupConfig) -> list:
    """Anchor clustering, step 1 for one shard: verify each article's candidate pairs; an article
    with no verified earlier one anchors a story ("assigned"), the rest stay "open"."""
    _, groups = group
    partners = defaultdict(list)
    for target, node in unpacked(groups["partners"]):
        partners[target].append(node)
    outbox = Outbox(config.lsh_shards)
    for node in unpacked(groups["node"]):
        _decide_one(node, partners.get(node["h"], ()), outbox, config)
    return outbox.pairs()


def _decide_one(node: Node, partners, outbox: Outbox, config: DedupConfig):
    article_id = node["id"]
    incoming, asked = [], False
    for other in partners:
        if node["key"] < other["key"]:
            asked = True  # the later article verifies the pair, and may ask for this one's status
            continue
        pair = pair_edge(node, other, config)
        if pair is not None:
            _, edge = pair
            incoming.append(edge)
    if incoming:
        _open(OpenArticle(node, None, {e.id: Earlier(e) for e in incoming}, asked), outbox)
        return
    story_id = story_id_for(article_id)
    outbox.put("assigned", story_id, (story_id, node))
    if asked:
        outbox.put("status", article_id, (article_id, ("anchor", story_id)))


def _open(article: OpenArticle, outbox: Outbox):
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
    outbox = Outbox(config.lsh_shards)
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
    outbox = Outbox(config.lsh_shards)
    for article_id, article in unpacked(groups["open"]):
        earlier, status = dict(article.earlier), article.status
        for earlier_id, (earlier_status, story) in answers.get(article_id, ()):
            earlier[earlier_id] = Earlier(earlier[earlier_id].edge._replace(story=story), earlier_status)
        if status is None:
            status = own_status(earlier) or ("anchor" if final else None)
            if status is not None and article.asked:
                story = story_id_for(article_id) if status == "anchor" else None
                outbox.put("status", article_id, (article_id, (status, story)))
        story_id = settle(article.node, earlier, final)
        if story_id is None:
            _open(article._replace(status=status, earlier=earlier), outbox)
        else:
            outbox.put("assigned", story_id, (story_id, article.node))
    return outbox.pairs()


def stories(group: tuple, config: DedupConfig) -> list:
    """A shard's stories, compared with what the index held.

    Outputs: ids and story fields of new and updated articles, to the shard of the id they
    arrived with (main output: their rows are written with the article); every article's (id, the id it arrived with, story id, sort key, its
    story's canonical's sort key, its story's size) to the shard of the id it arrived with
    ("members", for passage reuse); "corrections" (slim ``articles`` rows, to the shard of their id) and new
    "index" rows for indexed articles whose story fields changed; "index" rows for new and
    updated articles; every story's row, flagged when something in it changed ("stories"); and
    the earlier story of each article that moved ("left"), so that story is written again."""
    _, groups = group
    members = defaultdict(list)
    for story_id, node in unpacked(b for batches in groups.values() for b in batches):
        members[story_id].append(node)
    outbox = Outbox(config.lsh_shards)
    for anchor_story, nodes in members.items():
        for story_id, kept in split_story(anchor_story, nodes, config):
            changed, story_key = False, min(node["key"] for node in kept)
            for node, fields in story_fields(story_id, kept):
                changed |= _member_changes(node, fields, outbox, config)
                arrived_as = arrival_id(node)
                outbox.put("members", arrived_as, (node["id"], arrived_as, story_id, node["key"], story_key, len(kept)))
            is_new = all(node["origin"] == "new" for node in kept)
            outbox.count("new_stories", int(changed and is_new))
            outbox.count("joined_earlier_stories", 0 if is_new else sum(node["origin"] == "new" for node in kept))
            outbox.put("stories", story_id, (story_id, story_row(story_id, kept), changed))
    return outbox.pairs()


def _member_changes(node: Node, fields: StoryFields, outbox: Outbox, config: DedupConfig) -> bool:
    """Emit what one member's story fields change; True when they change anything."""
    prev = node["prev"]
    if prev is not None and prev["story_id"] != fields["story_id"]:
        outbox.put("left", prev["story_id"], prev["story_id"])
    if node["origin"] != "indexed":
        arrived_as = arrival_id(node)
        identity = {"article_id": node["id"], "url_article_id": node.get("home")}
        outbox.put(None, arrived_as, (arrived_as, {**identity, **fields, "row_kind": node["origin"]}))
        outbox.emit("index", index_row(node, fields, config))
        return True
    if prev == fields:
        return False
    outbox.count("corrections")
    outbox.put("corrections", node["id"], {
        "article_id": node["id"], "domain": node["domain"], "title": node["title"], **fields, "row_kind": "correction",
    })
    outbox.emit("index", index_row(node, fields, config))
    return True


def changed_stories(group: tuple, config: DedupConfig) -> list:
    """The ``stories`` rows of a shard's stories that changed or lost a member, and an empty row
    (``article_count`` 0) for each story that is gone."""
    _, groups = group
    rows = {story_id: (row, changed) for story_id, row, changed in unpacked(groups["stories"])}
    left = set(unpacked(groups["left"]))
    outbox = Outbox(config.lsh_shards)
    for story_id in sorted(left - rows.keys()):
        outbox.count("gone_stories")
        outbox.emit(None, story_row(story_id, []))
    for story_id, (row, changed) in rows.items():
        if changed or story_id in left:
            outbox.emit(None, row)
    return outbox.pairs()
