import gzip

import apache_beam as beam
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.sources.urllists import ReadUrlLists, parse_url_list

LIST = """\
# Vietnamese outlets, checked 2024-05-01

https://vnexpress.net/thoi-su/bai-1.html
  https://tuoitre.vn/bai-2.htm   # trailing comment
https://vnexpress.net/thoi-su/bai-1.html?utm_source=zalo#comments
not a url
ftp://files.example.com/a.txt
https://example.com/page#section
www.example.com/no-scheme
https://example.com/a note without a hash
\t
"""


def test_parse_url_list_entries():
    entries, _ = parse_url_list(LIST, "lists/vi.txt")
    assert entries == [
        {
            "url": "https://vnexpress.net/thoi-su/bai-1.html",
            "source": "lists/vi.txt:3",
            "feed_url": None,
            "title": None,
            "published_at": None,
            "guid": None,
        },
        {
            "url": "https://tuoitre.vn/bai-2.htm",
            "source": "lists/vi.txt:4",
            "feed_url": None,
            "title": None,
            "published_at": None,
            "guid": None,
        },
        # a '#' without white space before it is a fragment, not a comment
        {
            "url": "https://example.com/page",
            "source": "lists/vi.txt:8",
            "feed_url": None,
            "title": None,
            "published_at": None,
            "guid": None,
        },
    ]


def test_parse_url_list_failures_name_file_and_line():
    _, failures = parse_url_list(LIST, "lists/vi.txt")
    assert [(f["source"], f["stage"], f["error_type"]) for f in failures] == [
        ("lists/vi.txt:6", "urllist", "InvalidUrl"),
        ("lists/vi.txt:7", "urllist", "InvalidUrl"),
        ("lists/vi.txt:9", "urllist", "InvalidUrl"),
        ("lists/vi.txt:10", "urllist", "InvalidUrl"),
    ]
    assert "not a url" in failures[0]["message"]


def test_empty_and_comment_only_lists():
    assert parse_url_list("", "a.txt") == ([], [])
    assert parse_url_list("# nothing\n\n   # still nothing\r\n", "a.txt") == ([], [])


def test_read_url_lists_pipeline(tmp_path):
    (tmp_path / "a.txt").write_text(
        "https://x.example/1\nhttps://x.example/2?utm_medium=email\nbad\n", encoding="utf-8"
    )
    (tmp_path / "b.txt").write_bytes("\ufeffhttps://X.example/2\nhttps://y.example/3 # new\n".encode("utf-8"))
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"https://z.example/4\n"))
    (tmp_path / "d.txt").write_bytes(b"https://x.example/\xff\n")
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        entries, failures = pipeline | "ReadLists" >> ReadUrlLists([str(tmp_path / "*")])
        assert_that(
            entries | "UrlSource" >> beam.Map(lambda e: (e["url"], e["source"].replace(str(tmp_path), ""))),
            equal_to(
                [
                    ("https://x.example/1", "/a.txt:1"),
                    ("https://x.example/2", "/a.txt:2"),  # also b.txt:1; the smallest source is kept
                    ("https://y.example/3", "/b.txt:2"),
                    ("https://z.example/4", "/c.txt.gz:1"),
                ]
            ),
            label="Entries",
        )
        assert_that(
            failures
            | "Kinds" >> beam.Map(lambda f: (f["source"].replace(str(tmp_path), ""), f["error_type"])),
            equal_to([("/a.txt:3", "InvalidUrl"), ("/d.txt", "UnreadableFile")]),
            label="Failures",
        )
