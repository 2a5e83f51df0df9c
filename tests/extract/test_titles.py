"""Titles of real-page patterns (issue 19): the article's own headline, without the site's name or a date
after any separator."""

import pytest

from tests.extract.pages import article_of, html_page, json_ld, paragraphs
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI
from transforms.extract import metadata

BODY_EN = paragraphs(PARAGRAPHS_EN)


@pytest.mark.parametrize(
    "title, site, expected",
    [
        ("宮崎県で震度5弱 気象庁：朝日新聞デジタル", "朝日新聞デジタル", "宮崎県で震度5弱 気象庁"),
        ("協賛企業で各競技団体のビジネスモデル完全崩壊へ｜日刊ゲンダイDIGITAL", "日刊ゲンダイDIGITAL", "協賛企業で各競技団体のビジネスモデル完全崩壊へ"),
        ("Nadeschdin setzt auf ein Ende der Putin-Ära – DW – 30.01.2024", "dw.com", "Nadeschdin setzt auf ein Ende der Putin-Ära"),
        ("Ehrengast der Buchmesse: Was lesen die Philippinen?", "Der Freitag", "Ehrengast der Buchmesse: Was lesen die Philippinen?"),
    ],
)
def test_a_site_name_or_date_after_any_separator_is_removed(title, site, expected):
    assert metadata.clean_title(title, site) == expected


def test_a_suffix_naming_the_domain_is_removed_whatever_the_sitename():
    head = ('<meta property="og:title" content="LTE-Patent: Samsung soll Smartphones zerstören - Golem.de">'
            '<meta name="twitter:site" content="@golemredaktion">')
    article = article_of(html_page(head, f"<article>{BODY_EN}</article>", lang="de"), "https://www.golem.de/news/lte-patent-2404.html")
    assert article["title"] == "LTE-Patent: Samsung soll Smartphones zerstören"


def test_the_headline_confirmed_by_the_pages_json_ld_beats_the_social_title():
    url = "https://www.cbc.ca/news/world/gaza-sinwar-1.7288391"
    headline = "What's next for Gaza, after Yahya Sinwar's appointment as Hamas political head?"
    head = '<meta property="og:title" content="Palestinians say his appointment could ruin ceasefire talks">' + json_ld(
        {"@type": "NewsArticle", "url": url, "headline": headline, "datePublished": "2024-08-08T04:00:00Z"}
    )
    assert article_of(html_page(head, f"<article><h1>{headline}</h1>{BODY_EN}</article>"), url)["title"] == headline


def test_a_headline_marked_as_the_title_beats_the_seo_title():
    head = '<meta property="og:title" content="Những sai sót hộ kinh doanh thường gặp khi thực hiện quy định thuế mới">'
    h1 = '<h1 class="detail-title" data-role="title">Những sai sót hộ kinh doanh thường gặp khi thực hiện quy định mới về thuế</h1>'
    body = f'<div class="detail-cmain">{h1}{paragraphs(PARAGRAPHS_VI)}</div>'
    article = article_of(html_page(head, body, lang="vi"), "https://nld.com.vn/nhung-sai-sot-196260307071308923.htm")
    assert article["title"] == "Những sai sót hộ kinh doanh thường gặp khi thực hiện quy định mới về thuế"


def test_the_headline_wins_over_a_title_that_adds_a_section_after_it():
    head = ('<meta property="og:title" content="Russia hits Kyiv with ballistic missile, damages schools - National">'
            '<meta property="og:site_name" content="Global News">')
    body = f"<article><h1>Russia hits Kyiv with ballistic missile, damages schools</h1>{BODY_EN}</article>"
    article = article_of(html_page(head, body), "https://globalnews.ca/news/10520000/russia-kyiv-missile/")
    assert article["title"] == "Russia hits Kyiv with ballistic missile, damages schools"


def test_a_logo_or_a_teasers_heading_does_not_replace_the_title():
    head = '<meta property="og:title" content="Bus network grows into the northern districts">'
    body = f'<h1 class="logo">City Times</h1><article>{BODY_EN}</article><aside><h1>Harbour tunnel opens</h1></aside>'
    article = article_of(html_page(head, body), "https://citytimes.example/news/bus-network-grows")
    assert article["title"] == "Bus network grows into the northern districts"
