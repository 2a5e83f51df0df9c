"""Reprint detection: near-duplicate story clusters, incremental across runs.

    articles, stories, index_rows = articles | DetectReprints(ReprintParams(), prior_index)

How it decides (pure functions below, Beam wiring in ``DetectReprints``):

1. *Fingerprint* each article: ``textmatch.match_tokens`` (attribution/captions dropped,
   NFC, case-fold, punctuation, Vietnamese tone marks unified), word n-gram shingles, a MinHash
   signature of the whole text, a small MinHash of its lead (truncated reprints and updated
   versions keep the lead), and a sketch of its numbers in context.
2. *Candidates*: LSH bands of both signatures (see ``transforms.minhash`` for the S-curve).
3. *Verify* every candidate pair on the signatures: estimated Jaccard OR containment of
   the smaller text in the larger (truncated reprints), AND no conflicting numbers in shared
   contexts (templated daily reports: same wording, other numbers/dates -> other stories).
4. *Anchor clustering*: articles are ordered by ``sort_key`` (earliest published, then a
   wire/agency domain, then longest, then id).  An article with no verified earlier article is
   an anchor (the original of a new story); one that verifies with at least one anchor joins
   the earliest of them; one whose verified predecessors are all non-anchors starts its own
   story.  Stories never chain through members, so a compilation page stitching stories A
   and B joins A (the earlier) and never glues B to A.  Articles matching an anchor kept in
   the prior story index join that story first: a reprint arriving tomorrow gets yesterday's
   ``story_id``; an article already in the index keeps its story (reruns create nothing).
5. *Stories*: canonical = ``sort_key`` minimum over all members (prior ones included);
   ``similarity`` = max(Jaccard, containment) to the canonical.  A story keeps at most
   ``max_cluster_size`` members (later ones start their own stories).

Every decision is a function of the article set and its sort keys, never of input order or
bundling; story ids derive from the anchor's ``article_id`` and are kept once indexed.

Scale (100M articles on Dataflow).  Nothing is gathered on one worker: LSH entries are
grouped by ``hash(band key) % lsh_shards`` (one shuffle; each batch of articles sends one
element per shard, so the shuffle carries few, large elements), verification runs inside
each shard, and the clustering steps are CoGroupByKeys keyed by article or story id.  The
shuffled volume is ~(bands + lead_bands) x ~700 B per article: ~4 TB for 100M articles with
the defaults, so choose ``lsh_shards`` ~ articles x bands / 50,000 (100M -> ~100k shards of
~60k entries, ~40 MB each).  Work per shard is linear in its entries except for oversized
buckets (boilerplate), where an article is compared with at most ``max_bucket_size`` earlier
ones.  With 3 rows per band, unrelated texts (Jaccard ~0.01) collide with probability ~4e-5,
so candidate pairs stay ~linear.  The prior index is read whole on each run (it is an input of
the LSH shuffle); keep it in a bucketed table if runs are frequent.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from transforms import minhash
from transforms.textmatch import match_tokens

WIRE_DOMAINS = (
    "vnanet.vn", "ttxvn.org.vn", "vietnamplus.vn", "bnews.vn", "reuters.com", "apnews.com",
    "afp.com", "xinhuanet.com", "dpa.com", "ansa.it", "efe.com", "kyodonews.net", "yna.co.kr",
)
_NEVER = float("inf")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ReprintParams:
    """Tunables of reprint detection (YAML section ``dedup:``, same names)."""

    num_perm: int = 128  # MinHash size of the whole text
    shingle_size: int = 4  # words per shingle
    bands: int = 42  # LSH on the whole-text signature: bands x rows <= num_perm
    rows: int = 3
    lead_shingles: int = 100  # the lead: first shingles, with their own small MinHash
    lead_num_perm: int = 64
    lead_bands: int = 16
    lead_rows: int = 4
    min_jaccard: float = 0.5  # same story if Jaccard >= this ...
    min_containment: float = 0.5  # ... or the smaller text is contained at >= this
    min_shingles: int = 20  # texts with fewer shingles are never clustered
    number_sketch_size: int = 32
    max_number_conflict_ratio: float = 0.05  # conflicting number contexts / shared ones
    max_bucket_size: int = 200  # an article is compared with at most this many in a bucket
    max_cluster_size: int = 2000
    lsh_shards: int = 64
    resolution_rounds: int = 4  # rounds of anchor resolution for articles matching only new ones
    wire_domains: tuple = WIRE_DOMAINS

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm or self.lead_bands * self.lead_rows > self.lead_num_perm:
            raise ValueError("bands x rows must not exceed the number of permutations")

    @property
    def fingerprint_version(self) -> str:
        """Index rows from other fingerprint settings cannot be compared and are ignored."""
        return (
            f"rensa-minhash{self.num_perm}-w{self.shingle_size}-lead{self.lead_shingles}x{self.lead_num_perm}"
            f"-b{self.lead_bands}r{self.lead_rows}-num{self.number_sketch_size}"
        )


# ---------------------------------------------------------------------------- pure functions


def wire_rank(domain: Optional[str], wire_domains) -> int:
    """0 for a wire/agency domain (or a subdomain of one), else 1."""
    domain = (domain or "").lower()
    return 0 if any(domain == d or domain.endswith("." + d) for d in wire_domains) else 1


def sort_key(published_at: Optional[datetime], rank: int, shingles: int, article_id: str) -> tuple:
    """Who is the original: earliest published, then wire source, then longest, then id."""
    when = (published_at - _EPOCH).total_seconds() if published_at else _NEVER
    return (when, rank, -shingles, article_id)


def story_id_for(anchor_article_id: str) -> str:
    return "st-" + hashlib.sha1(anchor_article_id.encode("utf-8")).hexdigest()[:20]


def fingerprint(article: dict, params: ReprintParams) -> dict:
    """The compact node of one article (what LSH, verification and the index need)."""
    tokens = match_tokens(article.get("text") or "")
    shingles = minhash.shingle_hashes(tokens, params.shingle_size)
    signature = minhash.signatures([shingles], params.num_perm)[0]
    lead = minhash.signatures([shingles[: params.lead_shingles]], params.lead_num_perm)[0]
    return {
        "id": article["article_id"],
        "key": sort_key(
            article.get("published_at"), wire_rank(article.get("domain"), params.wire_domains), len(shingles),
            article["article_id"],
        ),
        "n": len(shingles),
        "sig": signature.tobytes(),
        "lead": minhash.band_keys(lead, params.lead_bands, params.lead_rows).tobytes(),
        "nums": minhash.number_sketch(tokens, params.number_sketch_size).tobytes(),
        "story": None,  # set for nodes from the prior index
        "anchor": False,
    }


def index_row(node: dict, article: dict, story_id: str, is_anchor: bool, params: ReprintParams) -> dict:
    """A STORY_INDEX row (schemas.tables) for a newly clustered article."""
    return {
        "article_id": node["id"],
        "story_id": story_id,
        "is_anchor": is_anchor,
        "published_at": article.get("published_at"),
        "wire_rank": node["key"][1],
        "domain": article.get("domain"),
        "title": (article.get("title") or "")[:120] or None,
        "shingle_count": node["n"],
        "signature": node["sig"],
        "lead_band_keys": node["lead"],
        "number_sketch": node["nums"],
        "fingerprint_version": params.fingerprint_version,
    }


def node_from_index(row: dict) -> dict:
    """The node of an article already in the story index."""
    return {
        "id": row["article_id"],
        "key": sort_key(row["published_at"], row["wire_rank"], row["shingle_count"], row["article_id"]),
        "n": row["shingle_count"],
        "sig": row["signature"],
        "lead": row["lead_band_keys"],
        "nums": row["number_sketch"],
        "story": row["story_id"],
        "anchor": row["is_anchor"],
    }


def lsh_entries(node: dict, params: ReprintParams) -> list:
    """(band index, band key) of every band of a node; none for texts too short to cluster."""
    if node["n"] < params.min_shingles:
        return []
    full = minhash.band_keys(np.frombuffer(node["sig"], dtype=np.uint32), params.bands, params.rows)
    lead = np.frombuffer(node["lead"], dtype=np.uint64)
    return list(enumerate(full.tolist() + lead.tolist()))


def first_shared_band(a: dict, b: dict, params: ReprintParams) -> int:
    """Index of the first band (whole-text bands first, then lead bands) two nodes share."""
    sig_a, sig_b = np.frombuffer(a["sig"], dtype=np.uint32), np.frombuffer(b["sig"], dtype=np.uint32)
    band = minhash.first_shared_band(sig_a, sig_b, params.bands, params.rows)
    if band >= 0:
        return band
    lead_equal = np.flatnonzero(np.frombuffer(a["lead"], dtype=np.uint64) == np.frombuffer(b["lead"], dtype=np.uint64))
    return params.bands + int(lead_equal[0]) if len(lead_equal) else -1


def verify_nodes(a: dict, b: dict, params: ReprintParams):
    """``minhash.verify`` on two nodes: a Verdict or None."""
    return minhash.verify(
        np.frombuffer(a["sig"], dtype=np.uint32), a["n"], np.frombuffer(a["nums"], dtype=np.uint32),
        np.frombuffer(b["sig"], dtype=np.uint32), b["n"], np.frombuffer(b["nums"], dtype=np.uint32),
        min_jaccard=params.min_jaccard, min_containment=params.min_containment, min_shingles=params.min_shingles,
        max_number_conflict_ratio=params.max_number_conflict_ratio, number_sketch_size=params.number_sketch_size,
    )


def bucket_edges(band: int, nodes: list, params: ReprintParams) -> list:
    """Verified edges of one LSH bucket, as (new article id, other node summary).

    The summary is (kind, id, sort key, story id, Jaccard): kind "prior" for an anchor of the
    prior index (either side in time), "new" for an earlier article of this run.  A pair is verified only in the first band it
    shares (``first_shared_band``), so no pair is emitted twice.  Each article is compared with
    at most ``max_bucket_size`` earlier ones (the bucket guard)."""
    nodes = sorted(nodes, key=lambda n: (n["key"], n["story"] is None))
    edges = []
    for j, later in enumerate(nodes):
        for earlier in nodes[: min(j, params.max_bucket_size)]:
            pair = _oriented(earlier, later)
            if pair is None or first_shared_band(earlier, later, params) != band:
                continue
            verdict = verify_nodes(earlier, later, params)
            if verdict is not None:
                edges.append((pair[0], pair[1] + (verdict.jaccard,)))
    return edges


def _oriented(earlier: dict, later: dict):
    """(new article id, summary of the other node) or None when the pair says nothing."""
    if earlier["id"] == later["id"] or (earlier["story"] is not None and later["story"] is not None):
        return None
    if later["story"] is not None:  # a prior node after a new one: key the edge on the new one
        earlier, later = later, earlier
    if earlier["story"] is not None:
        return (later["id"], ("prior", earlier["id"], earlier["key"], earlier["story"])) if earlier["anchor"] else None
    return later["id"], ("new", earlier["id"], earlier["key"], None)


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


def new_member(article: dict, node: dict, is_anchor: bool, indexed: bool) -> dict:
    return {"node": node, "article": article, "is_anchor": is_anchor, "indexed": indexed,
            "domain": article.get("domain"), "title": article.get("title"), "published_at": article.get("published_at")}


def prior_member(row: dict) -> dict:
    return {"node": node_from_index(row), "article": None, "is_anchor": row["is_anchor"], "indexed": True,
            "domain": row["domain"], "title": row["title"], "published_at": row["published_at"]}


def build_stories(story_id: str, members: list, params: ReprintParams) -> tuple:
    """(articles with story fields, story rows, new index rows) of one story's members.

    Members are ``new_member``/``prior_member`` dicts; a new article also in the index counts
    once.  Members beyond ``max_cluster_size`` (latest first) become stories of their own."""
    new_ids = {m["node"]["id"] for m in members if m["article"] is not None}
    members = sorted(
        (m for m in members if m["article"] is not None or m["node"]["id"] not in new_ids),
        key=lambda m: m["node"]["key"],
    )
    kept, overflow = members[: params.max_cluster_size], members[params.max_cluster_size :]
    canonical = kept[0]
    articles, index_rows = [], []
    for m in kept:
        if m["article"] is None:
            continue
        is_canonical = m is canonical
        similarity = 1.0 if is_canonical else similarity_to(canonical["node"], m["node"])
        articles.append({**m["article"], "story_id": story_id, "is_canonical": is_canonical, "similarity": similarity})
        if not m["indexed"]:
            index_rows.append(index_row(m["node"], m["article"], story_id, m["is_anchor"], params))
    domains = sorted({m["domain"] for m in kept if m["domain"]})
    published = [m["published_at"] for m in kept if m["published_at"] is not None]
    stories = [{
        "story_id": story_id,
        "canonical_article_id": canonical["node"]["id"],
        "title": canonical["title"],
        "first_published_at": min(published, default=None),
        "article_count": len(kept),
        "domain_count": len(domains),
        "domains": domains,
    }]
    for m in overflow:
        if m["article"] is not None:
            Metrics.counter("reprints", "cluster_size_guard").inc()
            alone = {**m, "is_anchor": True, "indexed": False}
            more = build_stories(story_id_for(m["node"]["id"]), [alone], params)
            articles, stories, index_rows = articles + more[0], stories + more[1], index_rows + more[2]
    return articles, stories, index_rows


def similarity_to(canonical: dict, node: dict) -> float:
    """Similarity of a member to its canonical: max(Jaccard, containment) on the signatures."""
    sig_a, sig_b = np.frombuffer(canonical["sig"], dtype=np.uint32), np.frombuffer(node["sig"], dtype=np.uint32)
    jaccard = minhash.estimate_jaccard(sig_a, sig_b)
    return round(max(jaccard, minhash.containment(jaccard, canonical["n"], node["n"])), 4)


# ---------------------------------------------------------------------------- Beam wiring


def shard_entries(nodes: list, params: ReprintParams):
    """One (shard, [(band, key, node), ...]) per LSH shard touched by a batch of nodes."""
    shards = {}
    for node in nodes:
        for band, key in lsh_entries(node, params):
            shards.setdefault(key % params.lsh_shards, []).append((band, key, node))
    return list(shards.items())


def shard_edges(shard_lists: tuple, params: ReprintParams):
    """Verified edges of every bucket in one shard: (shard, lists of shard entries)."""
    buckets = {}
    for entries in shard_lists[1]:
        for band, key, node in entries:
            buckets.setdefault((band, key), []).append(node)
    for (band, _), nodes in buckets.items():
        if len(nodes) > 1:
            yield from bucket_edges(band, nodes, params)


class LshEdges(beam.PTransform):
    """Nodes -> verified edges (new article id, earlier node summary), grouped by band-key shard."""

    def __init__(self, params: ReprintParams):
        super().__init__()
        self.params = params

    def expand(self, nodes):
        params = self.params
        return (
            nodes
            | "Batch" >> beam.BatchElements(min_batch_size=64, max_batch_size=4096)
            | "ToShards" >> beam.FlatMap(shard_entries, params)
            | "GroupShards" >> beam.GroupByKey()
            | "VerifyBuckets" >> beam.FlatMap(shard_edges, params)
        )


class _Fingerprint(beam.DoFn):
    def __init__(self, params: ReprintParams):
        self.params = params

    def process(self, article):
        yield article["article_id"], (article, fingerprint(article, self.params))


def _decide(article_id, groups):
    """Anchor clustering, step 1: articles decided by their own edges, the rest stay open."""
    if not groups["article"]:
        return
    article, node = groups["article"][0]
    known = min(groups["known"], key=lambda r: r["story_id"], default=None)
    incoming = list(groups["in"])
    decision = first_decision(node, known, incoming)
    if decision is None:
        yield from _open(article_id, (article, node, None, open_state(incoming)))
        return
    story, is_anchor = decision
    yield beam.pvalue.TaggedOutput("assigned", (story, new_member(article, node, is_anchor, known is not None)))
    yield beam.pvalue.TaggedOutput("status", (article_id, ("anchor" if is_anchor else "member", story)))


def _open(article_id, entry):
    Metrics.counter("reprints", "open_after_round").inc()
    yield beam.pvalue.TaggedOutput("open", (article_id, entry))
    for earlier_id, pred in entry[3].items():
        if pred[5] is None:
            yield beam.pvalue.TaggedOutput("asks", (earlier_id, article_id))


def _answer(earlier_groups):
    """Tell every article that asked about an earlier one what that one's status is."""
    earlier_id, groups = earlier_groups
    for status in groups["status"][:1]:
        for later_id in groups["asks"]:
            yield later_id, (earlier_id, status)


