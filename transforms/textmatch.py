"""Text normalisation for reprint matching (not for display).

Two copies of a wire story rarely differ in their words; they differ in how the words are
written and in what a site wraps around them.  ``match_tokens`` maps both to the same tokens:

- attribution and caption lines are dropped ("(TTXVN)", "Theo Reuters", "Ảnh: …",
  "Photo: Getty Images", "Read more: …", "(Reporting by …; Editing by …)");
- NFC, case-folding, punctuation removed (tokens are runs of letters/digits);
- Vietnamese tone-mark placement unified: old and new style (hoà/hòa, thuý/thúy,
  khoẻ/khỏe, quả/qủa) put the mark on different vowels of one syllable.  The tone mark
  is moved to the end of its syllable, so every placement yields one key (a matching key,
  not a spelling);
- numbers are kept whole ("78,5", "12/3/2024" -> "78.5", "12.3.2024") because templated
  reports differ only in them; ``number_contexts`` pairs each number with the words around it.
"""

import re
import unicodedata

_AGENCIES = (
    r"TTXVN|VNA|VOV|TTO|Reuters|AFP|AP|CNN|dpa|DPA|Xinhua|Bloomberg|ANSA|EFE|Kyodo|Yonhap|UPI|"
    r"PA|NHK|RIA|TASS|Sputnik|AAP|IANS|PTI|ANI|Bernama|Antara|KUNA|WAM|KNA|APA|Tổng hợp|TH"
)
# An agency tag in parentheses anywhere: "Hà Nội (TTXVN) - ", "(AP) — ".
_AGENCY_TAG = re.compile(r"\((?:" + _AGENCIES + r")(?:/[^()]{0,30})?\)\s*[-–—:]?\s*")
# Whole lines that carry no story text.
_NOISE_LINE = re.compile(
    r"""^[\s|*>•–—-]*(?:
        (?:theo|nguồn|source|sources|according\s+to|via|quelle|fonte)\b[^.!?]{0,80}[.!?]?   # "Theo Reuters"
      | (?:read\s+more|related|recommended|see\s+also|more\s+on\s+this|xem\s+thêm|tin\s+liên\s+quan|
           đọc\s+thêm|mehr\s+zum\s+thema|leggi\s+anche)\s*:.*                               # link rails
      | \(\s*(?:reporting|writing|editing|additional\s+reporting|compiled)\b[^()]*\)          # wire credits
      | this\s+(?:article|story)\s+(?:originally\s+)?(?:appeared|was\s+(?:first\s+)?published)\b.*
      | \([^()]{1,40}\)[.\s]*                                                                # "(Tổng hợp)"
    )[\s|]*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Caption markers ("Ảnh: Reuters", "Photo: Getty Images") in a short line.
_CAPTION = re.compile(
    r"(?:^|[\s(.|])(?:ảnh|photo|image|picture|video|clip|foto|bild|credit|nguồn\s+ảnh|đồ\s+họa|graphic)\s*:",
    re.IGNORECASE,
)
_CAPTION_MAX_WORDS = 30

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
_TONE_IN_SYLLABLE = re.compile(r"([" + _TONE_MARKS + r"])([\w\u0302\u0306\u031b]*)")
_TOKEN = re.compile(r"\d+(?:[.,:/]\d+)*|[^\W\d_][\w\u0300-\u036f]*")
_NUMBER_SEPARATORS = re.compile(r"[,:/]")


def strip_attribution(text: str) -> str:
    """Drop attribution/caption/link-rail lines and inline agency tags; keep story lines."""
    kept = []
    for line in text.split("\n"):
        if _NOISE_LINE.match(line):
            continue
        if len(line.split()) <= _CAPTION_MAX_WORDS and _CAPTION.search(line):
            continue
        kept.append(_AGENCY_TAG.sub(" ", line))
    return "\n".join(kept)


def unify_tone_marks(text: str) -> str:
    """NFD text with each Vietnamese tone mark moved to the end of its syllable.

    "hoà" and "hòa" both become "hoa" + U+0300; other diacritics (circumflex, breve, horn)
    stay in place, so "hoa" and "hoá" remain different words.
    """
    return _TONE_IN_SYLLABLE.sub(r"\2\1", unicodedata.normalize("NFD", text))


def match_tokens(text: str) -> list:
    """The matching tokens of an article text: words and whole numbers, normalised as above."""
    folded = unicodedata.normalize("NFC", strip_attribution(text)).casefold()
    tokens = _TOKEN.findall(unify_tone_marks(folded))
    return [_NUMBER_SEPARATORS.sub(".", t) if t[0].isdigit() else t for t in tokens]


def is_number(token: str) -> bool:
    return token[0].isdigit()


def number_contexts(tokens: list, before: int = 2, after: int = 1) -> dict:
    """Map each number's context (the `before` words preceding it and `after` words after it,
    numbers masked) to the sorted tuple of numbers seen in that context.

    Two reprints agree on the number of every context they share; two days of a templated
    report ("giá vàng SJC mua vào 78.5 triệu") share contexts with different numbers.
    """
    masked = ["#" if is_number(t) else t for t in tokens]
    found = {}
    for i, token in enumerate(tokens):
        if is_number(token):
            context = (tuple(masked[max(0, i - before) : i]), tuple(masked[i + 1 : i + 1 + after]))
            found.setdefault(context, set()).add(token)
    return {context: tuple(sorted(numbers)) for context, numbers in found.items()}
