"""Hostile local files: decompression bombs, compressed files over Beam's 16 MiB read buffer or
cut short, files the listing cannot see (broken links, unreadable folders), upper-case suffixes,
UTF-16/32 pages.  Each must end as a page, a URL entry or a failure row."""

import gzip
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support.bombs import MIB, bomb, peak_growth
from transforms.extract.decode import check_page, decode_html
from transforms.sources.files import ReadHtmlFiles, read_html_file
from transforms.sources.urllists import read_url_list

MAX_GROWTH = 150 * MIB  # the 20 MB page cap read twice over, and decompression buffers


def outcomes(results) -> list:
    """Each result of a read function as ``error_type`` (a failure) or the page's body size."""
    return [r.value["error_type"] if isinstance(r, beam.pvalue.TaggedOutput) else len(r["body"]) for r in results]


def test_gzip_bomb_page_is_page_too_large_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.html.gz"
    path.write_bytes(bomb(512 * MIB))  # 3 MB on disk
    setup = "import apache_beam as beam\nfrom transforms.sources.files import read_html_file"
    work = (
        "[r.value['error_type'] if isinstance(r, beam.pvalue.TaggedOutput) else len(r['body'])"
        f" for r in read_html_file({str(path)!r})]"
    )
    result, grown = peak_growth(setup, work)
    assert result == ["PageTooLarge"]
    assert grown < MAX_GROWTH, f"reading a 512 MiB bomb grew the peak RSS by {grown / MIB:.0f} MiB"


def test_compressed_page_over_the_cap_is_too_large_as_when_plain(tmp_path):
    page = b"<html><body>" + b"<p>filler</p>" * (25_000_000 // 13) + b"</body></html>"
    (tmp_path / "big.html").write_bytes(page)
    (tmp_path / "big.html.gz").write_bytes(gzip.compress(page, compresslevel=1))
    assert outcomes(read_html_file(str(tmp_path / "big.html"))) == ["PageTooLarge"]
    assert outcomes(read_html_file(str(tmp_path / "big.html.gz"))) == ["PageTooLarge"]
    small = tmp_path / "small.html.gz"
    small.write_bytes(gzip.compress(page[: 18 * MIB]))  # over Beam's 16 MiB buffer, under the cap
    assert outcomes(read_html_file(str(small))) == [18 * MIB]


def test_truncated_gzip_page_is_a_truncated_failure(tmp_path):
    whole = gzip.compress(b"<html><body>" + b"<p>Tin nhanh trong ngay.</p>" * 2000 + b"</body></html>")
    cut = tmp_path / "cut.html.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    (failure,) = read_html_file(str(cut))
    assert (failure.value["stage"], failure.value["error_type"]) == ("read", "Truncated")


def test_compressed_url_list_over_16_mib_is_read_whole(tmp_path):
    padding = "x" * 440  # 40,000 lines of about 480 bytes: 18 MiB
    urls = [f"https://tin.example/{n}/{padding}" for n in range(40_000)]
    path = tmp_path / "urls.txt.gz"
    path.write_bytes(gzip.compress("\n".join(urls).encode(), compresslevel=1))
    results = list(read_url_list(str(path)))
    assert [r for r in results if isinstance(r, beam.pvalue.TaggedOutput)] == []
    assert len(results) == 40_000 and results[-1]["url"] == urls[-1]


def test_truncated_url_list_is_one_truncated_failure_and_no_half_url(tmp_path):
    whole = gzip.compress("\n".join(f"https://tin.example/{n}" for n in range(5000)).encode())
    path = tmp_path / "urls.txt.gz"
    path.write_bytes(whole[: len(whole) // 2])
    (failure,) = read_url_list(str(path))
    assert (failure.value["source"], failure.value["stage"], failure.value["error_type"]) == (
        str(path),
        "urllist",
        "Truncated",
    )


def test_upper_case_suffixes_and_broken_links_in_a_folder(tmp_path):
    for name in ("a.html", "PAGE.HTML", "Old.Htm", "b.HTML.GZ"):
        body = b"<html>" + name.encode() + b"</html>"
        (tmp_path / name).write_bytes(gzip.compress(body) if name.lower().endswith(".gz") else body)
    (tmp_path / "notes.TXT").write_text("not a page")
    (tmp_path / "gone.html").symlink_to(tmp_path / "deleted.html")
    with TestPipeline(runner="FnApiRunner") as pipeline:
        pages, failures = pipeline | ReadHtmlFiles([str(tmp_path)])
        assert_that(
            pages | "Names" >> beam.Map(lambda page: os.path.basename(page["source"])),
            equal_to(["a.html", "PAGE.HTML", "Old.Htm", "b.HTML.GZ"]),
            label="Pages",
        )
        assert_that(
            failures | "Kinds" >> beam.Map(lambda f: (os.path.basename(f["source"]), f["stage"], f["error_type"])),
            equal_to([("gone.html", "read", "FileNotFoundError")]),
            label="Failures",
        )


def test_unreadable_sub_folder_is_a_failure(tmp_path):
    (tmp_path / "a.html").write_bytes(b"<html>a</html>")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.html").write_bytes(b"<html>b</html>")
    (tmp_path / "locked").chmod(0)
    try:
        if os.access(tmp_path / "locked", os.R_OK):
            pytest.skip("this user (root, euid 0) reads a chmod 000 folder: nothing is hidden from it")
        with TestPipeline(runner="FnApiRunner") as pipeline:
            pages, failures = pipeline | ReadHtmlFiles([str(tmp_path)])
            assert_that(
                pages | "Names" >> beam.Map(lambda page: os.path.basename(page["source"])),
                equal_to(["a.html"]),
                label="Pages",
            )
            assert_that(
                failures | "Kinds" >> beam.Map(lambda f: (f["source"], f["stage"], f["error_type"])),
                equal_to([(str(tmp_path / "locked"), "read", "PermissionError")]),
                label="Failures",
            )
    finally:
        (tmp_path / "locked").chmod(0o755)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_pages_with_a_byte_order_mark_are_text(encoding):
    text = "<html><head><title>Tin nóng</title></head><body><p>Hà Nội mưa lớn.</p></body></html>"
    body = ("\ufeff" + text if encoding == "utf-16-be" else text).encode(encoding)
    check_page(body, max_bytes=1_000_000)  # not BinaryContent
    assert decode_html(body) == text
    assert decode_html(body, "windows-1252") == text  # the mark wins over a declared charset
