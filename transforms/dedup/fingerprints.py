"""Fingerprints for reprint detection: what an article is reduced to (pure functions, no Beam).

An article becomes a *node* (``rules.Node``): its ids, its ``sort_key``, a 16-bit MinHash
signature of its matching tokens (``textmatch.tokens``), band keys of its lead and a sketch
of its numbers; its LSH band keys say which other nodes it is compared with (``rules``).  The
batch job's pool step ``fingerprint_batch`` lives here, apart from the Beam
wiring, so a pool process starts without importing Beam.
"""

import hashlib
import pickle
from typing import Optional

import numpy as np
import xxhash
import zstandard

from transforms.dedup import minhash
from transforms.dedup.rules import DedupConfig, Node, signature_of, sort_key, wire_rank
from transforms.dedup.textmatch import Tokens, tokens
from transforms.records import (
    EPOCH,
    Article,
    StoryFields,
    epoch_seconds,
    from_epoch_seconds,
)


def fingerprint(article: Article, config: DedupConfig) -> Node:
    """The compact node of one article (what LSH, verification and the index need)."""
    return fingerprints([article], config)[0]


def fingerprints(articles: list, config: DedupConfig, chunk: int = 64, tokenised: Optional[Tokens] = None) -> list:
    """``fingerprint`` of several articles at once (each node equals its article's alone:
    batching only shares the numpy and rensa calls; chunks keep their arrays in cache);
    ``tokenised``: the articles' ``textmatch.tokens``, when the caller has them (one chunk)."""
    if tokenised is None and len(articles) > chunk:
        return [node for start in range(0, len(articles), chunk) for node in fingerprints(articles[start : start + chunk], config)]
    hashes, numbers, offsets = (tokenised or tokens([a.get("text") or "" for a in articles]))[:3]
    shingles = minhash.shingle_rows(hashes, offsets, config.shingle_size)
    signatures = minhash.signatures(shingles, config.num_perm)
    leads = minhash.band_keys(
        minhash.signatures([s[: config.lead_shingles] for s in shingles], config.lead_num_perm),
        config.lead_bands, config.lead_rows,
    )
    sketches = minhash.number_sketches(hashes, numbers, offsets, config.number_sketch_size)
    return [
        {
            "id": article["article_id"],
            "h": id_hash(article["article_id"]),
            "key": sort_key(
                article.get("published_at"), article.get("published_at_precision"),
                wire_rank(article.get("domain"), config.wire_domains, article.get("wire_source")), len(rows),
                article["article_id"],
            ),
            "n": len(rows),
            "sig": signature.astype(np.uint16).tobytes(),
            "lead": lead.tobytes(),
            "nums": sketch.tobytes(),
            "sha": article.get("content_sha1"),
            "home": article.get("url_article_id"),
            "origin": "new",
            "prev": None,
            "domain": article.get("domain"),
            "title": article.get("title"),
            "published_at": epoch_seconds(article.get("published_at")),
            "precision": article.get("published_at_precision"),
        }
        for article, rows, signature, lead, sketch in zip(articles, shingles, signatures, leads, sketches)
    ]


_MATCH_FIELDS = ("id", "h", "key", "n", "sig", "lead", "nums")


def match_node(node: Node) -> dict:
    """What verification needs of a node (``pair_edge``): partners travel in this form."""
    return {field: node[field] for field in _MATCH_FIELDS}


def variant_id(url_article_id: str, content_sha1: Optional[str]) -> str:
    """The id of an article whose URL another article, of other content, holds: from that URL's
    id and its own content (``metadata.article_id``'s form; the same in every run that meets it)."""
    return hashlib.sha1(f"{url_article_id}#{content_sha1}".encode()).hexdigest()[:20]


def renamed(node: Node, article_id: str, home: Optional[str]) -> Node:
    """``node`` under ``article_id``, claiming URL id ``home``, remembering the id it arrived with."""
    if article_id == node["id"]:
        return {**node, "home": home}
    return {
        **node, "id": article_id, "h": id_hash(article_id), "key": node["key"]._replace(article_id=article_id),
        "home": home, "arrived_as": arrival_id(node),
    }


