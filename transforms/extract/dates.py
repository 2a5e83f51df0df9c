"""Publication times (pure functions): what a page's HTML states (``date_hints``, run in the isolated
extractor) and the time they amount to (``published_time``).

    hints = date_hints(html)
    published = published_time(hints, find_trafilatura_date, feed_date, Page(url, title, html_lang, language))

The page's own date is trusted in this order: the ``datePublished`` of its own JSON-LD item (the
one naming its URL or headline, not a related story's or an image's), a publication ``<meta>``
or ``itemprop``, the printed byline, trafilatura's date (which may be a tracking tag's); the first
with a time of day wins.  trafilatura's date (htmldate: 8 ms a page) is looked for only when the
others leave it a say: no time among them, or one without its zone.  A time printed without a
zone takes the zone the page states elsewhere (a date with the same clock, else any non-UTC
offset in its JSON-LD item, metas or byline), else the zone of the page's country or language (``ZONES_BY_COUNTRY``,
``ZONES_BY_LANGUAGE``), else UTC; ``PublishedTime.zone`` says whether it was "stated" or
"guessed".  Printed numeric dates are read day first, month first on US pages.  Nothing here
reads the clock: a byline without a year takes it from the page's other dates, or is ignored.

The scans run in linear time: tag patterns stop at the next ``<``, JSON-LD is parsed by ``json``.
"""

import functools
import json
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from html import unescape
from typing import Callable, NamedTuple
from urllib.parse import urljoin, urlsplit

from dateutil import parser as date_parser
from dateutil import tz

from transforms.urls import canonical_url

