"""The reprint rules, one home for batch (``dedup.batch``) and streaming (``dedup.stream``):
who is the original, when two articles are the same story, which anchor an article joins,
story ids and story rows (pure functions, no Beam).

An article is compared as a *node* (``Node``, built by ``dedup.fingerprints``); a verified pair
becomes an ``Edge`` from the later article to the earlier one.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, NotRequired, Optional, TypedDict

import numpy as np

from transforms.dedup import minhash
from transforms.records import epoch_seconds, from_epoch_seconds
from transforms.settings import check_ranges, setting

WIRE_DOMAINS = frozenset({
    "vnanet.vn", "ttxvn.org.vn", "vietnamplus.vn", "bnews.vn", "reuters.com", "apnews.com",
    "afp.com", "xinhuanet.com", "dpa.com", "ansa.it", "efe.com", "kyodonews.net", "yna.co.kr",
})
_NEVER = float("inf")
_DAY = 86400
_BARE_DATE_LATEST = _DAY + 12 * 3600 - 1  # end of the day at UTC-12, the last zone to reach it
_SAME_CONTENT = 0.5  # share of the shorter text in the other: versions of one article (``same_content``)


@dataclass(frozen=True)
class DedupConfig:
    """Tunables of reprint detection (YAML section ``dedup:``, same names)."""

    num_perm: int = setting(128, at_least=1)  # MinHash size of the whole text
    shingle_size: int = setting(4, at_least=1)  # words per shingle
    bands: int = setting(42, at_least=1)  # LSH on the whole-text signature: bands x rows <= num_perm
    rows: int = setting(3, at_least=1)
    lead_shingles: int = setting(100, at_least=1)  # the lead: first shingles, with their own small MinHash
    lead_num_perm: int = setting(64, at_least=1)
    lead_bands: int = setting(32, at_least=1)  # 2 rows: a cut copy with a rewritten lead, sharing a quarter
    lead_rows: int = setting(2, at_least=1)  # of the lead's shingles, is a candidate at P 0.87 (16 x 4: 0.06)
    min_jaccard: float = setting(0.5, at_least=0, at_most=1)  # same story if Jaccard >= this ...
    min_containment: float = setting(0.5, at_least=0, at_most=1)  # ... or the smaller text is contained at >= this
    min_shingles: int = setting(20, at_least=1)  # texts with fewer shingles are never clustered
    reuse_share: float = setting(0.5, at_least=0, at_most=1)  # a later text sharing under this share of it (0: off) ...
    reuse_lead_bands: int = setting(2, at_least=0)  # ... and at most this many lead bands reuses, never reprints
    number_sketch_size: int = setting(32, at_least=1)
    max_number_conflict_ratio: float = setting(0.05, at_least=0, at_most=1)  # conflicting number contexts / shared ones
    max_bucket_size: int = setting(200, at_least=1)  # an article is compared with at most this many in a bucket
    max_cluster_size: int = setting(2000, at_least=1)
    lsh_shards: int = setting(64, at_least=1)  # shards of every dedup shuffle: its parallelism (~ articles / 10,000)
    resolution_rounds: int = setting(4, at_least=1)  # rounds of anchor resolution for articles matching only new ones
    wire_domains: frozenset = WIRE_DOMAINS
    processes: int = setting(0, at_least=0)  # processes for fingerprinting and clustering steps per worker thread (0: 1;
    # a local run makes it one per core, ``pipelines.runners.memory.local_processes``)
    pool_min_bytes: int = setting(256 << 10, at_least=0)  # a step's shard batches worth a pool process (~100 articles)
    spill: bool = True  # a run in this process keeps its shuffled batches in files, not in memory (``dedup.spill``)
    spill_dir: Optional[str] = None  # their folder: a run makes its own under this one (None: the temporary folder)

    def __post_init__(self):
        check_ranges(self, "dedup")
        if self.bands * self.rows > self.num_perm or self.lead_bands * self.lead_rows > self.lead_num_perm:
            raise ValueError("dedup: bands x rows must not exceed num_perm (lead_bands x lead_rows: lead_num_perm)")

    @property
    def fingerprint_version(self) -> str:
        """Index rows from other fingerprint settings cannot be compared and are ignored."""
        return (
            f"tok3-b16-rensa-minhash{self.num_perm}-w{self.shingle_size}-lead{self.lead_shingles}x{self.lead_num_perm}"
            f"-b{self.lead_bands}r{self.lead_rows}-num{self.number_sketch_size}"
        )


class SortKey(NamedTuple):
    """Who is the original: the smallest key (see ``sort_key``)."""

    when: float  # epoch seconds (a bare date: its latest possible instant; none: infinity)
    wire_rank: int  # 0 for a wire/agency domain, 1 for an article crediting an agency, 2 else
    length: int  # minus the shingle count: longer first
    article_id: str


class Node(TypedDict):
    """What an article is reduced to for comparison (~620 B pickled with the defaults)."""

    id: str  # article_id
    h: int  # id_hash(article_id)
    key: SortKey
    n: int  # shingle count
    sig: bytes  # 16-bit MinHash minima of the whole text (uint16 array)
    lead: bytes  # band keys of the lead's MinHash (uint64 array)
    nums: bytes  # number sketch (uint32 array)
    sha: str | None  # content_sha1 of the article's text
    home: NotRequired[str | None]  # url_article_id: the URL id it claims, when another article holds it
    arrived_as: NotRequired[str | None]  # the id its article arrived with, when reconciling changed it
    origin: str  # in a batch run: "new" article, "update" of an indexed one, or "indexed" only
    prev: dict | None  # the indexed article's story fields (StoryFields), for "update"/"indexed"
    domain: str | None
    title: str | None
    published_at: float | None  # epoch seconds
    precision: str | None  # published_at_precision


class Edge(NamedTuple):
    """A verified pair, seen from its later article: the earlier one and how similar they are."""

    id: str
    key: SortKey
    story: str | None  # the earlier article's story, once it is known to anchor one
    jaccard: float


# ---------------------------------------------------------------------------- who is the original


def wire_rank(domain: str | None, wire_domains, wire_source: str | None) -> int:
    """0 for a wire/agency domain (or a subdomain of one), 1 for an article crediting an agency
    (its ``wire_source``), else 2."""
    labels = (domain or "").lower().split(".")
    if any(".".join(labels[i:]) in wire_domains for i in range(len(labels))):
        return 0
    return 1 if wire_source else 2


def sort_key(published_at: datetime | None, precision: str | None, rank: int, shingles: int,
             article_id: str) -> SortKey:
    """Who is the original: earliest published, then wire source, then longest, then id.

    A bare date (``published_at_precision`` "day": a page showing only the day, in its own
    unknown time zone, stored as 00:00 UTC of that day) could have appeared as late as the end
    of that day at UTC-12, i.e. 36 h after the date's UTC midnight, and it counts as that latest
    instant: a bare date never proves that its page came before a timed one of the same or next
    day.  (Without a precision, as in index rows written before it was recorded, 00:00:00 UTC is
    read as a bare date.)"""
    if published_at is None:
        return SortKey(_NEVER, rank, -shingles, article_id)
    when = epoch_seconds(published_at)
    if precision == "day" or (precision is None and when % _DAY == 0):
        when += _BARE_DATE_LATEST
    return SortKey(when, rank, -shingles, article_id)


# ---------------------------------------------------------------------------- same story?


def signature_of(node: Node) -> np.ndarray:
    """A node's whole-text MinHash signature: the low 16 bits of each minimum (b-bit MinHash).
    Two different minima agree there with probability 2^-16, so a Jaccard estimate gains at
    most (1 - J) / 65536, and every shuffle and index row carries half the bytes."""
    return np.frombuffer(node["sig"], dtype=np.uint16)


def verify_nodes(a: Node, b: Node, config: DedupConfig):
    """Same story? ``minhash.verify`` on two nodes, unless the later one only reuses passages of
    the earlier (``reuses_passages``): a Verdict or None."""
    verdict = minhash.verify(
        signature_of(a), a["n"], np.frombuffer(a["nums"], dtype=np.uint32),
        signature_of(b), b["n"], np.frombuffer(b["nums"], dtype=np.uint32),
        min_jaccard=config.min_jaccard, min_containment=config.min_containment, min_shingles=config.min_shingles,
        max_number_conflict_ratio=config.max_number_conflict_ratio, number_sketch_size=config.number_sketch_size,
    )
    if verdict is None or reuses_passages(*((a, b) if a["key"] <= b["key"] else (b, a)), verdict.jaccard, config):
        return None
    return verdict


def reuses_passages(earlier: Node, later: Node, jaccard: float, config: DedupConfig) -> bool:
    """The later text holds passages of the earlier one but is not its reprint: what they share is
    under ``reuse_share`` of the later text, and the two open differently (their leads agree in at
    most ``reuse_lead_bands`` lead bands).  A page of its own lifting paragraphs of other stories,
    or a compilation page's second story, is such a text; a reprint keeps the lead, a compilation
    joins the story it opens with.  The ``reuse`` table links them."""
    if minhash.intersection(jaccard, earlier["n"], later["n"]) >= config.reuse_share * later["n"]:
        return False
    leads = np.frombuffer(earlier["lead"], dtype=np.uint64) == np.frombuffer(later["lead"], dtype=np.uint64)
    return int(leads.sum()) <= config.reuse_lead_bands


def similarity_to(canonical: Node, node: Node) -> float:
    """Similarity of a member to its canonical: max(Jaccard, containment) on the signatures."""
    jaccard = minhash.estimate_jaccard(signature_of(canonical), signature_of(node))
    return round(max(jaccard, minhash.containment(jaccard, canonical["n"], node["n"])), 4)


def same_content(a: Node, b: Node) -> bool:
    """Two texts under one URL are versions of one article: the same text, or over half of the
    shorter one in the other (an edited, updated or cut version); else they are different articles
    claiming one URL (``by_url``, ``clustering.reconcile``)."""
    if a["sha"] == b["sha"]:
        return True
    return min(a["n"], b["n"]) > 0 and similarity_to(a, b) >= _SAME_CONTENT


def claim_url(node: Node, claimants: Sequence[Node]) -> tuple[str, Node | None]:
    """What a new article is to the known articles claiming its URL (``claimants``, earliest
    first): ("duplicate", the one whose text it copies); ("update", the one it is another version
    of, by ``same_content``: the one of its own id first); else ("variant", None) when one of them
    holds its id (it is another article: ``fingerprints.variant_id``) or ("new", None)."""
    copy = next((c for c in claimants if c["sha"] == node["sha"]), None)
    if copy is not None:
        return "duplicate", copy
    versions = [c for c in claimants if same_content(c, node)]
    if versions:
        return "update", next((c for c in versions if c["id"] == node["id"]), versions[0])
    return ("variant" if any(c["id"] == node["id"] for c in claimants) else "new"), None


# ---------------------------------------------------------------------------- stories


def anchor_rank(jaccard: float, key: SortKey) -> tuple:
    """Order of the verified anchors an article could join, best first: the most similar, then
    the earliest."""
    return -jaccard, key


def best_anchor(edges: Sequence[Edge]) -> Edge:
    return min(edges, key=lambda edge: anchor_rank(edge.jaccard, edge.key))


def story_id_for(anchor_article_id: str) -> str:
    """A story's id: from the article that anchors it (its original when the story was formed)."""
    return "st-" + hashlib.sha1(anchor_article_id.encode("utf-8")).hexdigest()[:20]


class StoryMember(TypedDict):
    """What a story row needs of a member (a ``Node`` has all of it)."""

    id: str
    key: SortKey
    domain: str | None
    title: str | None
    published_at: float | None  # epoch seconds


def story_row(story_id: str, members: Sequence[StoryMember]) -> dict:
    """A ``stories`` row: canonical = the member first by ``sort_key``, counts recomputed (a story
    with no members left has ``article_count`` 0)."""
    ordered = sorted(members, key=lambda m: m["key"])
    canonical = ordered[0] if ordered else {}
    domains = sorted({m["domain"] for m in ordered if m["domain"]})
    published = [m["published_at"] for m in ordered if m["published_at"] is not None]
    return {
        "story_id": story_id,
        "canonical_article_id": canonical.get("id"),
        "title": canonical.get("title"),
        "first_published_at": from_epoch_seconds(min(published, default=None)),
        "article_count": len(ordered),
        "domain_count": len(domains),
        "domains": domains,
    }
