"""Authors of real-page patterns (issue 19): the people the page names, not its publisher or a job title."""

import pytest

from tests.extract.pages import article_of, html_page, json_ld, paragraphs
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI

BODY_EN = paragraphs(PARAGRAPHS_EN)
PUBLISHED = "2024-04-30T08:00:00+02:00"


def test_a_person_in_the_pages_json_ld_beats_the_publisher_in_its_metas():
    url = "https://www.vogue.de/lifestyle/artikel/kate-moss-geburtstag"
    head = '<meta name="author" content="Condé Nast"><meta property="og:site_name" content="Vogue Germany">' + json_ld(
        {"@type": "NewsArticle", "url": url, "datePublished": PUBLISHED,
         "author": [{"@type": "Person", "name": "Philipp Wehsack"}],
         "publisher": {"@type": "Organization", "name": "Vogue Germany"}}
    )
    assert article_of(html_page(head, f"<article>{BODY_EN}</article>"), url)["author"] == "Philipp Wehsack"


def test_the_byline_is_read_when_the_metas_name_only_the_site():
    head = '<meta name="author" content="mdr.de">'
    body = f'<article><p class="author">von David Straub, MDR THÜRINGEN</p>{BODY_EN}</article>'
    article = article_of(html_page(head, body, lang="de"), "https://www.mdr.de/nachrichten/thueringen/bratwurst-100.html")
    assert article["author"] == "David Straub"


@pytest.mark.parametrize(
    "names, expected",
    [
        ("Mathias Hagen, Journalist, Anders Skjerdingstad", "Mathias Hagen; Anders Skjerdingstad"),
        ("Emma Mackenzie, Emma-Mackenzie", "Emma Mackenzie"),
        ("Autor Monika Bolliger", "Monika Bolliger"),
        ("Nina Magoley, WDR", "Nina Magoley"),
    ],
)
def test_job_titles_slugs_and_the_publisher_are_not_names(names, expected):
    head = f'<meta name="author" content="{names}"><meta property="og:site_name" content="WDR">'
    assert article_of(html_page(head, f"<article>{BODY_EN}</article>"), "https://www.nrk.example/sport/a-1")["author"] == expected


@pytest.mark.parametrize(
    "name, expected",
    [("María R. Sahuquillo", "María R. Sahuquillo"), ("Samya Kullab and Vasilisa Stepanenko", "Samya Kullab; Vasilisa Stepanenko")],
)
def test_the_json_ld_authors_of_the_pages_own_item_as_written(name, expected):
    url = "https://elpais.com/internacional/2024-10-15/ucrania.html"
    related = {"@type": "NewsArticle", "url": "https://elpais.com/otra.html", "datePublished": PUBLISHED, "author": {"name": "Otro Autor"}}
    own = {"@type": "NewsArticle", "url": url, "datePublished": PUBLISHED, "author": {"@type": "Person", "name": name}}
    assert article_of(html_page(json_ld(related, own), f"<article>{BODY_EN}</article>"), url)["author"] == expected


def test_an_organisation_the_page_credits_alone_is_its_author():
    url = "https://www.bbc.com/news/articles/c4ng1x2pe4lo"
    head = json_ld({"@type": "ReportageNewsArticle", "url": url, "datePublished": PUBLISHED,
                    "author": {"@type": "NewsMediaOrganization", "name": "BBC News"}})
    assert article_of(html_page(head, f"<article>{BODY_EN}</article>"), url)["author"] == "BBC News"


@pytest.mark.parametrize(
    "last_line, expected", [("Lê Phương", "Lê Phương"), ("Hà Thu (tổng hợp)", "Hà Thu"), ("Theo Reuters", None)]
)
def test_a_vietnamese_name_line_ending_the_text_is_the_byline(last_line, expected):
    head = '<meta name="author" content="VnExpress"><meta property="og:site_name" content="vnexpress.net">'
    body = f'<article class="fck_detail">{paragraphs(PARAGRAPHS_VI)}<p style="text-align:right;"><strong>{last_line}</strong></p></article>'
    article = article_of(html_page(head, body, lang="vi"), "https://vnexpress.net/ung-thu-da-day-4955555.html")
    assert article["author"] == expected
