import gzip
import unicodedata

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI, article_html, to_cp1258
from transforms.extract import (
    Extract,
    ExtractConfig,
    IsolatedExtractor,
    PageRejected,
    check_page,
    decode_html,
    extract_document,
    page_to_article,
)
from transforms.records import raw_page

VI_PAGE = article_html(
    "Giá vàng hôm nay tăng mạnh",
    PARAGRAPHS_VI,
    canonical="https://baothu.example/gia-vang.html?utm_source=fb",
    published="2026-11-16T08:30:00+07:00",
)


@pytest.mark.parametrize(
    "body, error_type",
    [
        (b"", "EmptyPage"),
        (b"   \n ", "EmptyPage"),
        (bytes(range(256)) * 20, "BinaryContent"),
        (b"<html>" + b"x" * 20_000, "PageTooLarge"),
    ],
)
def test_check_page_rejects(body, error_type):
    with pytest.raises(PageRejected) as info:
        check_page(body, max_bytes=10_000)
    assert info.value.error_type == error_type


def test_check_page_accepts_html():
    check_page(VI_PAGE.encode(), max_bytes=1_000_000)


def test_decode_html_uses_meta_charset_for_windows_1258():
    page = article_html("Hòa bình và khỏe mạnh", PARAGRAPHS_VI, charset="windows-1258")
    body = to_cp1258(page)
    assert body != page.encode("utf-8")
    text = decode_html(body)
    assert "Hòa bình và khỏe mạnh" in text
    assert text == unicodedata.normalize("NFC", text)


def test_decode_html_transport_charset_wins_and_detection_is_last_resort():
    body = to_cp1258("<p>Hòa bình</p>")
    assert "Hòa bình" in decode_html(body, "windows-1258")
    assert decode_html("<p>ok</p>".encode("utf-8"), "no-such-charset") == "<p>ok</p>"
    assert isinstance(decode_html(body), str)  # undeclared legacy bytes still decode to something


def test_extract_document_and_page_to_article():
    doc = extract_document(VI_PAGE, None, ExtractConfig())
    page = {**raw_page("pages/a.html", b""), "html_lang": None}
    article = page_to_article(page, doc, min_words=20)
    assert article["url"] == "https://baothu.example/gia-vang.html"
    assert article["title"] == "Giá vàng hôm nay tăng mạnh"
    assert article["published_at"].isoformat() == "2026-11-16T01:30:00+00:00"
    assert article["published_at_source"] == "page"
    assert article["language"] == "vi"
    assert article["domain"] == "baothu.example"
    assert PARAGRAPHS_VI[0] in article["text"] and "Trang chủ" not in article["text"]


def test_page_to_article_rejects_empty_and_short_texts():
    page = {**raw_page("p.html", b""), "html_lang": None}
    with pytest.raises(PageRejected, match="no main text"):
        page_to_article(page, None, min_words=20)
    with pytest.raises(PageRejected) as info:
        page_to_article(page, {"text": "Chỉ vài chữ."}, min_words=20)
    assert info.value.error_type == "TooShort"


def test_isolated_extractor_times_out_then_recovers():
    slow = IsolatedExtractor(ExtractConfig(timeout_s=0.0001))
    with pytest.raises(PageRejected) as info:
        slow(VI_PAGE * 50, None)
    assert info.value.error_type == "ExtractionTimeout"
    slow.close()
    normal = IsolatedExtractor(ExtractConfig())
    assert PARAGRAPHS_VI[1] in normal(VI_PAGE, None)["text"]
    normal.close()


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
                    ("good-vi.html", "https://baothu.example/gia-vang.html", "vi"),
                    ("good-en.html", "https://city.example/bus", "en"),
                    ("truncated.html", "https://baothu.example/gia-vang.html", "vi"),
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


def test_decode_html_reads_labels_as_browsers_do():
    body = "<meta charset=iso-8859-1><p>„Brave New Woman“ – 5 €…</p>".encode("cp1252")
    assert "„Brave New Woman“ – 5 €…" in decode_html(body)  # iso-8859-1 means windows-1252
    gb = "<meta charset=gb2312><p>誓言———兄弟</p>".encode("gb18030")
    assert "誓言———兄弟" in decode_html(gb)  # gb2312 means gb18030


def test_decode_html_keeps_nearly_valid_utf8():
    body = ("<p>So schön winterlich</p>" * 200).encode("utf-8") + b"\xff<p>Gr\xfc\xdfe</p>"
    text = decode_html(body)
    assert text.count("So schön winterlich") == 200 and text.count("\ufffd") == 3
