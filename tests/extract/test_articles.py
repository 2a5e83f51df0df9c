import gzip
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue
from trafilatura.utils import load_html

from tests.support.beam import streaming_pipeline
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI, article_html
from transforms.extract import metadata
from transforms.extract.articles import (
    DATE_PARAMS,
    ExtractConfig,
    extract_document,
    page_to_article,
    trafilatura_fields,
)
from transforms.extract.dates import DateHints
from transforms.extract.decode import PageRejected, decode_html
from transforms.extract.metadata import PageHints
from transforms.extract.transform import Extract
from transforms.records import raw_page

NO_HINTS = PageHints(html_lang=None, dates=DateHints((), (), (), ()))

VI_PAGE = article_html(
    "Giá vàng hôm nay tăng mạnh",
    PARAGRAPHS_VI,
    canonical="https://baothu.example/gia-vang-hom-nay.html?utm_source=fb",
    published="2026-11-16T08:30:00+07:00",
)


def test_extract_document_and_page_to_article():
    doc = extract_document(VI_PAGE, None, ExtractConfig())
    article = page_to_article(raw_page("pages/a.html", b""), NO_HINTS, doc, min_words=20)
    assert article["url"] == "https://baothu.example/gia-vang-hom-nay.html"
    assert article["title"] == "Giá vàng hôm nay tăng mạnh"
    assert article["published_at"].isoformat() == "2026-11-16T01:30:00+00:00"
    assert article["published_at_source"] == "page"
    assert article["language"] == "vi"
    assert article["domain"] == "baothu.example"
    assert PARAGRAPHS_VI[0] in article["text"] and "Trang chủ" not in article["text"]


FETCHED = "https://baothu.example/kinh-te/gia-vang-tang-manh-102260307.htm"


@pytest.mark.parametrize(
    "canonical",
    ["https://baothu.example/", "https://www.baothu.example", "https://baothu.example/kinh-te", "https://baothu.example/index.html"],
)
def test_a_canonical_home_or_section_is_not_the_articles_identity(canonical):
    html = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI, canonical=canonical)
    doc = extract_document(html, FETCHED, ExtractConfig())
    fetched = page_to_article(raw_page("a.html", b"", url=FETCHED), NO_HINTS, doc, min_words=20)
    assert (fetched["url"], fetched["article_id"]) == (FETCHED, metadata.article_id(FETCHED, "a.html"))
    doc = extract_document(html, None, ExtractConfig())
    local = page_to_article(raw_page("pages/a.html", b""), NO_HINTS, doc, min_words=20)
    assert (local["url"], local["article_id"]) == (None, metadata.article_id(None, "pages/a.html"))
    assert local["domain"] == fetched["domain"] == "baothu.example"


@pytest.mark.parametrize(
    "canonical",
    ["https://taz.de/!5928990/", "https://www.vg.no/i/dRwWqB", "https://baothu.example/gia-vang-tang-manh-theo-the-gioi",
     "https://baothu.example/kinh-te/gia-vang.html"],
)
def test_an_article_like_canonical_is_the_articles_identity(canonical):
    html = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI, canonical=canonical)
    doc = extract_document(html, FETCHED, ExtractConfig())
    assert page_to_article(raw_page("a.html", b"", url=FETCHED), NO_HINTS, doc, min_words=20)["url"] == canonical


def test_page_to_article_rejects_empty_and_short_texts():
    page = raw_page("p.html", b"")
    with pytest.raises(PageRejected, match="no main text"):
        page_to_article(page, NO_HINTS, None, min_words=20)
    with pytest.raises(PageRejected) as info:
        page_to_article(page, NO_HINTS, {"text": "Chỉ vài chữ."}, min_words=20)
    assert info.value.error_type == "TooShort"


