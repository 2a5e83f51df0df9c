import gzip

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue

from tests.support.beam import streaming_pipeline
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI, article_html
from transforms.extract import metadata
from transforms.extract.articles import ExtractConfig, extract_document, page_to_article
from transforms.extract.dates import DateHints
from transforms.extract.decode import PageRejected
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
