"""Metadata quality on real pages: our extraction beside trafilatura alone and htmldate.

    python tests/benchmarks/bench_metadata.py [--limit N]

On ../shared/data/extraction/fundus (257 pages, gold title/authors/date/body in manifest.jsonl)
and ../shared/data/extraction/vn-real (9 Vietnamese pages; gold URL, title and time from the
upstream tests, written out below) it scores, per field:

- title: equal after NFC and whitespace folding;
- published_at: the same instant to the minute ("minute"; a gold time at midnight is a bare date,
  matched by the same day), the gold's local day ("day"), and
  "zone": times whose wall clock is right but whose instant is off by whole hours (a wrong
  zone); pages whose gold time has no zone are left out of the date columns;
- author: the same set of names (ours split on ";"), case-insensitive;
- language: among the gold languages (fundus only; trafilatura alone does not detect it);
- url: same host (without www.) and path as the gold URL;
- body: token F1 against the gold summary, headlines and paragraphs (fundus only).

"ours" is the pipeline's pure path (``decode_html`` -> ``extract_page`` -> ``page_to_article``,
no Beam); "trafilatura" is ``bare_extraction`` on the raw bytes with the options we pass it;
"htmldate" is ``find_date`` with the same date options.  It prints a table; it asserts nothing.
"""

import argparse
import gzip
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.paths import SHARED_DATA

FUNDUS = SHARED_DATA / "extraction" / "fundus"
VN_REAL = SHARED_DATA / "extraction" / "vn-real"
_ICT = timezone(timedelta(hours=7))
# vn-real gold, from upstream-tests/*.py.txt: file -> (URL, title or None when not asserted, time).
VN_GOLD = {
    "baochinhphu_article.html": (
        "https://baochinhphu.vn/chinh-sach-moi-co-hieu-luc-tu-thang-3-2026-102260228093004191.htm",
        "Chính sách mới có hiệu lực từ tháng 3/2026", datetime(2026, 3, 1, 9, 51, tzinfo=_ICT)),
    "baodautu_article.html": (
        "https://baodautu.vn/xu-phat-giam-doc-tai-chinh-tap-doan-tien-son-thanh-hoa-vi-thao-tung-co-phieu-d538952.html",
        "Xử phạt Giám đốc tài chính Tập đoàn Tiên Sơn Thanh Hoá vì thao túng cổ phiếu",
        datetime(2026, 3, 7, 8, 47, tzinfo=_ICT)),
    "cafef_article.html": (
        "https://cafef.vn/thoi-diem-nang-hang-can-ke-mbs-diem-ten-30-co-phieu-viet-nam-co-kha-nang-lot-ro-chi-so-ftse-18826030622484142.chn",
        None, datetime(2026, 3, 7, 0, 1, tzinfo=_ICT)),
    "cafef_article_batdongsan.html": (
        "https://cafef.vn/tang-ho-tro-giam-ap-luc-tai-chinh-khi-chuyen-muc-dich-su-dung-dat-188260307071033787.chn",
        None, datetime(2026, 3, 7, 9, 40, tzinfo=_ICT)),
    "dantri_article.html": (
        "https://dantri.com.vn/kinh-doanh/gia-vang-giam-van-cao-hon-the-gioi-gan-20-trieu-dongluong-20260307080054340.htm",
        "Giá vàng giảm, vẫn cao hơn thế giới gần 20 triệu đồng/lượng", datetime(2026, 3, 7, 8, 7, tzinfo=_ICT)),
    "nld_article.html": (
        "https://nld.com.vn/nhung-sai-sot-ho-kinh-doanh-thuong-gap-khi-thuc-hien-quy-dinh-moi-ve-thue-196260307071308923.htm",
        "Những sai sót hộ kinh doanh thường gặp khi thực hiện quy định mới về thuế",
        datetime(2026, 3, 7, 8, 6, tzinfo=_ICT)),
    "tuoitre_article.html": (
        "https://tuoitre.vn/chien-su-day-gia-hoa-nhap-khau-dip-8-3-tang-manh-20260307075519174.htm",
        "Chiến sự đẩy giá hoa nhập khẩu dịp 8-3 tăng mạnh", datetime(2026, 3, 7, 8, 1, 53, tzinfo=_ICT)),
    "vietnamnet_article.html": (
        "https://vietnamnet.vn/co-phieu-flc-duoc-giao-dich-tro-lai-2495349.html",
        "Cổ phiếu FLC được giao dịch trở lại", datetime(2026, 3, 7, 8, 52, 11, tzinfo=_ICT)),
    "vnexpress_article.html": (
        "https://vnexpress.net/cach-cac-nuoc-doi-pho-cu-soc-nang-luong-tu-trung-dong-5047363.html",
        None, datetime(2026, 3, 7, 0, 5, tzinfo=_ICT)),
}
FIELDS = ("title", "minute", "day", "zone", "author", "language", "url", "body")


