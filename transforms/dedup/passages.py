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
  of ``textmatch.tokens``: case, NFC/NFD and old/new Vietnamese tone-mark placement give one
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

import functools
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numba
import numpy as np

from transforms.dedup import minhash
from transforms.dedup.clustering import Outbox, unique_rows
from transforms.dedup.fingerprints import (
    id_hash,
    joined_table,
    latest_rows,
    pack,
    split_by_shard,
    unpacked,
)
from transforms.dedup.rules import DedupConfig, SortKey
from transforms.dedup.textmatch import Tokens, tokens
from transforms.settings import check_ranges, setting

MIN_UNIT_TOKENS = 8  # a shorter sentence joins its neighbour
_FULL = 1 << 16  # sampling thresholds are on a seed's low 16 bits
_LATEST = (1 << 31) - 1  # the publication minute of an article that has none
# a holding (an article's seeds in one seed shard) as it travels, its seeds after it in a uint32
# array: the article's id hash, its story id hash (low 32 bits: two stories sharing a seed rarely
# collide), whether it is its story's canonical, its publication minute, its record's sampling
# threshold, and how many of its seeds follow
_HOLDING = np.dtype([("article", "<i8"), ("story", "<u4"), ("canonical", "u1"), ("minute", "<i4"), ("threshold", "<u4"),
                     ("seeds", "<u4")])
# a match (a seed a target shares with another story) as it travels: target, source (the story's
# earliest holder of the seed), seed, (holders, canonical holds) of both stories, the source's
# story and threshold
_MATCH = np.dtype([("target", "<i8"), ("source", "<i8"), ("seed", "<u4"), ("own", "<u4"), ("own_canonical", "u1"),
                   ("theirs", "<u4"), ("their_canonical", "u1"), ("story", "<u4"), ("threshold", "<u4")])
_HEADER_BYTES, _UNIT_BYTES = 16, 8  # a record: 4 uint32, then per unit 4 uint16 (uint32 offsets in huge texts), seeds


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
    max_seed_stories: int = setting(32, at_least=2)  # a seed in more stories is boilerplate or a stock phrase

    def __post_init__(self):
        check_ranges(self, "reuse")

    @functools.cached_property  # (read for every article's index row)
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


