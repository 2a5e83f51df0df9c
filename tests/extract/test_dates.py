"""Publication times of real-page patterns (issue 19), page to article: the right item's date, in
the zone the page states, else its country's or language's zone, marked as a guess."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.extract.pages import article_of, json_ld, paragraphs
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI
from transforms.extract.dates import (
    DateHints,
    Page,
    Stamp,
    date_hints,
    parse_byline,
    parse_stamp,
    published_time,
)

TITLE_VI = "Giá vàng hôm nay tăng mạnh"
TITLE_EN = "Bus network grows into the northern districts"


def page(head: str = "", byline: str = "", *, lang: str = "vi", padding: str = "") -> str:
    """A small article page: ``head`` markup, ``padding`` before the article, ``byline`` under its title."""
    title, body = (TITLE_VI, paragraphs(PARAGRAPHS_VI)) if lang == "vi" else (TITLE_EN, paragraphs(PARAGRAPHS_EN))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body>{padding}<article><h1>{title}</h1>{byline}{body}</article></body></html>"
    )


def published(html: str, url: str) -> tuple:
    article = article_of(html, url)
    return article["published_at"], article["published_at_precision"], article.get("published_at_zone")


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def test_a_zone_less_json_ld_time_takes_the_zone_of_a_meta_with_the_same_clock():
    url = "https://www.n-tv.de/leben/lybke-article24075843.html"
    head = json_ld({"@type": "NewsArticle", "url": url, "datePublished": "2023-04-28 18:11:01.0"})
    head += '<meta name="date" content="2023-04-28T18:11:01+02:00">'
    assert published(page(head, lang="de"), url) == (utc(2023, 4, 28, 16, 11, 1), "second", "stated")


def test_a_zone_less_time_takes_the_zone_of_the_byline():
    url = "https://news.example.com/markets/stocks-rally-4412.html"
    head = json_ld({"@type": "NewsArticle", "datePublished": "2026-03-07T08:47:00"})
    byline = '<span class="date">07/03/2026 08:47 (GMT+9)</span>'
    assert published(page(head, byline, lang="en-GB"), url) == (utc(2026, 3, 6, 23, 47), "minute", "stated")


@pytest.mark.parametrize(
    "lang, url, stamp, expected",
    [  # no zone anywhere on the page: the country's (TLD) or the language's zone, a guess
        ("vi", "https://cafef.vn/thoi-diem-nang-hang-18826030622484142.chn", "2026-03-07T00:01:00", utc(2026, 3, 6, 17, 1)),
        ("de", "https://www.stern.de/wirtschaft/epi-zahlungssystem-33420056.html", "2023-04-28T19:09:00",
         utc(2023, 4, 28, 17, 9)),
        ("tr", "https://www.haberturk.com/orman-yanginlari-3700095", "2024-07-03T18:24:00", utc(2024, 7, 3, 15, 24)),
        ("en", "https://news.example.com/markets/stocks-rally-4412.html", "2026-03-07T08:47:00", utc(2026, 3, 7, 8, 47)),
    ],
)
def test_a_zone_less_time_without_a_stated_zone_is_a_guess(lang, url, stamp, expected):
    head = json_ld({"@type": "NewsArticle", "datePublished": stamp})
    head += f'<meta property="article:published_time" content="{stamp}">'
    assert published(page(head, lang=lang), url) == (expected, "minute", "guessed")


def test_a_json_ld_date_written_with_a_zone_name_keeps_it():
    url = "https://www.faz.net/aktuell/rhein-main/49-euro-ticket-18857107.html"
    head = json_ld({"@type": "NewsArticle", "datePublished": "Fri Apr 28 19:20:36 CEST 2023"})
    byline = '<time class="atc-MetaTime">28.04.2023, 19:20</time>'
    assert published(page(head, byline, lang="de"), url) == (utc(2023, 4, 28, 17, 20, 36), "second", "stated")


def test_the_json_ld_item_of_the_page_wins_over_a_related_story():
    url = "https://baothu.example/kinh-te/gia-vang-tang-manh-102260307.htm"
    related = {"@type": "NewsArticle", "url": "https://baothu.example/the-gioi/bao-so-5-102190101.htm",
               "headline": "Bão số 5 đổ bộ", "datePublished": "2019-01-01T06:00:00+07:00"}
    own = {"@type": "NewsArticle", "url": url, "headline": TITLE_VI, "datePublished": "2026-03-07T09:40:00+07:00"}
    assert published(page(json_ld(related, own)), url) == (utc(2026, 3, 7, 2, 40), "minute", "stated")


def test_a_live_blog_is_dated_by_its_own_item_not_its_last_update():
    url = "https://www.mirror.co.uk/news/uk-news/uk-riots-live-33386398"
    blog = {
        "@type": "LiveBlogPosting",
        "liveBlogUpdate": [{"@type": "BlogPosting", "headline": "Latest", "datePublished": "2024-08-05T20:49:50+01:00"}],
        "datePublished": "2024-08-04T13:23:00Z",
        "url": url,
    }
    head = '<meta property="article:published_time" content="2024-08-05T19:49:50Z">' + json_ld(blog)
    assert published(page(head, lang="en"), url) == (utc(2024, 8, 4, 13, 23), "minute", "stated")


def test_a_visible_pm_time_beats_a_first_published_tracking_tag():
    url = "https://www.telegraph.co.uk/recommended/home/best-heated-clothes-airer/"
    head = '<meta name="DCSext.articleFirstPublished" content="2019-02-05 16:07">'
    byline = '<time class="e-published-date">30 August 2023 • 4:45pm</time>'
    assert published(page(head, byline, lang="en-GB"), url) == (utc(2023, 8, 30, 15, 45), "minute", "guessed")


def test_an_itemprop_date_published_on_a_time_element_is_structured():
    url = "https://www.telegraph.co.uk/recommended/home/best-heated-clothes-airer/"
    head = '<meta name="DCSext.articleFirstPublished" content="2019-02-05 16:07">'
    byline = '<time itemprop="datePublished" datetime="2023-08-30T16:45+0100">30 August 2023</time>'
    assert published(page(head, byline, lang="en-GB"), url) == (utc(2023, 8, 30, 15, 45), "minute", "stated")


def test_a_json_ld_time_far_down_a_big_page_is_read():
    url = "https://www.stern.de/wirtschaft/epi-zahlungssystem-33420056.html"
    padding = '<div class="nav">' + '<a href="/ressort">Ressort</a>' * 12_000 + "</div>"
    head = json_ld({"@type": "NewsArticle", "url": url, "datePublished": "2023-04-28T19:09:00+02:00"})
    byline = '<span class="date">28.04.2023, 19:09 Uhr</span>'
    html = page(byline=byline, lang="de", padding=padding).replace("</body>", head + "</body>")
    assert published(html, url) == (utc(2023, 4, 28, 17, 9), "minute", "stated")


def test_a_publication_meta_under_another_name_beats_a_visible_day():
    url = "https://www.boersen-zeitung.de/kapitalmaerkte/steigende-us-zinsen-setzen-dax-zu"
    head = '<meta name="article:published:time" content="2024-10-23T17:48:15+02:00">'
    byline = '<span class="date">23.10.2024</span>'
    assert published(page(head, byline, lang="de"), url) == (utc(2024, 10, 23, 15, 48, 15), "second", "stated")


@pytest.mark.parametrize(
    "byline, expected",
    [
        ("15:20 PM, 07/03/2026", utc(2026, 3, 7, 8, 20)),
        ("Thứ bảy, 07/03/2026 - 3:20 chiều", utc(2026, 3, 7, 8, 20)),
        ("8:30 tối, 07/03/2026", utc(2026, 3, 7, 13, 30)),
        ("07/03/26 08:30", utc(2026, 3, 7, 1, 30)),
    ],
)
def test_vietnamese_bylines(byline, expected):
    url = "https://baothu.vn/kinh-te/gia-vang-tang-manh-102260307.htm"
    assert published(page(byline=f'<div class="date-time">{byline}</div>'), url) == (expected, "minute", "guessed")


@pytest.mark.parametrize(
    "lang, expected", [("en-US", utc(2008, 1, 10, 16, 30)), ("en-GB", utc(2008, 10, 1, 15, 30)), ("vi", None)]
)  # en-US: no zone known for the US, UTC; en-GB: London's summer time
def test_numeric_dates_follow_the_page_region(lang, expected):
    url = "https://news.example.com/local/bus-network-grows-20080110"
    article = article_of(page(byline='<span class="date">1/10/2008 4:30 PM</span>', lang=lang), url)
    if expected:
        assert (article["published_at"], article["published_at_precision"]) == (expected, "minute")
    else:  # a Vietnamese page: 1 October, in GMT+7
        assert article["published_at"] == utc(2008, 10, 1, 9, 30)


def test_a_printed_date_is_not_read_from_inside_a_longer_number():
    url = "https://www.merkur.de/politik/ein-artikel-92239012.html"
    byline = '<p><span><time datetime="2023-04-28 18:16">28.04.2023, 18:16 Uhr</time></span></p>'
    assert published(page(byline=byline, lang="de"), url) == (utc(2023, 4, 28, 16, 16), "minute", "guessed")


def test_a_visible_stamp_without_a_year_takes_it_from_the_page_not_the_clock():
    url = "https://news.example.com/local/bus-network-grows-5512"
    head = json_ld({"@type": "NewsArticle", "datePublished": "2019-03-07"})
    byline = '<span class="date">March 7 at 4:45 pm</span>'
    assert published(page(head, byline, lang="en"), url) == (utc(2019, 3, 7, 16, 45), "minute", "guessed")


def test_stamps_keep_their_clock_offset_and_precision():
    assert parse_stamp("2026-11-16T08:30:00+0700") == Stamp(datetime(2026, 11, 16, 8, 30), timedelta(hours=7), True)
    assert parse_stamp("2026-11-16 08:30:15.0") == Stamp(datetime(2026, 11, 16, 8, 30, 15), None, True)
    assert parse_stamp("Fri Apr 28 19:20:36 CEST 2023") == Stamp(datetime(2023, 4, 28, 19, 20, 36), timedelta(hours=2), True)
    assert parse_stamp("2026-11-16") == Stamp(datetime(2026, 11, 16), None, False)
    assert parse_stamp("2026-11-16T00:00:00+07:00").timed is False  # midnight in its own zone: a bare date
    assert parse_stamp("November 2026") is None and parse_stamp("1772843936") is None


NO_DATES = DateHints((), (), (), ())
VI_PAGE = Page("https://baothu.vn/kinh-te/gia-vang-102.htm", None, "vi", "vi")


def test_published_time_prefers_a_timed_page_date_then_the_feed():
    feed = datetime(2026, 11, 16, 3, 0, tzinfo=timezone(timedelta(hours=7)))
    metas = NO_DATES._replace(published_metas=("2026-11-16", "2026-11-16T08:30:00+0700"))
    assert published_time(metas, lambda: None, feed, VI_PAGE) == (utc(2026, 11, 16, 1, 30), "page", "minute", "stated")
    assert published_time(metas._replace(published_metas=("2026-11-16",)), lambda: "2026-11-16T08:30:00", None, VI_PAGE) == (
        utc(2026, 11, 16, 1, 30), "page", "minute", "guessed")
    day = NO_DATES._replace(published_metas=("2026-11-15",))
    assert published_time(day, lambda: None, feed, VI_PAGE) == (feed.astimezone(UTC), "feed", "minute", "stated")
    assert published_time(day, lambda: None, feed.replace(day=20), VI_PAGE) == (utc(2026, 11, 15), "page", "day", "none")
    assert published_time(NO_DATES, lambda: None, None, VI_PAGE) == (None, "none", "none", "none")


def test_trafilatura_date_is_looked_for_only_when_it_can_matter():
    """htmldate (8 ms a page) runs when the page states no time with its zone before trafilatura's
    date: its answer can win, give the zone or the byline's year."""
    calls = []

    def trafilatura_date():
        calls.append(1)
        return "2026-11-16T08:30:00+07:00"

    zoned = NO_DATES._replace(published_metas=("2026-11-16T09:00:00+0700",))
    assert published_time(zoned, trafilatura_date, None, VI_PAGE).at == utc(2026, 11, 16, 2) and calls == []
    byline = NO_DATES._replace(bylines=("16/11/2026 09:00 (GMT+7)",))
    assert published_time(byline, trafilatura_date, None, VI_PAGE).at == utc(2026, 11, 16, 2) and calls == []
    zoneless = NO_DATES._replace(published_metas=("2026-11-16T08:30:00",))
    assert published_time(zoneless, trafilatura_date, None, VI_PAGE) == (utc(2026, 11, 16, 1, 30), "page", "minute", "stated")
    assert calls == [1]  # its zone is trafilatura's date's, at the same clock
    assert published_time(NO_DATES, trafilatura_date, None, VI_PAGE).source == "page" and calls == [1, 1]


