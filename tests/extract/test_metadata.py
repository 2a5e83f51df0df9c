import unicodedata
from datetime import UTC, datetime, timedelta, timezone

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


def test_dates_keep_their_precision_and_end_in_utc():
    assert metadata.dated("2026-11-16T08:30:00+0700", True) == (datetime(2026, 11, 16, 1, 30, tzinfo=UTC), "page", "minute")
    assert metadata.dated("2026-11-16T08:30:15", True) == (datetime(2026, 11, 16, 8, 30, 15, tzinfo=UTC), "page", "second")
    # a bare date, also as date extractors write it (midnight in the page's own zone): that day, 00:00 UTC
    day = (datetime(2026, 11, 16, tzinfo=UTC), "page", "day")
    assert metadata.dated("2026-11-16", True) == metadata.dated("2026-11-16T00:00:00+07:00", True) == day
    assert metadata.dated("2026-11-16T07:00:00+07:00", True).precision == "minute"  # midnight UTC, not a bare date
    assert metadata.dated("16/11/2026", True) is None and metadata.dated(None, True) is None


def test_published_time_prefers_a_precise_page_time_then_feed():
    feed = datetime(2026, 11, 16, 3, 0, tzinfo=timezone(timedelta(hours=7)))
    precise = datetime(2026, 11, 16, 1, 30, tzinfo=UTC)
    assert metadata.published_time(["2026-11-16T08:30:00+0700", "2026-11-16"], feed) == (precise, "page", "minute")
    assert metadata.published_time([None, "2026-11-16", precise], None) == (precise, "page", "minute")
    assert metadata.published_time(["2026-11-15"], feed) == (feed.astimezone(UTC), "feed", "minute")
    assert metadata.published_time(["2026-11-10"], feed) == (datetime(2026, 11, 10, tzinfo=UTC), "page", "day")
    assert metadata.published_time([None, None], None) == (None, "none", "none")


def test_structured_date_reads_json_ld_then_meta():
    jsonld = '<script type="application/ld+json">{"datePublished": "2026-11-17T13:40:00+07:00"}</script>'
    meta = '<meta content="2026-11-19T06:30:00+07:00" property="article:published_time">'
    assert metadata.structured_date(meta + jsonld) == "2026-11-17T13:40:00+07:00"
    assert metadata.structured_date(meta) == "2026-11-19T06:30:00+07:00"
    assert metadata.structured_date('<meta property="og:title" content="2026-01-01">') is None


@pytest.mark.parametrize(
    "html, language, expected",
    [
        ("<span>Thứ sáu, 20/11/2026 - 15:10</span>", "vi", datetime(2026, 11, 20, 8, 10, tzinfo=UTC)),
        ("<span>01/02/2018 02:49 (GMT+7)</span>", "en", datetime(2018, 1, 31, 19, 49, tzinfo=UTC)),
        ("<span>05/03/2026 | 09:49</span>", "en", datetime(2026, 3, 5, 9, 49, tzinfo=UTC)),
        ("<p>Thông tư ngày 28/12/2017 sửa đổi</p>", "vi", None),
        ("<span>31/02/2026 10:00</span>", "vi", None),
        # a date-marked element beats an earlier unmarked stamp, after text or under data-testid
        ('<p>Sửa 19/11/2026 10:00</p><div class="box">Tin mới<span class="date">20/11/2026 15:10</span>', "vi",
         datetime(2026, 11, 20, 8, 10, tzinfo=UTC)),
        ('<p>Sửa 19/11/2026 10:00</p><time data-testid="published">20/11/2026 15:10</time>', "vi",
         datetime(2026, 11, 20, 8, 10, tzinfo=UTC)),
    ],
)
def test_visible_dates_are_day_first_and_local(html, language, expected):
    assert metadata.visible_time(metadata.visible_date(html), language) == expected


def test_language_detects_text_over_a_wrong_declaration():
    vi = "Giá vàng trong nước hôm nay tăng mạnh theo đà tăng của thị trường thế giới, các doanh nghiệp điều chỉnh giá bán"
    assert metadata.language(vi, "en") == "vi"
    assert metadata.language("Short text", "vi") == "vi"
    assert metadata.language("The central bank raised interest rates again on Monday to slow inflation", None) == "en"


def test_html_lang():
    assert metadata.html_lang('<!doctype html><html class="x" lang="vi-VN">') == "vi"
    assert metadata.html_lang("<html>") is None


def test_word_count_counts_vietnamese_syllables():
    assert metadata.word_count("Hòa Bình, khỏe mạnh!") == 4
