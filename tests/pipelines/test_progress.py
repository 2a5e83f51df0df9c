"""Progress of local runs on stderr: periodic plain lines off a terminal, one line rewritten in
place on one, none with --quiet or on runners outside this process."""

import io
import random
import re
import time

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import progress
from pipelines.config import SourcesConfig
from tests.support.cli import run_cli_status
from tests.support.pagegen import PARAGRAPHS_EN, article_html
from tests.support.samples import RERUN_FLAGS

LINE = re.compile(r"^progress: read ([\d,]+), extracted ([\d,]+)(?:/([\d,]+))?, clustered ([\d,]+), [\d.]+ pages/s", re.MULTILINE)


def write_pages(folder, count: int) -> None:
    """``count`` distinct English articles over ten sites."""
    words, rng = " ".join(PARAGRAPHS_EN).split(), random.Random(18)
    for i in range(count):
        site = folder / f"site{i % 10}.example"
        site.mkdir(parents=True, exist_ok=True)
        paragraphs = [" ".join(rng.choices(words, k=40)) + "." for _ in range(4)]
        page = article_html(f"Report {i}", paragraphs, lang="en", canonical=f"https://site{i % 10}.example/{i}",
                            published="2026-11-16T08:00:00+07:00")
        (site / f"report-{i}.html").write_text(page, encoding="utf-8")


def progress_lines(stderr: str) -> list[tuple[int, ...]]:
    return [tuple(int(n.replace(",", "")) if n else 0 for n in line) for line in LINE.findall(stderr)]


def test_a_run_reports_progress_and_quiet_silences_it(sample_run, sample_in_parts):
    # CLI runs shared by the session (tests/support/samples.py)
    stderr = sample_run.stderr  # newsbeam --sample --progress_every_s=0.5
    assert progress_lines(stderr), stderr[-2000:]
    assert all(total == 36 for _, _, total, _ in progress_lines(stderr))  # the sample's files
    # sample_in_parts' third run had RERUN_FLAGS: --quiet, and a line every 0.05 s (~100 in a run) without it
    assert "--quiet" in RERUN_FLAGS and "progress:" not in sample_in_parts.stderrs[2]


@pytest.mark.slow  # ~40 s on a 2-core box
def test_a_long_run_reports_counts_rate_and_time_left(tmp_path):
    write_pages(tmp_path / "pages", 2000)
    code, stdout, stderr = run_cli_status("--input", str(tmp_path / "pages"), "--output", str(tmp_path / "out"),
                                          "--progress_every_s=3")
    assert code == 0 and "articles 2000," in stdout, stderr[-2000:]
    lines = progress_lines(stderr)
    assert len(lines) >= 3 and all(total == 2000 for _, _, total, _ in lines)
    assert [line[1] for line in lines] == sorted(line[1] for line in lines)  # extracted only grows
    assert any(0 < extracted < 2000 for _, extracted, _, _ in lines) and "left" in stderr


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_gets_one_line_rewritten_in_place(tmp_path):
    write_pages(tmp_path, 3)
    stream = Terminal()
    with progress.shown(PipelineOptions(["--runner=FnApiRunner"]), SourcesConfig(html=(str(tmp_path),)), stream):
        for stage in ("read", "read", "extracted"):
            progress.tick(None, stage)
        time.sleep(progress.TERMINAL_EVERY_S * 1.5)
    written = stream.getvalue()
    assert written.startswith("\rprogress: read 2, extracted 1/3, clustered 0,") and "\n" not in written
    assert written.endswith("\r\x1b[K")  # erased at the end: the run summary follows


def test_format_line():
    counts = {"read": 120, "extracted": 100, "clustered": 0}
    assert progress.format_line(counts, 400, 50.0) == (
        "progress: read 120, extracted 100/400, clustered 0, 2.0 pages/s, about 2 min 30 s left, after 50 s"
    )
    assert progress.format_line(counts, None, 3725.0) == (
        "progress: read 120, extracted 100, clustered 0, 0.0 pages/s, after 1 h 02 min"
    )


@pytest.mark.parametrize("flags, shown", [
    (["--runner=FnApiRunner"], True),
    (["--runner=DirectRunner", "--direct_running_mode=multi_threading"], True),
    (["--runner=FnApiRunner", "--quiet"], False),
    (["--runner=FnApiRunner", "--direct_running_mode=multi_processing"], False),  # counts in other processes
    (["--runner=DataflowRunner"], False),
])
def test_progress_needs_an_in_process_runner(flags, shown):
    assert progress.enabled(PipelineOptions(flags)) is shown
