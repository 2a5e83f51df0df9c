"""MinHash fingerprints, LSH banding and pair verification (pure functions, no Beam).

Signatures come from rensa (Rust MinHash; chosen over datasketch and a numpy+xxhash version
by tests/benchmarks/bench_reprints.py, which prints all three).  Tokens are hashed by
``textmatch.token_hashes`` (a batch of texts at a time), word n-gram shingles are combined from
token hashes with numpy, and the signature is taken over the set of shingle hashes.

LSH banding (the S-curve).  A signature of ``bands * rows`` minima is cut into ``bands``
bands of ``rows`` values.  Two texts with Jaccard similarity ``J`` agree on one minimum with
probability ``J``, on a whole band with ``J**rows``, and so become a candidate pair with

    P(J) = 1 - (1 - J**rows) ** bands

an S-shaped curve whose steepest point is near ``(1 / bands) ** (1 / rows)``.  With
128 minima as 42 bands x 3 rows (threshold ~0.29):  P(0.2) = 0.29, P(0.3) = 0.68,
P(0.4) = 0.93, P(0.5) = 0.995, P(0.05) = 0.005.  Verification then decides on the
estimated similarity *and* containment (see ``verify``), so the banding only has to put
true reprints in a shared bucket and keep unrelated pairs (J ~ 0.01) out of them.
``choose_banding`` picks the split for a target similarity.
"""

import itertools
from dataclasses import dataclass

import numpy as np
import rensa

_SEED = 1729
_MIX = np.array(  # odd 64-bit multipliers, one per shingle position
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
     0x94D049BB133111EB, 0xBF58476D1CE4E5B9, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
    dtype=np.uint64,
)


