"""Passage reuse: which passages of an article another story holds (pure functions, no Beam; the
Beam wiring is ``transforms.dedup.reuse``).

A story is a whole-text reprint cluster; an article that lifts a few paragraphs of another story
stays in its own story and gets *reuse rows* instead: each a passage of its text, the article it
is taken from and that passage there.

What an article is reduced to (its *passage record*, ``passage_index.seeds``, at most
``max_record_bytes``):

- *units*: its sentences (cut at line ends and at sentence punctuation followed by a capital,
  digit or quote; a sentence of fewer than ``MIN_UNIT_TOKENS`` words joins its neighbour in the
  same paragraph), each with its span in the text and its paragraph;
- *seeds*: a sample of the hashes of its word ``shingle_size``-grams inside one unit (the tokens
  of ``textmatch.token_spans``: case, NFC/NFD and old/new Vietnamese tone-mark placement give one
  token), those whose low 16 bits are under a threshold (``seed_rate``, lowered for long texts to
  fit the record).  Samples of two thresholds are nested, so two records are compared on the seeds
  under the lower of their thresholds.  Attribution, caption and link-rail lines ("Read more:
  <another story's title>") and quoted speech (two outlets quote a speaker alike without taking
  it from each other) give no seeds.

Alignment (``reuse_rows``), for an article T and each article S of another story sharing seeds:
a unit of T is *held* by S when at least ``min_coverage`` of its seeds (and ``min_unit_seeds``)
are S's; a paragraph of T held as a whole (the same test on its seeds) is held in every unit, so
word edits in one of its sentences do not cut it.  Who took the text from whom:

- a text *belongs* to a story when at least half of its articles (for S's story: more than half)
  or its canonical hold it;
- T took a unit from S when it belongs to S's story and not to T's; when it belongs to both, if
  S's story is older (its canonical comes first by ``rules.sort_key``); when to neither, if a
  larger share of S's story holds it (a tie: if S came first);
- T *stitches* S when it holds ``stitch_containment`` of S's seeds (a compilation page and the
  story it stitched in): T took those units, whichever came first; S never counts for T when S
  holds that much of T (T's whole story inside S's compilation page, or two issues of a
  templated report that dedup keeps apart by their numbers).

Each held unit takes as its source the earliest such S of a story the text belongs to (else the
earliest such S); consecutive units with the same source are one passage of at least
``min_passage_words`` words, reported with the span of S's units that hold its seeds and its
``similarity`` (the share of its seeds S holds).  Passages of T's own story are not reuse (a
reprint's whole text is its story's), so they are never reported.
"""

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

from transforms.dedup import minhash
from transforms.dedup.clustering import Outbox
from transforms.dedup.fingerprints import id_hash, index_order, pack, split_by_shard, unpacked
from transforms.dedup.rules import DedupConfig, SortKey
from transforms.dedup.textmatch import is_noise, token_spans
from transforms.settings import check_ranges, setting

MIN_UNIT_TOKENS = 8  # a shorter sentence joins its neighbour
_FULL = 1 << 16  # sampling thresholds are on a seed's low 16 bits
_MATCH_COLUMNS = 8  # target, source, seed, (holders, canonical holds) of both stories, paragraph in the target
_HEADER_BYTES, _UNIT_BYTES = 16, 8  # a record: 4 uint32, then per unit 4 uint16 (uint32 offsets in huge texts), seeds
_QUOTE = re.compile(r'“[^”\n]{1,800}”|"[^"\n]{1,800}"|«[^»\n]{1,800}»|„[^“”\n]{1,800}[“”]')
_OPENING = "\"'“‘«("  # a sentence may start with these
_SENTENCE_END = re.compile(r"\n+|[.!?…]+[\"'”’»)\]]*[ \t]+")


