"""Article metadata and normalisation (pure functions): Unicode, whitespace, titles, dates,
language, URLs and ids.

Everything here is a deterministic function of its arguments (no clocks, no global caches).
The scans of a page's HTML run in linear time: tag patterns stop at the next ``<`` and attribute
names start only where a name starts, so no crafted markup makes them backtrack.
"""

import hashlib
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from html import unescape
from typing import NamedTuple

import py3langid
from dateutil import parser as date_parser

from transforms.urls import canonical_url, domain_of, is_front_page

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HTML_LANG = re.compile(r"""<html[^<>]*?\blang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[-|–—•»:]|::)\s+")
_OUTLET_PREFIX = re.compile(r"^(?:báo|tạp chí|tin tức|thời báo|đài|cổng thông tin|trang tin)\b", re.IGNORECASE)
_DOMAIN_LIKE = re.compile(r"^[\w.-]+\.(?:vn|com|net|org|info|news)$", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_MIN_WORDS_TO_DETECT = 15
_DATE_SCAN_CHARS = 200_000
_JSONLD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{10,40})"')
_META_TAG = re.compile(r"<meta\s([^<>]*)>", re.IGNORECASE)  # its attributes
_ATTR = re.compile(r"""(?<![\w:.-])([\w:.-]+)\s*=\s*["']([^"']*)["']""")
_DATE_META_NAMES = {"article:published_time", "datepublished", "og:published_time", "pubdate", "publishdate", "dc.date.issued"}
_NUMERIC_STAMP = re.compile(
    r"(?:\b(?P<h1>\d{1,2}):(?P<m1>\d{2})(?::(?P<s1>\d{2}))?\s*[-|,]?\s*)?"
    r"\b(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})\b"
    r"(?:\s*[-|,]?\s*(?P<h2>\d{1,2})[:hH](?P<m2>\d{2})(?::(?P<s2>\d{2}))?)?"
    r"(?:\s*\(?\s*(?:GMT|UTC)\s*(?P<offset>[+-]\d{1,2})\s*\)?)?"
)
_DATE_CORE = re.compile(r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b")
_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s", re.IGNORECASE)
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_DOTTED_CLOCK = re.compile(r"\b(\d{1,2})\.(\d{2})(?=\s*(?:[AaPp]\.?[Mm]|GMT|UTC|[A-Z]{2,4}\b|$))")
_TEXT_ELEMENT = re.compile(  # an element that may hold a printed date: its attributes and its text
    r"<(?:time|span|div|p|small|em|li|abbr)\s([^<>]*)>([^<]{6,120})(?=<)", re.IGNORECASE
)
_DATE_MARKERS = ("class", "id", "itemprop")  # attributes (data-testid too) that say an element holds a date ...
_DATE_WORD = re.compile("date|time|publish|posted|updated", re.IGNORECASE)  # ... when their value has one of these
_TZ_OFFSETS = {  # common abbreviations in news bylines (seconds east of UTC)
    name: hours * 3600
    for name, hours in {
        "UTC": 0, "GMT": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "ICT": 7, "WIB": 7,
        "SGT": 8, "HKT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "EST": -5, "EDT": -4,
        "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "ET": -5, "CT": -6, "PT": -8,
    }.items()
}


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


class PublishedTime(NamedTuple):
    at: datetime | None  # UTC; for a bare date, 00:00 UTC of that date
    source: str  # page / feed / none
    precision: str  # second / minute / day / none


def dated(value, is_text: bool) -> PublishedTime | None:
    """A page or feed date (ISO string or aware datetime) as a ``PublishedTime`` with source
    "page", precision read from its own clock: 00:00:00 in its own zone is a bare date (what
    date extractors return for a page showing only the day), seconds say "second"."""
    when = (parse_local(value) if is_text else value) if value else None
    if when is None:
        return None
    if (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0):
        return PublishedTime(datetime(when.year, when.month, when.day, tzinfo=UTC), "page", "day")
    precision = "second" if when.second or when.microsecond else "minute"
    return PublishedTime(when.astimezone(UTC), "page", precision)


def parse_local(value: str) -> datetime | None:
    """ISO-8601 string -> aware datetime in its own zone (naive values are taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def structured_date(html: str) -> str | None:
    """``datePublished`` from JSON-LD, else a publication ``<meta>`` (article:published_time ...)."""
    head = html[:_DATE_SCAN_CHARS]
    match = _JSONLD_DATE.search(head)
    if match:
        return match.group(1)
    for tag in _META_TAG.findall(head):
        attrs = attributes(tag)
        if (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower() in _DATE_META_NAMES:
            return attrs.get("content")
    return None


def attributes(tag: str) -> dict[str, str]:
    """The quoted attributes of a start tag's inside (``name="v" ...``), names lower-cased."""
    return {name.lower(): value for name, value in _ATTR.findall(tag)}


def parse_visible_stamp(text: str) -> tuple | None:
    """A printed date *with a time of day* -> (naive local datetime, UTC offset in hours or None).

    Day-first numeric forms (``27/01/2018 14:01``, ``14:01:52 26/01/2018``, ``27-01-2018 04:26``,
    ``16/11/2026 08:30 (GMT+7)``) and month-name forms (``November 14, 2019 at 4:42 PM EST``,
    ``Sun 21 Oct 2018 06.43 GMT``)."""
    match = _NUMERIC_STAMP.search(text)
    if match:
        g = match.groupdict()
        hour, minute, second = (g["h1"], g["m1"], g["s1"]) if g["h1"] else (g["h2"], g["m2"], g["s2"])
        if hour is None:
            return None
        try:
            local = datetime(int(g["year"]), int(g["month"]), int(g["day"]), int(hour), int(minute), int(second or 0))
        except ValueError:
            return None
        return local, int(g["offset"]) if g["offset"] else None
    if not (_MONTH_NAME.search(text) and _CLOCK.search(text)):
        return None
    cleaned = _DOTTED_CLOCK.sub(r"\1:\2", text).replace(" at ", " ")
    try:
        parsed = date_parser.parse(cleaned, fuzzy=True, dayfirst=True, tzinfos=_TZ_OFFSETS)
    except (ValueError, OverflowError):
        return None
    offset = parsed.utcoffset().total_seconds() / 3600 if parsed.tzinfo else None
    return parsed.replace(tzinfo=None), offset


def visible_date(html: str) -> tuple | None:
    """The first dated-and-timed stamp in an element marked as a date (class/id/itemprop
    mentioning date, time, publish ...), else anywhere in the page's first part."""
    head = html[:_DATE_SCAN_CHARS]
    for tag, text in _TEXT_ELEMENT.findall(head):
        if not any(_DATE_WORD.search(v) for k, v in attributes(tag).items() if k.endswith(_DATE_MARKERS)):
            continue
        stamp = parse_visible_stamp(unescape(text))
        if stamp:
            return stamp
    for match in _DATE_CORE.finditer(head):  # cheap anchor first; the full pattern only around it
        stamp = parse_visible_stamp(head[max(0, match.start() - 12) : match.end() + 30])
        if stamp:
            return stamp
    return None


def visible_time(stamp: tuple | None, language_code: str | None) -> datetime | None:
    """A visible stamp as an aware datetime in its own zone; without a printed offset, Vietnamese
    pages are taken as GMT+7."""
    if not stamp:
        return None
    local, offset = stamp
    hours = offset if offset is not None else (7 if language_code == "vi" else 0)
    return local.replace(tzinfo=timezone(timedelta(hours=hours)))


def published_time(candidates: list, feed_date: datetime | None) -> PublishedTime:
    """Best publication time, where it came from and how precise it is.

    ``candidates`` are the page's dates, most trusted first (ISO strings or datetimes); the first
    one with a time of day wins, a date-only one yields to a feed date of the same day."""
    parsed = [dated(c, not isinstance(c, datetime)) for c in candidates]
    parsed = [p for p in parsed if p is not None]
    feed = dated(feed_date, False)
    precise = next((p for p in parsed if p.precision != "day"), None)
    if precise:
        return precise
    if parsed and (not feed or feed.at.date() != parsed[0].at.date()):
        return parsed[0]
    if feed:
        return feed._replace(source="feed")
    return PublishedTime(None, "none", "none")


class PageHints(NamedTuple):
    """What a page's HTML says beyond trafilatura's fields."""

    html_lang: str | None  # <html lang>
    structured_date: str | None  # JSON-LD datePublished or a publication <meta>
    visible_date: tuple | None  # a printed date with a time of day (``parse_visible_stamp``)


def page_hints(html: str) -> PageHints:
    return PageHints(html_lang(html), structured_date(html), visible_date(html))


def html_lang(html: str) -> str | None:
    match = _HTML_LANG.search(html[:5000])
    return match.group(1).lower() if match else None


def language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code detected from the text; the page's declared ``lang`` only for very short texts.

    Templates often copy a wrong ``<html lang>`` (Vietnamese pages declaring ``en``), so a
    text long enough to classify wins over the declaration."""
    if text and (word_count(text) >= _MIN_WORDS_TO_DETECT or not declared):
        return py3langid.classify(text[:2000])[0]
    return declared