def _fmix(x: np.ndarray) -> np.ndarray:
    """The 64-bit finaliser of MurmurHash3, on every element (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def shingle_rows(hashes: np.ndarray, offsets: np.ndarray, size: int) -> list:
    """The word ``size``-gram hashes of each text (``textmatch.token_hashes``' hashes and offsets), in
    text order; a text shorter than one shingle gives one shingle of all its tokens.
    Repeats are kept: MinHash ignores them, and their count stands in for the set size
    (prose rarely repeats a 4-gram)."""
    shingles = _combine(hashes, size)
    return [
        shingles[start : end - size + 1] if end - start >= size else _combine(hashes[start:end], end - start)
        for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist())
    ]


def _combine(token_hashes: np.ndarray, size: int) -> np.ndarray:
    """The hashes of all windows of ``size`` consecutive token hashes."""
    count = len(token_hashes) - size + 1
    if size == 0 or count <= 0:
        return np.zeros(0, dtype=np.uint64)
    shingles = token_hashes[:count] * _MIX[0]
    for offset in range(1, size):
        mixed = token_hashes[offset : offset + count] * _MIX[offset % len(_MIX)]
        shingles = (shingles ^ (shingles >> np.uint64(29))) + mixed
    return shingles


def signatures(shingle_sets: list, num_perm: int) -> np.ndarray:
    """MinHash signatures (uint32, one row per shingle set) of several texts at once."""
    offsets = np.zeros(len(shingle_sets) + 1, dtype=np.uint64)
    np.cumsum([len(s) for s in shingle_sets], out=offsets[1:])
    flat = np.concatenate(shingle_sets) if shingle_sets else np.zeros(0, dtype=np.uint64)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, _SEED)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(shingle_sets), num_perm)


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two texts of this Jaccard similarity share at least one LSH band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


def choose_banding(num_perm: int, threshold: float) -> tuple:
    """(bands, rows) using at most ``num_perm`` minima whose S-curve midpoint
    ``(1/bands)**(1/rows)`` is closest to ``threshold`` (ties: fewer bands)."""
    options = [(num_perm // rows, rows) for rows in range(1, num_perm + 1)]
    return min(options, key=lambda br: (abs((1.0 / br[0]) ** (1.0 / br[1]) - threshold), br[0]))


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per band of a signature (or per row of a signature matrix); the band
    index is mixed in, so equal keys mean equal bands (up to 64-bit collisions, which
    verification removes)."""
    values = signatures[..., : bands * rows].astype(np.uint64).reshape(*signatures.shape[:-1], bands, rows)
    with np.errstate(over="ignore"):
        keys = (values * _MIX[:rows]).sum(axis=-1, dtype=np.uint64)
        keys ^= np.arange(bands, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    return keys


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


def intersection(jaccard: float, size_a: int, size_b: int) -> float:
    """|A n B| from Jaccard and set sizes: J (|A| + |B|) / (1 + J)."""
    return jaccard * (size_a + size_b) / (1.0 + jaccard)


def containment(jaccard: float, size_a: int, size_b: int) -> float:
    """Share of the smaller set inside the larger one (``intersection`` over its size).  A
    truncated reprint is contained in its original."""
    if min(size_a, size_b) == 0:
        return 0.0
    return min(1.0, intersection(jaccard, size_a, size_b) / min(size_a, size_b))


_NUMBER, _EDGE = np.uint64(0x8F1BBCDCBFA53E0B), np.uint64(0x3C6EF372FE94F82B)  # a masked number, no token
_BEFORE, _AFTER = (-3, -2, -1, 1), (-1, 1, 2, 3)  # the tokens of a number's two contexts, by offset


def number_sketches(hashes: np.ndarray, numbers: np.ndarray, offsets: np.ndarray, size: int) -> list:
    """Per text (``textmatch.token_hashes``' output): the bottom-``size`` sketch of its (number context,
    number) pairs as sorted uint32.  A number has two contexts, the three tokens before it and
    the three after it, each with the next token on the other side (numbers among them masked;
    none past the text's edges): high 16 bits hash a context, low 16 bits the number.  Two
    reprints agree on the numbers of every context they share; two days of a templated report
    ("giá vàng SJC mua vào 78 5 triệu") share contexts with other numbers.  Four tokens are a
    piece of one sentence, so two sentences that share only the word on each side of their
    numbers ("at least 1 of the victims", "at least 3 of the county's stations") share no
    context; one side is enough, so a word that changes beside a number (the weekday before a
    date) leaves the other.  Keeping the smallest values means two texts keep the same shared
    contexts, whatever else they contain."""
    count = len(offsets) - 1
    text_of = np.repeat(np.arange(count, dtype=np.uint64), np.diff(offsets))
    at = np.flatnonzero(numbers)
    masked = np.where(numbers, _NUMBER, hashes)
    first, last = offsets[:-1][text_of[at]], offsets[1:][text_of[at]] - 1
    number = hashes[at] & np.uint64(0xFFFF)
    values = [
        ((_context(masked, at, first, last, side, steps) >> np.uint64(48)) << np.uint64(16)) | number
        for side, steps in enumerate((_BEFORE, _AFTER))
    ]
    keys = np.unique((np.tile(text_of[at], 2) << np.uint64(32)) | np.concatenate(values))
    cuts = np.searchsorted(keys >> np.uint64(32), np.arange(count + 1, dtype=np.uint64)).tolist()
    return [keys[a:b][:size].astype(np.uint32) for a, b in itertools.pairwise(cuts)]


def _context(masked: np.ndarray, at: np.ndarray, first: np.ndarray, last: np.ndarray, side: int, steps) -> np.ndarray:
    """Hash of the tokens ``at + step`` for each step (``_EDGE`` outside the text), per side."""
    context = np.full(len(at), side, dtype=np.uint64)
    for n, step in enumerate(steps):
        where = at + step
        token = np.where((where >= first) & (where <= last), masked[np.clip(where, 0, max(len(masked) - 1, 0))], _EDGE)
        context = _fmix(context ^ (token * _MIX[n]))
    return context


def number_conflicts(sketch_a: np.ndarray, sketch_b: np.ndarray, size: int) -> tuple:
    """(shared contexts, shared contexts with other numbers) between two number sketches of
    ``size`` items, counted on contexts below both full sketches' cut-off (the bottom-k rule),
    so a truncated copy does not fake a conflict.  A context holding several numbers in one
    text is a list or a table inside it ("Starts at $12/month for 500 contacts" per product),
    not a fact of the story, and is left out."""
    cutoffs = [int(s[-1]) >> 16 for s in (sketch_a, sketch_b) if len(s) >= size]
    limit = min(cutoffs, default=0x10000)
    numbers_a, numbers_b = _numbers_by_context(sketch_a, limit), _numbers_by_context(sketch_b, limit)
    shared = [c for c in numbers_a.keys() & numbers_b.keys() if len(numbers_a[c]) == len(numbers_b[c]) == 1]
    return len(shared), sum(1 for c in shared if numbers_a[c] != numbers_b[c])


def _numbers_by_context(sketch: np.ndarray, limit: int) -> dict:
    found = {}
    for value in sketch.tolist():
        if value >> 16 < limit:
            found.setdefault(value >> 16, set()).add(value & 0xFFFF)
    return found


@dataclass(frozen=True)
class Verdict:
    jaccard: float
    containment: float
    number_conflicts: int

    @property
    def similarity(self) -> float:
        """The score reported in ``articles.similarity``: the larger of the two measures."""
        return max(self.jaccard, self.containment)


def verify(sig_a, size_a, numbers_a, sig_b, size_b, numbers_b, *, min_jaccard, min_containment,
           min_shingles, max_number_conflict_ratio, number_sketch_size):
    """A ``Verdict`` when two fingerprints are the same story, else None.

    Same story = (estimated Jaccard >= min_jaccard, or the smaller text is contained in the
    larger at >= min_containment with at least ``min_shingles`` shingles) AND the numbers they
    share contexts for agree (conflicts <= ratio * shared; any conflict with fewer than
    1/ratio shared contexts) — templated reports differ exactly there.
    """
    jaccard = estimate_jaccard(sig_a, sig_b)
    contained = containment(jaccard, size_a, size_b)
    similar = jaccard >= min_jaccard or (contained >= min_containment and min(size_a, size_b) >= min_shingles)
    if not similar:
        return None
    shared, conflicts = number_conflicts(numbers_a, numbers_b, number_sketch_size)
    if conflicts > max_number_conflict_ratio * shared:
        return None
    return Verdict(jaccard, contained, conflicts)
