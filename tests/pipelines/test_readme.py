"""The README's queries run as written, against an output several runs wrote (the bundled sample
in two parts, then the second part again: sample_in_parts in tests/support/samples.py)."""

import re
import shlex
import subprocess
import sys

import pytest

from tests.support.cli import run_cli, run_cli_here
from tests.support.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTIONS = ("## Read the current state", "## Query the output")


def blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the README's query sections."""
    found = []
    for heading in SECTIONS:
        section = README.split(heading, 1)[1].split("\n## ", 1)[0]
        found += re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)
    return found


@pytest.fixture(scope="module")
def output(sample_in_parts):
    """The reprints, the originals, then the originals again (20 DuplicateUrl rows); read-only."""
    return sample_in_parts.output


def test_the_readme_has_queries_to_run():
    assert len(blocks("sql")) >= 1 and len(blocks("bash")) >= 1 and len(blocks("python")) >= 1


@pytest.mark.parametrize("statement", [s.strip() for block in blocks("sql") for s in block.split(";") if s.strip()])
def test_sql_runs_with_newsbeam_sql(output, statement):
    query = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
    code, stdout, stderr = run_cli_here("sql", "--output", str(output), "--csv", query)  # `newsbeam sql`, in this process
    assert code == 0, stderr
    header, *rows = stdout.strip().splitlines()
    assert rows, f"no rows from {query}"


@pytest.mark.parametrize("command", [c.strip() for block in blocks("bash") for c in block.strip().splitlines()])
def test_commands_run(output, command):
    args = shlex.split(command)
    assert args[0] == "newsbeam"
    args = [str(output) if arg == "out" else arg for arg in args[1:]]
    stdout = run_cli(*args)
    assert "story_id" in stdout


@pytest.mark.parametrize("code", blocks("python"))
def test_python_runs(output, code):
    code = code.replace('"out', f'"{output}')
    result = subprocess.run([sys.executable, "-c", code + "\nprint('ok')"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_current_views_fold_the_runs(output):
    from pipelines import current

    con = current.connect(str(output))
    kinds = dict(con.sql("select row_kind, count(*) from article_events group by 1").fetchall())
    articles = con.sql("select count(*), count(distinct article_id) from articles").fetchall()[0]
    assert articles[0] == articles[1] == kinds["new"]  # one current row per article; the rerun added none
    assert con.sql("select count(*) from failures where error_type = 'DuplicateUrl'").fetchall()[0][0] >= kinds["new"] // 2
    stories = con.sql("select sum(article_count) from stories").fetchall()[0][0]
    assert stories == articles[0]
