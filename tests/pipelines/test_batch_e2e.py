"""End to end: the CLI on the bundled sample and on bad pages, Parquet read back with pyarrow and DuckDB."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import current
from tests.support.cli import read_table, run_cli
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI, article_html, to_cp1258
from tests.support.paths import REPO
from tests.support.samples import SAMPLE, copy_output

VOLATILE = {"run_id", "ingest_date", "fetched_at", "row_at"}

# sample_run (`newsbeam --sample` once) and sample_in_parts (reprints, then originals) are shared
# by the session: tests/support/samples.py


def test_sample_run_writes_every_table_and_prints_a_summary(sample_run):
    out, stdout, _ = sample_run
    manifest = list(csv.DictReader((SAMPLE / "manifest.csv").open(encoding="utf-8")))
    articles = read_table(out, "articles")
    failures = read_table(out, "failures")
    assert articles.num_rows + failures.num_rows == len(manifest)
    urls = {row["canonical_url"] for row in manifest if row["canonical_url"]}
    without_url = sum(1 for row in manifest if not row["canonical_url"])
    assert articles.num_rows == len(urls) + without_url
    assert set(articles.column("url").to_pylist()) == urls | {None}
    assert set(failures.column("error_type").to_pylist()) <= {"DuplicateUrl"}
    assert f"articles {articles.num_rows}," in stdout and "pages/s" in stdout
    stories = read_table(out, "stories")
    assert sum(stories.column("article_count").to_pylist()) == articles.num_rows
    assert set(articles.column("story_id").to_pylist()) == set(stories.column("story_id").to_pylist())


def test_sample_metadata_matches_the_manifest(sample_run):
    out = sample_run.output
    manifest = {row["path"]: row for row in csv.DictReader((SAMPLE / "manifest.csv").open(encoding="utf-8"))}
    for article in read_table(out, "articles").to_pylist():
        expected = manifest[str(Path(article["source"]).relative_to(SAMPLE / "pages"))]
        assert article["published_at"].isoformat().replace("+00:00", "Z") == expected["published_at"], article["source"]
        assert article["published_at_precision"] == ("second" if article["published_at"].second else "minute")
        assert article["language"] == expected["lang"], article["source"]
        assert article["title"] == expected["title"], article["source"]


def test_sample_stories_match_the_gold_groups_and_originals(sample_run):
    out = sample_run.output
    manifest = {row["path"]: row for row in csv.DictReader((SAMPLE / "manifest.csv").open(encoding="utf-8"))}
    gold, found, canonical_is_original = {}, {}, []
    for article in read_table(out, "articles").to_pylist():
        row = manifest[str(Path(article["source"]).relative_to(SAMPLE / "pages"))]
        gold.setdefault(row["story_group"], set()).add(article["article_id"])
        found.setdefault(article["story_id"], set()).add(article["article_id"])
        if article["is_canonical"]:  # the original, or a byte-identical copy at the same URL
            original = next(r for r in manifest.values() if r["story_group"] == row["story_group"] and r["is_original"] == "true")
            canonical_is_original.append(row is original or (row["canonical_url"] and row["canonical_url"] == original["canonical_url"]))
    assert sorted(map(sorted, gold.values())) == sorted(map(sorted, found.values()))
    assert len(canonical_is_original) == len(found) and all(canonical_is_original)


def test_sample_output_is_queryable_with_duckdb(sample_run):
    out = sample_run.output
    con = duckdb.connect()
    glob = f"{out}/articles/**/*.parquet"
    languages = dict(
        con.execute(f"select language, count(*) from read_parquet('{glob}', hive_partitioning=1) group by 1").fetchall()
    )
    assert set(languages) == {"vi", "en"} and languages["vi"] > languages["en"]
    (untitled,) = con.execute(f"select count(*) from read_parquet('{glob}', hive_partitioning=1) where title is null").fetchone()
    assert untitled == 0
    (suffixed,) = con.execute(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=1) where title like '% - Báo%' or title like '%|%'"
    ).fetchone()
    assert suffixed == 0
    (nfc_violations,) = con.execute(
        f"select count(*) from read_parquet('{glob}', hive_partitioning=1) where text != nfc_normalize(text)"
    ).fetchone()
    assert nfc_violations == 0


@pytest.mark.slow  # a third full sample run: test_dask_runner compares a fresh run's tables with sample_run's
def test_rerun_gives_identical_articles(sample_run, tmp_path):
    first = sample_run.output
    run_cli("--sample", "--output", str(tmp_path))  # a fresh output root: no story index from the first run
    columns = [c for c in read_table(first, "articles").column_names if c not in VOLATILE]
    rows = [sorted(read_table(root, "articles").select(columns).to_pylist(), key=lambda r: r["article_id"]) for root in (first, tmp_path)]
    assert rows[0] == rows[1]


def current_state(root):
    """{page (site/file): (its story's canonical page, story size, is canonical, similarity)} of an
    output, by page rather than by id: a page without a canonical URL is identified by its path."""
    rows = current.connect(str(root)).sql("""
        select a.source, c.source, s.article_count, a.is_canonical, round(a.similarity, 4)
        from articles a join stories s using (story_id) join articles c on c.article_id = s.canonical_article_id
    """).fetchall()
    page = lambda source: "/".join(Path(source).parts[-2:])  # noqa: E731
    return {page(a): (page(c), n, canonical, similarity) for a, c, n, canonical, similarity in rows}


def test_rerun_on_the_same_output_adds_nothing(sample_run, tmp_path):
    out = copy_output(sample_run.output, tmp_path)  # the output of one sample run
    stdout = run_cli("--sample", "--output", str(out))
    assert "articles 0, stories 0" in stdout and "0 corrections" in stdout
    assert "failures 36 (dedup.DuplicateUrl=36)" in stdout  # every page: already ingested (35), or a copy (1)
    for table in ("articles", "stories", "story_index"):
        assert len(set(read_table(out, table).column("run_id").to_pylist())) == 1, table
    assert current_state(out) == current_state(sample_run.output)


def test_runs_over_parts_of_the_input_give_the_one_run_state(sample_run, sample_in_parts):
    """Reprints first, their originals in a later run: the originals re-anchor their stories (the
    originals' rerun after them adds nothing)."""
    reprints, originals, rerun = sample_in_parts.stdouts
    assert " 0 corrections" not in originals
    assert "articles 0, stories 0" in rerun and "failures 20 (dedup.DuplicateUrl=20)" in rerun
    assert current_state(sample_in_parts.output) == current_state(sample_run.output)


def as_schema_1(root: Path):
    """Rewrite an output's files as schema version 1 wrote them: no row_kind, row_at or time
    precision; an index with is_anchor and no similarity or content hash."""
    dropped = {
        "articles": ["row_kind", "row_at", "published_at_precision"],
        "stories": ["row_at"],
        "story_index": ["similarity", "content_sha1", "published_at_precision", "row_at"],
    }
    for table, columns in dropped.items():
        for path in (root / table).rglob("part-*.parquet"):
            rows = pq.read_table(path).drop_columns(columns)
            rows = rows.set_column(rows.column_names.index("schema_version"), "schema_version", pa.array([1] * len(rows), pa.int16()))
            pq.write_table(rows.rename_columns(["is_anchor" if c == "is_canonical" and table == "story_index" else c for c in rows.column_names]), path)


@pytest.mark.slow  # two sample runs over a rewritten copy
def test_an_output_of_schema_1_is_read_and_continued(sample_run, tmp_path):
    out = copy_output(sample_run.output, tmp_path)
    as_schema_1(out)
    assert current_state(out) == current_state(sample_run.output)
    run_cli("--sample", "--output", str(out))  # the first run re-states each article once
    assert current_state(out) == current_state(sample_run.output)
    assert current.connect(str(out)).sql("select count(*), count(distinct article_id) from articles").fetchall() == [(35, 35)]
    assert "articles 0, stories 0" in run_cli("--sample", "--output", str(out))


@pytest.mark.slow  # four CLI runs; the default run has the contract at the Beam level (tests/dedup/test_batch.py)
def test_another_text_under_a_known_url_is_kept_in_the_next_run(tmp_path):
    """A URL reused for another story: the next run keeps it as an article of its own, naming the
    URL's article, with the ids one run over both pages gives; a rerun adds nothing."""
    canonical = "https://baothu.example/tin-moi-nhat"
    for day, title, paragraphs in (("day1", "Giá vàng tăng mạnh", PARAGRAPHS_VI), ("day2", "Bus network to grow", PARAGRAPHS_EN)):
        (tmp_path / day).mkdir()
        (tmp_path / day / "page.html").write_text(article_html(title, paragraphs, canonical=canonical), encoding="utf-8")
    out, single = tmp_path / "out", tmp_path / "single"
    run_cli("--input", str(tmp_path / "day1"), "--output", str(out))
    assert "1 new articles (1 sharing a URL)" in run_cli("--input", str(tmp_path / "day2"), "--output", str(out))
    assert "articles 0, stories 0" in run_cli("--input", str(tmp_path / "day2"), "--output", str(out))
    run_cli("--input", str(tmp_path / "day1"), "--input", str(tmp_path / "day2"), "--output", str(single))
    query = "select parse_path(source)[-2], article_id, url_article_id, story_id from articles order by 1"
    held = current.connect(str(out)).sql(query).fetchall()
    assert held == current.connect(str(single)).sql(query).fetchall()
    (_, first, none, _), (_, second, url_article, _) = held
    assert none is None and url_article == first != second


def test_bad_pages_end_as_failures_and_never_stop_the_run(tmp_path):
    pages = tmp_path / "pages"
    pages.mkdir()
    good = article_html("Hòa bình và khỏe mạnh cho mọi nhà", PARAGRAPHS_VI, canonical="https://baothu.example/hoa-binh")
    (pages / "good.html").write_text(good, encoding="utf-8")
    (pages / "legacy.html").write_bytes(
        to_cp1258(article_html("Mùa thu Hà Nội", PARAGRAPHS_VI, charset="windows-1258", canonical="https://baothu.example/mua-thu"))
    )
    (pages / "empty.html").write_bytes(b"")
    (pages / "binary.html").write_bytes(bytes(range(256)) * 64)
    (pages / "truncated.html").write_bytes(good.encode()[:300])
    huge = "<html><body>" + "<p>" + "chữ " * 5_300_000 + "</p></body></html>"
    (pages / "huge.html").write_text(huge, encoding="utf-8")
    assert (pages / "huge.html").stat().st_size > 20_000_000
    out = tmp_path / "out"
    run_cli("--input", str(pages), "--output", str(out))
    articles = {Path(r["source"]).name: r for r in read_table(out, "articles").to_pylist()}
    failures = {Path(r["source"]).name: r for r in read_table(out, "failures").to_pylist()}
    assert set(articles) == {"good.html", "legacy.html"}
    assert "Mùa thu Hà Nội" == articles["legacy.html"]["title"]
    assert {name: (f["stage"], f["error_type"]) for name, f in failures.items()} == {
        "empty.html": ("extract", "EmptyPage"),
        "binary.html": ("extract", "BinaryContent"),
        "truncated.html": ("extract", "TooShort"),
        "huge.html": ("read", "PageTooLarge"),  # read no further than extract.max_page_bytes
    }


def test_unknown_config_key_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("extract:\n  timeout: 3\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--config", str(config)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown config key 'extract.timeout'" in proc.stderr