def home_id(node: Node) -> str:
    """The URL id a node's article claims: its own id, unless another article holds that URL
    (``url_article_id``); the story index is reconciled per URL id."""
    return node.get("home") or node["id"]


def arrival_id(node: Node) -> str:
    """The id a node's article arrived with (its record's, under which its row is joined): its
    own, unless reconciling with the story index gave it another (``clustering.reconcile``)."""
    return node.get("arrived_as") or node["id"]


def id_hash(article_id: str) -> int:
    """63-bit hash of an article id: the id in LSH arrays (fits Beam's varint coder)."""
    return xxhash.xxh64_intdigest(article_id.encode("utf-8")) >> 1


def shard_of(key, shards: int) -> int:
    """The shard of an article or story id (or of an id hash)."""
    return (key if isinstance(key, int) else id_hash(key)) % shards


def by_shard(nodes: list, key, shards: int) -> dict:
    """{shard of ``key(node)``: [its nodes]}."""
    batches = {}
    for node in nodes:
        batches.setdefault(shard_of(key(node), shards), []).append(node)
    return batches


def index_row(node: Node, fields: StoryFields, config: DedupConfig) -> dict:
    """A STORY_INDEX row (schemas.tables): an article's fingerprint and its story."""
    return {
        "article_id": node["id"],
        "url_article_id": node.get("home"),
        **fields,
        "content_sha1": node["sha"],
        "published_at": from_epoch_seconds(node["published_at"]),
        "published_at_precision": node["precision"],
        "wire_rank": node["key"].wire_rank,
        "domain": node["domain"],
        "title": node["title"],
        "shingle_count": node["n"],
        "signature": node["sig"],
        "lead_band_keys": node["lead"],
        "number_sketch": node["nums"],
        "fingerprint_version": config.fingerprint_version,
    }


def node_from_index(row: dict) -> Node:
    """The node of an article in the story index (``origin`` "indexed", ``prev`` its story)."""
    return {
        "id": row["article_id"],
        "h": id_hash(row["article_id"]),
        "key": sort_key(
            row["published_at"], row.get("published_at_precision"), _wire_rank(row), row["shingle_count"], row["article_id"],
        ),
        "n": row["shingle_count"],
        "sig": row["signature"],
        "lead": row["lead_band_keys"],
        "nums": row["number_sketch"],
        "sha": row.get("content_sha1"),
        "home": row.get("url_article_id"),
        "origin": "indexed",
        "prev": indexed_fields(row),
        "domain": row["domain"],
        "title": row["title"],
        "published_at": epoch_seconds(row["published_at"]),
        "precision": row.get("published_at_precision"),
    }


def _wire_rank(row: dict) -> int:
    """An index row's ``wire_rank``; before schema 4 (no ``wire_source``) 1 meant "not a wire domain"."""
    rank = row["wire_rank"]
    return 2 if rank == 1 and (row.get("schema_version") or 0) < 4 else rank


def latest_rows(packed_batches) -> dict:
    """{article id: its latest row} of packed batches of state-table rows (``index_order``)."""
    latest = {}
    for row in unpacked(packed_batches):
        held = latest.get(row["article_id"])
        if held is None or index_order(row) >= index_order(held):
            latest[row["article_id"]] = row
    return latest


def index_order(row: dict) -> tuple:
    """Order of an article's story-index rows: the latest (greatest ``row_at``, then ``run_id``) last."""
    return row.get("row_at") or EPOCH, row.get("run_id") or ""


def indexed_fields(row: dict) -> StoryFields:
    """An index row's story fields (similarity as written: rounded to 4 places)."""
    similarity = row.get("similarity")
    return StoryFields(
        story_id=row["story_id"], is_canonical=row.get("is_canonical"),
        similarity=None if similarity is None else round(float(similarity), 4),
    )


