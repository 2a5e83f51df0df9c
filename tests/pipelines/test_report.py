"""``newsbeam report`` over an output three runs wrote (the bundled sample in two parts, then the second again): every
number on the page is a query's result, the page loads nothing from elsewhere, renders in
headless Chromium with every plot, and lags of date-only pages are ranges that never go below 0."""

import re
import shlex
import shutil
import subprocess
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines import report
from schemas.tables import ARTICLES, REUSE, STORIES
from tests.support.cli import run_cli_here, run_cli_here_stdout
from tests.support.paths import REPO
from transforms.sinks.parquet import partition_path, write_shard

PARAMS = {"story": None, "threshold": 0.5}  # the defaults of `newsbeam report` without --story/--config
PLOTS = {"stories_by_day", "biggest_stories", "spread", "lag_distribution", "outlets", "outlet_matrix",
         "wire_agencies", "story_sizes", "outcomes", "articles_by_day", "languages"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class ReportTables(HTMLParser):
    """The cells of each ``table[data-query]`` of a report (an empty result: no rows)."""

    def __init__(self, document: str):
        super().__init__()
        self.tables, self._rows, self._cell = {}, None, None
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        name = dict(attrs).get("data-query")
        if name is not None:
            self.tables[name] = self._rows = [] if tag == "table" else None
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def output(sample_in_parts):
    """The sample in three runs (the reprints, their originals, the originals again:
    tests/support/samples.py, shared by the session, read-only), and the last run's summary."""
    return sample_in_parts.output, sample_in_parts.stdouts[-1]


@pytest.fixture(scope="module")
def page(output, tmp_path_factory):
    target = tmp_path_factory.mktemp("page") / "report.html"
    run_cli_here_stdout("report", "--output", str(output[0]), "--to", str(target))  # newsbeam report, in this process
    return target


def test_the_run_summary_ends_with_the_report_command(output):
    out, stdout = output
    last = stdout.strip().splitlines()[-1]
    assert last == f"  see what was found: newsbeam report --output {shlex.quote(str(out))}"
    assert shlex.split(last.split(":", 1)[1])[:2] == ["newsbeam", "report"]


def test_every_number_shown_is_a_query_result(output, page):
    tables = ReportTables(page.read_text(encoding="utf-8")).tables
    assert set(tables) == set(report.QUERIES)
    con = report.connect(str(output[0]))
    for name, shown in tables.items():
        rows = report.fetch(con, name, PARAMS)
        expected = [list(rows[0]), *([report.cell(v) for v in row.values()] for row in rows)] if rows else None
        assert shown == expected, name
    totals = report.fetch(con, "totals", PARAMS)[0]
    # runs that wrote article rows: the rerun wrote only its 20 DuplicateUrl failures
    assert (totals["articles"], totals["stories"], totals["failures"], totals["runs"]) == (35, 20, 21, 2)


def test_the_sample_shows_its_reuse_and_its_wire_agencies(page):
    """The sample's one follow-up (yesterday's gold prices, two paragraphs) and its VNA and Reuters credits."""
    tables = ReportTables(page.read_text(encoding="utf-8")).tables
    assert tables["reuse_pairs"][1:] == [["baotintuc24.example", "baotintuc24.example", "1", "2", "617"]]
    [example] = tables["reuse_examples"][1:]
    assert example[2].startswith("Quy đổi theo tỷ giá ngân hàng") and example[2].endswith("…") and len(example[2]) == 300
    assert example[3:6] == ["409", "0.85", "baotintuc24.example"] and example[6].startswith("Giá vàng hôm nay 16/11/2026")
    assert tables["wire_agencies"] == [
        ["wire_source", "articles", "share_pct", "outlets", "reused_characters"],
        ["VNA", "11", "31.4", "4", "0"], ["REUTERS", "6", "17.1", "3", "0"], ["(none credited)", "18", "51.4", "7", "617"],
    ]


def test_the_page_loads_nothing_from_elsewhere(page):
    document = re.sub(r'<a href="https?://[^"<>]*" rel="noreferrer">', "<a>", page.read_text(encoding="utf-8"))
    assert document.count("<a>") == 1  # the source of the passage shown: a link, which loads nothing
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\((?!#)|(?:src|href)=\"(?!#|data:)", document)
    assert document.count("<svg") == len(PLOTS)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium to render the page (apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(page, tmp_path):
    import matplotlib.image

    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,3000"]
    shot = tmp_path / "report.png"
    subprocess.run([*browser, f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert (pixels < 0.9).any(axis=2).mean() > 0.05, "the screenshot is (nearly) blank"
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                         timeout=120).stdout
    plots = dict(re.findall(r'<figure data-plot="(\w+)">\s*<svg[^>]*>(.*?)</svg>', dom, flags=re.DOTALL))
    assert set(plots) == PLOTS
    assert all("<path" in svg for svg in plots.values())


def write_rows(root: Path, spec, rows: list[dict]) -> None:
    extra = {"row_kind": "new", "row_at": datetime(2026, 11, 22, tzinfo=UTC), "run_id": "r1", "schema_version": 2}
    write_shard([{**extra, **row} for row in rows], spec, partition_path(str(root), spec.name, "2026-11-22"), "part-r1-0000")


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def dated(tmp_path):
    """Two stories: a timed original with a date-only, a timed and an undated reprint; a date-only
    original with a timed reprint the next morning."""
    articles = [  # (article_id, story, canonical, published_at, precision)
        ("a0", "st-a", True, at(20, 9, 30), "minute"), ("a1", "st-a", False, at(20), "day"),
        ("a2", "st-a", False, at(20, 12), "minute"), ("a3", "st-a", False, None, "none"),
        ("b0", "st-b", True, at(18), "day"), ("b1", "st-b", False, at(19, 8), "minute"),
    ]
    write_rows(tmp_path, ARTICLES, [
        {"article_id": a, "story_id": s, "is_canonical": c, "published_at": p, "published_at_precision": pr,
         "domain": f"site-{a}.example", "title": f"title {a}", "text": f"text of {a}", "similarity": 1.0 if c else 0.6}
        for a, s, c, p, pr in articles
    ])
    write_rows(tmp_path, STORIES, [
        {"story_id": "st-a", "canonical_article_id": "a0", "title": "story a", "first_published_at": at(20, 9, 30),
         "article_count": 4, "domain_count": 4},
        {"story_id": "st-b", "canonical_article_id": "b0", "title": "story b", "first_published_at": at(18),
         "article_count": 2, "domain_count": 2},
    ])
    return tmp_path


def test_a_date_only_time_gives_a_lag_range_never_negative(dated):
    con = report.connect(str(dated))
    lags = {row["title"]: (row["lag_min_h"], row["lag_max_h"]) for row in report.fetch(con, "spread", PARAMS)}
    assert lags == {
        "title a0": (0, 0), "title a1": (0, 26.5),  # 00:00 UTC of the original's day, not 9.5 h before it
        "title a2": (2.5, 2.5), "title a3": (None, None),
        "title b0": (0, 0), "title b1": (0, 46),  # the date could end 36 h after its midnight: 0, not -4 h
    }
    assert report.fetch(con, "lag_summary", PARAMS) == [
        {"timed": 1, "median_h": 2.5, "p90_h": 2.5, "date_only_ranges": 2, "undated": 1}
    ]
    assert "2.5 h" in report.render(con, str(dated), PARAMS) and "date only" in report.render(con, str(dated), PARAMS)


def test_since_and_story_narrow_the_report(dated):
    assert report.fetch(report.connect(str(dated), date(2026, 11, 19)), "totals", PARAMS)[0]["stories"] == 1
    chosen = report.fetch(report.connect(str(dated)), "spread", {**PARAMS, "story": "st-b"})
    assert {row["story_id"] for row in chosen} == {"st-b"}
    code, _, stderr = run_cli_here("report", "--output", str(dated), "--story", "st-x")
    assert code == 2 and "no story st-x" in stderr


def test_a_folder_without_tables_is_no_output(tmp_path):
    code, _, stderr = run_cli_here("report", "--output", str(tmp_path / "typo"))
    assert code == 2 and "not a newsbeam output" in stderr and not (tmp_path / "typo").exists()


def test_no_reuse_and_no_credits_read_as_none_found(dated):
    document = report.render(report.connect(str(dated)), str(dated), PARAMS)
    assert "No passages taken from other stories found." in document
    assert "No articles crediting a news agency found." in document
    assert not {"reuse_pairs", "reuse_examples", "wire_agencies"} & set(ReportTables(document).tables)


HOSTILE = '<script>alert("x")</script>'
OWN = "Hà Nội - Tin riêng của báo. "  # code points before the passages: offsets are characters
P1 = "<img src=x onerror=alert(1)> Bộ Y tế cho biết đã có thêm ba ca mắc mới trong ngày hôm qua."
P2 = "Giá điện & " + "sản lượng tiêu thụ tăng mạnh trong đợt nắng nóng kéo dài. " * 7


@pytest.fixture
def hostile(tmp_path):
    """An article (t0) taking P1 from an agency story (its source credits VNA) and P2 from an article
    crediting nothing of a story whose original credits REUTERS; every text, title and domain hostile."""
    text = OWN + P1 + "\n" + P2
    articles = [  # (article_id, story, canonical, domain, wire_source, url, text)
        ("w0", "st-w", True, "agency.example", "VNA", 'https://agency.example/w0"onmouseover="alert(1)', P1),
        ("w1", "st-w", False, "paper.example", "VNA", "https://paper.example/w1", P1),
        ("x0", "st-x", True, "wire.example", "REUTERS", "https://wire.example/x0", P2),
        ("x1", "st-x", False, "paper.example", None, "javascript:alert(1)", P2),
        ("t0", "st-t", True, "<b>bold</b>.example", "<i>AFP</i>", "https://bold.example/t0", text),
    ]
    write_rows(tmp_path, ARTICLES, [
        {"article_id": a, "story_id": s, "is_canonical": c, "domain": d, "wire_source": w, "url": u, "text": t,
         "title": f"{HOSTILE} {a}", "published_at": at(20), "published_at_precision": "day", "similarity": 1.0}
        for a, s, c, d, w, u, t in articles
    ])
    write_rows(tmp_path, STORIES, [
        {"story_id": s, "canonical_article_id": c, "title": f"{HOSTILE} {s}", "first_published_at": at(20),
         "article_count": n, "domain_count": n} for s, c, n in (("st-w", "w0", 2), ("st-x", "x0", 2), ("st-t", "t0", 1))
    ])
    write_rows(tmp_path, REUSE, [
        {"article_id": "t0", "start": text.index(p), "end": text.index(p) + len(p), "source_article_id": source,
         "source_story_id": story, "source_start": 0, "source_end": len(p), "similarity": 0.9}
        for p, source, story in ((P1, "w0", "st-w"), (P2, "x1", "st-x"))
    ])
    return tmp_path


def test_reuse_and_wire_sections_count_characters_and_escape_every_text(hostile):
    document = report.render(report.connect(str(hostile)), str(hostile), PARAMS)
    tables = ReportTables(document).tables
    assert tables["reuse_pairs"][1:] == [
        ["<b>bold</b>.example", "paper.example", "1", "1", str(len(P2))],
        ["<b>bold</b>.example", "agency.example", "1", "1", str(len(P1))],
    ]
    assert [row[2] for row in tables["reuse_examples"][1:]] == [P2[:report.EXAMPLE_CHARS - 1] + "…", P1]
    assert [row[5:] for row in tables["reuse_examples"][1:]] == [
        ["paper.example", f"{HOSTILE} x1", "javascript:alert(1)"],
        ["agency.example", f"{HOSTILE} w0", 'https://agency.example/w0"onmouseover="alert(1)'],
    ]
    assert tables["wire_agencies"][1:] == [  # P1: its source credits VNA; P2: its story's original credits REUTERS
        ["VNA", "2", "40", "2", str(len(P1))], ["<i>AFP</i>", "1", "20", "1", "0"],
        ["REUTERS", "1", "20", "1", str(len(P2))], ["(none credited)", "1", "20", "1", "0"],
    ]
    assert not re.search(r"<(?:script|img|b|i)>|<img |onmouseover=\"|href=\"javascript", document)
    assert '<a href="https://agency.example/w0&quot;onmouseover=&quot;alert(1)" rel="noreferrer">' in document
    assert "&lt;script&gt;" in document and "&lt;i&gt;AFP&lt;/i&gt;" in document


def test_since_narrows_reuse_to_the_articles_in_scope(hostile):
    con = report.connect(str(hostile), date(2026, 11, 21))
    assert "No passages taken from other stories found." in report.render(con, str(hostile), PARAMS)


def test_an_empty_failures_folder_reads_as_no_failures(output, tmp_path):
    """The README's failures query and the report, on an output whose failures folder holds no file."""
    out = tmp_path / "out"
    shutil.copytree(output[0], out)
    for path in (out / "failures").glob("*/*.parquet"):
        path.unlink()
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Query the output", 1)[1]
    query = next(s for s in re.search(r"```sql\n(.*?)```", section, re.DOTALL).group(1).split(";") if "from failures" in s)
    assert run_cli_here_stdout("sql", "--output", str(out), "--csv", query).strip() == "stage,error_type,inputs"
    run_cli_here_stdout("report", "--output", str(out))
    tables = ReportTables((out / "report.html").read_text(encoding="utf-8")).tables
    assert tables["outcomes"][1:] == [["article", "35"]] and tables["failures_by_reason"] is None
