"""Article metadata and normalisation (pure functions): Unicode, whitespace, titles, language,
URLs and ids, and the hints a page's HTML gives (``page_hints``; its dates: ``dates``).

Everything here is a deterministic function of its arguments (no clocks, no global caches).
The scans of a page's HTML run in linear time: tag patterns stop at the next ``<`` and attribute
names start only where a name starts, so no crafted markup makes them backtrack.
"""

import hashlib
import re
import unicodedata
from typing import NamedTuple

import py3langid

from transforms.extract.dates import DateHints, date_hints
from transforms.urls import canonical_url, domain_of, is_front_page

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HTML_LANG = re.compile(r"""<html[^<>]*?\blang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?)""", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[-|–—•»:]|::)\s+")
_OUTLET_PREFIX = re.compile(r"^(?:báo|tạp chí|tin tức|thời báo|đài|cổng thông tin|trang tin)\b", re.IGNORECASE)
_DOMAIN_LIKE = re.compile(r"^[\w.-]+\.(?:vn|com|net|org|info|news)$", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_MIN_WORDS_TO_DETECT = 15


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def clean_text(text: str) -> str:
    """NFC, no zero-width characters, single spaces, paragraphs separated by one newline."""
    text = _ZERO_WIDTH.sub("", nfc(text)).replace("\r\n", "\n").replace("\r", "\n")
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def content_sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _fold(text: str) -> str:
    """Accent- and case-insensitive key used to compare a title suffix with the site name."""
    decomposed = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return re.sub(r"[\W_]+", "", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _is_site_suffix(segment: str, separator: str, sitename: str | None) -> bool:
    folded = _fold(segment)
    if not folded:
        return False
    if sitename and (folded in _fold(sitename) or _fold(sitename) in folded):
        return True
    if _OUTLET_PREFIX.match(segment) or _DOMAIN_LIKE.match(segment):
        return True
    return separator.strip() == "|" and len(segment.split()) <= 5


def clean_title(title: str | None, sitename: str | None) -> str | None:
    """NFC, single-spaced, without a trailing site name (' - Báo X', ' | Site')."""
    if not title:
        return None
    title = clean_text(title).replace("\n", " ")
    parts = _TITLE_SEPARATORS.split(title)
    separators = _TITLE_SEPARATORS.findall(title)
    while len(parts) > 1 and _is_site_suffix(parts[-1], separators[-1], sitename):
        parts.pop()
        separators.pop()
    head = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:]))
    return head or None


def article_url(page_url: str | None, fetched_url: str | None) -> str | None:
    """The canonical URL: the page's own (canonical link / og:url) unless it names a site's home
    or a section front (templates point it there), else the one it was fetched from."""
    url = canonical_url(page_url)
    if url and not is_front_page(url):
        return url
    return canonical_url(fetched_url)


def domain(url: str | None) -> str | None:
    return domain_of(url) if url else None


def article_id(url: str | None, source: str) -> str:
    """Stable id: from the canonical URL, else from the input location."""
    key = url or f"source:{source}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


class PageHints(NamedTuple):
    """What a page's HTML says beyond trafilatura's fields."""

    html_lang: str | None  # <html lang>, lower-case, with its region ("vi-vn")
    dates: DateHints  # its JSON-LD items, date <meta>s and bylines


def page_hints(html: str) -> PageHints:
    return PageHints(html_lang(html), date_hints(html))


def html_lang(html: str) -> str | None:
    match = _HTML_LANG.search(html[:5000])
    return match.group(1).lower().replace("_", "-") if match else None


def language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code detected from the text; the page's declared ``lang`` (without its region) only
    for very short texts.

    Templates often copy a wrong ``<html lang>`` (Vietnamese pages declaring ``en``), so a
    text long enough to classify wins over the declaration."""
    if text and (word_count(text) >= _MIN_WORDS_TO_DETECT or not declared):
        return py3langid.classify(text[:2000])[0]
    return declared.split("-")[0] if declared else None