def test_date_hints_read_json_ld_items_metas_and_bylines():
    html = (
        '<meta content="2026-11-19T06:30:00+07:00" property="article:published_time">'
        '<meta property="og:updated_time" content="2026-11-19T07:00:00+07:00"><meta property="og:title" content="2026-01-01">'
        '<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", "url": "/a-1", "headline": "A",'
        ' "datePublished": "2026-11-17T13:40:00+07:00", "image": {"datePublished": "2020-01-01"}}]}</script>'
        '<script type="application/ld+json">{"datePublished": "2026-11-18", broken</script>'
        '<p>Sửa 19/11/2026 10:00</p><div class="box">Tin mới<span class="date">20/11/2026 15:10</span></div>'
    )
    hints = date_hints(html)
    assert [(i.types, i.url, i.published) for i in hints.items] == [
        (("NewsArticle",), "/a-1", "2026-11-17T13:40:00+07:00"), ((), None, "2026-11-18")]
    assert (hints.published_metas, hints.other_metas) == (("2026-11-19T06:30:00+07:00",), ("2026-11-19T07:00:00+07:00",))
    assert hints.bylines[0] == "20/11/2026 15:10" and "19/11/2026 10:00" in hints.bylines[1]
    assert date_hints('<script type="application/ld+json">' + "[" * 100_000 + "</script>").items == ()


