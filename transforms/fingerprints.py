"""Fingerprints for reprint detection: what an article is reduced to (pure functions, no Beam).

An article becomes a *node*: its ids, its ``sort_key``, a 16-bit MinHash signature of its
matching tokens (``textmatch.token_hashes``), band keys of its lead and a sketch of its numbers
(see ``transforms.reprints`` for how nodes are compared and clustered).  The steps that
``transforms.reprints`` runs in a process pool (``fingerprint_batch``, ``prior_nodes``) live
here, apart from the Beam wiring, so a pool process starts without importing Beam.
"""

import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import numpy as np
import xxhash
import zstandard

from transforms import minhash
from transforms.textmatch import token_hashes

WIRE_DOMAINS = frozenset({
    "vnanet.vn", "ttxvn.org.vn", "vietnamplus.vn", "bnews.vn", "reuters.com", "apnews.com",
    "afp.com", "xinhuanet.com", "dpa.com", "ansa.it", "efe.com", "kyodonews.net", "yna.co.kr",
})
_NEVER = float("inf")
_DAY = 86400
_BARE_DATE_LATEST = _DAY + 12 * 3600 - 1  # end of the day at UTC-12, the last zone to reach it
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
    lsh_shards: int = 64  # shards of every dedup shuffle: its parallelism (~ articles / 10,000 at scale)
    resolution_rounds: int = 4  # rounds of anchor resolution for articles matching only new ones
    wire_domains: frozenset = WIRE_DOMAINS
    processes: int = 1  # processes for fingerprinting and clustering steps per worker thread (2 on a laptop run in-process)

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm or self.lead_bands * self.lead_rows > self.lead_num_perm:
            raise ValueError("bands x rows must not exceed the number of permutations")
        if self.processes < 1:
            raise ValueError("dedup.processes must be >= 1")

    @property
    def fingerprint_version(self) -> str:
        """Index rows from other fingerprint settings cannot be compared and are ignored."""
        return (
            f"tok2-b16-rensa-minhash{self.num_perm}-w{self.shingle_size}-lead{self.lead_shingles}x{self.lead_num_perm}"
            f"-b{self.lead_bands}r{self.lead_rows}-num{self.number_sketch_size}"
        )


def wire_rank(domain: Optional[str], wire_domains) -> int:
    """0 for a wire/agency domain (or a subdomain of one), else 1."""
    labels = (domain or "").lower().split(".")
    return 0 if any(".".join(labels[i:]) in wire_domains for i in range(len(labels))) else 1


def sort_key(published_at: Optional[datetime], rank: int, shingles: int, article_id: str) -> tuple:
    """Who is the original: earliest published, then wire source, then longest, then id.

    A time of exactly 00:00:00 UTC is read as a bare date (a page showing only the day, in
    its own unknown time zone).  Such a page could have appeared as late as the end of that day
    at UTC-12, i.e. 36 h after the date's UTC midnight, and it counts as that latest instant:
    a bare date never proves that its page came before a timed one of the same or next day."""
    if published_at is None:
        return (_NEVER, rank, -shingles, article_id)
    when = epoch_seconds(published_at)
    if when % _DAY == 0:
        when += _BARE_DATE_LATEST
    return (when, rank, -shingles, article_id)


def fingerprint(article: dict, params: ReprintParams) -> dict:
    """The compact node of one article (what LSH, verification and the index need)."""
    return fingerprints([article], params)[0]


def fingerprints(articles: list, params: ReprintParams, chunk: int = 64) -> list:
    """``fingerprint`` of several articles at once (each node equals its article's alone:
    batching only shares the numpy and rensa calls; chunks keep their arrays in cache)."""
    if len(articles) > chunk:
        return [node for start in range(0, len(articles), chunk) for node in fingerprints(articles[start : start + chunk], params)]
    hashes, numbers, offsets = token_hashes([a.get("text") or "" for a in articles])
    shingles = minhash.shingle_rows(hashes, offsets, params.shingle_size)
    signatures = minhash.signatures(shingles, params.num_perm)
    leads = minhash.band_keys(
        minhash.signatures([s[: params.lead_shingles] for s in shingles], params.lead_num_perm),
        params.lead_bands, params.lead_rows,
    )
    sketches = minhash.number_sketches(hashes, numbers, offsets, params.number_sketch_size)
    return [
        {
            "id": article["article_id"],
            "h": id_hash(article["article_id"]),
            "key": sort_key(
                article.get("published_at"), wire_rank(article.get("domain"), params.wire_domains), len(rows),
                article["article_id"],
            ),
            "n": len(rows),
            "sig": signature.astype(np.uint16).tobytes(),
            "lead": lead.tobytes(),
            "nums": sketch.tobytes(),
            "story": None,  # set for nodes from the prior index
            "anchor": False,
            "domain": article.get("domain"),
            "title": article.get("title"),
            "published_at": epoch_seconds(article.get("published_at")),
        }
        for article, rows, signature, lead, sketch in zip(articles, shingles, signatures, leads, sketches)
    ]


def signature_of(node: dict) -> np.ndarray:
    """A node's whole-text MinHash signature: the low 16 bits of each minimum (b-bit MinHash).
    Two different minima agree there with probability 2^-16, so a Jaccard estimate gains at
    most (1 - J) / 65536, and every shuffle and index row carries half the bytes."""
    return np.frombuffer(node["sig"], dtype=np.uint16)


