"""Text normalisation for reprint matching (matching keys, not display text).

Two copies of a wire story rarely differ in their words; they differ in how the words are
written and in what a site wraps around them.  ``token_hashes`` maps both to the same tokens:

- attribution and caption lines are blanked ("(TTXVN)", "Theo Reuters", "Ảnh: …",
  "Photo: Getty Images", "Read more: …", "(Reporting by …; Editing by …)", "(Tổng hợp)");
- NFC, case-folding; tokens are runs of letters, marks and digits (every other character
  separates them: "78,5" gives the tokens 78 and 5 whatever the decimal separator);
  invisible characters (soft hyphen, zero-width joiners, variation selectors) are dropped;
- Vietnamese tone marks belong to the syllable, not to a vowel: old and new style (hoà/hòa,
  thuý/thúy, khoẻ/khỏe, quả/qủa) put the mark on different vowels, so a token is its letters
  without the five tone marks plus the marks it carries (``match_text`` writes them at its
  end), and every placement (and NFC or NFD input) gives one key;
- numbers are kept: templated reports differ only in them (see ``minhash.number_sketches``);
  a number votes there only inside an article line (``SENTENCE_WORDS`` words or more): the
  short lines of page chrome that leak into a text ("Page rendered in 789.0625 ms", "Rating:
  3.5/5 (12 votes)", "Posted: January 30, 2008") carry numbers that change from page to page.

The characters are mapped by tables built once per process from ``unicodedata`` (letter ->
case-folded letter without tone marks, its tone marks, or a separator) and tokens are hashed in
one compiled pass (numba) over a batch of texts: no Python object per token or character.
"""

import functools
import re
import unicodedata
from typing import NamedTuple

import numba
import numpy as np

