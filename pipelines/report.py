"""``newsbeam report``: one HTML file of what an output holds, with its plots, that opens offline.

    newsbeam report --output out                                   # writes out/report.html
    newsbeam report --output out --since 2026-11-17 --story st-1b39d3a2b9e37e399c3a --to nov.html

Every number in the report is a result of one of ``QUERIES`` (DuckDB SQL over the views of
``pipelines.current``, narrowed by ``--since``), shown as a table captioned with the query's name;
the plots are drawn from the same rows (matplotlib, inline SVG).  The page loads nothing: no
script, font, style sheet or image from elsewhere (source articles' addresses are plain links).
``--config`` (the runs' configuration) sets the dedup threshold that borderline pairs are measured
against.
"""

import argparse
import html
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import matplotlib
from apache_beam.io.filesystems import FileSystems
from matplotlib.figure import Figure

from pipelines import current
from pipelines.config import load_config
from schemas.tables import ARTICLES, FAILURES
from transforms.sinks.parquet import table_files

Rows = list[dict[str, Any]]
TOP_STORIES = 10  # rows of the biggest stories
SPREAD_STORIES = 3  # biggest stories with a spread timeline (without --story)
BORDERLINE_PAIRS = 8
REUSE_PAIRS, REUSE_EXAMPLES, EXAMPLE_CHARS = 20, 5, 300
NONE_CREDITED = "(none credited)"
DAY_BEFORE_H, DAY_AFTER_H = 14, 36  # a bare date (00:00 UTC of the day) spans UTC+14's midnight to UTC-12's
ORIGINAL, REPRINT, SOLO = "#c0392b", "#2e86c1", "#aab7b8"

# The report's scope: the current-state views narrowed to --since ({since}: a DATE literal or NULL), and
# every reprint with the lag from its story's original.  A time with only a date (or, in rows written before
# the precision was, 00:00 UTC) spans DAY_BEFORE_H before to DAY_AFTER_H after its stored midnight, so a lag
# involving one is a range, never negative.
SCOPE = {
    "stories": "select * from main.stories where {since} is null or first_published_at >= {since}",
    "articles": "select * from main.articles where {since} is null or story_id in (select story_id from report.stories)",
    "failures": "select * from main.failures where {since} is null or \"at\" >= {since}",
    "reuse": "select * from main.reuse where {since} is null or article_id in (select article_id from report.articles)",
    "timed": f"""
        select *, coalesce(published_at_precision = 'day', published_at = date_trunc('day', published_at)) as bare_date,
            published_at - if(bare_date, interval {DAY_BEFORE_H} hour, interval 0 hour) as earliest,
            published_at + if(bare_date, interval {DAY_AFTER_H} hour, interval 0 hour) as latest
        from report.articles
    """,
    "reprints": """
        select story_id, article_id, original_outlet, outlet,
            round(if(low < 0, 0, low) / 3600, 1) as lag_min_h, round(if(high < 0, 0, high) / 3600, 1) as lag_max_h
        from (
            select r.story_id, r.article_id, coalesce(o.domain, '(no domain)') as original_outlet,
                coalesce(r.domain, '(no domain)') as outlet, date_diff('second', o.latest, r.earliest) as low,
                date_diff('second', o.earliest, r.latest) as high
            from report.timed r join report.stories s using (story_id) join report.timed o on o.article_id = s.canonical_article_id
            where not r.is_canonical
        )
    """,
}

