"""One page -> one article (pure functions, no Beam): the page is checked and decoded
(``decode``), scanned for hints and extracted by trafilatura in one parse (``extract_page``), and
its fields normalised into an article (``page_to_article``, by ``metadata``, ``dates`` and
``wire``).  ``extract_article`` does all of it, in the extractor processes (``isolated``) of the
Beam stage (``transform.Extract``).

trafilatura runs with ``deduplicate=False`` (its dedup cache is process-global and would make
output depend on order).
"""

from dataclasses import dataclass, field
from html import unescape
from typing import TYPE_CHECKING

from transforms.extract import metadata, wire
from transforms.extract.dates import Page, own_item, published_time
from transforms.extract.decode import PageRejected, check_page, decode_html
from transforms.extract.metadata import (
    PageHints,
    names_only_site,
    other_stories,
    page_hints,
    site_names,
)
from transforms.extract.wire import lines_after
from transforms.records import Article, RawPage
from transforms.settings import check_ranges, setting

if TYPE_CHECKING:
    from lxml.html import HtmlElement


@dataclass(frozen=True)
class ExtractConfig:
    """Extraction settings; field names are the keys of the YAML ``extract:`` section."""

    max_page_bytes: int = setting(20_000_000, at_least=1)
    timeout_s: float = setting(30.0, above=0)
    processes: int = setting(0, at_least=0)  # extractor processes per worker thread (0: 1; a local run makes it one
    # per core, ``pipelines.runners.memory.local_processes``)
    min_words: int = setting(20, at_least=0)
    favor_precision: bool = False
    include_tables: bool = True
    include_comments: bool = False
    wire_agencies: dict = field(default_factory=lambda: dict(wire.AGENCIES))  # agency code -> the names crediting it

    def __post_init__(self):
        check_ranges(self, "extract")
        object.__setattr__(self, "wire_agencies", wire.check_agencies(self.wire_agencies))


DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def extract_document(page: "str | HtmlElement", url: str | None, config: ExtractConfig) -> dict | None:
    """Run trafilatura on one page (its HTML, or its tree from trafilatura's ``load_html``); the fields
    we keep, or None when it finds no main text.  Other stories' ``<article>``s beside the page's own
    (``metadata.other_stories``) are pruned first.  ``find_date`` finds trafilatura's date (htmldate)
    when called: ``dates.published_time`` calls it only when it can matter."""
    import trafilatura  # on first use: only the extractor processes need it
    from trafilatura.utils import load_html

    tree = load_html(page)
    if tree is None:
        return None
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,  # the same text: the fields are read below, as much of them as we keep
        deduplicate=False,
        favor_precision=config.favor_precision,
        include_tables=config.include_tables,
        include_comments=config.include_comments,
        prune_xpath=[f"(//article)[{i}]" for i in other_stories(tree)] or None,
    )
    if doc is None:
        return None
    return {"text": doc.text, **trafilatura_fields(tree, url)}


def trafilatura_fields(tree: "HtmlElement", url: str | None) -> dict:
    """The metadata fields we keep of trafilatura's ``extract_metadata``, as it reads them: title,
    author, URL, site name, and ``find_date`` (its htmldate call, deferred).  Its categories, tags
    and license (4 ms a page) are not read."""
    from htmldate import find_date
    from trafilatura import metadata as meta
    from trafilatura.utils import line_processing

    fields = meta.examine_meta(tree)
    if fields.author and " " not in fields.author:
        fields.author = None
    try:
        fields = meta.extract_meta_json(tree, fields)
    except Exception:  # noqa: BLE001 -- as trafilatura: a bug in its JSON-LD reading leaves the metas
        pass
    fields.title = fields.title or meta.extract_title(tree)
    fields.author = fields.author or meta.extract_author(tree)
    fields.url = fields.url or meta.extract_url(tree, url)
    if sitename := fields.sitename or meta.extract_sitename(tree):
        sitename = sitename.lstrip("@")
        fields.sitename = sitename.title() if sitename and "." not in sitename and not sitename[0].isupper() else sitename
    elif fields.url and (site := meta.META_URL.match(fields.url)):
        fields.sitename = site[1]
    fields.clean_and_trim()

    def trafilatura_date() -> str | None:
        found = find_date(tree, **DATE_PARAMS, url=fields.url)
        return found and line_processing(unescape(found))

    return {"title": fields.title, "author": fields.author, "url": fields.url, "sitename": fields.sitename,
            "find_date": trafilatura_date}