def _round(article_groups, final):
    """Anchor clustering, one round for open articles: take in the answers, emit the article's
    own status when it becomes known, and its story once it is settled."""
    article_id, groups = article_groups
    for article, node, status, state in groups["open"]:
        for earlier_id, (earlier_status, story) in groups["answers"]:
            state[earlier_id][5], state[earlier_id][3] = earlier_status, story
        if status is None:
            status = own_status(state) or ("anchor" if final else None)
            if status is not None:
                story = story_id_for(article_id) if status == "anchor" else None
                yield beam.pvalue.TaggedOutput("status", (article_id, (status, story)))
        decision = settle(node, state, final)
        if decision is None:
            yield from _open(article_id, (article, node, status, state))
        else:
            yield beam.pvalue.TaggedOutput("assigned", (decision[0], new_member(article, node, decision[1], False)))


def _stories(story_groups, params):
    story_id, groups = story_groups
    if not groups["new"]:
        return
    articles, stories, index_rows = build_stories(story_id, list(groups["new"]) + [prior_member(r) for r in groups["prior"]], params)
    Metrics.counter("reprints", "stories").inc(len(stories))
    yield from articles
    for story in stories:
        yield beam.pvalue.TaggedOutput("stories", story)
    for row in index_rows:
        yield beam.pvalue.TaggedOutput("index", row)


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
        params = self.params
        version = params.fingerprint_version
        prior = self.prior_index if self.prior_index is not None else articles.pipeline | "NoPriorIndex" >> beam.Create([])
        prior = prior | "CompatiblePrior" >> beam.Filter(lambda r: r["fingerprint_version"] == version)
        keyed = articles | "Fingerprint" >> beam.ParDo(_Fingerprint(params))
        nodes = (
            (keyed | "NewNodes" >> beam.Map(lambda kv: kv[1][1]), prior | "PriorNodes" >> beam.Map(node_from_index))
            | "AllNodes" >> beam.Flatten()
        )
        edges = nodes | "Lsh" >> LshEdges(params)
        step = (
            {"article": keyed, "known": prior | "PriorById" >> beam.WithKeys(lambda r: r["article_id"]), "in": edges}
            | "JoinEdges" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMapTuple(_decide).with_outputs("assigned", "status", "open", "asks")
        )
        assigned = [step.assigned]
        for n in range(1, params.resolution_rounds + 1):
            answers = (
                {"asks": step.asks, "status": step.status}
                | f"JoinStatus{n}" >> beam.CoGroupByKey()
                | f"Answer{n}" >> beam.FlatMap(_answer)
            )
            step = (
                {"open": step.open, "answers": answers}
                | f"JoinAnswers{n}" >> beam.CoGroupByKey()
                | f"Round{n}" >> beam.FlatMap(_round, n == params.resolution_rounds).with_outputs(
                    "assigned", "status", "open", "asks"
                )
            )
            assigned.append(step.assigned)
        results = (
            {
                "new": assigned | "Assigned" >> beam.Flatten(),
                "prior": prior | "PriorByStory" >> beam.WithKeys(lambda r: r["story_id"]),
            }
            | "JoinStories" >> beam.CoGroupByKey()
            | "Stories" >> beam.FlatMap(_stories, params).with_outputs("stories", "index", main="articles")
        )
        return results.articles, results.stories, results.index
