"""Small hand-written article pages and the pipeline's pure path over them (decode aside):
``extract_page`` in this process, then ``page_to_article``."""

import json

from transforms.extract.articles import ExtractConfig, extract_page, page_to_article
from transforms.records import Article, raw_page


def json_ld(*items: dict) -> str:
    return "".join(f'<script type="application/ld+json">{json.dumps(item)}</script>' for item in items)


def paragraphs(texts: list) -> str:
    return "".join(f"<p>{text}</p>" for text in texts)


def html_page(head: str, body: str, *, lang: str = "en") -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head>'
        f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>{body}</body></html>"
    )


def article_of(html: str, url: str) -> Article:
    hints, doc = extract_page(html, url, ExtractConfig())
    return page_to_article(raw_page("page.html", b"", url=url), hints, doc, min_words=20)
