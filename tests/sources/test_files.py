import gzip

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.sources.files import ReadHtmlFiles, file_patterns


def test_file_patterns_expand_folders_only(tmp_path):
    patterns = file_patterns([str(tmp_path), "gs://bucket/pages/*.html", "one.html"])
    assert f"{tmp_path}/**.[hH][tT][mM][lL]" in patterns and f"{tmp_path}/**.[hH][tT][mM][lL].[gG][zZ]" in patterns
    assert patterns[-2:] == ["gs://bucket/pages/*.html", "one.html"]


def test_read_html_files_reads_nested_gzip_and_reports_broken_files(tmp_path):
    (tmp_path / "site" / "2026").mkdir(parents=True)
    (tmp_path / "site" / "2026" / "a.html").write_bytes(b"<html>a</html>")
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(b"<html>b</html>"))
    (tmp_path / "broken.html.gz").write_bytes(b"not gzip at all")
    (tmp_path / "notes.txt").write_text("ignored: not HTML")
    with TestPipeline(runner="FnApiRunner") as p:
        pages, failures = p | ReadHtmlFiles([str(tmp_path)])
        assert_that(
            pages | beam.Map(lambda page: (page["source"].rsplit("/", 1)[-1], page["body"])),
            equal_to([("a.html", b"<html>a</html>"), ("b.html.gz", b"<html>b</html>")]),
            label="pages",
        )
        assert_that(
            failures | "Failures" >> beam.Map(lambda f: (f["source"].rsplit("/", 1)[-1], f["stage"])),
            equal_to([("broken.html.gz", "read")]),
            label="failures",
        )