QUERIES = {
    "totals": """
        select (select count(*) from articles) as articles, (select count(*) from stories) as stories,
            (select count(*) from stories where article_count > 1) as copied_stories,
            (select count(*) from articles where not is_canonical) as reprints,
            (select count(distinct domain) from articles) as outlets, (select count(*) from failures) as failures,
            (select count(distinct run_id) from main.article_events where article_id in (select article_id from articles)) as runs
    """,
    "stories_by_day": """
        select cast(first_published_at as date) as day, count(*) filter (article_count = 1) as single,
            count(*) filter (article_count > 1) as copied
        from stories where first_published_at is not null group by day order by day
    """,
    "biggest_stories": f"""
        select story_id, title, article_count as articles, domain_count as outlets, first_published_at
        from stories order by article_count desc, domain_count desc, first_published_at, story_id limit {TOP_STORIES}
    """,
    "spread": f"""
        with chosen as (
            select story_id, article_count from stories
            where story_id = $story or ($story is null and article_count > 1)
            order by article_count desc, domain_count desc, first_published_at, story_id limit {SPREAD_STORIES}
        )
        select a.story_id, coalesce(a.domain, '(no domain)') as outlet, a.title, a.published_at,
            a.published_at_precision as precision, if(a.is_canonical, 'original', 'reprint') as role,
            if(a.is_canonical, 0, r.lag_min_h) as lag_min_h, if(a.is_canonical, 0, r.lag_max_h) as lag_max_h
        from articles a join chosen c using (story_id) left join reprints r using (article_id)
        order by c.article_count desc, a.story_id, a.is_canonical desc, r.lag_min_h nulls last, a.published_at, outlet
    """,
    "lag_summary": """
        select count(*) filter (lag_min_h = lag_max_h) as timed, median(lag_min_h) filter (lag_min_h = lag_max_h) as median_h,
            round(quantile_cont(lag_min_h, 0.9) filter (lag_min_h = lag_max_h), 1) as p90_h,
            count(*) filter (lag_min_h < lag_max_h) as date_only_ranges, count(*) filter (lag_min_h is null) as undated
        from reprints
    """,
    "lag_distribution": """
        select case when lag_min_h is null then 'undated' when lag_min_h < lag_max_h then 'date only: a range'
                when lag_min_h < 1 then '< 1 h' when lag_min_h < 3 then '1-3 h' when lag_min_h < 6 then '3-6 h'
                when lag_min_h < 12 then '6-12 h' when lag_min_h < 24 then '12-24 h' when lag_min_h < 48 then '1-2 days'
                else '2 days +' end as lag, count(*) as reprints
        from reprints group by lag
        order by lag = 'undated', lag = 'date only: a range', min(lag_min_h)
    """,
    "outlets": """
        select coalesce(a.domain, '(no domain)') as outlet,
            count(*) filter (a.is_canonical and s.article_count > 1) as originals,
            count(*) filter (not a.is_canonical) as reprints, count(*) filter (s.article_count = 1) as solo
        from articles a join stories s using (story_id) group by outlet order by originals + reprints desc, outlet
    """,
    "outlet_matrix": """
        select original_outlet, outlet as reprinted_by, count(*) as reprints
        from reprints group by all order by reprints desc, original_outlet, reprinted_by
    """,
    "reuse_pairs": f"""
        select coalesce(a.domain, '(no domain)') as outlet, coalesce(s.domain, '(no domain)') as source_outlet,
            count(distinct r.article_id) as articles, count(*) as passages, sum(r."end" - r.start) as characters
        from reuse r join articles a using (article_id) left join main.articles s on s.article_id = r.source_article_id
        group by all order by characters desc, articles desc, outlet, source_outlet limit {REUSE_PAIRS}
    """,
    "reuse_examples": f"""
        select outlet, title,
            if(length(passage) > {EXAMPLE_CHARS}, left(passage, {EXAMPLE_CHARS - 1}) || '…', passage) as passage,
            characters, similarity, source_outlet, source_title, source_url
        from (
            select coalesce(a.domain, '(no domain)') as outlet, a.title, substr(a.text, r.start + 1, r."end" - r.start) as passage,
                r."end" - r.start as characters, round(r.similarity::double, 2) as similarity,
                coalesce(s.domain, '(no domain)') as source_outlet, s.title as source_title, s.url as source_url,
                r.article_id, r.start
            from reuse r join articles a using (article_id) left join main.articles s on s.article_id = r.source_article_id
            qualify row_number() over (partition by outlet, source_outlet order by characters desc, r.article_id, r.start) = 1
        ) order by characters desc, article_id, start limit {REUSE_EXAMPLES}
    """,
    "wire_agencies": f"""
        with credits as (
            select coalesce(wire_source, '{NONE_CREDITED}') as wire_source, count(*) as articles,
                count(distinct domain) as outlets
            from articles group by all
        ), reused as (
            select coalesce(s.wire_source, c.wire_source, '{NONE_CREDITED}') as wire_source,
                sum(r."end" - r.start) as reused_characters
            from reuse r left join main.articles s on s.article_id = r.source_article_id
                left join main.stories t on t.story_id = r.source_story_id
                left join main.articles c on c.article_id = t.canonical_article_id
            group by all
        )
        select wire_source, coalesce(articles, 0) as articles,
            round(100 * coalesce(articles, 0) / sum(articles) over (), 1) as share_pct, coalesce(outlets, 0) as outlets,
            coalesce(reused_characters, 0) as reused_characters
        from credits full join reused using (wire_source)
        order by wire_source = '{NONE_CREDITED}', articles desc, wire_source
    """,
    "story_sizes": "select article_count as size, count(*) as stories from stories group by size order by size",
    "outcomes": """
        select 'article' as outcome, count(*) as inputs from articles
        union all select stage || ' failure', count(*) from failures group by stage
        order by inputs desc, outcome
    """,
    "failures_by_reason": """
        select stage, error_type, count(*) as inputs, min(source) as example from failures
        group by all order by inputs desc, stage, error_type
    """,
    "date_precision": """
        select coalesce(published_at_precision, 'none') as precision, count(*) as articles,
            min(published_at) as earliest, max(published_at) as latest
        from articles group by all order by articles desc, precision
    """,
    "articles_by_day": """
        select cast(published_at as date) as day, count(*) filter (published_at_precision in ('second', 'minute')) as timed,
            count(*) filter (published_at_precision = 'day') as date_only
        from articles where published_at is not null group by day order by day
    """,
    "languages": """
        select coalesce(language, '(unknown)') as language, count(*) as articles
        from articles group by all order by articles desc, language
    """,
    "borderline": f"""
        select round(a.similarity - $threshold, 4) as above_threshold, a.similarity,
            coalesce(o.domain, '(no domain)') as original_outlet, o.title as original_title,
            coalesce(a.domain, '(no domain)') as outlet, a.title, left(o.text, 240) as original_text, left(a.text, 240) as text
        from articles a join stories s using (story_id) join articles o on o.article_id = s.canonical_article_id
        where not a.is_canonical order by abs(a.similarity - $threshold), a.article_id limit {BORDERLINE_PAIRS}
    """,
}


