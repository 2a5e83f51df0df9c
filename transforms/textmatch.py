"""Text normalisation for reprint matching (matching keys, not display text).

Two copies of a wire story rarely differ in their words; they differ in how the words are
written and in what a site wraps around them.  ``match_tokens`` maps both to the same tokens:

- attribution and caption lines are dropped ("(TTXVN)", "Theo Reuters", "Ảnh: …",
  "Photo: Getty Images", "Read more: …", "(Reporting by …; Editing by …)", "(Tổng hợp)");
- NFC, case-folding, punctuation removed (tokens are runs of letters and digits;
  "78,5" gives the tokens 78 and 5 whatever the decimal separator);
- Vietnamese tone-mark placement unified: old and new style (hoà/hòa, thuý/thúy,
  khoẻ/khỏe, quả/qủa) put the mark on different vowels of one syllable; the mark is moved
  to the last vowel of its syllable, so every placement gives one key;
- numbers are kept: templated reports differ only in them (see ``number_contexts``).

Tokens are UTF-8 ``bytes`` (hashed as they are; a bytes split is 3x faster than a
Unicode regex, and this runs once per article).
"""

import re
import unicodedata

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

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
_TONE_BEFORE_VOWELS = re.compile(r"([" + _TONE_MARKS + r"])([aeiouy\u0302\u0306\u031b]+)")
_UNICODE_PUNCTUATION = re.compile(r"[\u00a1-\u00bf\u00d7\u00f7\u2010-\u2bff\u3000-\u303f\ufe30-\ufe6f\uff01-\uff0f]")
_ASCII_PUNCTUATION = bytes.maketrans(
    bytes(b for b in range(128) if not chr(b).isalnum()), b" " * sum(1 for b in range(128) if not chr(b).isalnum())
)


def strip_attribution(text: str) -> str:
    """Drop attribution/caption/link-rail lines and inline agency tags; keep story lines."""
    kept = [line for line in text.split("\n") if not _is_noise(line)]
    return _AGENCY_TAG.sub(" ", "\n".join(kept))


def _is_noise(line: str) -> bool:
    if _NOISE_LINE.match(line):
        return True
    return len(line) <= _CAPTION_MAX and ":" in line and _CAPTION.search(line) is not None


def unify_tone_marks(text: str) -> str:
    """NFC text with each Vietnamese tone mark on the last vowel of its syllable.

    "hoà" and "hòa" both become "hoà"; other diacritics (circumflex, breve, horn) stay,
    so "hoa" and "hoá" remain different words.
    """
    if _OUTSIDE_FAST_ALPHABET.search(text):
        return _unify_tone_marks(text)
    unified = {}

    def unify_run(match) -> str:
        run = match.group()
        if run not in unified:
            unified[run] = _unify_tone_marks(run)
        return unified[run]

    return _TONED_VOWEL_RUN.sub(unify_run, text)


def _unify_tone_marks(text: str) -> str:
    moved = _TONE_BEFORE_VOWELS.sub(r"\2\1", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", moved)


def _fast_alphabet() -> tuple:
    """Characters for which ``unify_tone_marks`` may work on runs of NFC characters instead of
    the whole NFD text, and the runs that can change: a toned character followed by vowels.

    The alphabet: precomposed letters of an ASCII letter and marks (each unchanged alone), and
    characters without decomposition or combining class that never compose with a preceding
    one (ASCII, đ, spaces, CJK, emoji, ...).  Its texts are NFC, and a tone mark moves only
    inside a run of vowels, so unifying each such run alone equals unifying the whole text."""
    pairs = (unicodedata.decomposition(chr(c)).split() for c in range(0x80, 0x30000))
    second = {chr(int(pair[1], 16)) for pair in pairs if len(pair) == 2 and not pair[0].startswith("<")}
    blocks = [(0x80, 0x500), (0x1E00, 0x1F00), (0x2000, 0x2C00), (0x3000, 0xA000), (0xFE00, 0xFE10), (0xFF00, 0xFFF0),
              (0x1F000, 0x1FB00)]
    letters, inert = [], []
    for c in (chr(code) for start, end in blocks for code in range(start, end)):
        decomposed = unicodedata.normalize("NFD", c)
        if decomposed == c and unicodedata.combining(c) == 0 and c not in second:
            inert.append(c)
        elif (decomposed[0].isascii() and decomposed[0].isalpha() and unicodedata.normalize("NFC", c) == c
              and _unify_tone_marks(c) == c):
            letters.append(c)
    toned = "".join(c for c in letters if set(unicodedata.normalize("NFD", c)) & set(_TONE_MARKS))
    vowels = "aeiouy" + "".join(c for c in letters if unicodedata.normalize("NFD", c)[0] in "aeiouy")
    outside = re.compile("[^\\x00-\\x7f" + _char_ranges(letters + inert) + "]")
    return outside, re.compile("[" + _char_ranges(toned) + "][" + _char_ranges(vowels) + "]+")


def _char_ranges(chars) -> str:
    """A regex character-class body of ``chars`` as ranges of consecutive code points."""
    codes, ranges = sorted(set(map(ord, chars))), []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


_OUTSIDE_FAST_ALPHABET, _TONED_VOWEL_RUN = _fast_alphabet()


def match_tokens(text: str) -> list:
    """The matching tokens (UTF-8 bytes) of an article text, normalised as above."""
    text = strip_attribution(text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    folded = _UNICODE_PUNCTUATION.sub(" ", text.casefold())
    if not folded.isascii():
        folded = unify_tone_marks(folded)
    return folded.encode("utf-8").translate(_ASCII_PUNCTUATION).split()


def number_contexts(tokens: list) -> set:
    """The (context, number) pairs of a text: each number token with the token before and
    the token after it (a number among them masked as b"#").

    Two reprints agree on the numbers of every context they share; two days of a templated
    report ("giá vàng SJC mua vào 78 5 triệu") share contexts with different numbers.
    """
    masked = [b"#" if 48 <= t[0] <= 57 else t for t in tokens]
    last = len(tokens) - 1
    return {
        (masked[i - 1] + b" _ " + masked[i + 1] if 0 < i < last else _edge_context(masked, i), tokens[i])
        for i, token in enumerate(masked)
        if token == b"#"
    }


def _edge_context(masked: list, i: int) -> bytes:
    return (masked[i - 1] if i > 0 else b"") + b" _ " + (masked[i + 1] if i < len(masked) - 1 else b"")