def extract_page(html: str, url: str | None, config: ExtractConfig) -> tuple[PageHints, dict | None]:
    """What one page's HTML gives (parsed once): its hints and trafilatura's fields,
    with ``byline``, the names trafilatura reads from the byline markup (rel, itemprop or class
    "author"), when its author (from the metas) is the site's name only, and ``after_text``, the
    short blocks right after the text that trafilatura left out (``wire.lines_after``: a sign-off
    "— AP" as a heading)."""
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return page_hints(html), None
    hints = page_hints(html, tree)
    doc = extract_document(tree, url, config)
    if doc:
        doc["after_text"] = lines_after(tree, doc["text"])
    if doc and names_only_site(doc["author"], *site_names(hints, doc["sitename"], doc["url"] or url)):
        doc["byline"] = extract_author(tree)
    return hints, doc


def page_to_article(page: RawPage, hints: PageHints, doc: dict | None, min_words: int,
                    agencies: wire.Agencies = wire.DEFAULT_AGENCIES) -> Article:
    """Turn trafilatura's fields plus the raw page's context into a normalised article; ``agencies``:
    the agencies ``wire_source`` names (``wire.agency_lookup`` of ``ExtractConfig.wire_agencies``)."""
    if doc is None or not doc.get("text"):
        raise PageRejected("NoMainText", "trafilatura found no main text")
    text = metadata.clean_text(metadata.with_lead(doc["text"], hints.lead))
    word_count = metadata.word_count(text)
    if word_count < min_words:
        raise PageRejected("TooShort", f"{word_count} words < {min_words}")
    url = metadata.article_url(doc.get("url"), page.get("url"))
    language = metadata.language(text, hints.html_lang)
    meta_title = doc.get("title") or page.get("feed_title")
    own = own_item(hints.dates.items, Page(url or page.get("url"), meta_title, hints.html_lang, language))
    site_names = metadata.site_names(hints, doc.get("sitename"), url or doc.get("url") or page.get("url"))
    title = metadata.article_title(meta_title, hints, own, *site_names)
    context = Page(url or page.get("url"), title, hints.html_lang, language)
    published = published_time(hints.dates, doc.get("find_date", lambda: None), page.get("feed_published_at"), context)
    author = metadata.authors(own, doc.get("author"), doc.get("byline"), text, language, *site_names)
    return Article(
        article_id=metadata.article_id(url, page["source"]),
        url=url,
        source=page["source"],
        domain=metadata.domain(url or doc.get("url")),  # a canonical naming the site's home still names the site
        feed_url=page.get("feed_url"),
        title=title,
        author=author,
        published_at=published.at,
        published_at_source=published.source,
        published_at_precision=published.precision,
        published_at_zone=published.zone,
        fetched_at=page.get("fetched_at"),
        language=language,
        text=text,
        word_count=word_count,
        content_sha1=metadata.content_sha1(text),
        wire_source=wire.wire_source(
            text, (doc.get("author"), doc.get("byline"), author), agencies, doc.get("after_text", ()),
        ),
    )


def extract_article(page: RawPage, config: ExtractConfig, agencies: wire.Agencies = wire.DEFAULT_AGENCIES) -> Article:
    """The article of a raw page (``PageRejected`` when it has none): everything one page takes."""
    check_page(page["body"], config.max_page_bytes)
    html = decode_html(page["body"], page.get("charset"))
    return page_to_article(page, *extract_page(html, page.get("url"), config), config.min_words, agencies)