_AGENCIES = (
    r"TTXVN|VNA|VOV|TTO|Reuters|AFP|AP|CNN|dpa|Xinhua|Bloomberg|ANSA|EFE|Kyodo|Yonhap|UPI|"
    r"PA|NHK|RIA|TASS|Sputnik|AAP|IANS|PTI|ANI|Bernama|Antara|KUNA|WAM|KNA|APA|Tổng hợp|TH"
)
# An agency tag in parentheses anywhere: "Hà Nội (TTXVN) - ", "(AP) — ".
_AGENCY_TAG = re.compile(r"\((?:" + _AGENCIES + r")(?:/[^()\n]{0,30})?\)[ \t]*[-–—:]?", re.IGNORECASE)
# Whole lines that carry no story text.
_NOISE_LINE = re.compile(
    r"""[ \t|*>•–—-]*(?:
        (?:theo|nguồn|source|sources|according\ to|via|quelle|fonte)\b[ \t:]*[^.,;:!?]{1,40}\.?  # "Theo Reuters"
      | (?:read\ more|related|recommended|see\ also|more\ on\ this|xem\ thêm|tin\ liên\ quan|
           đọc\ thêm|mehr\ zum\ thema|leggi\ anche)[ \t]*:.*                                # link rails
      | \([ \t]*(?:reporting|writing|editing|additional\ reporting|compiled)\b[^()]*\)        # wire credits
      | this\ (?:article|story)\ (?:originally\ )?(?:appeared|was\ (?:first\ )?published)\b.*
      | \([^()]{1,40}\)[. \t]*                                                              # "(Tổng hợp)"
    )[ \t|]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A caption marker ("Ảnh: Reuters", "Photo: Getty Images") in a line of at most _CAPTION_MAX chars.
_CAPTION = re.compile(
    r"(?:^|[ \t(.|])(?:ảnh|photo|image|picture|video|clip|foto|bild|credit|nguồn ảnh|đồ họa|graphic)[ \t]*:",
    re.IGNORECASE,
)
_CAPTION_MAX = 200


def blank_attribution(text: str) -> str:
    """``text`` with its attribution/caption/link-rail lines and inline agency tags blanked
    (spaces: every other character keeps its place); story lines as they are."""
    lines = text.split("\n")
    noisy = [is_noise(line) for line in lines]
    if any(noisy):
        text = "\n".join(" " * len(line) if noise else line for line, noise in zip(lines, noisy))
    return _AGENCY_TAG.sub(lambda match: " " * len(match.group()), text)


def is_noise(line: str) -> bool:
    """An attribution, caption or link-rail line ("Theo TTXVN", "Ảnh: …", "Read more: …")."""
    if _NOISE_LINE.match(line):
        return True
    return len(line) <= _CAPTION_MAX and ":" in line and _CAPTION.search(line) is not None


_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
_TABLE_SIZE = 0x30000  # from here on (rare CJK letters, tags, private use) a code point is a letter as it is
_SEPARATOR, _NEWLINE, _DROP, _EXPANDS = 0x20, 0x0A, 0xFFFFFFFE, 0xFFFFFFFF
# Marks that change no letter (variation selectors: "➡️"; the grapheme joiner): dropped like
# the format characters (soft hyphen, zero-width space and joiners, BOM).
_INVISIBLE_MARK = re.compile("[\u034f\u180b-\u180f\ufe00-\ufe0f]")


@functools.cache
def _tables() -> tuple:
    """Per code point: its letter (case-folded, NFC, without tone marks; ``_SEPARATOR``,
    ``_DROP`` or ``_EXPANDS`` into several letters), its tone marks (6 bits of count per mark),
    and the letters of the expansions (ß -> ss)."""
    letters = np.arange(_TABLE_SIZE, dtype=np.uint32)
    tones = np.zeros(_TABLE_SIZE, dtype=np.uint32)
    expansion_start = np.zeros(_TABLE_SIZE, dtype=np.int32)
    expansion_length = np.zeros(_TABLE_SIZE, dtype=np.int32)
    expansions = []
    for code in range(_TABLE_SIZE):
        char = chr(code)
        if char.isascii() and char.isalnum():
            letters[code] = ord(char.lower())
            continue
        category = unicodedata.category(char)
        if category == "Lo":  # no case, no tone marks (NFC input holds no compatibility ideographs)
            continue
        if category in ("Cn", "Co", "Cs"):  # unassigned, private use, lone surrogates
            letters[code] = _SEPARATOR
            continue
        if category == "Cf" or _INVISIBLE_MARK.fullmatch(char):
            letters[code] = _DROP
            continue
        folded = "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in char.casefold())
        decomposed = unicodedata.normalize("NFD", folded)
        rest = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
        tones[code] = sum(1 << (6 * _TONE_MARKS.index(c)) for c in decomposed if c in _TONE_MARKS)
        if rest.isspace():
            letters[code] = _SEPARATOR
        elif len(rest) == 1:
            letters[code] = ord(rest)
        elif not rest:
            letters[code] = _DROP
        else:
            letters[code] = _EXPANDS
            expansion_start[code], expansion_length[code] = len(expansions), len(rest)
            expansions.extend(_SEPARATOR if c.isspace() else ord(c) for c in rest)
    return letters, tones, expansion_start, expansion_length, np.array(expansions, dtype=np.uint32)


SENTENCE_WORDS = 8  # a line with fewer words (tokens that are no number) is page chrome for numbers


class Tokens(NamedTuple):
    """The tokens of a batch of texts (``tokens``): text k's are ``[offsets[k] : offsets[k + 1]]``."""

    hashes: np.ndarray  # uint64
    numbers: np.ndarray  # is-number flags
    offsets: np.ndarray
    starts: np.ndarray  # int32: where each token starts in its text (as in ``texts``) ...
    ends: np.ndarray  # ... and ends
    texts: list  # the texts NFC with their attribution blanked (same length as the NFC text)
    code_points: np.ndarray  # their UTF-32 code points, one text after another ...
    bounds: np.ndarray  # ... text k's being code_points[bounds[k] : bounds[k + 1]]


def match_text(text: str) -> str:
    """The matching form of an article text: its tokens separated by spaces, each token's
    tone marks at its end (NFC), as ``token_hashes`` hashes them."""
    _, code_points, bounds = _code_points([text])
    normal = _tokenise(code_points, bounds, *_tables(), True, SENTENCE_WORDS)[3]
    return unicodedata.normalize("NFC", normal.tobytes().decode("utf-32-le", "surrogatepass"))


def tokens(texts: list) -> Tokens:
    """The tokens of several article texts at once, normalised as above, with their places.
    A token is a number if it starts with a digit 0-9 and its line has ``SENTENCE_WORDS`` words."""
    texts, code_points, bounds = _code_points(texts)
    hashes, numbers, offsets, _, starts, ends = _tokenise(code_points, bounds, *_tables(), False, SENTENCE_WORDS)
    return Tokens(hashes, numbers, offsets, starts, ends, texts, code_points, bounds)


def token_hashes(texts: list) -> tuple:
    """(uint64 hashes, is-number flags, offsets) of ``tokens``."""
    return tokens(texts)[:3]


def _code_points(texts: list) -> tuple:
    """(the texts with attribution blanked, NFC; their UTF-32 code points one after another; bounds)."""
    texts = [unicodedata.normalize("NFC", blank_attribution(text)) for text in texts]
    bounds = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in texts], out=bounds[1:])
    return texts, np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32), bounds


