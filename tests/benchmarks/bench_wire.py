"""``wire_source`` precision and recall on our labelled set, ``tests/fixtures/wire_labels.csv``.

    python tests/benchmarks/bench_wire.py [--limit N] [--errors N]

Rows: ``kind``, ``case``, ``author``, ``expected`` (an agency code; empty: the page credits none).

- ``text``: lines written for this set, Vietnamese and English (``{vi}`` / ``{en}`` stand for a
  neutral body of that language, ``\\n`` for a line break), with an optional byline (``author``);
  scored by ``wire.wire_source`` on the text directly;
- ``reprints-hard``: the pages of ``tests/fixtures/reprints_hard`` (ours);
- ``extraction``: real pages of ``../shared/data/extraction`` (fundus, scrapinghub-aeb, wcxb-test,
  vn-real) that credit an agency or name one in their first or last lines or byline, labelled by us;
- ``reprints-dev``: pages of ``../shared/data/reprints-dev``, labelled by us from their attribution
  lines: every page with the ``attribution`` phenomenon or an agency named in its first or last
  four lines.  The dev pages not listed name no agency there and are scored as crediting none.

Pages go through the pipeline's pure path (``decode_html`` -> ``extract_page`` ->
``page_to_article``, no Beam); a page it rejects credits none.  A credit is right when its code
is the label's: precision = right / credits given, recall = right / labelled credits (a wrong
code counts against both).  Without ../shared the fixture rows (``text``, ``reprints-hard``) alone
are scored.  It prints a
table and the first errors; it asserts nothing.
"""

import argparse
import csv
import gzip
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.paths import FIXTURES, SHARED_DATA
from transforms.extract import wire
from transforms.extract.articles import ExtractConfig, extract_page, page_to_article
from transforms.extract.decode import PageRejected, decode_html
from transforms.records import raw_page

LABELS = FIXTURES / "wire_labels.csv"
HARD = FIXTURES / "reprints_hard"
DEV = SHARED_DATA / "reprints-dev"
REAL = SHARED_DATA / "extraction"
KINDS = ("text", "reprints-hard", "extraction", "reprints-dev", "reprints-dev unlisted")
BODIES = {
    "{vi}": "Bộ Y tế cho biết số ca mắc sốt xuất huyết trong tuần qua tăng 12% so với tuần trước.\n"
    "Các địa phương được yêu cầu tăng cường phun hóa chất tại các ổ dịch.",
    "{en}": "The central bank kept its benchmark rate unchanged on Tuesday, citing slowing inflation.\n"
    "Economists had expected the decision after weak factory data last week.",
}


class Case(NamedTuple):
    kind: str
    case: str
    expected: str | None
    found: str | None


def text_of(case: str) -> str:
    text = case.replace("\\n", "\n")
    for placeholder, body in BODIES.items():
        text = text.replace(placeholder, body)
    return text


def page_credit(path: Path, url: str | None, config: ExtractConfig) -> str | None:
    """The ``wire_source`` the pipeline gives a page (None for a page it rejects)."""
    body = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    try:
        hints, doc = extract_page(decode_html(body, None), url, config)
        return page_to_article(raw_page(str(path), b"", url=url), hints, doc, config.min_words)["wire_source"]
    except PageRejected:
        return None


def dev_pages() -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(DEV / "manifest.parquet", columns=["path", "url"]).to_pylist()


def scored(rows: list[dict], limit: int | None) -> Iterator[Case]:
    config = ExtractConfig()
    hard_urls = {row["path"]: row["url"] for row in csv.DictReader((HARD / "manifest.csv").open(encoding="utf-8"))}
    for row in rows:
        expected = row["expected"] or None
        if row["kind"] == "text":
            found = wire.wire_source(text_of(row["case"]), (row["author"] or None,), wire.DEFAULT_AGENCIES)
            yield Case("text", row["case"], expected, found)
        elif row["kind"] == "reprints-hard":
            found = page_credit(HARD / row["case"], hard_urls[row["case"]], config)
            yield Case("reprints-hard", row["case"], expected, found)
    real = [row for row in rows if row["kind"] == "extraction"]
    if real and not REAL.exists():
        print(f"skip extraction: {REAL} not found")
    elif real:
        for row in real:
            found = page_credit(REAL / row["case"], None, config)
            yield Case("extraction", row["case"], row["expected"] or None, found)
    if not DEV.exists():
        print(f"skip reprints-dev: {DEV} not found (scoring the fixture rows only)")
        return
    labelled = {row["case"]: row["expected"] or None for row in rows if row["kind"] == "reprints-dev"}
    pages = dev_pages()[:limit]
    for page in pages:
        kind = "reprints-dev" if page["path"] in labelled else "reprints-dev unlisted"
        yield Case(kind, page["path"], labelled.get(page["path"]), page_credit(DEV / page["path"], page["url"], config))


def counts(cases: list[Case]) -> tuple[int, int, int, int]:
    """(cases, labelled credits, credits given, right credits)."""
    right = sum(1 for c in cases if c.found and c.found == c.expected)
    return len(cases), sum(1 for c in cases if c.expected), sum(1 for c in cases if c.found), right


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, help="score only the first N reprints-dev pages")
    parser.add_argument("--errors", type=int, default=20, help="print this many wrong cases")
    args = parser.parse_args()
    rows = list(csv.DictReader(LABELS.open(encoding="utf-8")))
    cases = list(scored(rows, args.limit))
    parts = [kind for kind in KINDS if any(c.kind == kind for c in cases)]
    fixture = [c for c in cases if c.kind in ("text", "reprints-hard")]
    print(f"{'part':<24}{'cases':>7}{'credits':>9}{'given':>7}{'right':>7}{'precision':>11}{'recall':>8}")
    for name, group in [*((kind, [c for c in cases if c.kind == kind]) for kind in parts),
                        ("fixtures (text + hard)", fixture), ("all", cases)]:
        n, labelled, given, right = counts(group)
        print(f"{name:<24}{n:>7}{labelled:>9}{given:>7}{right:>7}{ratio(right, given):>11}{ratio(right, labelled):>8}")
    errors = [c for c in cases if c.found != c.expected]
    for c in errors[: args.errors]:
        print(f"  {c.kind}: expected {c.expected or '-'}, found {c.found or '-'}: {c.case[:110]}")
    if len(errors) > args.errors:
        print(f"  ... {len(errors) - args.errors} more")


if __name__ == "__main__":
    main()
