"""Checks before extraction and charset decoding (transforms/extract/decode.py)."""

import unicodedata

import pytest

from tests.support.pagegen import PARAGRAPHS_VI, article_html, to_cp1258
from transforms.extract.decode import PageRejected, check_page, decode_html

VI_PAGE = article_html("Giá vàng hôm nay tăng mạnh", PARAGRAPHS_VI)


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
    assert decode_html(b"<p>ok</p>", "no-such-charset") == "<p>ok</p>"
    assert isinstance(decode_html(body), str)  # undeclared legacy bytes still decode to something


def test_decode_html_reads_labels_as_browsers_do():
    body = "<meta charset=iso-8859-1><p>„Brave New Woman“ – 5 €…</p>".encode("cp1252")
    assert "„Brave New Woman“ – 5 €…" in decode_html(body)  # iso-8859-1 means windows-1252
    gb = "<meta charset=gb2312><p>誓言———兄弟</p>".encode("gb18030")
    assert "誓言———兄弟" in decode_html(gb)  # gb2312 means gb18030


def test_decode_html_keeps_nearly_valid_utf8():
    body = ("<p>So schön winterlich</p>" * 200).encode("utf-8") + b"\xff<p>Gr\xfc\xdfe</p>"
    text = decode_html(body)
    assert text.count("So schön winterlich") == 200 and text.count("\ufffd") == 3


@pytest.mark.parametrize("transport, meta", [(None, "iso-8859-1"), (None, "windows-1252"), ("iso-8859-15", None)])
def test_valid_multibyte_utf8_wins_over_a_declared_single_byte_charset(transport, meta):
    text = "Ein Gesetz für alle – „Zeitenwende“ in Köln"
    body = (f"<meta charset={meta}>" if meta else "").encode() + f"<p>{text}</p>".encode()
    assert text in decode_html(body, transport)