def test_extract_transform_routes_every_page():
    pages = [
        raw_page("good-vi.html", VI_PAGE.encode()),
        raw_page("good-en.html", article_html("Bus network grows", PARAGRAPHS_EN, lang=None).encode(), url="https://city.example/bus"),
        raw_page("empty.html", b""),
        raw_page("binary.bin", gzip.compress(bytes(range(256)) * 50)),
        raw_page("nav-only.html", b"<html><body><nav><a href='/'>Home</a></nav></body></html>"),
        raw_page("truncated.html", VI_PAGE.encode()[: len(VI_PAGE) // 2]),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        articles, failures = p | beam.Create(pages) | Extract(ExtractConfig())
        assert_that(
            articles | "ArticleKeys" >> beam.Map(lambda a: (a["source"], a["url"], a["language"])),
            equal_to(
                [
                    ("good-vi.html", "https://baothu.example/gia-vang-hom-nay.html", "vi"),
                    ("good-en.html", "https://city.example/bus", "en"),
                    ("truncated.html", "https://baothu.example/gia-vang-hom-nay.html", "vi"),
                ]
            ),
            label="articles",
        )
        assert_that(
            failures | "FailureKeys" >> beam.Map(lambda f: (f["source"], f["stage"], f["error_type"])),
            equal_to(
                [
                    ("empty.html", "extract", "EmptyPage"),
                    ("binary.bin", "extract", "BinaryContent"),
                    ("nav-only.html", "extract", "TooShort"),
                ]
            ),
            label="failures",
        )




def test_every_output_keeps_the_timestamp_and_window_of_its_own_page():
    """Pages are extracted while others are read: each article and failure must still come out
    with its own page's event time and window, not those of the page processed when it was ready."""
    pages = [raw_page(f"p{i}.html", VI_PAGE.encode()) for i in range(1, 4)] + [raw_page("p4.html", b"")]
    stream = TestStream().add_elements([TimestampedValue(page, 1000 * i) for i, page in enumerate(pages, start=1)])
    with streaming_pipeline() as p:
        articles, failures = (
            p | stream.advance_watermark_to_infinity()
            | beam.WindowInto(FixedWindows(1000))
            | Extract(ExtractConfig(processes=2))  # answers come back in any order
        )
        for label, outputs, expected in (
            ("Articles", articles, [("p1.html", 1000, 1000), ("p2.html", 2000, 2000), ("p3.html", 3000, 3000)]),
            ("Failures", failures, [("p4.html", 4000, 4000)]),
        ):
            assert_that(outputs | f"{label}Times" >> beam.Map(event_time), equal_to(expected), label=label)


def event_time(row, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
    return row["source"], int(timestamp), int(window.start)


SHARED_EXTRACTION = Path(__file__).resolve().parents[3] / "shared" / "data" / "extraction"


def trafilatura_metadata(html: str, url: str | None) -> tuple:
    """What trafilatura's own metadata pass gives of the fields we keep."""
    from trafilatura.metadata import extract_metadata

    found = extract_metadata(load_html(html), url, dict(DATE_PARAMS))
    return found.title, found.author, found.url, found.sitename, found.date


def our_fields(html: str, url: str | None) -> tuple:
    fields = trafilatura_fields(load_html(html), url)
    return fields["title"], fields["author"], fields["url"], fields["sitename"], fields["find_date"]()


@pytest.mark.parametrize("extra_head, byline", [
    ('<meta name="author" content="Nguyễn Văn An"><meta property="og:site_name" content="@baothu">', ""),
    ('<meta name="author" content="Admin"><meta name="twitter:site" content="baothu">', '<p class="author">Trần Thị Bình</p>'),
    ('<script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "Lê Hoa"},'
     ' "publisher": {"name": "báo thử"}, "datePublished": "2026-11-16T08:30:00+07:00"}</script>', ""),
    ("", '<span class="byline">By Jane Roe</span>'),
])
def test_the_fields_we_keep_are_trafilaturas_own(extra_head, byline):
    """``trafilatura_fields`` reads title, author, URL, site name and date as trafilatura's
    ``extract_metadata`` does (without its categories, tags and license)."""
    html = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI, canonical="https://baothu.example/gia-vang.html",
                        published="2026-11-16T08:30:00+07:00").replace("</head>", extra_head + "</head>")
    html = html.replace("<article><h1>", f"<article>{byline}<h1>")
    for url in (None, FETCHED):
        assert our_fields(html, url) == trafilatura_metadata(html, url)


@pytest.mark.slow
def test_the_fields_we_keep_are_trafilaturas_own_on_real_pages():
    pages = sorted((SHARED_EXTRACTION / "fundus").rglob("*.html.gz")) + sorted((SHARED_EXTRACTION / "vn-real").glob("*.html"))
    if not pages:
        pytest.skip(f"{SHARED_EXTRACTION} is absent (see ../shared/data/README.md)")
    for path in pages:
        html = decode_html(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes(), None)
        if load_html(html) is not None:
            assert our_fields(html, None) == trafilatura_metadata(html, None), path