def connect(output: str, since: date | None = None) -> duckdb.DuckDBPyConnection:
    """``current.connect(output)`` with the views of ``SCOPE`` first on the search path (times in UTC)."""
    con = current.connect(output)
    con.execute("set TimeZone = 'UTC'")
    con.execute("create schema report")
    con.execute("set search_path = 'report,main'")
    literal = f"date '{since.isoformat()}'" if since else "null::date"
    for name, query in SCOPE.items():
        con.execute(f"create view report.{name} as {query.format(since=literal)}")
    return con


def fetch(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> Rows:
    """The rows of ``QUERIES[name]``, given the ``params`` it names ($story, $threshold)."""
    query = QUERIES[name]
    result = con.execute(query, {k: v for k, v in params.items() if f"${k}" in query})
    columns = [column[0] for column in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def cell(value: Any) -> str:
    """How a query's value is written in the report."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------- plots


def _figure(width: float, height: float) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _short(text: str | None, size: int = 48) -> str:
    text = text or ""
    return text if len(text) <= size else text[: size - 1] + "…"


def _days(rows: Rows, columns: dict[str, str], ylabel: str) -> Figure:
    """Stacked bars per day: ``columns`` maps a column to its color."""
    fig, ax = _figure(8, 2.8)
    bottom = [0] * len(rows)
    for column, color in columns.items():
        heights = [row[column] for row in rows]
        ax.bar([row["day"] for row in rows], heights, bottom=bottom, color=color, label=column.replace("_", " "))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    fig.autofmt_xdate()
    return fig


def _bars(rows: Rows, label: str, value: str, xlabel: str, color: str = REPRINT) -> Figure:
    """Horizontal bars, the first row on top."""
    fig, ax = _figure(8, 0.6 + 0.3 * len(rows))
    ax.barh([_short(str(row[label])) for row in rows][::-1], [row[value] for row in rows][::-1], color=color)
    ax.set_xlabel(xlabel)
    return fig


def plot_story_sizes(rows: Rows) -> Figure:
    fig, ax = _figure(8, 2.8)
    ax.bar([str(row["size"]) for row in rows], [row["stories"] for row in rows], color=REPRINT)
    ax.set_xlabel("articles in the story")
    ax.set_ylabel("stories")
    return fig


def plot_spread(rows: Rows) -> Figure:
    """One timeline per story: each outlet's copy at its lag from the original (a bar: a date-only range)."""
    stories = list(dict.fromkeys(row["story_id"] for row in rows))
    fig = Figure(figsize=(8, 0.9 * len(stories) + 0.3 * len(rows)), layout="constrained")
    axes = fig.subplots(len(stories), 1, squeeze=False)[:, 0]
    for ax, story in zip(axes, stories, strict=True):
        members = [row for row in rows if row["story_id"] == story]
        ax.set_title(_short(members[0]["title"], 90), loc="left", fontsize=10)
        for y, row in enumerate(members):
            color = ORIGINAL if row["role"] == "original" else REPRINT
            low, high = row["lag_min_h"], row["lag_max_h"]
            if low is None:
                label, at = "undated", 0
            elif low < high:
                ax.plot([low, high], [y, y], color=color, linewidth=6, alpha=0.45, solid_capstyle="butt")
                label, at = f"{low:g}–{high:g} h, date only", high
            else:
                ax.plot(low, y, "o", color=color)
                label, at = ("original" if row["role"] == "original" else f"{low:g} h"), low
            ax.annotate(label, (at, y), xytext=(6, 0), textcoords="offset points", va="center")
        ax.set_yticks(range(len(members)), [row["outlet"] for row in members])
        ax.invert_yaxis()
        ax.margins(x=0.12)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("hours after the original")
    return fig


def plot_outlets(rows: Rows) -> Figure:
    fig, ax = _figure(8, 0.6 + 0.3 * len(rows))
    names, left = [row["outlet"] for row in rows][::-1], [0] * len(rows)
    for column, color in (("originals", ORIGINAL), ("reprints", REPRINT), ("solo", SOLO)):
        widths = [row[column] for row in rows][::-1]
        ax.barh(names, widths, left=left, color=color, label=column)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlabel("articles")
    ax.legend(frameon=False, loc="lower right")
    return fig


def plot_matrix(rows: Rows) -> Figure:
    """Who reprints whom: original outlets down, reprinting outlets across, reprints in the cells."""
    originals = sorted({row["original_outlet"] for row in rows})
    reprinters = sorted({row["reprinted_by"] for row in rows})
    counts = [[0] * len(reprinters) for _ in originals]
    for row in rows:
        counts[originals.index(row["original_outlet"])][reprinters.index(row["reprinted_by"])] = row["reprints"]
    fig, ax = _figure(1.5 + 0.6 * len(reprinters), 1.5 + 0.45 * len(originals))
    ax.imshow(counts, cmap="Blues", aspect="auto")
    most = max(map(max, counts))
    for i, line in enumerate(counts):
        for j, count in enumerate(line):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", color="white" if count > most / 2 else "black")
    ax.set_xticks(range(len(reprinters)), reprinters, rotation=40, ha="right")
    ax.set_yticks(range(len(originals)), originals)
    ax.set_xlabel("reprinted by")
    ax.set_ylabel("original from")
    return fig


def draw(plot: Callable[[Rows], Figure], rows: Rows) -> str:
    """``plot(rows)`` as an inline <svg> element (its text kept as text)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        plot(rows).savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


# ---------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    title: str
    queries: tuple[str, ...]  # the QUERIES it shows, each as a table
    note: str = ""
    plot: Callable[[Rows], Figure] | None = None  # drawn from the first query's rows
    found: str | None = None  # a query: when false, the section shows ``none`` instead of its queries
    none: str = ""


SECTIONS = (
    Section("Stories over time", ("stories_by_day",), "Stories by the day of their first publication.",
            lambda rows: _days(rows, {"single": SOLO, "copied": REPRINT}, "stories")),
    Section("Biggest stories", ("biggest_stories",), "",
            lambda rows: _bars(rows, "title", "articles", "articles")),
    Section("How the biggest stories spread", ("spread",),
            "The original, then each reprint by outlet, at its lag from the original. A page that shows only a "
            "date could have appeared any time that day in any time zone: its lag is a range (lag_min_h to "
            "lag_max_h), never below 0.", plot_spread),
    Section("Reprint lag", ("lag_distribution", "lag_summary"),
            "Time from a story's original to each reprint; date-only pages give ranges, counted apart.",
            lambda rows: _bars(rows, "lag", "reprints", "reprints")),
    Section("Originals and reprints by outlet", ("outlets",),
            "Originals: the first of a story with copies; solo: stories nobody copied.", plot_outlets),
    Section("Who reprints whom", ("outlet_matrix",), "", plot_matrix),
    Section("Who took text from whom", ("reuse_pairs", "reuse_examples"),
            f"Passages an article took from another story: its outlet, the outlet of the article they were taken "
            f"from (the earliest of its story holding them), and the characters taken; the {REUSE_PAIRS} biggest "
            f"pairs, then the longest passage of each pair.",
            found="select count(*) > 0 from reuse", none="No passages taken from other stories found."),
    Section("Wire agencies", ("wire_agencies",),
            "Articles by the agency they credit, the outlets crediting it, and the characters of its text other "
            "stories took (passages whose source article credits it, or else its story's original).",
            lambda rows: _bars(rows, "wire_source", "articles", "articles"),
            found="select count(wire_source) > 0 from articles", none="No articles crediting a news agency found."),
    Section("Story sizes", ("story_sizes",), "", plot_story_sizes),
    Section("What became of the inputs", ("outcomes", "failures_by_reason"),
            "Every input is an article or a failure row, with the stage that stopped it.",
            lambda rows: _bars(rows, "outcome", "inputs", "inputs")),
    Section("Publication dates", ("articles_by_day", "date_precision"),
            "Articles by published day: with a time of day (second/minute) or a date only.",
            lambda rows: _days(rows, {"timed": REPRINT, "date_only": SOLO}, "articles")),
    Section("Languages", ("languages",), "", lambda rows: _bars(rows, "language", "articles", "articles")),
    Section("Borderline pairs", ("borderline",),
            "Reprints closest to the dedup threshold (similarity to their original): check that they are the same story."),
)


def td(column: str, value: Any) -> str:
    """A table cell, escaped; an http(s) address in a ``*url`` column as a link."""
    text = html.escape(cell(value))
    if column.endswith("url") and isinstance(value, str) and value.startswith(("http://", "https://")):
        text = f'<a href="{text}" rel="noreferrer">{text}</a>'
    return f"<td>{text}</td>"


def table(name: str, rows: Rows) -> str:
    if not rows:
        return f'<p class="empty" data-query="{name}">{name}: no rows</p>'
    head = "".join(f"<th>{html.escape(column)}</th>" for column in rows[0])
    body = "".join("<tr>" + "".join(td(c, v) for c, v in row.items()) + "</tr>" for row in rows)
    return f'<table data-query="{name}"><caption>{name}</caption><tr>{head}</tr>{body}</table>'


def section(con: duckdb.DuckDBPyConnection, part: Section, params: dict) -> str:
    note = f"<p>{html.escape(part.note)}</p>" if part.note else ""
    if part.found and not con.execute(part.found).fetchone()[0]:
        return f'<section><h2>{html.escape(part.title)}</h2>{note}<p class="none">{html.escape(part.none)}</p></section>'
    results = {name: fetch(con, name, params) for name in part.queries}
    first = results[part.queries[0]]
    figure = f'<figure data-plot="{part.queries[0]}">{draw(part.plot, first)}</figure>' if part.plot and first else ""
    tables = "".join(table(name, rows) for name, rows in results.items())
    if figure:
        tables = f"<details><summary>numbers</summary>{tables}</details>"
    return f"<section><h2>{html.escape(part.title)}</h2>{note}{figure}{tables}</section>"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
.meta { color: #666; } svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 12px; } caption { text-align: left; color: #666; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; max-width: 28em; }
.totals td { font-size: 18px; font-weight: 600; } details { margin: 0.5em 0; }
"""


def render(con: duckdb.DuckDBPyConnection, output: str, params: dict, since: date | None = None) -> str:
    """The report as one HTML document."""
    totals = fetch(con, "totals", params)
    scope = f"stories first published since {since.isoformat()}" if since else "everything"
    head = (
        f"<h1>newsbeam report</h1><p class=meta>{html.escape(output)}: {scope}; "
        f"written {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}</p>"
    )
    body = head + f'<div class="totals">{table("totals", totals)}</div>'
    body += "".join(section(con, part, params) for part in SECTIONS)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>newsbeam report: {html.escape(output)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="newsbeam report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="out", help="output root to report on (default: out)")
    parser.add_argument("--since", type=date.fromisoformat, metavar="DATE",
                        help="only stories first published on or after DATE (YYYY-MM-DD), and failures since then")
    parser.add_argument("--story", metavar="ID", help="the story whose spread to show (default: the biggest)")
    parser.add_argument("--config", help="the runs' YAML configuration, for the dedup threshold (default: defaults)")
    parser.add_argument("--to", metavar="FILE.html", help="where to write the report (default: <output>/report.html)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    dedup = load_config(args.config).dedup
    params = {"story": args.story, "threshold": min(dedup.min_jaccard, dedup.min_containment)}
    if not any(FileSystems.match([table_files(args.output, spec)])[0].metadata_list for spec in (ARTICLES, FAILURES)):
        print(f"error: no articles or failures under {args.output}: not a newsbeam output", file=sys.stderr)
        return 2
    con = connect(args.output, args.since)
    if args.story and not con.execute("select 1 from stories where story_id = ?", [args.story]).fetchone():
        print(f"error: no story {args.story} in {args.output}" + (f" since {args.since}" if args.since else ""),
              file=sys.stderr)
        return 2
    document = render(con, args.output, params, args.since)
    target = args.to or FileSystems.join(args.output, "report.html")
    with FileSystems.create(target, mime_type="text/html") as handle:
        handle.write(document.encode("utf-8"))
    print(f"report {target} ({len(document) / 1024:.0f} KiB in {time.monotonic() - started:.1f} s)")
    return 0
