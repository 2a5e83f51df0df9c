"""Damaged outputs: a run refuses them with the file and the way out, `newsbeam repair` sets the
damaged file aside and rebuilds, and the next run continues as if nothing happened.  (Runs are
new processes, as a user starts them; `repair` and `sql` run in this process.)"""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import current, runstate
from tests.support.cli import run_cli, run_cli_here, run_cli_here_stdout, run_cli_status
from tests.support.samples import copy_output as copy_of


@pytest.fixture(scope="module")
def sample_output(sample_run):
    """The output of one `newsbeam --sample` run (shared by the session: change only copies)."""
    return sample_run.output


def current_articles(out) -> list:
    return current.connect(str(out)).sql("select article_id, story_id, is_canonical from articles order by 1").fetchall()


@pytest.mark.parametrize("damage, problem", [
    (lambda text: text[: len(text) // 2], "not a JSON document"),
    (lambda _: "\x00\xff garbage", "not a JSON document"),
    (lambda _: json.dumps({"files": "x"}), '"files" is a str, not an object'),
    (lambda _: json.dumps({"seen": {"https://a.example/x": "yesterday"}}), "not a timestamp"),
    (lambda _: json.dumps({"validators": {"https://a.example/rss": "etag"}}), "not a dict"),
    (lambda _: json.dumps({"pending_run": 7}), "not a run id"),
    (lambda _: json.dumps([1, 2]), "not an object"),
])
def test_a_damaged_state_is_refused_naming_the_file_and_the_problem(damage, problem, tmp_path):
    state = tmp_path / "_state" / "crawl_state.json"
    state.parent.mkdir()
    state.write_text(damage(json.dumps({"files": {"a.html": "2026-11-30T10:00:00+00:00"}, "pending_run": None})))
    with pytest.raises(runstate.StateError) as error:
        runstate.load_state(str(tmp_path))
    assert str(state) in str(error.value) and problem in str(error.value) and "newsbeam repair --output" in str(error.value)


def test_a_run_on_a_damaged_state_stops_at_once_and_repair_rebuilds_it(sample_output, tmp_path):
    out = copy_of(sample_output, tmp_path)
    state = out / "_state" / "crawl_state.json"
    state.write_text(state.read_text()[:20], encoding="utf-8")
    code, _, stderr = run_cli_status("--sample", "--output", str(out))
    assert code == 2 and str(state) in stderr and "not a JSON document" in stderr and "Traceback" not in stderr
    assert len(list((out / "articles").rglob("*.parquet"))) == 1  # nothing was written

    report = run_cli_here_stdout("repair", "--output", str(out))
    assert "state rebuilt from the tables" in report
    assert [p.name for p in (out / "_quarantine").rglob("crawl_state.json")] == ["crawl_state.json"]
    rebuilt = json.loads(state.read_text())
    assert len(rebuilt["files"]) == 36  # every sample page: 35 articles and a copy (a failure row)
    stdout = run_cli("--sample", "--output", str(out))  # the sample again: nothing new
    assert "articles 0, stories 0" in stdout
    assert current_articles(out) == current_articles(sample_output)


@pytest.mark.slow  # ~30 s: the other repair tests cover the same path
def test_a_damaged_story_index_file_is_named_set_aside_and_rebuilt(sample_output, tmp_path):
    out = copy_of(sample_output, tmp_path)
    [index_file] = (out / "story_index").rglob("part-*.parquet")
    index_file.write_bytes(index_file.read_bytes()[:-100])  # the footer cut off
    code, _, stderr = run_cli_status("--sample", "--output", str(out))
    assert code == 2 and str(index_file) in stderr and "not a readable Parquet file" in stderr

    report = run_cli_here_stdout("repair", "--output", str(out))
    assert f"set aside {index_file}" in report and "index rows written for 35 articles" in report
    assert "articles 0, stories 0" in run_cli("--sample", "--output", str(out))
    assert current_articles(out) == current_articles(sample_output)
    assert "index rows written for 0 articles" in run_cli_here_stdout("repair", "--output", str(out))  # nothing left to do


def test_a_damaged_articles_file_is_named_by_the_views_and_set_aside(sample_output, tmp_path):
    out = copy_of(sample_output, tmp_path)
    [articles_file] = (out / "articles").rglob("part-*.parquet")
    articles_file.write_bytes(b"PAR1 not really")
    code, _, stderr = run_cli_here("sql", "--output", str(out), "select count(*) from articles")
    assert code == 2 and str(articles_file) in stderr
    report = run_cli_here_stdout("repair", "--output", str(out))
    assert f"set aside {articles_file}" in report and "ingest their inputs again" in report
    assert run_cli_here_stdout("sql", "--output", str(out), "--csv", "select count(*) as n from articles").split() == ["n", "0"]


@pytest.mark.slow  # a sample run, a refused run, a repair and a rerun
def test_an_index_of_other_fingerprint_settings_is_refused_then_fingerprinted_again(sample_output, tmp_path):
    """After an upgrade or a change of dedup settings, a run would otherwise ignore the index and
    ingest every known page again as a new article."""
    out = copy_of(sample_output, tmp_path)
    [index_file] = (out / "story_index").rglob("part-*.parquet")
    rows = pq.read_table(index_file)
    old = pa.array(["old-settings"] * len(rows))
    pq.write_table(rows.set_column(rows.column_names.index("fingerprint_version"), "fingerprint_version", old), index_file)
    code, _, stderr = run_cli_status("--sample", "--output", str(out))
    assert code == 2 and str(index_file) in stderr and "fingerprint_version ['old-settings']" in stderr

    report = run_cli_here_stdout("repair", "--output", str(out))
    assert "index rows written for 35 articles" in report and f"set aside {index_file}" in report
    assert "articles 0, stories 0" in run_cli("--sample", "--output", str(out))
    assert current_articles(out) == current_articles(sample_output)


def current_reuse(out) -> list:
    return current.connect(str(out)).sql("select * from reuse order by all").fetchall()


def test_an_output_from_before_passage_reuse_gets_its_passages_indexed_by_repair(sample_output, tmp_path):
    """Outputs written before schema 4 have no passage index: repair records the current
    articles' passages, and the next run decides their reuse as one run over them would."""
    out = copy_of(sample_output, tmp_path)
    assert current_reuse(sample_output)  # the sample has passages taken from other stories
    shutil.rmtree(out / "passage_index")
    shutil.rmtree(out / "reuse")
    report = run_cli_here_stdout("repair", "--output", str(out))
    assert "passage index rows written for 35 articles" in report
    assert "articles 0, stories 0" in run_cli("--sample", "--output", str(out))
    assert current_reuse(out) == current_reuse(sample_output)
    assert "passage index rows written for 0 articles" in run_cli_here_stdout("repair", "--output", str(out))
