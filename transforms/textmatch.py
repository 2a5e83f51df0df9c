"""Text normalisation for reprint matching (matching keys, not display text).

Two copies of a wire story rarely differ in their words; they differ in how the words are
written and in what a site wraps around them.  ``match_text`` maps both to the same tokens:

- attribution and caption lines are dropped ("(TTXVN)", "Theo Reuters", "Ảnh: …",
  "Photo: Getty Images", "Read more: …", "(Reporting by …; Editing by …)", "(Tổng hợp)");
- case-folding, punctuation removed (tokens are runs of letters and digits;
  "78,5" gives the tokens 78 and 5 whatever the decimal separator);
- Vietnamese tone-mark placement unified: old and new style (hoà/hòa, thuý/thúy,
  khoẻ/khỏe, quả/qủa) put the mark on different vowels of one syllable; the mark is moved
  after the last vowel of its syllable in NFD, so every placement (and NFC or NFD input)
  gives one key;
- numbers are kept: templated reports differ only in them (see ``minhash.number_sketches``).

The result is UTF-8 ``bytes`` with tokens separated by spaces, hashed by numpy in batches
(``minhash.hashed_tokens``): no Python object per token.
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
    """NFD text with each Vietnamese tone mark after the last vowel of its syllable.

    "hoà" and "hòa" both become "hoa" + grave; other diacritics (circumflex, breve, horn) stay,
    so "hoa" and "hoá" remain different words.  Any input normalisation (NFC or NFD) gives
    the same result.
    """
    return _TONE_BEFORE_VOWELS.sub(r"\2\1", unicodedata.normalize("NFD", text))


def match_text(text: str) -> bytes:
    """The matching form of an article text, normalised as above: UTF-8 tokens separated by
    spaces (see ``minhash.hashed_tokens``)."""
    folded = strip_attribution(text).casefold()
    if not folded.isascii():
        folded = unify_tone_marks(_UNICODE_PUNCTUATION.sub(" ", folded))
    return folded.encode("utf-8").translate(_ASCII_PUNCTUATION)