@dataclass(frozen=True)
class ReuseConfig:
    """Tunables of passage reuse (YAML section ``reuse:``, same names)."""

    enabled: bool = True
    shingle_size: int = setting(5, at_least=2)  # words per seed shingle
    seed_rate: float = setting(0.5, above=0, at_most=1)  # share of shingles kept as seeds
    max_record_bytes: int = setting(2048, at_least=256)  # an article's record: long texts keep fewer seeds
    min_unit_seeds: int = setting(3, at_least=1)  # a unit is held with at least this many shared seeds ...
    min_coverage: float = setting(0.55, above=0, at_most=1)  # ... and this share of its seeds
    min_passage_words: int = setting(12, at_least=1)  # shorter passages (a shared title, a phrase) are not reported
    stitch_containment: float = setting(0.8, above=0, at_most=1)  # one article holding this much of another stitched it
    max_seed_holders: int = setting(128, at_least=2)  # a seed in more articles is boilerplate, not reuse

    def __post_init__(self):
        check_ranges(self, "reuse")

    @property
    def passage_version(self) -> str:
        """Passage-index rows of other settings cannot be compared (``newsbeam repair`` redoes them)."""
        return f"p1-w{self.shingle_size}-r{self.seed_rate:g}-b{self.max_record_bytes}-u{MIN_UNIT_TOKENS}"


class Passages(NamedTuple):
    """An unpacked passage record."""

    threshold: int  # seeds are the shingle hashes whose low 16 bits are under it
    starts: np.ndarray  # per unit: its first character in the text
    ends: np.ndarray  # per unit: after its last non-space character
    paragraphs: np.ndarray  # per unit: its paragraph's number
    tokens: np.ndarray  # per unit: its words
    units: np.ndarray  # per seed: its unit
    seeds: np.ndarray  # uint32 seed hashes, in text order


# ---------------------------------------------------------------------------- records


def passage_records(texts: list, config: ReuseConfig) -> list:
    """The packed passage record of each text (see the module docstring).  Attribution, caption
    and link-rail lines ("Read more: <another story's title>") hold no seeds."""
    texts = ["\n".join(" " * len(line) if is_noise(line) else line for line in text.split("\n")) for text in texts]
    hashes, starts, ends, offsets = token_spans(texts)
    return [
        _record(text, hashes[a:b], starts[a:b], ends[a:b], config)
        for text, a, b in zip(texts, offsets[:-1].tolist(), offsets[1:].tolist())
    ]