_SCAN_CHARS = 4_000_000  # a page's first 4 M characters: far beyond any news page's byline or JSON-LD
_MAX_ITEMS = 50  # JSON-LD items, and <meta> values of each kind
_MAX_BYLINES = 16
_SCRIPT = re.compile(r"<script\b([^<>]*)>", re.IGNORECASE)
_SCRIPT_END = re.compile(r"</script", re.IGNORECASE)
_JSONLD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')  # in a JSON-LD block json cannot read
_DATED_TAG = re.compile(r"<(meta|time)\s([^<>]*)>", re.IGNORECASE)  # its attributes
_ATTR = re.compile(r"""(?<![\w:.-])([\w:.-]+)\s*=\s*["']([^"']*)["']""")
_NOT_LETTERS = re.compile(r"[^a-z]+")
# <meta> names (property, name or itemprop, lower-case, letters only) of the publication time ...
_PUBLISHED_NAMES = frozenset({
    "articlepublishedtime", "ogarticlepublishedtime", "ogpublishedtime", "datepublished", "pubdate", "publishdate",
    "publicationdate", "dcdateissued", "dctermsissued", "dcdate", "date",
})
# ... and of other times of the article, whose zone is the page's too
_OTHER_NAMES = frozenset({
    "articlemodifiedtime", "ogarticlemodifiedtime", "ogupdatedtime", "datemodified", "datecreated", "lastmod",
    "dctermsmodified", "dctermscreated",
})
_TEXT_ELEMENT = re.compile(  # an element that may hold a printed date: its attributes and its text
    r"<(?:time|span|div|p|small|em|li|abbr)\s([^<>]*)>([^<]{6,120})(?=<)", re.IGNORECASE
)
_DATE_MARKERS = ("class", "id", "itemprop")  # attributes (data-testid too) that say an element holds a date ...
_DATE_WORD = re.compile("date|time|publish|posted|updated", re.IGNORECASE)  # ... when their value has one of these
_UPDATE_MARKER = re.compile("updat|modif", re.IGNORECASE)  # marks a later time: such elements come last
_CLOCK = re.compile(r"(?<!\d)\d{1,2}(?::\d{2}|[hH]\d{2}|\.\d{2}\s*(?:[AaPp]\.?[Mm]|GMT|UTC))(?!\d)")
# a numeric date (\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b) found by its tail, its day or month checked by
# ``_date_core_start``: a pattern opening with \b\d tries every position of the page (4x slower)
_DATE_CORE_TAIL = re.compile(r"[/.-]\d{1,2}[/.-]\d{4}\b")
_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s", re.IGNORECASE)
_MERIDIEM = r"(?:[AaPp]\.?[Mm]\.?|sáng|trưa|chiều|tối)(?!\w)"  # am/pm; Vietnamese morning, noon, afternoon, evening
_NUMERIC_STAMP = re.compile(
    rf"(?:\b(?P<h1>\d{{1,2}}):(?P<m1>\d{{2}})(?::(?P<s1>\d{{2}}))?\s*(?P<ap1>{_MERIDIEM})?\s*[-|,]?\s*)?"
    r"\b(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<year>\d{4}|\d{2})(?!\d)"
    rf"(?:\s*[-|,]?\s*(?P<h2>\d{{1,2}})[:hH](?P<m2>\d{{2}})(?::(?P<s2>\d{{2}}))?\s*(?P<ap2>{_MERIDIEM})?)?"
    r"(?:\s*\(?\s*(?:GMT|UTC)\s*(?P<offset>[+-]\d{1,2})(?::?(?P<offset_minutes>\d{2}))?\s*\)?)?"
)
_AFTERNOON = ("p", "chiều", "tối")
_CENTURY_PIVOT = 70  # two-digit years: 70-99 are 1970-1999, 00-69 are 2000-2069
_DOTTED_CLOCK = re.compile(r"\b(\d{1,2})\.(\d{2})(?=\s*(?:[AaPp]\.?[Mm]|GMT|UTC|[A-Z]{2,4}\b|$))")
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 2, 2))  # two leap years: a field dateutil fills differs
_ARTICLE_TYPE = re.compile("article|posting|report", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_TZ_OFFSETS = {  # common abbreviations in news bylines and feeds (seconds east of UTC)
    name: hours * 3600
    for name, hours in {
        "UTC": 0, "GMT": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "ICT": 7, "WIB": 7,
        "SGT": 8, "HKT": 8, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11, "EST": -5, "EDT": -4,
        "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "ET": -5, "CT": -6, "PT": -8,
    }.items()
}
# The zone a page's clock most likely shows when it states none: by its country (the URL's
# country-code domain, else its language tag's region), then by its language.  Only countries
# and languages with one zone (or one zone for nearly all their news) are listed.
ZONES_BY_COUNTRY = {
    "vn": "Asia/Ho_Chi_Minh", "th": "Asia/Bangkok", "sg": "Asia/Singapore", "my": "Asia/Kuala_Lumpur",
    "ph": "Asia/Manila", "cn": "Asia/Shanghai", "hk": "Asia/Hong_Kong", "tw": "Asia/Taipei", "jp": "Asia/Tokyo",
    "kr": "Asia/Seoul", "in": "Asia/Kolkata", "tr": "Europe/Istanbul", "uk": "Europe/London", "gb": "Europe/London",
    "ie": "Europe/Dublin", "de": "Europe/Berlin", "at": "Europe/Vienna", "ch": "Europe/Zurich", "fr": "Europe/Paris",
    "be": "Europe/Brussels", "nl": "Europe/Amsterdam", "it": "Europe/Rome", "es": "Europe/Madrid",
    "pl": "Europe/Warsaw", "se": "Europe/Stockholm", "no": "Europe/Oslo", "dk": "Europe/Copenhagen",
    "za": "Africa/Johannesburg",
}
ZONES_BY_LANGUAGE = {
    "vi": "Asia/Ho_Chi_Minh", "th": "Asia/Bangkok", "ja": "Asia/Tokyo", "ko": "Asia/Seoul", "tr": "Europe/Istanbul",
    "de": "Europe/Berlin", "it": "Europe/Rome", "nl": "Europe/Amsterdam", "pl": "Europe/Warsaw",
}
_MONTH_FIRST_COUNTRIES = frozenset({"us", "ph"})  # where 1/10/2008 is January 10th


class JsonLdItem(NamedTuple):
    """A top-level JSON-LD item (or ``@graph`` member) that has a ``datePublished``."""

    types: tuple[str, ...]
    url: str | None  # its url, @id or mainEntityOfPage
    headline: str | None
    published: str
    other_dates: tuple[str, ...]  # dateCreated, dateModified
    authors: tuple[str, ...] = ()  # its authors' names (people or organisations)
    publishers: tuple[str, ...] = ()  # its publishers' names


class DateHints(NamedTuple):
    """What a page's HTML says of its times, in page order."""

    items: tuple[JsonLdItem, ...]
    published_metas: tuple[str, ...]  # publication <meta> and itemprop values
    other_metas: tuple[str, ...]  # modification and creation ones
    bylines: tuple[str, ...]  # printed texts with a date and a time of day, date-marked elements first


class Page(NamedTuple):
    """What reading a page's dates depends on besides its markup."""

    url: str | None
    title: str | None
    html_lang: str | None  # <html lang>, lower-case, with its region ("en-us")
    language: str | None  # detected from the text


class Stamp(NamedTuple):
    """A date as written: its wall clock, the UTC offset written with it, and whether it has a time."""

    local: datetime  # naive
    offset: timedelta | None
    timed: bool


class PublishedTime(NamedTuple):
    at: datetime | None  # UTC; for a bare date, 00:00 UTC of that date
    source: str  # page / feed / none
    precision: str  # second / minute / day / none
    zone: str  # stated / guessed (a time's zone); none (a bare date, or no date)


NO_TIME = PublishedTime(None, "none", "none", "none")


def date_hints(html: str) -> DateHints:
    head = html[:_SCAN_CHARS]
    published, other = _date_metas(head)
    return DateHints(_jsonld_items(head), published, other, _bylines(head))


def _attributes(tag: str) -> dict[str, str]:
    """The quoted attributes of a start tag's inside (``name="v" ...``), names lower-cased."""
    return {name.lower(): value for name, value in _ATTR.findall(tag)}


def _jsonld_items(html: str) -> tuple[JsonLdItem, ...]:
    """The dated items of the page's JSON-LD blocks (each script is read once, up to its end)."""
    items, position = [], 0
    while match := _SCRIPT.search(html, position):
        end = _SCRIPT_END.search(html, match.end())
        position = end.start() if end else len(html)
        if "ld+json" not in match.group(1).lower():
            continue
        block = html[match.end() : position]
        try:
            items += _items_of(json.loads(block, strict=False))
        except (ValueError, RecursionError):
            loose = _JSONLD_DATE.search(block)
            items += [JsonLdItem((), None, None, loose.group(1), ())] if loose else []
    return tuple(items[:_MAX_ITEMS])


def _items_of(data) -> list[JsonLdItem]:
    """The dated items of one JSON-LD block: top-level objects and ``@graph`` members, not the
    objects nested in them (images, authors, live-blog updates)."""
    nodes = [n for n in (data if isinstance(data, list) else [data]) if isinstance(n, dict)]
    nodes += [g for n in nodes if isinstance(n.get("@graph"), list) for g in n["@graph"] if isinstance(g, dict)]
    return [
        JsonLdItem(
            _types(n),
            _item_url(n),
            n["headline"] if isinstance(n.get("headline"), str) else None,
            n["datePublished"],
            tuple(n[k] for k in ("dateCreated", "dateModified") if isinstance(n.get(k), str)),
            _names(n.get("author")),
            _names(n.get("publisher")),
        )
        for n in nodes
        if isinstance(n.get("datePublished"), str)
    ]


def _types(node: dict) -> tuple[str, ...]:
    return tuple(t for t in _as_list(node.get("@type")) if isinstance(t, str))


def _names(value) -> tuple[str, ...]:
    """The names in a JSON-LD value: names, or objects with a name (one, or a list of them)."""
    names = (v.get("name") if isinstance(v, dict) else v for v in _as_list(value))
    return tuple(name for name in names if isinstance(name, str))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _item_url(node: dict) -> str | None:
    for value in (node.get("url"), node.get("@id"), node.get("mainEntityOfPage")):
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        if isinstance(value, str):
            return value
    return None


def _date_metas(html: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(publication values, other values) of ``<meta>`` tags and of ``<time itemprop>`` elements."""
    published, other = [], []
    for tag, inside in _DATED_TAG.findall(html):
        attrs = _attributes(inside)
        if tag.lower() == "meta":
            names, value = (attrs.get("property"), attrs.get("name"), attrs.get("itemprop")), attrs.get("content")
        else:
            names, value = (attrs.get("itemprop"),), attrs.get("datetime")
        keys = {_NOT_LETTERS.sub("", name.lower()) for name in names if name}
        if value and keys & _PUBLISHED_NAMES:
            published.append(unescape(value))
        elif value and keys & _OTHER_NAMES:
            other.append(unescape(value))
    return tuple(published[:_MAX_ITEMS]), tuple(other[:_MAX_ITEMS])


def _bylines(html: str) -> tuple[str, ...]:
    """Texts that may print the publication date and time: date-marked elements (class, id or
    itemprop mentioning date, time, publish ...; in page order, updates last),
    then numeric dates anywhere with the text around them."""
    marked = []
    for position, (tag, text) in enumerate(_TEXT_ELEMENT.findall(html)):
        if not _DATE_WORD.search(tag) or not _CLOCK.search(text):
            continue
        markers = " ".join(v for k, v in _attributes(tag).items() if k.endswith(_DATE_MARKERS))
        if _DATE_WORD.search(markers):
            marked.append((bool(_UPDATE_MARKER.search(markers)), position, unescape(text).strip()))
    windows = []
    for match in _DATE_CORE_TAIL.finditer(html):  # cheap anchor first, the clock only around it
        core = _date_core_start(html, match.start())
        if core is None:
            continue
        start = max(0, core - 16)
        while start < core and html[start - 1 : start].isalnum():  # not from inside a word or number
            start += 1
        window = unescape(html[start : match.end() + 30])
        if _CLOCK.search(window):
            windows.append(window)
        if len(windows) == _MAX_BYLINES:
            break
    return tuple([text for *_, text in sorted(marked)] + windows)[:_MAX_BYLINES]


def _date_core_start(html: str, tail: int) -> int | None:
    """Where the numeric date whose tail starts at ``tail`` begins: one or two digits there, not
    inside a word; else None."""
    start = tail
    while start > tail - 3 and start > 0 and html[start - 1].isdecimal():
        start -= 1
    if not 1 <= tail - start <= 2 or (start > 0 and (html[start - 1].isalnum() or html[start - 1] == "_")):
        return None
    return start


def published_time(
    hints: DateHints, find_trafilatura_date: Callable[[], str | None], feed_date: datetime | None, page: Page
) -> PublishedTime:
    """The page's publication time, where it came from, how precise it is and whether its zone was
    stated or guessed.  The first candidate with a time of day wins (see the module docstring);
    a bare date yields to a feed date of the same day.  ``find_trafilatura_date`` is called only when
    its answer can matter: no markup date, or no time with its zone before it."""
    own = own_item(hints.items, page)
    markup = _stamps(((own.published,) if own else ()) + hints.published_metas)

    @functools.cache
    def extracted() -> list[Stamp]:
        return _stamps(tuple(filter(None, [find_trafilatura_date()])))

    month_first = writes_month_first(page)
    markup_day = next((s.local.date() for s in markup), None)

    def byline_stamp(text: str) -> Stamp | None:  # a byline without a year takes the markup's day's,
        stamp = parse_byline(text, month_first, markup_day)  # else trafilatura's (looked for only then)
        if stamp is None and markup_day is None and (day := next((s.local.date() for s in extracted()), None)):
            stamp = parse_byline(text, month_first, day)
        return stamp

    byline = next(filter(None, map(byline_stamp, hints.bylines)), None)
    stated = markup + ([byline] if byline else [])
    first_timed = next((s for s in stated if s.timed), None)
    if first_timed and first_timed.offset is not None:
        return _at(first_timed, [], page)
    candidates = stated + extracted()
    others = _stamps((own.other_dates if own else ()) + hints.other_metas)
    clues = [s for s in candidates + others if s.offset is not None]
    timed = next((s for s in candidates if s.timed), None)
    if timed:
        return _at(timed, clues, page)
    feed = _feed_time(feed_date) if feed_date else None
    day = candidates[0].local.date() if candidates else None
    if day and (not feed or feed.at.date() != day):
        return PublishedTime(datetime(day.year, day.month, day.day, tzinfo=UTC), "page", "day", "none")
    return feed or NO_TIME


def _stamps(values: tuple[str, ...]) -> list[Stamp]:
    return [s for s in map(parse_stamp, values) if s]


def own_item(items: tuple[JsonLdItem, ...], page: Page) -> JsonLdItem | None:
    """The JSON-LD item of the page's own article: the one naming its URL, else the one whose
    headline and title begin alike (the shorter begins the longer), else the first article-like
    one (Article, NewsArticle, LiveBlogPosting ...), else the first."""
    url = canonical_url(page.url)
    title = _words(page.title)

    def names_url(item: JsonLdItem) -> bool:
        return bool(url and item.url) and canonical_url(urljoin(url, item.url)) == url

    def names_title(item: JsonLdItem) -> bool:
        headline = _words(item.headline)
        shorter = min(len(title), len(headline))
        return shorter > 0 and title[:shorter] == headline[:shorter]

    def is_article(item: JsonLdItem) -> bool:
        return any(_ARTICLE_TYPE.search(t) for t in item.types)

    for test in (names_url, names_title, is_article):
        found = next(filter(test, items), None)
        if found:
            return found
    return items[0] if items else None


def _words(text: str | None) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold()) if text else []


def _at(stamp: Stamp, clues: list[Stamp], page: Page) -> PublishedTime:
    """A timed stamp as a page time in UTC, its zone written, stated elsewhere or guessed."""
    precision = "second" if stamp.local.second or stamp.local.microsecond else "minute"
    if stamp.offset is not None:
        zone, how = timezone(stamp.offset), "stated"
    else:
        minute = stamp.local.replace(second=0, microsecond=0)
        same_clock = [c.offset for c in clues if c.local.replace(second=0, microsecond=0) == minute]
        stated = same_clock or [c.offset for c in clues if c.offset]
        zone, how = (timezone(stated[0]), "stated") if stated else (guessed_zone(page) or UTC, "guessed")
    return PublishedTime(stamp.local.replace(tzinfo=zone).astimezone(UTC), "page", precision, how)


def _feed_time(when: datetime) -> PublishedTime:
    """A feed's aware datetime; midnight in its own zone is a bare date."""
    if (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0):
        return PublishedTime(datetime(when.year, when.month, when.day, tzinfo=UTC), "feed", "day", "none")
    precision = "second" if when.second or when.microsecond else "minute"
    return PublishedTime(when.astimezone(UTC), "feed", precision, "stated")


def _countries(page: Page) -> list[str]:
    """The page's country codes: its URL's top-level domain, its language tag's region."""
    host = (urlsplit(page.url).hostname or "") if page.url else ""
    return [host.rsplit(".", 1)[-1], *(page.html_lang or "").split("-")[1:2]]


def guessed_zone(page: Page) -> tzinfo | None:
    """The zone of the page's country, else of its language (detected, else declared), when the
    tables know one."""
    languages = [page.language, (page.html_lang or "").split("-")[0]]
    names = [ZONES_BY_COUNTRY.get(c) for c in _countries(page)] + [ZONES_BY_LANGUAGE.get(lang) for lang in languages]
    name = next(filter(None, names), None)
    return tz.gettz(name) if name else None


def writes_month_first(page: Page) -> bool:
    """True when the page's country writes the month first (1/10/2008: January 10th)."""
    return any(c in _MONTH_FIRST_COUNTRIES for c in _countries(page))


def parse_stamp(value: str) -> Stamp | None:
    """A structured date (ISO 8601, or a full date in words such as ``Fri Apr 28 19:20:36 CEST
    2023``) as a ``Stamp``; None when a part of the date is missing.  Midnight is a bare date."""
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _parse_words(value, fuzzy=False)
    if parsed is None:
        return None
    local = parsed.replace(tzinfo=None)
    return Stamp(local, parsed.utcoffset(), local.time() != datetime.min.time())


def _parse_words(text: str, fuzzy: bool, day: date | None = None) -> datetime | None:
    """dateutil, never completed from the clock: without a day or a month it is None; without a
    year it takes ``day``'s when it names ``day``'s month and day, else it is None."""
    try:
        first, second = (date_parser.parse(text, fuzzy=fuzzy, default=d, tzinfos=_zone) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        return None
    if (first.month, first.day) != (second.month, second.day):
        return None
    if first.year != second.year:
        return first.replace(year=day.year) if day and (first.month, first.day) == (day.month, day.day) else None
    return first


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's ``tzinfos``: a known abbreviation's zone, else the offset written, else none (a word
    dateutil takes for an unknown zone name, which it warns of and says it will one day raise on)."""
    seconds = _TZ_OFFSETS.get(name, offset)
    return None if seconds is None else tz.tzoffset(name, seconds)


def parse_byline(text: str, month_first: bool, day: date | None = None) -> Stamp | None:
    """A printed date *with a time of day* as a ``Stamp``.

    Numeric forms (``27/01/2018 14:01``, ``14:01:52 26/01/2018``, ``07/03/26 08:30``, ``3:20 chiều
    07/03/2026``, ``16/11/2026 08:30 (GMT+7)``), day first unless ``month_first`` (a day first
    reading that cannot be a date is read the other way), and month-name forms (``November 14,
    2019 at 4:42 PM EST``, ``Sun 21 Oct 2018 06.43 GMT``, ``30 August 2023 • 4:45pm``).  A form
    without a year takes ``day``'s year when it names ``day``'s month and day; else it is None."""
    match = _NUMERIC_STAMP.search(text)
    if match:
        return _numeric_stamp(match, month_first)
    if not (_MONTH_NAME.search(text) and _CLOCK.search(text)):
        return None
    parsed = _parse_words(_DOTTED_CLOCK.sub(r"\1:\2", text).replace(" at ", " "), True, day)
    return Stamp(parsed.replace(tzinfo=None), parsed.utcoffset(), True) if parsed else None


def _numeric_stamp(match: re.Match, month_first: bool) -> Stamp | None:
    g = match.groupdict()
    n = "1" if g["h1"] else "2"
    if g[f"h{n}"] is None:
        return None
    hour, minute, meridiem = int(g[f"h{n}"]), int(g[f"m{n}"]), (g[f"ap{n}"] or "").lower()
    if meridiem.startswith(_AFTERNOON) and hour < 12 or meridiem == "trưa" and hour < 5:
        hour += 12
    elif meridiem.startswith("a") and hour == 12:
        hour = 0
    year = int(g["year"])
    if len(g["year"]) == 2:
        year += 1900 if year >= _CENTURY_PIVOT else 2000
    offset = None
    if g["offset"]:
        offset = timedelta(hours=abs(int(g["offset"])), minutes=int(g["offset_minutes"] or 0))
        offset = -offset if g["offset"].startswith("-") else offset
    first, second = int(g["a"]), int(g["b"])
    for day, month in ((second, first), (first, second)) if month_first else ((first, second), (second, first)):
        try:
            return Stamp(datetime(year, month, day, hour, minute, int(g[f"s{n}"] or 0)), offset, True)
        except ValueError:
            continue
    return None