_MATCH_FIELDS = ("id", "h", "key", "n", "sig", "nums", "story", "anchor")


def match_node(node: dict) -> dict:
    """What verification needs of a node (``pair_edge``): partners travel in this form."""
    return {field: node[field] for field in _MATCH_FIELDS}


def epoch_seconds(when: Optional[datetime]) -> Optional[float]:
    """Times travel as epoch seconds in nodes: Beam pickles a datetime at every shuffle."""
    return None if when is None else (when - _EPOCH).total_seconds()


def from_epoch_seconds(seconds: Optional[float]) -> Optional[datetime]:
    return None if seconds is None else _EPOCH + timedelta(seconds=seconds)


def id_hash(article_id: str) -> int:
    """63-bit hash of an article id: the id in LSH arrays (fits Beam's varint coder)."""
    return xxhash.xxh64_intdigest(article_id.encode("utf-8")) >> 1


def index_row(node: dict, story_id: str, is_anchor: bool, params: ReprintParams) -> dict:
    """A STORY_INDEX row (schemas.tables) for a newly clustered article."""
    return {
        "article_id": node["id"],
        "story_id": story_id,
        "is_anchor": is_anchor,
        "published_at": from_epoch_seconds(node["published_at"]),
        "wire_rank": node["key"][1],
        "domain": node["domain"],
        "title": (node["title"] or "")[:120] or None,
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
        "h": id_hash(row["article_id"]),
        "key": sort_key(row["published_at"], row["wire_rank"], row["shingle_count"], row["article_id"]),
        "n": row["shingle_count"],
        "sig": row["signature"],
        "lead": row["lead_band_keys"],
        "nums": row["number_sketch"],
        "story": row["story_id"],
        "anchor": row["is_anchor"],
        "domain": row["domain"],
        "title": row["title"],
        "published_at": epoch_seconds(row["published_at"]),
    }


def lsh_arrays(nodes: list, params: ReprintParams) -> list:
    """LSH entries of a batch of nodes, split by shard: [(shard, [band keys, id hashes, prior
    flags] as bytes)].  Whole-text bands and lead bands; texts too short to cluster get none."""
    nodes = [n for n in nodes if n["n"] >= params.min_shingles]
    if not nodes:
        return []
    signatures = np.stack([signature_of(n) for n in nodes])
    lead = np.stack([np.frombuffer(n["lead"], dtype=np.uint64) for n in nodes]) ^ _LEAD_SALT
    keys = np.concatenate([minhash.band_keys(signatures, params.bands, params.rows), lead], axis=1)
    per_node = keys.shape[1]
    keys = keys.ravel()
    ids = np.repeat(np.array([n["h"] for n in nodes], dtype=np.int64), per_node)
    prior = np.repeat(np.array([n["story"] is not None for n in nodes], dtype=np.bool_), per_node)
    return split_by_shard(keys % np.uint64(params.lsh_shards), keys, ids, prior)


def split_by_shard(shards: np.ndarray, *columns) -> list:
    """[(shard, [each column's rows of that shard, as bytes])] for every shard present."""
    if not len(shards):
        return []
    order = np.argsort(shards, kind="stable")
    shards, columns = shards[order], [column[order] for column in columns]
    cuts = np.flatnonzero(np.diff(shards)) + 1
    return [
        (int(shards[start]), [column[start:end].tobytes() for column in columns])
        for start, end in zip(np.r_[0, cuts], np.r_[cuts, len(shards)])
    ]


_LEAD_SALT = np.uint64(0x5BD1E9955BD1E995)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a compressed batch; a pickled one starts b"\x80"


def pack(items: list) -> bytes:
    return pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)


def compressed(packed: bytes) -> bytes:
    """A packed batch, zstd-compressed (article batches: their bytes dominate the shuffles)."""
    return zstandard.ZstdCompressor(level=2).compress(packed)


def unpacked(packed_batches):
    """The items of several packed (or ``compressed``) batches."""
    for batch in packed_batches:
        if batch[:4] == _ZSTD_MAGIC:
            batch = zstandard.ZstdDecompressor().decompress(batch)
        yield from pickle.loads(batch)


def fingerprint_batch(batch: tuple, params: ReprintParams) -> list:
    """Everything derived from a (shard, packed articles) batch, as (output tag, value) pairs:
    its nodes ("nodes": (shard, packed nodes)), their ``match_outputs`` ("match", "bands") and
    the batch itself, compressed for the final join ("articles": (shard, compressed batch))."""
    shard, packed_articles = batch
    nodes = fingerprints(list(unpacked([packed_articles])), params)
    return [
        ("nodes", (shard, pack(nodes))), *match_outputs(shard, nodes, params),
        ("articles", (shard, compressed(packed_articles))),
    ]


def prior_nodes(batch: tuple, params: ReprintParams) -> list:
    """``match_outputs`` of a (shard, packed STORY_INDEX rows) batch."""
    shard, packed_rows = batch
    return match_outputs(shard, [node_from_index(row) for row in unpacked([packed_rows])], params)


def match_outputs(shard: int, nodes: list, params: ReprintParams) -> list:
    """A node batch's match nodes ("match") and LSH entries ("bands"), as (output tag, value) pairs."""
    return [
        ("match", (shard, pack([match_node(node) for node in nodes]))),
        *(("bands", entry) for entry in lsh_arrays(nodes, params)),
    ]