_FNV_BASIS, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_LENGTH_MIX, _TONE_MIX = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD6E8FEB86659FD93)
_MARKS = np.array([ord(c) for c in _TONE_MARKS], dtype=np.uint32)


@numba.njit(cache=True, nogil=True)
def _fmix(x):
    """The 64-bit finaliser of MurmurHash3."""
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


@numba.njit(cache=True, nogil=True)
def _tokenise(code_points, bounds, letters, tones, expansion_start, expansion_length, expansions, render,
              sentence_words):
    """One pass over the texts' code points: (token hashes, is-number flags, token offsets per
    text, with ``render`` the normalised text (else nothing), each token's start and end in its
    text).  A token's hash is FNV-1a over
    its letters, mixed with its length and tone marks; a number in a line of fewer than
    ``sentence_words`` other tokens is not flagged."""
    texts = len(bounds) - 1
    capacity = len(code_points) // 2 + texts + 1
    hashes = np.empty(capacity, dtype=np.uint64)
    numbers = np.empty(capacity, dtype=np.bool_)
    starts = np.empty(capacity, dtype=np.int32)
    ends = np.empty(capacity, dtype=np.int32)
    offsets = np.empty(texts + 1, dtype=np.int64)
    normal = np.empty(len(code_points) * 8 + texts if render else 0, dtype=np.uint32)
    count, written = 0, 0
    for text in range(texts):
        offsets[text] = count
        token_hash, length, tone, first = _FNV_BASIS, 0, np.uint32(0), np.uint32(0)
        line_start, line_words = count, 0
        for at in range(bounds[text], bounds[text + 1] + 1):
            code = code_points[at] if at < bounds[text + 1] else np.uint32(_NEWLINE)
            inside = code < _TABLE_SIZE
            letter = letters[code] if inside else code
            if inside:
                tone += tones[code]
            if letter == _DROP:
                continue
            start, end = 0, 1
            if letter == _EXPANDS:
                start = expansion_start[code]
                end = start + expansion_length[code]
            for k in range(start, end):
                if letter == _EXPANDS:
                    letter_k = expansions[k]
                else:
                    letter_k = letter
                if letter_k != _SEPARATOR:
                    if length == 0:
                        first = letter_k
                        starts[count] = at - bounds[text]
                    ends[count] = at + 1 - bounds[text]
                    token_hash = (token_hash ^ np.uint64(letter_k)) * _FNV_PRIME
                    length += 1
                    if render:
                        normal[written] = letter_k
                        written += 1
                elif length:
                    hashes[count] = _fmix(token_hash ^ (np.uint64(length) * _LENGTH_MIX) ^ (np.uint64(tone) * _TONE_MIX))
                    numbers[count] = 48 <= first <= 57
                    line_words += not numbers[count]
                    count += 1
                    if render:
                        for mark in range(5):
                            for _ in range((tone >> (6 * mark)) & 63):
                                normal[written] = _MARKS[mark]
                                written += 1
                        normal[written] = _SEPARATOR
                        written += 1
                    token_hash, length, tone = _FNV_BASIS, 0, np.uint32(0)
                else:
                    tone = np.uint32(0)  # marks between two separators belong to no token
            if code == _NEWLINE:
                if line_words < sentence_words:
                    numbers[line_start:count] = False
                line_start, line_words = count, 0
    offsets[texts] = count
    return hashes[:count], numbers[:count], offsets, normal[:written], starts[:count], ends[:count]