def band_keys(nodes: list, config: DedupConfig) -> tuple[list, np.ndarray]:
    """The nodes long enough to cluster and their LSH band keys (a row per node: whole-text
    bands, then lead bands); nodes sharing a key are compared."""
    nodes = [n for n in nodes if n["n"] >= config.min_shingles]
    if not nodes:
        return [], np.empty((0, config.bands + config.lead_bands), dtype=np.uint64)
    signatures = np.stack([signature_of(n) for n in nodes])
    lead = np.stack([np.frombuffer(n["lead"], dtype=np.uint64) for n in nodes]) ^ _LEAD_SALT
    return nodes, np.concatenate([minhash.band_keys(signatures, config.bands, config.rows), lead], axis=1)


LSH_ENTRY = np.dtype([("key", "<u8"), ("id", "<i8")])  # a band key and the id hash of a node holding it


def lsh_arrays(nodes: list, config: DedupConfig) -> list:
    """LSH entries of a batch of nodes, split by shard of the band key: [(shard, (``LSH_ENTRY``
    rows as one bytes object,))] (the batch job's shuffle; one object, so a spill folder takes
    it whole)."""
    nodes, keys = band_keys(nodes, config)
    if not nodes:
        return []
    entries = np.empty(keys.size, dtype=LSH_ENTRY)
    entries["key"] = keys.ravel()
    entries["id"] = np.repeat(np.array([n["h"] for n in nodes], dtype=np.int64), keys.shape[1])
    return split_by_shard(entries["key"] % np.uint64(config.lsh_shards), entries)


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


def joined_table(parts, dtype: np.dtype) -> np.ndarray:
    """The rows of several byte batches of a numpy ``dtype``, as one read-only array (joined as
    bytes: ``np.concatenate`` copies structured rows one field at a time, 8-40x slower)."""
    return np.frombuffer(b"".join(parts), dtype=dtype)


def unpacked(packed_batches):
    """The items of several packed (or ``compressed``) batches."""
    for batch in packed_batches:
        if batch[:4] == _ZSTD_MAGIC:
            batch = zstandard.ZstdDecompressor().decompress(batch)
        yield from pickle.loads(batch)


def fingerprint_batch(batch: tuple, config: DedupConfig, with_match: bool = False, records=None, chunk: int = 64) -> list:
    """Everything derived from a (shard, packed articles) batch, as (output tag, value) pairs:
    its nodes ("nodes": (shard, packed nodes), by the shard of the URL id they claim for
    ``clustering.reconcile``), with ``with_match`` (a run with no story index: the nodes are final)
    by the shard of their id, in ``node_batch``es, with ``records`` (``records(articles,
    tokens)`` -> items, e.g. ``passages.record_items``) its items ("records": the texts are
    tokenised once for both), and the batch itself, compressed for the final join ("articles":
    (shard, compressed batch))."""
    shard, packed_articles = batch
    articles = list(unpacked([packed_articles]))
    nodes, items = [], []
    for start in range(0, len(articles), chunk):
        part = articles[start : start + chunk]
        tokenised = tokens([a.get("text") or "" for a in part])
        nodes += fingerprints(part, config, tokenised=tokenised)
        if records is not None:
            items += records(part, tokenised)
    if with_match:
        node_outputs = [o for s, part in by_shard(nodes, lambda n: n["id"], config.lsh_shards).items() for o in node_batch(s, part, config)]
    else:
        node_outputs = [("nodes", (s, pack(part))) for s, part in by_shard(nodes, home_id, config.lsh_shards).items()]
    return [
        *node_outputs,
        *((("records", (shard, pack(items))),) if records is not None else ()),
        ("articles", (shard, compressed(packed_articles))),
    ]


def node_batch(shard: int, nodes: list, config: DedupConfig) -> list:
    """A batch of final nodes of one shard ("nodes"), their match nodes ("match") and LSH entries
    ("bands"), as (output tag, value) pairs."""
    return [
        ("nodes", (shard, pack(nodes))),
        ("match", (shard, pack([match_node(node) for node in nodes]))),
        *(("bands", entry) for entry in lsh_arrays(nodes, config)),
    ]