@pytest.mark.parametrize(
    "text, month_first, expected",
    [
        ("Thứ sáu, 20/11/2026 - 15:10", False, (datetime(2026, 11, 20, 15, 10), None)),
        ("01/02/2018 02:49 (GMT+7)", False, (datetime(2018, 2, 1, 2, 49), timedelta(hours=7))),
        ("05/03/2026 | 09:49 GMT-03:30", False, (datetime(2026, 3, 5, 9, 49), -timedelta(hours=3, minutes=30))),
        ("1/10/2008 4:30 PM", True, (datetime(2008, 1, 10, 16, 30), None)),
        ("13/10/2008 4:30 PM", True, (datetime(2008, 10, 13, 16, 30), None)),  # only a day can be 13
        ("12:05 AM 07/03/2026", False, (datetime(2026, 3, 7, 0, 5), None)),
        ("1:15 trưa 07/03/2026", False, (datetime(2026, 3, 7, 13, 15), None)),
        ("Sun 21 Oct 2018 06.43 GMT", False, (datetime(2018, 10, 21, 6, 43), timedelta(0))),
        ("Thông tư ngày 28/12/2017 sửa đổi", False, None),
        ("31/02/2026 10:00", False, None),
        ("March 7 at 4:45 pm", False, None),  # no year, and no page date to take it from
    ],
)
def test_parse_byline(text, month_first, expected):
    stamp = parse_byline(text, month_first)
    assert (stamp.local, stamp.offset) == expected if expected else stamp is None


@pytest.mark.filterwarnings("error")  # dateutil warns on an unknown zone name, and says it will raise
def test_a_word_read_as_an_unknown_zone_name_leaves_the_time_without_a_zone():
    stamp = parse_byline("March 3, 2020 10:00 M", False)
    assert (stamp.local, stamp.offset) == (datetime(2020, 3, 3, 10, 0), None)
    assert parse_byline("March 3, 2020 10:00 EST", False).offset == -timedelta(hours=5)
    assert parse_byline("March 3, 2020 10:00 +0530", False).offset == timedelta(hours=5, minutes=30)
