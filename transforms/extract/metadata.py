"""Article metadata and normalisation (pure functions): Unicode, whitespace, titles, authors, the
lead, language, URLs and ids, and the hints a page's HTML gives (``page_hints``; its dates: ``dates``).

Everything here is a deterministic function of its arguments (no clocks, no global caches).
The scans of a page's HTML run in linear time: tag patterns stop at the next ``<`` and attribute
names start only where a name starts, so no crafted markup makes them backtrack; the rest reads
the page's lxml tree (``<h1>``s, ``<meta>``s, the lead) element by element.
"""

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from html import unescape
from itertools import islice
from typing import NamedTuple

import lxml.html
import py3langid
from lxml.etree import ParserError

from transforms.extract.dates import DateHints, JsonLdItem, date_hints
from transforms.urls import canonical_url, domain_of, is_front_page

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HTML_LANG = re.compile(r"""<html[^<>]*?\blang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?)""", re.IGNORECASE)
_TITLE_SEPARATORS = re.compile(r"\s+(?:[-|–—•»:·*]|::)\s+|\s*[：｜]\s*")  # spaced, or full-width
_OUTLET_PREFIX = re.compile(r"^(?:báo|tạp chí|tin tức|thời báo|đài|cổng thông tin|trang tin)\b", re.IGNORECASE)
_DOMAIN_LIKE = re.compile(r"^[\w.-]+\.(?:vn|com|net|org|info|news)$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\d{1,4}([./-])\d{1,2}\1\d{1,4}$")
_STARTS_WITH_PUNCTUATION = re.compile(r"^\s*[^\w\s]")
_MAX_HEADINGS = 20
_TITLE_METAS = ("og:title", "twitter:title")
_SITE_NAME_METAS = ("og:site_name", "application-name", "twitter:site", "publisher")
_DESCRIPTION_METAS = ("description", "og:description", "twitter:description")
_MIN_LEAD_CHARS = 20
_MAX_DATELINE_CHARS = 24  # "(Chinhphu.vn) - " before a lead that is the page's description
# Author names: separators, credit words before a name, and job titles that are no name (folded).
_NAME_SEPARATORS = re.compile(r"\s*(?:[;,/|&]|\b(?:and|und|og|và)\b)\s*", re.IGNORECASE)
_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_CREDIT_PREFIX = re.compile(r"^(?:autor(?:in)?|author|text|von|by|bởi|theo)\s+", re.IGNORECASE)
_JOB_TITLES = frozenset({
    "journalist", "journalistin", "reporter", "redakteur", "redakteurin", "redaktion", "editor", "author", "autor",
    "autorin", "correspondent", "staff", "writer", "phongvien", "pv", "ctv", "기자",
})
_MAX_NAME_WORDS = 6
_SOURCE_CREDITS = frozenset({"theo", "nguon", "anh", "video"})  # "Theo Reuters" ending a Vietnamese text: a source
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
    """Accent-, case- and punctuation-insensitive key: titles, names and site names compare by it."""
    decomposed = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
    return re.sub(r"[\W_]+", "", "".join(c for c in decomposed if not unicodedata.combining(c)))


def site_keys(names: Iterable[str | None]) -> frozenset[str]:
    """Folded names of the site: its names and domains as the page and its URL give them."""
    return frozenset(key for key in map(_fold, filter(None, names)) if len(key) >= 2)


def _is_site_suffix(segment: str, separator: str, sites: frozenset[str]) -> bool:
    if not _fold(segment):
        return False
    if _names_site(segment, sites):
        return True
    if _OUTLET_PREFIX.match(segment) or _DOMAIN_LIKE.match(segment) or _DATE_LIKE.match(segment):
        return True
    return separator.strip() in ("|", "｜") and len(segment.split()) <= 5


def clean_title(title: str | None, *site_names: str | None) -> str | None:
    """NFC, single-spaced, without trailing site names or dates (' - Báo X', ' | Site', '：サイト',
    ' – DW – 30.01.2024')."""
    if not title:
        return None
    title = clean_text(title).replace("\n", " ")
    sites = site_keys(site_names)
    parts = _TITLE_SEPARATORS.split(title)
    separators = _TITLE_SEPARATORS.findall(title)
    while len(parts) > 1 and _is_site_suffix(parts[-1], separators[-1], sites):
        parts.pop()
        separators.pop()
    head = parts[0] + "".join(sep + part for sep, part in zip(separators, parts[1:]))
    return head or None