def passage_records(texts: list, config: ReuseConfig, tokenised: Optional[Tokens] = None) -> list:
    """The packed passage record of each text (see the module docstring), for a batch of texts at
    once (``tokenised``: their ``textmatch.tokens``, when the caller has them): one compiled pass
    cuts them all into units and finds their quoted words, numpy samples and packs the rest."""
    if not texts:
        return []
    t = tokenised or tokens(texts)
    max_units = max(1, config.max_record_bytes // 2 // _UNIT_BYTES)  # units take at most half a record
    unit_of, quoted, starts, ends, paragraphs, sizes, unit_cuts = _units(
        t.code_points, t.bounds, t.offsets, t.starts, t.ends, _sentence_starts(), MIN_UNIT_TOKENS, max_units,
    )
    size, texts_count = config.shingle_size, len(t.offsets) - 1
    shingles = minhash._combine(t.hashes, size)
    inside = unit_of[: len(shingles)] == unit_of[size - 1 :]  # inside one unit (so one text)
    for k in range(size):  # and no word of it quoted
        inside &= ~quoted[k : k + len(shingles)]
    positions = np.flatnonzero(inside)
    seeds = (shingles[positions] >> np.uint64(32)).astype(np.uint32)
    seed_cuts = np.searchsorted(positions, t.offsets)
    # the sampling threshold of each text: seed_rate, lowered where the record would not fit
    low = seeds & 0xFFFF
    thresholds = np.full(texts_count, round(_FULL * config.seed_rate), dtype=np.int64)
    room = (config.max_record_bytes - _HEADER_BYTES - _UNIT_BYTES * np.diff(unit_cuts)) // 4
    under = np.r_[0, np.cumsum(low < thresholds[0])]
    for k in np.flatnonzero(under[seed_cuts[1:]] - under[seed_cuts[:-1]] > room).tolist():
        mine = low[seed_cuts[k] : seed_cuts[k + 1]]
        thresholds[k] = int(np.sort(mine[mine < thresholds[k]])[room[k]])
    kept = np.flatnonzero(low < np.repeat(thresholds, np.diff(seed_cuts)))  # (positions: a random mask indexes slowly)
    kept_cuts = np.searchsorted(kept, seed_cuts)
    seeds, counts = seeds[kept], np.bincount(unit_of[positions[kept]], minlength=len(starts))
    buffer, offsets = _pack_all(thresholds, unit_cuts, kept_cuts, starts, ends, paragraphs, sizes, counts, seeds)
    packed = buffer.tobytes()
    return [packed[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


@functools.cache
def _sentence_starts() -> np.ndarray:
    """Per code point: whether a sentence may start with it (a capital or a digit)."""
    return np.array([chr(c).isupper() or chr(c).isdigit() for c in range(_TABLE_SIZE)], dtype=np.bool_)


_TABLE_SIZE = 0x30000
_QUOTE_SPAN = 800  # a quotation longer than this (or not closed on its line) is not one


@numba.njit(cache=True, nogil=True, inline="always")
def _ends_sentence(c):  # . ! ? …
    return c == 46 or c == 33 or c == 63 or c == 0x2026


@numba.njit(cache=True, nogil=True, inline="always")
def _closes(c):  # " ' ” ’ » ) ]
    return c == 34 or c == 39 or c == 0x201D or c == 0x2019 or c == 0xBB or c == 41 or c == 93


@numba.njit(cache=True, nogil=True, inline="always")
def _opens(c):  # " ' “ ‘ « (
    return c == 34 or c == 39 or c == 0x201C or c == 0x2018 or c == 0xAB or c == 40


@numba.njit(cache=True, nogil=True, inline="always")  # a call per token: inlined, 20% off ``_units``
def _gap_break(code_points, start, stop, sentence_starts):
    """2 when a line ends between two tokens (code points ``start..stop``, the next token
    starting at ``stop``), 1 when a sentence does (end punctuation, closing quotes, spaces, then a
    capital, digit or opening quote), else 0."""
    state = 0  # 1: after end punctuation (and closers), 2: then spaces, 3: then an opening quote
    for at in range(start, stop):
        c = code_points[at]
        if c == 10:
            return 2
        if _ends_sentence(c):
            state = 1
        elif state == 1 and _closes(c):
            pass
        elif state >= 1 and state != 3 and (c == 32 or c == 9):
            state = 2
        elif state == 2 and _opens(c):
            state = 3
        elif state != 3:
            state = 0
    first = code_points[stop]
    if state == 3 or (state == 2 and first < len(sentence_starts) and sentence_starts[first]):
        return 1
    return 0


@numba.njit(cache=True, nogil=True, inline="always")
def _quote_marks(code_points, start, stop, quote, opened_at, inside_from, token, quoted):
    """Follow the quotation marks between two tokens (code points ``start..stop``, ``token`` the
    next one): (the open quotation's closing mark or 0, where it opened, its first token).  A
    quotation closed on its line within ``_QUOTE_SPAN`` characters marks its tokens ``quoted``."""
    for at in range(start, stop):
        c = code_points[at]
        if c == 10:
            quote = 0
        elif quote and (c == quote or (c == 0x201C and code_points[opened_at] == 0x201E)):
            if at - opened_at <= _QUOTE_SPAN:
                quoted[inside_from:token] = True
            quote = 0
        elif not quote and (c == 34 or c == 0x201C or c == 0xAB or c == 0x201E):
            quote, opened_at, inside_from = (34 if c == 34 else 0xBB if c == 0xAB else 0x201D), at, token
    return quote, opened_at, inside_from


@numba.njit(cache=True, nogil=True)
def _units(code_points, bounds, offsets, starts, ends, sentence_starts, min_tokens, max_units):
    """The units of a batch of texts, and their words in quotation marks: per token its unit
    (numbered over the batch) and whether it is quoted, per unit its start and end in its text,
    paragraph and words, per text its first unit.  A unit is a sentence; one of fewer than
    ``min_tokens`` words joins its neighbour in the same paragraph; a text of more than
    ``max_units`` units has units of several sentences."""
    tokens = offsets[-1]
    unit_of = np.empty(tokens, np.int64)
    quoted = np.zeros(tokens, np.bool_)
    unit_starts = np.empty(tokens, np.int64)
    unit_ends = np.empty(tokens, np.int64)
    paragraphs = np.empty(tokens, np.int64)
    sizes = np.zeros(tokens, np.int64)
    unit_cuts = np.zeros(len(offsets), np.int64)
    segment_of = np.empty(tokens, np.int64)
    segment_paragraph = np.empty(tokens, np.int64)
    segment_size = np.zeros(tokens, np.int64)
    units = 0
    for text in range(len(offsets) - 1):
        base, first, last = bounds[text], offsets[text], offsets[text + 1]
        unit_cuts[text] = units
        if first == last:
            continue
        segment, paragraph = first, 0
        segment_paragraph[segment] = 0
        quote, opened_at, inside_from = _quote_marks(code_points, base, base + starts[first], 0, 0, first, first, quoted)
        for i in range(first, last):
            if i > first:
                gap_start, gap_stop = base + ends[i - 1], base + starts[i]
                if gap_stop > gap_start + 1 or code_points[gap_start] != 32:  # (most gaps: one space, nothing to see)
                    kind = _gap_break(code_points, gap_start, gap_stop, sentence_starts)
                    if kind:
                        segment += 1
                        paragraph += kind == 2
                        segment_paragraph[segment] = paragraph
                    quote, opened_at, inside_from = _quote_marks(
                        code_points, gap_start, gap_stop, quote, opened_at, inside_from, i, quoted)
            segment_of[i] = segment
            segment_size[segment] += 1
        _quote_marks(code_points, base + ends[last - 1], bounds[text + 1], quote, opened_at, inside_from, last, quoted)
        # segments -> sentences: a new one at a paragraph, or where both neighbours are long enough
        sentence_of = np.empty(segment - first + 1, np.int64)
        sentences = 0
        for k in range(first, segment + 1):
            sentences += k == first or segment_paragraph[k] != segment_paragraph[k - 1] or (
                segment_size[k] >= min_tokens and segment_size[k - 1] >= min_tokens)
            sentence_of[k - first] = sentences - 1
        group = (sentences + max_units - 1) // max_units
        for i in range(first, last):
            unit = units + sentence_of[segment_of[i] - first] // group
            if i == first or unit != unit_of[i - 1]:
                unit_starts[unit] = starts[i]
                paragraphs[unit] = segment_paragraph[segment_of[i]]
            unit_of[i] = unit
            sizes[unit] += 1
            stop = bounds[text + 1] - base if i + 1 == last else starts[i + 1]
            end = ends[i]
            while end < stop and (_ends_sentence(code_points[base + end]) or _closes(code_points[base + end])
                                  or code_points[base + end] in (44, 58, 59)):  # , : ;
                end += 1
            unit_ends[unit] = end
        units = unit_of[last - 1] + 1
    unit_cuts[-1] = units
    return unit_of, quoted, unit_starts[:units], unit_ends[:units], paragraphs[:units], sizes[:units], unit_cuts


class Records(NamedTuple):
    """Passage records unpacked at once: per record its threshold and its first unit and seed
    (``unit_cuts``, ``seed_cuts``: a record's units and seeds are those up to the next one's), then
    the columns of ``Passages`` (``units``: per seed, its unit in its record)."""

    thresholds: np.ndarray
    unit_cuts: np.ndarray
    seed_cuts: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    paragraphs: np.ndarray
    tokens: np.ndarray
    units: np.ndarray
    seeds: np.ndarray


def unpack_all(records: list) -> Records:
    """Several passage records unpacked in one compiled pass."""
    return Records(*_unpack_all(*_joined(records)))


def _joined(records: list) -> tuple:
    """(the records' bytes one after another as uint8, where each starts and the last ends)."""
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(record) for record in records], out=offsets[1:])
    return np.frombuffer(b"".join(records), dtype=np.uint8), offsets


def unpack(record: bytes) -> Passages:
    r = unpack_all([record])
    return Passages(int(r.thresholds[0]), r.starts, r.ends, r.paragraphs, r.tokens, r.units, r.seeds)


@numba.njit(cache=True, nogil=True, inline="always")
def _uint(buffer, at, width):
    """The little-endian unsigned integer of ``width`` bytes at ``at``."""
    value = 0
    for k in range(width):
        value |= np.int64(buffer[at + k]) << (8 * k)
    return value


@numba.njit(cache=True, nogil=True, inline="always")
def _header(buffer, at):
    """The header of the record at ``at`` (layout: ``_pack_all``): (threshold, units, seeds, the
    width of its gaps and lengths, where its seeds start)."""
    units, width = _uint(buffer, at + 4, 4), 4 if _uint(buffer, at + 12, 4) else 2
    return _uint(buffer, at, 4), units, _uint(buffer, at + 8, 4), width, at + _HEADER_BYTES + (2 * width + 4) * units


@numba.njit(cache=True, nogil=True, inline="always")
def _put(buffer, at, value, width):
    """Write ``value`` at ``at`` as a little-endian unsigned integer of ``width`` bytes."""
    for k in range(width):
        buffer[at + k] = (value >> (8 * k)) & 0xFF


@numba.njit(cache=True, nogil=True)
def _pack_all(thresholds, unit_cuts, seed_cuts, starts, ends, paragraphs, sizes, counts, seeds):
    """The records of texts (``unit_cuts``, ``seed_cuts``: each one's first unit and seed) one after
    another in a uint8 buffer, and where each starts.  A record: its threshold, units, seeds and
    whether its offsets are wide (uint32 each); then, unit after unit, each column: the gap since
    the previous unit's end (the first unit's: since the text's start) and the length (uint16, or
    uint32 in a wide record), the words (uint16, the high bit set on a paragraph's first unit),
    the seed count (uint16); then its seeds (uint32)."""
    count = len(unit_cuts) - 1
    wide = np.zeros(count, np.int64)
    offsets = np.zeros(count + 1, np.int64)
    for k in range(count):
        end = 0
        for unit in range(unit_cuts[k], unit_cuts[k + 1]):
            wide[k] |= starts[unit] - end > 0xFFFF or ends[unit] - starts[unit] > 0xFFFF
            end = ends[unit]
        units = unit_cuts[k + 1] - unit_cuts[k]
        offsets[k + 1] = offsets[k] + _HEADER_BYTES + (4 + 2 * (4 if wide[k] else 2)) * units + 4 * (seed_cuts[k + 1] - seed_cuts[k])
    buffer = np.empty(offsets[-1], np.uint8)
    for k in range(count):
        first, units, width, at = unit_cuts[k], unit_cuts[k + 1] - unit_cuts[k], 4 if wide[k] else 2, offsets[k]
        for field, value in enumerate((thresholds[k], units, seed_cuts[k + 1] - seed_cuts[k], wide[k])):
            _put(buffer, at + 4 * field, value, 4)
        at += _HEADER_BYTES
        end = 0
        for u in range(units):
            unit = first + u
            new_paragraph = u == 0 or paragraphs[unit] != paragraphs[unit - 1]
            _put(buffer, at + width * u, starts[unit] - end, width)
            _put(buffer, at + width * (units + u), ends[unit] - starts[unit], width)
            _put(buffer, at + 2 * width * units + 2 * u, min(sizes[unit], 0x7FFF) | (0x8000 if new_paragraph else 0), 2)
            _put(buffer, at + (2 * width + 2) * units + 2 * u, counts[unit], 2)
            end = ends[unit]
        at += (2 * width + 4) * units
        for s in range(seed_cuts[k], seed_cuts[k + 1]):
            _put(buffer, at + 4 * (s - seed_cuts[k]), seeds[s], 4)
    return buffer, offsets


@numba.njit(cache=True, nogil=True)
def _unpack_all(buffer, offsets):
    """``Records``' columns of the records at ``offsets`` of ``buffer`` (layout: ``passage_records``)."""
    count = len(offsets) - 1
    thresholds = np.empty(count, np.int64)
    unit_cuts = np.zeros(count + 1, np.int64)
    seed_cuts = np.zeros(count + 1, np.int64)
    for k in range(count):
        thresholds[k], units_count, seeds_count, _, _ = _header(buffer, offsets[k])
        unit_cuts[k + 1], seed_cuts[k + 1] = unit_cuts[k] + units_count, seed_cuts[k] + seeds_count
    starts, ends = np.empty(unit_cuts[-1], np.int64), np.empty(unit_cuts[-1], np.int64)
    paragraphs, tokens = np.empty(unit_cuts[-1], np.int64), np.empty(unit_cuts[-1], np.int64)
    units, seeds = np.empty(seed_cuts[-1], np.int64), np.empty(seed_cuts[-1], np.uint32)
    for k in range(count):
        units_count, first_unit, seed = unit_cuts[k + 1] - unit_cuts[k], unit_cuts[k], seed_cuts[k]
        _, _, _, width, seeds_at = _header(buffer, offsets[k])
        at = offsets[k] + _HEADER_BYTES
        end, paragraph = 0, -1
        for u in range(units_count):
            start = end + _uint(buffer, at + width * u, width)
            end = start + _uint(buffer, at + width * (units_count + u), width)
            words = _uint(buffer, at + 2 * width * units_count + 2 * u, 2)
            paragraph += words >> 15
            starts[first_unit + u], ends[first_unit + u] = start, end
            paragraphs[first_unit + u], tokens[first_unit + u] = paragraph, words & 0x7FFF
            for _ in range(_uint(buffer, at + (2 * width + 2) * units_count + 2 * u, 2)):
                units[seed] = u
                seed += 1
        for s in range(seed_cuts[k], seed_cuts[k + 1]):
            seeds[s] = _uint(buffer, seeds_at + 4 * (s - seed_cuts[k]), 4)
    return thresholds, unit_cuts, seed_cuts, starts, ends, paragraphs, tokens, units, seeds


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

    def row(self) -> tuple:
        """The holder as it travels between steps: a plain tuple, its sort keys plain tuples (pickle
        makes each namedtuple with a Python call: a shard's holders took twice as long)."""
        return self.id, self.h, tuple(self.key), self.story, tuple(self.story_key), self.story_size, self.record

    @classmethod
    def of(cls, row: tuple) -> "Holder":
        article_id, h, key, story, story_key, size, record = row
        return cls(article_id, h, SortKey(*key), story, SortKey(*story_key), size, record)


class _Pair(NamedTuple):
    """The target compared with another story: with the articles of it that stand for it in the
    seeds they share with the target (each seed's earliest holder there), on the seeds under all
    their thresholds."""

    source: Holder  # the earliest of those articles
    members: list  # [(holder, its Passages, its shared seeds)]
    units: np.ndarray  # per unit of the target, the ``_TALLIES`` of its seeds ...
    paragraphs: np.ndarray  # ... and per paragraph
    stitches: bool  # the target holds nearly all of one of them ...
    stitched: bool  # ... the story nearly all of the target


def reuse_rows(target: Holder, matches: dict, holders: dict, config: ReuseConfig, records: Optional[dict] = None) -> list:
    """``reuse`` rows (without run stamps) of ``target``: ``matches`` maps the id hash of each
    article standing for another story in seeds it shares with the target to those seeds
    (``shared_seeds``' match rows without target and source, in seed order), ``holders`` maps id
    hashes to holders; ``records``: their unpacked records by id hash, filled as they are needed (a
    shard's targets share sources)."""
    if not matches:
        return []
    records = {} if records is None else records
    by_story = defaultdict(list)
    for h, shared in sorted(matches.items()):
        if h not in records:
            records[h] = unpack(holders[h].record)
        by_story[holders[h].story].append((holders[h], records[h], shared))
    mine = unpack(target.record)
    pairs = [_pair(mine, members, config) for _, members in sorted(by_story.items())]
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


# what ``_tallies`` counts, per unit and paragraph of the target: its seeds, those the source holds,
# and over the latter, the articles of the target's story holding each and whether its canonical
# does, and the same for the source's story
_SEEDS, _HELD, _OWN, _OWN_CANONICAL, _THEIRS, _THEIR_CANONICAL = range(6)


def _pair(mine: Passages, members: list, config: ReuseConfig) -> _Pair:
    """The target compared with a story through ``members`` ([(holder, Passages, match rows)])."""
    threshold = min(mine.threshold, *(theirs.threshold for _, theirs, _ in members))
    kept = [shared[(shared[:, 0] & 0xFFFF) < threshold] for _, _, shared in members]
    shared = np.concatenate(kept)
    units, paragraphs = _tallies(mine.seeds, mine.units, mine.paragraphs, threshold, shared[np.argsort(shared[:, 0])])
    stitches = any(
        len(seeds) >= config.stitch_containment * np.count_nonzero((theirs.seeds & 0xFFFF) < threshold) > 0
        for (_, theirs, _), seeds in zip(members, kept)
    )
    mine_total, held_total = units[_SEEDS].sum(), units[_HELD].sum()
    return _Pair(
        min((holder for holder, _, _ in members), key=lambda holder: holder.key),
        [(holder, theirs, seeds[:, 0]) for (holder, theirs, _), seeds in zip(members, kept)], units, paragraphs,
        stitches=stitches, stitched=bool(mine_total) and held_total >= config.stitch_containment * mine_total,
    )


@numba.njit(cache=True, nogil=True)
def _tallies(seeds, seed_units, unit_paragraphs, threshold, shared):
    """The ``_TALLIES`` per unit and per paragraph of a target's seeds under ``threshold``
    (``shared``: the pair's match rows by seed)."""
    units = np.zeros((6, len(unit_paragraphs)))
    paragraphs = np.zeros((6, unit_paragraphs[-1] + 1 if len(unit_paragraphs) else 0))
    for k in range(len(seeds)):
        seed = np.int64(seeds[k])
        if (seed & 0xFFFF) >= threshold:
            continue
        unit = seed_units[k]
        paragraph = unit_paragraphs[unit]
        units[_SEEDS, unit] += 1
        paragraphs[_SEEDS, paragraph] += 1
        row = np.searchsorted(shared[:, 0], seed)
        if row < len(shared) and shared[row, 0] == seed:
            units[_HELD, unit] += 1
            paragraphs[_HELD, paragraph] += 1
            for tally in range(_OWN, _THEIR_CANONICAL + 1):
                units[tally, unit] += shared[row, tally - 1]
                paragraphs[tally, paragraph] += shared[row, tally - 1]
    return units, paragraphs


@numba.njit(cache=True, nogil=True)
def _is_held(seeds, held, min_seeds, min_coverage):
    """Per unit (or paragraph): whether the source holds it, given its ``seeds`` and how many of
    them the source holds (``held``): at least ``min_seeds`` and ``min_coverage`` of them."""
    return (held >= min_seeds) & (held >= min_coverage * seeds) & (seeds > 0)


def _taken_units(mine: Passages, target: Holder, pair: _Pair, config: ReuseConfig) -> list:
    """(unit, whether the source's story holds it as its text) for each unit of the target taken
    from the pair's source.  A unit's text belongs to a story when most of its articles hold it:
    the target took it from the source when it belongs to the source's story and not its own,
    to both and the source's story is older, to neither and the source is older, or when the
    target stitched the source in."""
    taken = (
        _is_held(pair.units[_SEEDS], pair.units[_HELD], config.min_unit_seeds, config.min_coverage)
        | _is_held(pair.paragraphs[_SEEDS], pair.paragraphs[_HELD], config.min_unit_seeds, config.min_coverage)[mine.paragraphs]
    )
    source, taken_units = pair.source, []
    for unit in np.flatnonzero(taken).tolist():
        # a unit held as part of its paragraph is judged with its paragraph
        _, held_seeds, own, own_canonical, theirs, their_canonical = (
            pair.units[:, unit] if pair.units[_HELD, unit] else pair.paragraphs[:, mine.paragraphs[unit]]
        ).tolist()
        ours = own >= held_seeds * target.story_size / 2 or own_canonical > held_seeds / 2
        their_text = theirs > held_seeds * source.story_size / 2 or their_canonical > held_seeds / 2
        if ours == their_text:  # both stories' text (the older lent it), or neither's (the one holding more)
            older = source.story_key < target.story_key if ours else (theirs / source.story_size, target.key) > (
                own / target.story_size, source.key)
        if pair.stitches or (their_text and not ours) or (ours == their_text and older):
            taken_units.append((unit, pair.stitches or their_text))
    return taken_units


def _row(target: Holder, mine: Passages, pair: _Pair, first: int, last: int) -> dict:
    """The reuse row of the target's units ``first..last``, taken from the pair's story: from the
    article of it that holds most of the passage's seeds (of those, the earliest)."""
    passage = mine.seeds[(mine.units >= first) & (mine.units <= last)]
    held = [np.count_nonzero(np.isin(shared, passage)) for _, _, shared in pair.members]
    source, theirs, shared = min(zip(held, pair.members), key=lambda item: (-item[0], item[1][0].key))[1]
    seeds = np.intersect1d(shared, passage) if max(held) else shared  # (units held as part of a paragraph)
    their_units = np.bincount(theirs.units[np.isin(theirs.seeds, seeds)], minlength=len(theirs.starts))
    holding = np.flatnonzero(their_units >= min(2, their_units.max()))
    counts = pair.units[_SEEDS, first : last + 1].sum()
    return {
        "article_id": target.id,
        "start": int(mine.starts[first]),
        "end": int(mine.ends[last]),
        "source_article_id": source.id,
        "source_story_id": source.story,
        "source_start": int(theirs.starts[holding[0]]),
        "source_end": int(theirs.ends[holding[-1]]),
        "similarity": round(float(pair.units[_HELD, first : last + 1].sum() / counts), 4) if counts else 0.0,
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


def index_rows(articles: list, config: ReuseConfig) -> list:
    """``passage_index`` rows of articles whose reuse is still to be decided (no digest): those a
    stream wrote, or ``newsbeam repair`` found without one; the next batch run decides them."""
    records = passage_records([a.get("text") or "" for a in articles], config)
    return [
        {"article_id": a["article_id"], "content_sha1": a.get("content_sha1"), "seeds": record, "reuse_digest": None,
         "passage_version": config.passage_version}
        for a, record in zip(articles, records)
    ]


def record_items(config: ReuseConfig, articles: list, tokenised: Optional[Tokens] = None) -> list:
    """(id, content sha1, passage record) of each article (``tokenised``: their texts' tokens), as
    ``fingerprints.fingerprint_batch`` outputs them."""
    records = passage_records([a.get("text") or "" for a in articles], config, tokenised)
    return [(a["article_id"], a.get("content_sha1"), record) for a, record in zip(articles, records)]


def holders_of(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """Every clustered article of a shard as a ``Holder`` ("holders", to the shard of its id: with
    its content sha1, whether its record is new and its indexed reuse digest), and its seeds for the
    seed shards ("postings"): the record of this run's content (found under the id the article
    arrived with: ``members`` come to that id's shard), else the passage index's latest row."""
    _, groups = group
    latest = latest_rows(groups["prior"])
    new = {article_id: (sha, record) for article_id, sha, record in unpacked(groups["new"])}
    outbox, holders = Outbox(config.lsh_shards), []
    for article_id, arrived_as, story, key, story_key, size in unpacked(groups["members"]):
        prior, fresh = latest.get(article_id), new.get(arrived_as)
        if fresh is not None and (prior is None or prior["content_sha1"] != fresh[0]):
            sha, record = fresh
        elif prior is not None:
            sha, record, fresh = prior["content_sha1"], prior["seeds"], None
        else:  # clustered before passage records were kept: ``newsbeam repair`` makes them
            continue
        holder = Holder(article_id, id_hash(article_id), key, story, story_key, size, record)
        holders.append(holder)
        outbox.put("holders", holder.h, (holder.row(), sha, fresh is not None, prior["reuse_digest"] if prior is not None else None))
    return [*outbox.pairs(), *(("postings", entry) for entry in _postings(holders, config))]


def _postings(holders: list, config: DedupConfig) -> list:
    """Each holder's distinct seeds by seed shard: (shard, [its ``_HOLDING`` rows, their seeds]),
    a 25 B holding per holder with seeds in the shard, then 4 B a seed (a row per seed took 25 B)."""
    if not holders:
        return []
    seeds, holder_of, thresholds = _sharded_seeds(*_joined([holder.record for holder in holders]), config.lsh_shards)
    shards = seeds % np.uint32(config.lsh_shards)
    starts = np.flatnonzero(np.r_[True, (shards[1:] != shards[:-1]) | (holder_of[1:] != holder_of[:-1])])
    per_holder = (
        [holder.h for holder in holders],
        [id_hash(holder.story) & 0xFFFFFFFF for holder in holders],
        [holder.id == holder.story_key.article_id for holder in holders],
        [_minute(holder.key.when) for holder in holders],
        thresholds,
    )
    seed_cuts = np.r_[starts, len(seeds)]
    holdings = _table(_HOLDING, [*(np.asarray(values)[holder_of[starts]] for values in per_holder), np.diff(seed_cuts)])
    return [
        (int(shards[starts[a]]), [holdings[a:b].tobytes(), seeds[seed_cuts[a] : seed_cuts[b]].tobytes()])
        for a, b in _runs(shards[starts])
    ]


def _minute(when: float) -> int:
    """A ``SortKey.when`` as a posting's publication minute (none, infinity: ``_LATEST``)."""
    return _LATEST if when == math.inf else min(int(when // 60), _LATEST)


def _table(dtype: np.dtype, columns: list) -> np.ndarray:
    """Rows of a packed structured ``dtype`` (one bytes object a batch) from its columns."""
    table = np.empty(len(columns[0]), dtype=dtype)
    for name, column in zip(dtype.names, columns):
        table[name] = column
    return table


def _by_shard(shards: np.ndarray, table: np.ndarray) -> list:
    """[(shard, [its rows as bytes])] of a ``_table`` in shard order (``_shard_order``)."""
    return [(int(shards[a]), [table[a:b].tobytes()]) for a, b in _runs(shards)]


def _maybe_frequent(keys: np.ndarray, at_least: int) -> np.ndarray:
    """Per key (unsigned integers, hashes or mixed from hashes), whether it may occur ``at_least``
    times: a count per bucket (four buckets a key) keeps every such key and drops most others in
    linear time, before anything sorts them."""
    buckets = keys % keys.dtype.type(4 * len(keys) + 1)  # odd: a shard's seeds (equal mod shards) fill every bucket
    return np.bincount(buckets)[buckets] >= at_least


def _posted(parts: list) -> list:
    """The postings of ``_postings`` batches ``parts`` whose seed may be held more than once
    (``_maybe_frequent``), as int64 columns: seed, then the ``_HOLDING`` fields of its holder."""
    holdings = joined_table((holdings for holdings, _ in parts), _HOLDING)
    seeds = joined_table((seeds for _, seeds in parts), np.uint32)
    kept = np.flatnonzero(_maybe_frequent(seeds, 2))  # most seeds are held once
    holding_of = np.repeat(np.arange(len(holdings)), holdings["seeds"])[kept]
    return [seeds[kept].astype(np.int64), *(holdings[name][holding_of].astype(np.int64) for name in _HOLDING.names[:-1])]


class _SeedIndex(NamedTuple):
    """An open-addressing hash index of the seeds of records, one record at a time (a slot is taken
    when its ``owner`` is the record indexed): per slot its seed, its first place (in the seeds
    indexed) and last, per place the next of its seed or -1."""

    bits: int
    keys: np.ndarray
    owner: np.ndarray
    heads: np.ndarray
    lasts: np.ndarray
    after: np.ndarray


@numba.njit(cache=True, nogil=True)
def _seed_index(most, places):
    """An empty ``_SeedIndex`` for records of at most ``most`` seeds (half full at most), ``places`` in all."""
    bits = 1
    while (1 << bits) < 2 * max(1, most):
        bits += 1
    size = 1 << bits
    return _SeedIndex(bits, np.zeros(size, np.uint32), np.full(size, -1, np.int64), np.zeros(size, np.int64),
                      np.zeros(size, np.int64), np.full(places, -1, np.int64))


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(index, seed):
    """A seed's home slot (Fibonacci hashing: a seed's low bits are sampled, not random)."""
    return np.int64(((np.uint64(seed) * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)) >> np.uint64(32 - index.bits))


@numba.njit(cache=True, nogil=True, inline="always")
def _add(index, record, place, seed):
    """Index ``seed`` at ``place`` for ``record``: whether it is the record's first of its value."""
    slot = _slot(index, seed)
    while index.owner[slot] == record and index.keys[slot] != seed:
        slot = (slot + 1) & (len(index.keys) - 1)
    first = index.owner[slot] != record
    if first:
        index.owner[slot], index.keys[slot], index.heads[slot] = record, seed, place
    else:
        index.after[index.lasts[slot]] = place
    index.lasts[slot] = place
    return first


@numba.njit(cache=True, nogil=True, inline="always")
def _first_place(index, record, seed):
    """The first place of ``seed`` in ``record`` (the one indexed last), or -1."""
    slot = _slot(index, seed)
    while index.owner[slot] == record:
        if index.keys[slot] == seed:
            return index.heads[slot]
        slot = (slot + 1) & (len(index.keys) - 1)
    return -1


@numba.njit(cache=True, nogil=True)
def _sharded_seeds(buffer, offsets, shards):
    """The distinct seeds of the records at ``offsets`` of ``buffer`` (layout: ``passage_records``),
    by seed shard (``shards`` of them; by record within one), with the record of each, and each
    record's threshold: one pass finds each record's distinct seeds (``_SeedIndex``), then a
    counting sort (``_shard_order``)."""
    count = len(offsets) - 1
    thresholds, firsts, sizes = np.empty(count, np.int64), np.empty(count, np.int64), np.empty(count, np.int64)
    for k in range(count):
        thresholds[k], _, sizes[k], _, firsts[k] = _header(buffer, offsets[k])
    index = _seed_index(sizes.max() if count else 0, sizes.sum())
    seeds, records = np.empty(sizes.sum(), np.uint32), np.empty(sizes.sum(), np.int64)
    n = 0
    for k in range(count):
        for s in range(sizes[k]):
            seed = np.uint32(_uint(buffer, firsts[k] + 4 * s, 4))
            if _add(index, k, n, seed):
                seeds[n], records[n] = seed, k
                n += 1
    order = _shard_order(seeds[:n] % shards, shards)
    return seeds[order], records[order], thresholds


@numba.njit(cache=True, nogil=True)
def _shard_order(shards, count):
    """The positions of ``shards`` (each under ``count``) in shard order (a stable counting sort)."""
    starts = np.zeros(count + 1, np.int64)
    for shard in shards:
        starts[shard + 1] += 1
    starts = np.cumsum(starts)
    positions = np.empty(len(shards), np.int64)
    for k in range(len(shards)):
        positions[starts[shards[k]]] = k
        starts[shards[k]] += 1
    return positions


def shared_seeds(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """A seed shard's seeds held by articles of at least two and at most ``max_seed_stories``
    stories: for every article holding one and every other story holding it, the ``_MATCH`` of
    the article (target) and the story's earliest holder of the seed (source: its canonical when
    it holds it), to the target's shard."""
    _, parts = group
    seeds, ids, stories, canonical, when, thresholds = _posted(parts)
    if not len(seeds):
        return []
    order = np.argsort((seeds << 32) | stories)  # each seed's rows together, by story (high seeds wrap: first)
    repeated = seeds[order][1:] == seeds[order][:-1]
    order = order[np.r_[repeated, False] | np.r_[False, repeated]]  # a seed held once pairs nothing
    if not len(order):
        return []
    seeds, ids, stories, canonical, when, thresholds = (column[order] for column in (seeds, ids, stories, canonical, when, thresholds))
    new_seed = np.r_[True, seeds[1:] != seeds[:-1]]
    new_group = new_seed | np.r_[True, stories[1:] != stories[:-1]]
    group_starts = np.flatnonzero(new_group)
    group_sizes = np.diff(np.r_[group_starts, len(seeds)])
    group_of = np.cumsum(new_group) - 1
    runs = np.flatnonzero(new_seed[group_starts])  # first group of each seed
    run_groups = np.diff(np.r_[runs, len(group_starts)])
    kept = (run_groups >= 2) & (run_groups <= reuse.max_seed_stories)
    run_of_group = np.repeat(np.arange(len(runs)), run_groups)
    # each story's earliest holder of the seed: its canonical when it holds it, else the earliest published
    rank = ((1 - canonical) << 32) | (when + (1 << 31))
    ties = np.where(rank == np.minimum.reduceat(rank, group_starts)[group_of], ids, np.iinfo(np.int64).max)
    earliest = np.flatnonzero(ties == np.minimum.reduceat(ties, group_starts)[group_of])  # one per group (ids differ)
    canonical_holds = np.maximum.reduceat(canonical, group_starts)
    # each holder of a kept seed against each story holding it: holder k pairs with its seed's groups
    holders = np.flatnonzero(kept[run_of_group[group_of]])
    partners = run_groups[run_of_group[group_of[holders]]]
    target = np.repeat(holders, partners)
    other_group = np.repeat(runs[run_of_group[group_of[holders]]], partners) + _ranges(partners)
    mine = group_of[target] != other_group
    target, other_group = target[mine], other_group[mine]
    source = earliest[other_group]
    matches = (
        ids[target], ids[source], seeds[target], group_sizes[group_of[target]], canonical_holds[group_of[target]],
        group_sizes[other_group], canonical_holds[other_group], stories[source], thresholds[source],
    )
    shards = matches[0] % config.lsh_shards
    order = _shard_order(shards, config.lsh_shards)
    return [(None, entry) for entry in _by_shard(shards[order], _table(_MATCH, [column[order] for column in matches]))]


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each n of ``lengths``, one after another."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - lengths, lengths)


def pick_pairs(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """A shard's holders with their matches: the (target, other story) pairs in which a unit or a
    paragraph of the target is held (``_held_pairs``; no other pair can lend it a passage) go on
    to be decided ("targets": the holder and the pairs' match rows, and a (source, target)
    "requests" to the source's shard for each article standing for such a story); a holder with
    no such pair has no reuse, its set decided here (``_settle``)."""
    _, groups = group
    outbox = Outbox(config.lsh_shards)
    holders = list(unpacked(groups["holders"]))  # (``Holder.row``, sha1, fresh, previous digest)
    kept = _held_pairs([holder for holder, *_ in holders], groups["matches"], reuse)
    for holder, sha, fresh, previous in holders:
        _, h, *_ = holder
        if h in kept:
            outbox.put("targets", h, (holder, sha, fresh, previous, kept[h]))
        else:
            _settle(outbox, holder, sha, fresh, previous, [], reuse)
    requests = unique_rows(np.concatenate([
        np.stack([rows[:, 0], np.full(len(rows), target)], 1) for target, rows in kept.items()
    ])) if kept else np.empty((0, 2), dtype=np.int64)
    return [*outbox.pairs(), *(("requests", entry) for entry in split_by_shard(requests[:, 0] % config.lsh_shards, requests))]


def _held_pairs(holders: list, parts: list, reuse: ReuseConfig) -> dict:
    """{target id hash: its match rows [source, seed, then the holders and canonical of both
    stories], by source and seed} of the (target, story) pairs among ``parts`` (``_MATCH`` batches;
    ``holders``: the shard's ``Holder.row``s)
    in which some unit or paragraph of the target is held (``_is_held``, on the seeds under the
    target's threshold and those of every source of the story)."""
    if not parts:
        return {}
    table = joined_table((part for (part,) in parts), _MATCH)
    pairs = table["target"].astype(np.uint64) ^ (table["story"].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    table = table[np.flatnonzero(_maybe_frequent(pairs, reuse.min_unit_seeds))]  # most share a seed or two by chance
    table = table[np.lexsort((table["seed"], table["story"], table["target"]))]  # by pair, then seed
    sizes = _pair_sizes(table)
    table = table[np.repeat(sizes >= reuse.min_unit_seeds, sizes)]  # those past the filter by chance: out
    if not len(table):
        return {}
    target, source, seed, own, own_canonical, theirs, their_canonical, story, threshold = (
        table[name].astype(np.int64) for name in _MATCH.names)
    targets = np.unique(target)  # (every target is a holder of the shard)
    hashes = np.array([h for _, h, *_ in holders], dtype=np.int64)
    by_hash = np.argsort(hashes)
    records = unpack_all([holders[k][-1] for k in by_hash[np.searchsorted(hashes, targets, sorter=by_hash)]])
    record_of = np.searchsorted(targets, target)
    cuts = np.r_[0, np.cumsum(_pair_sizes(table))]
    rows = np.stack([seed, own, own_canonical, theirs, their_canonical], 1)
    held = _held_groups(cuts, record_of[cuts[:-1]], rows, threshold, records, reuse.min_unit_seeds, reuse.min_coverage)
    kept = np.flatnonzero(np.repeat(held, np.diff(cuts)))
    kept = kept[np.lexsort((seed[kept], source[kept], target[kept]))]
    rows = np.stack([source, seed, own, own_canonical, theirs, their_canonical], 1)[kept]
    return {int(target[kept[a]]): rows[a:b] for a, b in _runs(target[kept])}


def _pair_sizes(table: np.ndarray) -> np.ndarray:
    """The rows of each (target, story) pair of match rows ``table`` (sorted by pair)."""
    new_pair = np.r_[True, (table["target"][1:] != table["target"][:-1]) | (table["story"][1:] != table["story"][:-1])]
    return np.diff(np.r_[np.flatnonzero(new_pair), len(table)])


def _runs(values: np.ndarray) -> list:
    """(start, end) of each run of equal values."""
    if not len(values):
        return []
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return list(zip(starts.tolist(), np.r_[starts[1:], len(values)].tolist()))


def _held_groups(cuts, group_records, rows, thresholds, records: Records, min_seeds: int, min_coverage: float) -> np.ndarray:
    """Per group of match ``rows`` (``cuts``: one target and story each, by seed), whether it shares
    ``min_seeds`` seeds in one paragraph of its target (record ``group_records``; a seed's first
    paragraph) and a unit or paragraph of the target is held (``_is_held``)."""
    return _held_groups_compiled(
        cuts, group_records, rows, thresholds, records.thresholds, records.seed_cuts, records.seeds, records.units,
        records.unit_cuts, records.paragraphs, min_seeds, min_coverage,
    )


@numba.njit(cache=True, nogil=True)
def _held_groups_compiled(cuts, group_records, rows, row_thresholds, thresholds, seed_cuts, seeds, seed_units, unit_cuts,
                          paragraphs, min_seeds, min_coverage):
    held = np.zeros(len(cuts) - 1, np.bool_)
    current, current_threshold = -1, -1
    index = _seed_index(np.diff(seed_cuts).max() if len(seeds) else 0, len(seeds))
    for g in range(len(cuts) - 1):
        record, a, b = group_records[g], cuts[g], cuts[g + 1]
        if b - a < min_seeds:
            continue
        first, units = seed_cuts[record], paragraphs[unit_cuts[record] : unit_cuts[record + 1]]
        if record != current:  # (groups come by record) its seeds indexed
            mine = seeds[first : seed_cuts[record + 1]]
            for k in range(first, seed_cuts[record + 1]):
                _add(index, record, k, seeds[k])
            current, current_threshold, in_paragraph = record, -1, np.zeros(units[-1] + 1, np.int64)
            unit_seeds, unit_held = np.zeros(len(units), np.int64), np.zeros(len(units), np.int64)
            paragraph_seeds, paragraph_held = np.zeros(units[-1] + 1, np.int64), np.zeros(units[-1] + 1, np.int64)
        places = np.empty(b - a, np.int64)
        for r in range(a, b):
            places[r - a] = _first_place(index, record, rows[r, 0])
        places = places[places >= 0]  # (each row's seed is the target's)
        first_paragraphs = units[seed_units[places]]
        for paragraph in first_paragraphs:
            in_paragraph[paragraph] += 1
        most = in_paragraph[first_paragraphs].max() if len(places) else 0
        in_paragraph[first_paragraphs] = 0
        if most < min_seeds:
            continue
        threshold = min(thresholds[record], row_thresholds[a:b].min())
        if threshold != current_threshold:  # the target's seeds under it, per unit and paragraph
            current_threshold = threshold
            unit_seeds[:], paragraph_seeds[:] = 0, 0
            for k in range(len(mine)):
                if (mine[k] & 0xFFFF) < threshold:
                    unit_seeds[seed_units[first + k]] += 1
                    paragraph_seeds[units[seed_units[first + k]]] += 1
        unit_held[:], paragraph_held[:] = 0, 0
        for place in places:  # each row's seed under the threshold, in every unit of the target holding it
            while place >= 0 and (seeds[place] & 0xFFFF) < threshold:
                unit = seed_units[place]
                unit_held[unit] += 1
                paragraph_held[units[unit]] += 1
                place = index.after[place]
        held[g] = (_is_held(unit_seeds, unit_held, min_seeds, min_coverage).any()
                   or _is_held(paragraph_seeds, paragraph_held, min_seeds, min_coverage).any())
    return held


def send_holders(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """Each requested holder of a shard, once to the shard of every target that asked for it."""
    _, groups = group
    requested = [np.frombuffer(r[0], dtype=np.int64).reshape(-1, 2) for r in groups["requests"]]
    if not requested:
        return []
    holders = {holder[1]: holder for holder, *_ in unpacked(groups["holders"])}  # ``Holder.row``s by id hash
    wanted = unique_rows(np.stack([(pairs := np.concatenate(requested))[:, 0], pairs[:, 1] % config.lsh_shards], 1))
    batches = {}
    for source, target_shard in wanted.tolist():
        if source in holders:
            batches.setdefault(target_shard, []).append(holders[source])
    return [(None, (target_shard, pack(items))) for target_shard, items in batches.items()]


def decide_reuse(group: tuple, config: DedupConfig, reuse: ReuseConfig) -> list:
    """The reuse sets of a shard's targets (``pick_pairs``), with the holders of their sources."""
    _, groups = group
    sources = {holder.h: holder for holder in map(Holder.of, unpacked(groups["sources"]))}
    outbox, records = Outbox(config.lsh_shards), {}
    for holder, sha, fresh, previous, rows in unpacked(groups["targets"]):
        matches = {int(rows[a, 0]): rows[a:b, 1:] for a, b in _runs(rows[:, 0])}
        _settle(outbox, holder, sha, fresh, previous, reuse_rows(Holder.of(holder), matches, sources, reuse, records), reuse)
    return outbox.pairs()


def _settle(outbox: Outbox, holder: tuple, sha: Optional[str], fresh: bool, previous: Optional[str], rows: list,
            reuse: ReuseConfig):
    """An article's reuse set ``rows`` (``holder``: its ``Holder.row``): its ``reuse`` rows when it
    changed (a "retraction" row when it became empty), and a ``passage_index`` row ("index") when
    its record is new or its set changed, both in batches (``batch_rows`` unpacks them)."""
    article_id, h, *_, record = holder
    now = digest(rows)
    if now != (previous or ""):
        outbox.count("changed_reuse_sets")
        for row in rows or [{"article_id": article_id}]:
            outbox.put(None, h, {**row, "row_kind": "new" if rows else "retraction"})
    if fresh or now != previous:
        outbox.put("index", h, {
            "article_id": article_id, "content_sha1": sha, "seeds": record, "reuse_digest": now,
            "passage_version": reuse.passage_version,
        })
