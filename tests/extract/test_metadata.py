import unicodedata

import pytest

from transforms.extract import metadata

NFC_TITLE = "Hòa Bình: khỏe mạnh, thúy"


def test_clean_text_composes_nfd_and_folds_whitespace():
    nfd = unicodedata.normalize("NFD", "Giá vàng  hôm\u00a0nay\n\n\n tăng\u200b mạnh ")
    assert nfd != unicodedata.normalize("NFC", nfd)
    assert metadata.clean_text(nfd) == "Giá vàng hôm nay\ntăng mạnh"


def test_clean_text_is_idempotent():
    once = metadata.clean_text(" a \r\n\r\n b  c ")
    assert once == "a\nb c" == metadata.clean_text(once)


@pytest.mark.parametrize(
    "title, sitename, expected",
    [
        ("Giá vàng hôm nay tăng mạnh - Báo Tin Tức 24", None, "Giá vàng hôm nay tăng mạnh"),
        ("Giá vàng hôm nay tăng mạnh - Tin Tức 24", "Báo Tin Tức 24", "Giá vàng hôm nay tăng mạnh"),
        ("Rates rise again | Saigon Post", None, "Rates rise again"),
        ("Rates rise again – saigonpost.com", None, "Rates rise again"),
        ("Hà Nội - Hải Phòng cao tốc thông xe", None, "Hà Nội - Hải Phòng cao tốc thông xe"),
        ("Bão số 5 - Thời sự - Báo Nhân Dân", "Nhân Dân", "Bão số 5 - Thời sự"),
        (unicodedata.normalize("NFD", NFC_TITLE) + " - Báo X", None, NFC_TITLE),
        ("", None, None),
        (None, "Site", None),
    ],
)
def test_clean_title_strips_site_suffixes_only(title, sitename, expected):
    assert metadata.clean_title(title, sitename) == expected


def test_article_url_prefers_page_canonical_then_fetched_url():
    page = "https://Example.com/news/a?utm_source=x#top"
    assert metadata.article_url(page, "https://other.example/b") == "https://example.com/news/a"
    assert metadata.article_url(None, "https://other.example/b") == "https://other.example/b"
    assert metadata.article_url("https://example.com/news", "https://example.com/news/a") == "https://example.com/news/a"
    assert metadata.article_url("not a url", None) is None


def test_article_id_is_stable_and_falls_back_to_source():
    a = metadata.article_id("https://example.com/a", "x.html")
    assert a == metadata.article_id("https://example.com/a", "y.html")
    assert len(a) == 20
    assert metadata.article_id(None, "x.html") != metadata.article_id(None, "y.html")
    assert metadata.article_id(None, "x.html") == metadata.article_id(None, "x.html")


def test_language_detects_text_over_a_wrong_declaration():
    vi = "Giá vàng trong nước hôm nay tăng mạnh theo đà tăng của thị trường thế giới, các doanh nghiệp điều chỉnh giá bán"
    assert metadata.language(vi, "en") == "vi"
    assert metadata.language("Short text", "vi-VN") == "vi"
    assert metadata.language("The central bank raised interest rates again on Monday to slow inflation", None) == "en"


def test_html_lang():
    assert metadata.html_lang('<!doctype html><html class="x" lang="vi-VN">') == "vi-vn"
    assert metadata.html_lang("<html lang='en_us'>") == "en-us"
    assert metadata.html_lang("<html>") is None


def test_word_count_counts_vietnamese_syllables():
    assert metadata.word_count("Hòa Bình, khỏe mạnh!") == 4