def article_title(title: str | None, hints: "PageHints", own: JsonLdItem | None, *site_names: str | None) -> str | None:
    """The article's own headline, one of its ``<h1>``s when the page confirms it:

    1. its JSON-LD item's headline when an ``<h1>`` says the same words;
    2. else the ``<h1>`` marked as the title (``itemprop="headline"``, ``data-role="title"``);
    3. else an ``<h1>`` that a meta title (``title``: trafilatura's, og:title, ``<title>``) begins
       with, a separator after it (the rest names the site or a section);
    4. else ``title`` without its site suffix (``clean_title``).

    Other ``<h1>``s (a logo, a teaser) and a social title alone do not decide."""
    sites = site_keys(site_names)
    headings = [h for h in hints.headings if _is_headline(h, sites)]
    own_headline = unescape(own.headline) if own and own.headline else None
    if own_headline and any(_fold(h) == _fold(own_headline) for h in headings):
        return clean_title(own_headline)
    if hints.marked_heading and _is_headline(hints.marked_heading, sites):
        return clean_title(hints.marked_heading)
    titles = [clean_text(t) for t in (title, *hints.titles) if t]
    for heading in map(clean_text, headings):
        if any(t.startswith(heading) and _STARTS_WITH_PUNCTUATION.match(t[len(heading) :]) for t in titles):
            return heading
    return clean_title(title, *site_names)


def site_names(hints: "PageHints", sitename: str | None, url: str | None) -> tuple[str | None, ...]:
    """The names a page's site goes by: trafilatura's sitename, the page's site-name <meta>s, its
    domain and the domain's first label ("golem.de", "golem")."""
    site = domain(url)
    return (sitename, *hints.site_names, site, site.split(".")[0] if site else None)


def names_only_site(names: str | None, *site_names: str | None) -> bool:
    """True when ``names`` (trafilatura's author) name no one but the site ("mdr.de", "n-tv NACHRICHTEN")."""
    sites = site_keys(site_names)
    return bool(names) and all(_names_site(name, sites) for name in _names([names]))


def _is_headline(text: str, sites: frozenset[str]) -> bool:
    """Long enough for a headline (two words, or eight characters of a language without spaces) and
    not the site's name."""
    return (len(text.split()) >= 2 or len(text) >= 8) and not _names_site(text, sites)


def _names_site(name: str, sites: frozenset[str]) -> bool:
    """True when ``name`` is the site's (or part of it, or a site name plus words: 'Heise Online')."""
    folded = _fold(name)
    words = {_fold(word) for word in name.split()}
    return any(folded in site or site in words or (len(site) >= 5 and site in folded) for site in sites)


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


def authors(
    own: JsonLdItem | None, metas: str | None, byline: str | None, text: str, language: str | None, *site_names: str | None
) -> str | None:
    """The article's authors, "; "-joined: those its JSON-LD item names, else those its metas name
    (``metas``: trafilatura's author), else those its byline markup names (``byline``: rel, itemprop
    or class "author"), else, on a Vietnamese page, a line of capitalised names ending the text.
    Site and publisher names, job titles ("Journalist"), credit words ("Von ...") and repeated
    names are no authors; a page crediting only its publication keeps it ("BBC News")."""
    sites = site_keys((*site_names, *(own.publishers if own else ())))
    credited = own.authors if own else ()
    for names in (credited, [metas or ""], [byline or ""]):
        if named := [name for name in _names(names) if not _names_site(name, sites)]:
            return "; ".join(named)
    if language == "vi" and (line := _name_line(text)):
        return line
    return "; ".join(_names(credited) or _names([metas or ""])) or None


def _names(values: Iterable[str]) -> list[str]:
    """Single names out of name lists ("A, B and C"): without credit words and parenthesised
    initials, each once (names equal once folded: "Emma-Mackenzie" is "Emma Mackenzie"); job
    titles, links and descriptions are no names."""
    names, seen = [], set()
    for value in values:
        for part in _NAME_SEPARATORS.split(_PARENTHESES.sub("", clean_text(unescape(value)))):
            name = _CREDIT_PREFIX.sub("", part.strip())
            folded = _fold(name)
            if folded and folded not in seen and folded not in _JOB_TITLES and _is_name(name):
                seen.add(folded)
                names.append(name)
    return names


def _is_name(name: str) -> bool:
    """Not a link, nor a description of more than six words ("professor at the faculty of ...")."""
    return not name.lower().startswith("http") and len(name.split()) <= _MAX_NAME_WORDS


def _name_line(text: str) -> str | None:
    """The text's last line when it is a name: two to five capitalised words without digits (a
    Vietnamese byline; "(tổng hợp)" after it left out), not a source credit ("Theo Reuters")."""
    line = _PARENTHESES.sub("", text.rsplit("\n", 1)[-1]).strip()
    words = line.split()
    if not 2 <= len(words) <= 5 or len(line) > 40 or _fold(words[0]) in _SOURCE_CREDITS:
        return None
    return line if all(w[0].isupper() and w.isalpha() for w in words) else None


def with_lead(text: str, lead: str | None) -> str:
    """The text opened by the page's lead, unless the text has it already."""
    if not lead or _fold(lead)[:80] in _fold(text):
        return text
    return f"{lead}\n{text}"