def _record(text: str, hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray, config: ReuseConfig) -> bytes:
    unit_starts, unit_ends, paragraphs = _units(text, starts, ends)
    group = -(-len(unit_starts) // (config.max_record_bytes // 2 // _UNIT_BYTES))  # units take at most half
    if group > 1:  # a very long text: units of ``group`` sentences
        first = np.arange(0, len(unit_starts), group)
        last = np.r_[first[1:] - 1, len(unit_starts) - 1]
        unit_starts, unit_ends, paragraphs = unit_starts[first], unit_ends[last], paragraphs[first]
    token_units = np.searchsorted(unit_starts, starts, side="right") - 1
    size = config.shingle_size
    shingles = minhash._combine(hashes, size)
    inside = token_units[: len(shingles)] == token_units[size - 1 :]  # no shingle crosses a unit's end
    quoted = _quoted(text, starts)
    inside &= ~(quoted[: len(shingles)] | quoted[size - 1 :])
    seeds = (shingles[inside] >> np.uint64(32)).astype(np.uint32)
    threshold, low = round(_FULL * config.seed_rate), seeds & 0xFFFF
    room = (config.max_record_bytes - _HEADER_BYTES - _UNIT_BYTES * len(unit_starts)) // 4
    if np.count_nonzero(low < threshold) > room:
        threshold = int(np.sort(low[low < threshold])[room])
    kept = low < threshold
    first = np.r_[True, paragraphs[1:] != paragraphs[:-1]]
    tokens = np.minimum(np.bincount(token_units, minlength=len(unit_starts)), 0x7FFF) | (first << 15)
    gaps, lengths = unit_starts - np.r_[0, unit_ends[:-1]], unit_ends - unit_starts
    wide = int(max(gaps.max(initial=0), lengths.max(initial=0)) > 0xFFFF)
    offsets = np.uint32 if wide else np.uint16
    return b"".join([
        np.array([threshold, len(unit_starts), np.count_nonzero(kept), wide], dtype=np.uint32).tobytes(),
        gaps.astype(offsets).tobytes(), lengths.astype(offsets).tobytes(), tokens.astype(np.uint16).tobytes(),
        np.bincount(token_units[: len(shingles)][inside][kept], minlength=len(unit_starts)).astype(np.uint16).tobytes(),
        seeds[kept].tobytes(),
    ])


def _quoted(text: str, token_starts: np.ndarray) -> np.ndarray:
    """Per token: whether it is inside quotation marks (what someone said, which two outlets
    quote alike without taking it from each other)."""
    spans = np.array([m.span() for m in _QUOTE.finditer(text)] or np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)
    at = np.searchsorted(spans[:, 0], token_starts, side="right") - 1
    return (at >= 0) & (token_starts < spans[np.maximum(at, 0), 1]) if len(spans) else np.zeros(len(token_starts), bool)


def _units(text: str, token_starts: np.ndarray, token_ends: np.ndarray) -> tuple:
    """(starts, ends, paragraph numbers) of a text's units: its sentences, a short one (fewer than
    ``MIN_UNIT_TOKENS`` words) joined to its neighbour in the same paragraph."""
    if not len(token_starts):
        return np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
    cuts, breaks = [], []
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        line_end = match.group()[0] == "\n"
        if line_end or (end < len(text) and (text[end].isupper() or text[end].isdigit() or text[end] in _OPENING)):
            cuts.append(end)
            breaks.append(line_end)
    segment = np.searchsorted(np.array(cuts, dtype=np.int64), token_starts, side="right")  # 0: before the first cut
    paragraph_of = np.r_[0, np.cumsum(breaks, dtype=np.int64)]
    segments, first_token, tokens = np.unique(segment, return_index=True, return_counts=True)  # those with words
    paragraphs = paragraph_of[segments]
    long = tokens >= MIN_UNIT_TOKENS
    new_unit = np.r_[True, (paragraphs[1:] != paragraphs[:-1]) | (long[1:] & long[:-1])]
    unit_of_token = (np.cumsum(new_unit) - 1)[np.searchsorted(segments, segment)]
    first = np.flatnonzero(np.r_[True, unit_of_token[1:] != unit_of_token[:-1]])
    last = np.r_[first[1:] - 1, len(token_starts) - 1]
    stops = np.r_[token_starts[first[1:]], len(text)]
    ends = [_end_of(text, end, stop) for end, stop in zip(token_ends[last].tolist(), stops.tolist())]
    return token_starts[first].astype(np.int64), np.array(ends, dtype=np.int64), paragraphs[new_unit]


def _end_of(text: str, token_end: int, stop: int) -> int:
    """Where a unit whose last token ends at ``token_end`` ends: after its closing punctuation."""
    tail = text[token_end:stop]
    return token_end + len(tail) - len(tail.lstrip(".!?…,;:\"'”’»)]"))


def unpack(record: bytes) -> Passages:
    threshold, units, seeds, wide = np.frombuffer(record, dtype=np.uint32, count=4).tolist()
    offsets, width = (np.uint32, 4) if wide else (np.uint16, 2)
    at = _HEADER_BYTES
    gaps = np.frombuffer(record, offsets, units, at).astype(np.int64)
    lengths = np.frombuffer(record, offsets, units, at + width * units).astype(np.int64)
    tokens = np.frombuffer(record, np.uint16, units, at + 2 * width * units)
    counts = np.frombuffer(record, np.uint16, units, at + (2 * width + 2) * units)
    hashes = np.frombuffer(record, np.uint32, seeds, at + (2 * width + 4) * units)
    starts = np.cumsum(gaps + np.r_[0, lengths[:-1]])
    return Passages(
        threshold, starts, starts + lengths, np.cumsum(tokens >> 15) - 1, tokens & 0x7FFF,
        np.repeat(np.arange(units), counts), hashes,
    )


# ---------------------------------------------------------------------------- alignment


class Holder(NamedTuple):
    """An article as reuse sees it: its passage record and its story."""

    id: str
    h: int  # id_hash(id)
    key: SortKey
    story: str
    story_key: SortKey  # the sort key of its story's canonical
    story_size: int  # its story's articles
    record: bytes


class _Pair(NamedTuple):
    """The target compared with one article of another story, on the seeds under both thresholds."""

    source: Holder
    theirs_passages: Passages  # the source's record
    counts: np.ndarray  # per unit of the target: its seeds
    held: np.ndarray  # per unit: how many of them the source holds
    own: np.ndarray  # per unit: over those, the articles of the target's story holding each ...
    own_canonical: np.ndarray  # ... and whether its canonical does
    theirs: np.ndarray  # per unit: the same for the source's story
    their_canonical: np.ndarray
    shared: np.ndarray  # the shared seeds
    stitches: bool  # the target holds nearly all of the source ...
    stitched: bool  # ... the source nearly all of the target


def reuse_rows(target: Holder, matches: dict, holders: dict, config: ReuseConfig, records: Optional[dict] = None) -> list:
    """``reuse`` rows (without run stamps) of ``target``: ``matches`` maps the id hash of each
    article of another story sharing seeds with it to those seeds (``shared_seeds``' match rows
    without target and source), ``holders`` maps id hashes to holders; ``records``: their unpacked
    records by id hash, filled as they are needed (a shard's targets share sources)."""
    if not matches:
        return []
    records = {} if records is None else records
    for h in matches:
        if h not in records:
            records[h] = unpack(holders[h].record)
    mine = unpack(target.record)
    pairs = [
        _pair(mine, holders[h], records[h], np.array(shared, dtype=np.int64), config) for h, shared in sorted(matches.items())
    ]
    pairs = [pair for pair in pairs if not pair.stitched]  # not its compilation page, nor a templated sibling
    best, rank = np.full(len(mine.starts), -1), np.full(len(mine.starts), None, dtype=object)
    for index, pair in enumerate(pairs):
        for unit, story_text in _taken_units(mine, target, pair, config):
            candidate = (not story_text, pair.source.key)  # a source whose story holds the text comes first
            if rank[unit] is None or candidate < rank[unit]:
                best[unit], rank[unit] = index, candidate
    rows, unit = [], 0
    while unit < len(best):
        last = unit
        while last + 1 < len(best) and best[last + 1] == best[unit]:
            last += 1
        if best[unit] >= 0 and mine.tokens[unit : last + 1].sum() >= config.min_passage_words:
            rows.append(_row(target, mine, pairs[best[unit]], unit, last))
        unit = last + 1
    return rows


def _pair(mine: Passages, source: Holder, theirs: Passages, shared: np.ndarray, config: ReuseConfig) -> _Pair:
    threshold = min(mine.threshold, theirs.threshold)
    shared = shared[(shared[:, 0] & 0xFFFF) < threshold]
    shared = shared[np.argsort(shared[:, 0], kind="stable")]
    mine_under = (mine.seeds & 0xFFFF) < threshold
    position = np.searchsorted(shared[:, 0], mine.seeds) if len(shared) else np.zeros(len(mine.seeds), np.int64)
    held = mine_under & (position < len(shared)) & (shared[np.minimum(position, len(shared) - 1), 0] == mine.seeds)
    theirs_under = theirs.seeds[(theirs.seeds & 0xFFFF) < threshold]
    theirs_held = np.count_nonzero(np.isin(theirs_under, shared[:, 0]))
    units, at = len(mine.starts), mine.units[held]
    return _Pair(
        source, theirs, np.bincount(mine.units[mine_under], minlength=units), np.bincount(at, minlength=units),
        *(np.bincount(at, weights=shared[position[held], column], minlength=units) for column in (1, 2, 3, 4)),
        shared[:, 0],
        stitches=bool(len(theirs_under)) and theirs_held >= config.stitch_containment * len(theirs_under),
        stitched=bool(mine_under.any()) and np.count_nonzero(held) >= config.stitch_containment * np.count_nonzero(mine_under),
    )


def _taken_units(mine: Passages, target: Holder, pair: _Pair, config: ReuseConfig) -> list:
    """(unit, whether the source's story holds it as its text) for each unit of the target taken
    from the pair's source.  A unit's text belongs to a story when most of its articles hold it:
    the target took it from the source when it belongs to the source's story and not its own,
    to both and the source's story is older, to neither and the source is older, or when the
    target stitched the source in."""
    def held(held, counts):
        return (held >= config.min_unit_seeds) & (held >= config.min_coverage * counts) & (counts > 0)

    weights = (pair.held, pair.counts, pair.own, pair.own_canonical, pair.theirs, pair.their_canonical)
    by_paragraph = [np.bincount(mine.paragraphs, weights=w) for w in weights]
    taken = held(pair.held, pair.counts) | held(*by_paragraph[:2])[mine.paragraphs]
    source, taken_units = pair.source, []
    for unit in np.flatnonzero(taken).tolist():
        values = [w[unit] for w in weights] if pair.held[unit] else [w[mine.paragraphs[unit]] for w in by_paragraph]
        held_seeds, _, own, own_canonical, theirs, their_canonical = values  # (held as part of its paragraph)
        ours = own >= held_seeds * target.story_size / 2 or own_canonical > held_seeds / 2
        their_text = theirs > held_seeds * source.story_size / 2 or their_canonical > held_seeds / 2
        if ours == their_text:  # both stories' text (the older lent it), or neither's (the one holding more)
            older = source.story_key < target.story_key if ours else (theirs / source.story_size, target.key) > (
                own / target.story_size, source.key)
        if pair.stitches or (their_text and not ours) or (ours == their_text and older):
            taken_units.append((unit, pair.stitches or their_text))
    return taken_units


def _row(target: Holder, mine: Passages, pair: _Pair, first: int, last: int) -> dict:
    """The reuse row of the target's units ``first..last``, taken from ``pair.source``."""
    in_passage = (mine.units >= first) & (mine.units <= last)
    seeds = mine.seeds[in_passage & np.isin(mine.seeds, pair.shared)]
    theirs = pair.theirs_passages
    if not len(seeds):  # units held as part of a paragraph whose held seeds went to an earlier source
        seeds = pair.shared
    their_units = np.bincount(theirs.units[np.isin(theirs.seeds, seeds)], minlength=len(theirs.starts))
    holding = np.flatnonzero(their_units >= min(2, their_units.max()))
    counts = pair.counts[first : last + 1].sum()
    return {
        "article_id": target.id,
        "start": int(mine.starts[first]),
        "end": int(mine.ends[last]),
        "source_article_id": pair.source.id,
        "source_story_id": pair.source.story,
        "source_start": int(theirs.starts[holding[0]]),
        "source_end": int(theirs.ends[holding[-1]]),
        "similarity": round(float(pair.held[first : last + 1].sum() / counts), 4) if counts else 0.0,
    }


def digest(rows: list) -> str:
    """A short digest of an article's reuse set ("" for none): the index keeps it to tell a change."""
    if not rows:
        return ""
    fields = ("start", "end", "source_article_id", "source_story_id", "source_start", "source_end", "similarity")
    return hashlib.sha1(repr([tuple(row[f] for f in fields) for row in rows]).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- per-shard steps
#
# The steps of ``reuse.DetectReuse``, like ``clustering``'s: each takes one shard's grouped input
# and returns (output tag, value) pairs, so a pool process runs it without importing Beam.


def record_batch(batch: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """(shard, packed articles) -> the articles' (id, content sha1, passage record) ("records")."""
    shard, packed_articles = batch
    articles = list(unpacked([packed_articles]))
    records = passage_records([a.get("text") or "" for a in articles], reuse)
    return [("records", (shard, pack([(a["article_id"], a.get("content_sha1"), r) for a, r in zip(articles, records)])))]


def holders_of(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """Every clustered article of a shard as a ``Holder`` ("holders": with whether its record is
    new and its indexed reuse digest), and its seeds for the seed shards ("postings"): the record
    of this run's content, else the passage index's latest row."""
    shard, groups = group
    latest = {}
    for row in unpacked(groups["prior"]):
        held = latest.get(row["article_id"])
        if held is None or index_order(row) >= index_order(held):
            latest[row["article_id"]] = row
    new = {article_id: (sha, record) for article_id, sha, record in unpacked(groups["new"])}
    holders, seeds, paragraphs, ids, stories, canonical = [], [], [], [], [], []
    for article_id, story, key, story_key, size in unpacked(groups["members"]):
        prior, fresh = latest.get(article_id), new.get(article_id)
        if fresh is not None and (prior is None or prior["content_sha1"] != fresh[0]):
            sha, record = fresh
        elif prior is not None:
            sha, record, fresh = prior["content_sha1"], prior["seeds"], None
        else:  # clustered before passage records were kept: ``newsbeam repair`` makes them
            continue
        holder = Holder(article_id, id_hash(article_id), key, story, story_key, size, record)
        holders.append((holder, sha, fresh is not None, prior["reuse_digest"] if prior is not None else None))
        passages = unpack(record)
        mine, first = np.unique(passages.seeds, return_index=True)
        seeds.append(mine)
        paragraphs.append(passages.paragraphs[passages.units[first]].astype(np.int64))
        ids.append(np.full(len(mine), holder.h, dtype=np.int64))
        stories.append(np.full(len(mine), id_hash(story), dtype=np.int64))
        canonical.append(np.full(len(mine), article_id == story_key.article_id, dtype=np.int64))
    postings = []
    if seeds:
        seeds = np.concatenate(seeds)
        postings = split_by_shard(
            seeds % np.uint32(config.lsh_shards), seeds, *map(np.concatenate, (ids, stories, canonical, paragraphs)),
        )
    return [("holders", (shard, pack(holders))), *(("postings", entry) for entry in postings)]


def shared_seeds(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """A seed shard's seeds held by articles of at least two stories (and at most
    ``max_seed_holders`` articles): for every ordered pair of such articles of other stories,
    (target, source, seed, then for the target's story and the source's: how many of its
    articles hold the seed, whether its canonical does; the seed's paragraph in the target), to
    the target's shard."""
    _, parts = group
    seeds = np.concatenate([np.frombuffer(p[0], dtype=np.uint32) for p in parts]).astype(np.int64)
    ids, stories, canonical, paragraphs = (
        np.concatenate([np.frombuffer(p[k], dtype=np.int64) for p in parts]) for k in (1, 2, 3, 4)
    )
    order = np.lexsort((ids, stories, seeds))
    seeds, ids, stories, canonical, paragraphs = seeds[order], ids[order], stories[order], canonical[order], paragraphs[order]
    run_starts = np.flatnonzero(np.r_[True, seeds[1:] != seeds[:-1]])
    run_lengths = np.diff(np.r_[run_starts, len(seeds)])
    group_starts = np.flatnonzero(np.r_[True, (seeds[1:] != seeds[:-1]) | (stories[1:] != stories[:-1])])
    group_sizes = np.diff(np.r_[group_starts, len(seeds)])
    story_holders = np.repeat(group_sizes, group_sizes)
    canonical_holds = np.repeat(np.maximum.reduceat(canonical, group_starts) if len(seeds) else canonical, group_sizes)
    runs = (run_lengths >= 2) & (run_lengths <= reuse.max_seed_holders) & (story_holders[run_starts] < run_lengths)
    starts, lengths = run_starts[runs], run_lengths[runs]
    # every ordered pair within each kept run: element k of a run of length n pairs with the n others
    members = np.repeat(starts, lengths) + _ranges(lengths)
    partners_per_member = np.repeat(lengths, lengths)
    target = np.repeat(members, partners_per_member)
    source = np.repeat(np.repeat(starts, lengths), partners_per_member) + _ranges(partners_per_member)
    other = stories[target] != stories[source]
    target, source = target[other], source[other]
    matches = np.stack([
        ids[target], ids[source], seeds[target], story_holders[target], canonical_holds[target],
        story_holders[source], canonical_holds[source], paragraphs[target],
    ], 1)
    return [(None, entry) for entry in split_by_shard(matches[:, 0] % config.lsh_shards, matches)]


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n of ``lengths``, one after another."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - lengths, lengths)


def pair_requests(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """A target shard's shared seeds, kept for the pairs sharing at least ``min_unit_seeds`` in one
    paragraph of the target (none of the others can hold a unit) ("matches"), and a (source,
    target) request to the source's shard for each of those pairs ("requests")."""
    shard, parts = group
    matches = np.concatenate([np.frombuffer(p[0], dtype=np.int64).reshape(-1, _MATCH_COLUMNS) for p in parts])
    pairs, pair_of = np.unique(matches[:, :2], axis=0, return_inverse=True)
    _, paragraph_of, counts = np.unique(matches[:, [0, 1, 7]], axis=0, return_inverse=True, return_counts=True)
    pair_of, paragraph_of = pair_of.ravel(), paragraph_of.ravel()
    kept = np.zeros(len(pairs), dtype=bool)
    kept[pair_of[(counts >= reuse.min_unit_seeds)[paragraph_of]]] = True
    if not kept.any():
        return []
    matches, kept_pairs = matches[kept[pair_of]], pairs[kept]
    requests = split_by_shard(kept_pairs[:, 1] % config.lsh_shards, kept_pairs[:, ::-1].copy())
    return [("matches", (shard, [matches.tobytes()])), *(("requests", entry) for entry in requests)]


def send_holders(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """Each requested holder of a shard, once to the shard of every target that shares seeds with it."""
    _, groups = group
    requested = [np.frombuffer(r[0], dtype=np.int64).reshape(-1, 2) for r in groups["requests"]]
    if not requested:
        return []
    holders = {holder.h: holder for holder, *_ in unpacked(groups["holders"])}
    wanted = np.unique(np.stack([(pairs := np.concatenate(requested))[:, 0], pairs[:, 1] % config.lsh_shards], 1), axis=0)
    batches = {}
    for source, target_shard in wanted.tolist():
        if source in holders:
            batches.setdefault(target_shard, []).append(holders[source])
    return [(None, (target_shard, pack(items))) for target_shard, items in batches.items()]


def decide_reuse(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """A shard's articles' reuse sets: the ``reuse`` rows of each set that changed (a
    "retraction" row for one that became empty) and ``passage_index`` rows ("index") for the
    articles whose record is new or whose set changed."""
    _, groups = group
    holders = {holder.h: holder for holder in unpacked(groups["sources"])}
    matches = defaultdict(lambda: defaultdict(list))
    for part in groups["matches"]:
        for target, source, *shared in np.frombuffer(part[0], dtype=np.int64).reshape(-1, _MATCH_COLUMNS).tolist():
            matches[target][source].append(shared)
    outbox, records = Outbox(config.lsh_shards), {}
    for holder, sha, fresh, previous in unpacked(groups["holders"]):
        rows = reuse_rows(holder, matches.get(holder.h, {}), holders, reuse, records)
        now = digest(rows)
        if now != (previous or ""):
            outbox.count("changed_reuse_sets")
            for row in rows or [{"article_id": holder.id}]:
                outbox.emit(None, {**row, "row_kind": "new" if rows else "retraction"})
        if fresh or now != previous:
            outbox.emit("index", {
                "article_id": holder.id, "content_sha1": sha, "seeds": holder.record, "reuse_digest": now,
                "passage_version": reuse.passage_version,
            })
    return outbox.pairs()
