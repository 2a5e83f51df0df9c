"""Article text of real-page patterns (issue 19): the lead (sapo) kept, other stories left out."""

from tests.extract.pages import article_of, html_page, paragraphs
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI

LEAD_VI = "Trung Quốc, Nhật Bản, Thái Lan hạn chế xuất khẩu nhiên liệu khi thị trường năng lượng gián đoạn."
URL_VI = "https://vnexpress.net/cach-cac-nuoc-doi-pho-5047363.html"


def test_the_lead_beside_the_article_body_opens_the_text():
    head = f'<meta name="description" content="{LEAD_VI}">'
    body = (f'<div class="sidebar_1"><h1 class="title-detail">Cách các nước đối phó cú sốc năng lượng</h1>'
            f'<p class="description">{LEAD_VI}</p><article class="fck_detail">{paragraphs(PARAGRAPHS_VI)}</article></div>')
    text = article_of(html_page(head, body, lang="vi"), URL_VI)["text"]
    assert text.startswith(LEAD_VI + "\n" + PARAGRAPHS_VI[0])


def test_a_sapo_with_its_dateline_opens_the_text():
    head = f'<meta name="description" content="{LEAD_VI}">'
    body = (f'<div class="detail__cmain"><h1 class="detail-title" data-role="title">Chính sách mới có hiệu lực</h1>'
            f'<h2 class="detail-sapo" data-role="sapo">(Chinhphu.vn) - {LEAD_VI}</h2>'
            f'<div class="detail-content afcbc-body" data-role="content">{paragraphs(PARAGRAPHS_VI)}</div></div>')
    text = article_of(html_page(head, body, lang="vi"), "https://baochinhphu.vn/chinh-sach-moi-102260228093004191.htm")["text"]
    assert text.startswith(f"(Chinhphu.vn) - {LEAD_VI}\n{PARAGRAPHS_VI[0]}")


def test_a_lead_already_in_the_text_is_not_repeated():
    head = f'<meta name="description" content="{PARAGRAPHS_VI[0]}">'
    text = article_of(html_page(head, f"<article>{paragraphs(PARAGRAPHS_VI)}</article>", lang="vi"), URL_VI)["text"]
    assert text.count(PARAGRAPHS_VI[0]) == 1


def test_another_story_below_the_article_is_left_out():
    head = '<title>Bus network grows - City Times</title><meta property="og:title" content="Bus network grows">'
    body = (f'<div class="page-content"><article><h1>Bus network grows</h1>{paragraphs(PARAGRAPHS_EN[:2])}</article>'
            f'<div class="under-article"><article><h1>Harbour tunnel opens</h1>{paragraphs(PARAGRAPHS_EN[2:])}</article></div></div>')
    text = article_of(html_page(head, body), "https://citytimes.example/bus")["text"]
    assert PARAGRAPHS_EN[1] in text
    assert "Harbour tunnel opens" not in text and PARAGRAPHS_EN[2] not in text


def test_a_teaser_story_above_the_article_leaves_the_article_whole():
    head = '<meta property="og:title" content="Bus network grows">'
    body = (f'<article class="teaser"><h1><a href="/zoo">Zoos are on the way out</a></h1></article>'
            f'<article class="node-article"><h1>Bus network grows</h1>{paragraphs(PARAGRAPHS_EN)}</article>')
    text = article_of(html_page(head, body), "https://citytimes.example/bus")["text"]
    assert all(p in text for p in PARAGRAPHS_EN)