class PageHints(NamedTuple):
    """What a page's HTML says beyond trafilatura's fields."""

    html_lang: str | None  # <html lang>, lower-case, with its region ("vi-vn")
    dates: DateHints  # its JSON-LD items, date <meta>s and bylines
    headings: tuple[str, ...] = ()  # its <h1> texts, in page order
    marked_heading: str | None = None  # the <h1> marked as the title (itemprop="headline", data-role="title")
    titles: tuple[str, ...] = ()  # og:title, twitter:title, <title>
    site_names: tuple[str, ...] = ()  # og:site_name, application-name, twitter:site, publisher <meta>s
    lead: str | None = None  # its lead paragraph (sapo), see ``lead``


def page_hints(html: str, tree: lxml.html.HtmlElement | None = None) -> PageHints:
    """The hints of a page; ``tree`` is its parsed HTML (trafilatura's ``load_html``), parsed here
    when not given."""
    if tree is None:
        tree = _parse(html)
    hints = PageHints(html_lang(html), date_hints(html))
    if tree is None:
        return hints
    metas = _metas(tree)
    headings = [(_text(h), h) for h in islice(tree.iter("h1"), _MAX_HEADINGS)]
    return hints._replace(
        headings=tuple(text for text, _ in headings if text),
        marked_heading=next((text for text, h in headings if text and _marks_title(h)), None),
        titles=_titles(tree, metas),
        site_names=tuple(name.lstrip("@") for name in _meta_values(metas, _SITE_NAME_METAS)),
        lead=lead(tree, _meta_values(metas, _DESCRIPTION_METAS)),
    )


def other_stories(tree: lxml.html.HtmlElement) -> list[int]:
    """Positions (1-based, in page order) of the ``<article>``s that hold another story's ``<h1>``
    than the page's own ``<article>`` (the one whose ``<h1>`` a page title begins or ends with):
    the next story a page appends below its own.  None when the page's own is not found."""
    titles = [_fold(title) for title in _titles(tree, _metas(tree))]

    def holds_headline(story: lxml.html.HtmlElement) -> bool:
        headings = (_fold(_text(h)) for h in islice(story.iter("h1"), _MAX_HEADINGS))
        return any(len(h) >= 8 and any(t.startswith(h) or t.endswith(h) for t in titles) for h in headings)

    stories = [(i, a) for i, a in enumerate(tree.iter("article"), start=1) if a.find(".//h1") is not None][:_MAX_HEADINGS]
    own = next((story for _, story in stories if holds_headline(story)), None)
    if own is None:
        return []
    related = [*own.iterancestors("article"), *own.iter("article")]
    return [i for i, story in stories if story not in related]


def _parse(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError):  # an empty document, or an encoding declaration in a str
        return None


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _marks_title(heading: lxml.html.HtmlElement) -> bool:
    itemprop = (heading.get("itemprop") or "").lower().split()
    return "headline" in itemprop or "name" in itemprop or heading.get("data-role") == "title"


def _titles(tree: lxml.html.HtmlElement, metas: dict[str, list[str]]) -> tuple[str, ...]:
    """The page's meta titles: og:title, twitter:title, <title>."""
    title = tree.find(".//title")
    return tuple(_meta_values(metas, _TITLE_METAS) + ([_text(title)] if title is not None else []))


def _meta_values(metas: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    return [value for key in keys for value in metas.get(key, [])]


def _metas(tree: lxml.html.HtmlElement) -> dict[str, list[str]]:
    """<meta> contents by property, name or itemprop (lower-case)."""
    metas: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = " ".join((meta.get("content") or "").split())
        for key in {(meta.get(attr) or "").lower() for attr in ("property", "name", "itemprop")} - {""}:
            if content:
                metas.setdefault(key, []).append(content)
    return metas


def lead(tree: lxml.html.HtmlElement, descriptions: list[str]) -> str | None:
    """The page's lead paragraph (sapo), wherever it stands beside the article body: the element
    marked as the sapo (``data-role="sapo"`` or class ``sapo``, as Vietnamese CMSs mark it), else
    the innermost element whose text is the page's description (a dateline before it allowed)."""
    marked = tree.xpath("//body//*[@data-role='sapo' or contains(concat(' ', normalize-space(@class), ' '), ' sapo ')]")
    if marked and len(text := _text(marked[0])) >= _MIN_LEAD_CHARS:
        return text
    for description in dict.fromkeys(" ".join(d.split()) for d in descriptions):
        if len(description) < _MIN_LEAD_CHARS:
            continue
        for found in tree.xpath("//body//text()[contains(normalize-space(.), $start)]", start=description[:_MIN_LEAD_CHARS]):
            element = found.getparent()
            for block in islice([element, *element.iterancestors()], 4):
                text = _text(block)
                if text.endswith(description) and len(text) - len(description) <= _MAX_DATELINE_CHARS:
                    return text
    return None


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