class Gold(NamedTuple):
    name: str
    body: bytes
    url: str
    title: str | None
    published: datetime | None  # aware; None when the gold has no zone
    authors: list | None
    languages: list | None
    text: str | None


class Guess(NamedTuple):
    title: str | None = None
    published: datetime | None = None  # aware (UTC when the tool gave no zone)
    day_only: bool = False
    author: str | None = None
    language: str | None = None
    url: str | None = None
    text: str | None = None


def fundus_pages() -> Iterator[Gold]:
    for line in (FUNDUS / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold = row["expected"]
        published = datetime.fromisoformat(gold["publishing_date"]) if gold.get("publishing_date") else None
        body = gold.get("body") or {}
        paragraphs = [*body.get("summary", [])]
        for section in body.get("sections", []):
            paragraphs += [*section.get("headline", []), *section.get("paragraphs", [])]
        yield Gold(
            row["file"], gzip.decompress((FUNDUS / row["file"]).read_bytes()), row["url"], gold.get("title"),
            published if published and published.tzinfo else None, gold.get("authors") or [], row["languages"],
            "\n".join(paragraphs),
        )


def vn_pages() -> Iterator[Gold]:
    for name, (url, title, published) in VN_GOLD.items():
        yield Gold(name, (VN_REAL / name).read_bytes(), url, title, published, None, None, None)


def _parse_stamp(value: str | None) -> tuple[datetime | None, bool]:
    """A tool's date string -> (aware datetime, True when it is only a day)."""
    if not value:
        return None, False
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    day_only = len(value) <= 10 or (when.hour, when.minute, when.second) == (0, 0, 0)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), day_only


def ours(page: Gold) -> Guess:
    from transforms.extract.articles import ExtractConfig, extract_page, page_to_article
    from transforms.extract.decode import PageRejected, check_page, decode_html
    from transforms.records import raw_page

    config = ExtractConfig()
    try:
        check_page(page.body, config.max_page_bytes)
        hints, doc = extract_page(decode_html(page.body), page.url, config)
        article = page_to_article(raw_page(page.name, b"", url=page.url), hints, doc, config.min_words)
    except PageRejected:
        return Guess()
    return Guess(
        article["title"], article["published_at"], article["published_at_precision"] == "day", article["author"],
        article["language"], article["url"], article["text"],
    )


def trafilatura_alone(page: Gold) -> Guess:
    import trafilatura

    from transforms.extract.articles import DATE_PARAMS

    doc = trafilatura.bare_extraction(
        page.body, url=page.url, with_metadata=True, deduplicate=False, date_extraction_params=DATE_PARAMS
    )
    if doc is None:
        return Guess()
    published, day_only = _parse_stamp(doc.date)
    return Guess(doc.title, published, day_only, doc.author, doc.language, doc.url, doc.text)


def htmldate_alone(page: Gold) -> Guess:
    from htmldate import find_date

    from transforms.extract.articles import DATE_PARAMS

    published, day_only = _parse_stamp(find_date(page.body, url=page.url, **DATE_PARAMS))
    return Guess(published=published, day_only=day_only)


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _tokens(text: str | None) -> Counter:
    return Counter(re.findall(r"\w+", _norm(text).casefold()))


def token_f1(guess: str | None, gold: str) -> float:
    ours_tokens, gold_tokens = _tokens(guess), _tokens(gold)
    common = sum((ours_tokens & gold_tokens).values())
    if not common:
        return 0.0
    precision, recall = common / sum(ours_tokens.values()), common / sum(gold_tokens.values())
    return 2 * precision * recall / (precision + recall)


def _host_path(url: str | None) -> tuple | None:
    if not url:
        return None
    parts = urlsplit(url)
    return (parts.hostname or "").removeprefix("www."), parts.path.rstrip("/")


def score(guess: Guess, gold: Gold) -> dict:
    """Field -> 1/0 (body: F1), only for the fields this page's gold can judge."""
    result = {"url": _host_path(guess.url) == _host_path(gold.url)}
    if gold.title is not None:
        result["title"] = _norm(guess.title) == _norm(gold.title)
    if gold.published is not None:
        minute = gold.published.replace(second=0, microsecond=0)
        at = guess.published
        if at is None:
            result.update(minute=False, day=False, zone=False)
        elif guess.day_only:  # right to the minute when the gold is a bare date too (midnight)
            right_day = at.date() == gold.published.date()
            result.update(minute=right_day and gold.published.time() == time(0), day=right_day, zone=True)
        else:
            right = at.replace(second=0, microsecond=0) == minute
            off = (at.replace(second=0, microsecond=0) - minute).total_seconds()
            result.update(
                minute=right,
                day=at.astimezone(gold.published.tzinfo).date() == gold.published.date(),
                zone=right or not (off % 3600 == 0 and abs(off) <= 14 * 3600),
            )
    if gold.authors is not None:
        names = {_norm(n).casefold() for n in (guess.author or "").split(";") if _norm(n)}
        result["author"] = names == {_norm(n).casefold() for n in gold.authors}
    if gold.languages:
        result["language"] = guess.language in gold.languages
    if gold.text is not None and guess.text is not None:
        result["body"] = token_f1(guess.text, gold.text)
    return result


def run(pages: list, misses: bool) -> dict[str, dict[str, list]]:
    """Tool -> field -> per-page scores; with ``misses``, print our wrong fields."""
    scores = {tool: {field: [] for field in FIELDS} for tool in TOOLS}
    for page in pages:
        for tool, (extract, fields) in TOOLS.items():
            guess = extract(page)
            for field, value in score(guess, page).items():
                if field not in fields:
                    continue
                scores[tool][field].append(value)
                if misses and tool == "ours" and value is False:
                    print(f"  miss {field:<8} {page.name}: {_shown(guess, field)!r} vs {_shown(page, field)!r}")
    return scores


def _shown(record: Guess | Gold, field: str):
    """What a guess or a gold record says for one field."""
    if field in DATES:
        return str(record.published) + (" (day)" if getattr(record, "day_only", False) else "")
    if field == "author":
        return getattr(record, "author", None) or getattr(record, "authors", None)
    if field == "language":
        return getattr(record, "language", None) or getattr(record, "languages", None)
    return getattr(record, field, None)


DATES = ("minute", "day", "zone")
TOOLS: dict[str, tuple[Callable[[Gold], Guess], tuple]] = {  # tool -> (its extraction, the fields it gives)
    "ours": (ours, FIELDS),
    "trafilatura": (trafilatura_alone, tuple(f for f in FIELDS if f != "language")),
    "htmldate": (htmldate_alone, DATES),
}


def table(title: str, scores: dict[str, dict[str, list]]) -> str:
    lines = [title, f"{'field':<10}" + "".join(f"{tool:>22}" for tool in scores)]
    for field in FIELDS:
        cells = []
        for values in (scores[tool][field] for tool in scores):
            if field == "body" and values:
                cells.append(f"F1 {sum(values) / len(values):.3f} (n={len(values)})")
            elif values:
                cells.append(f"{100 * sum(values) / len(values):.1f}% ({sum(values)}/{len(values)})")
            else:
                cells.append("-")
        lines.append(f"{field:<10}" + "".join(f"{cell:>22}" for cell in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N fundus pages")
    parser.add_argument("--misses", action="store_true", help="list the fields our extraction gets wrong")
    args = parser.parse_args()
    if not (FUNDUS / "manifest.jsonl").exists() or not VN_REAL.is_dir():
        print(f"skipped: {FUNDUS} or {VN_REAL} is absent")
        return
    fundus = list(fundus_pages())[: args.limit]
    print(table(f"fundus ({len(fundus)} pages)", run(fundus, args.misses)))
    print()
    print(table(f"vn-real ({len(VN_GOLD)} pages, gold time in GMT+7)", run(list(vn_pages()), args.misses)))


if __name__ == "__main__":
    main()
