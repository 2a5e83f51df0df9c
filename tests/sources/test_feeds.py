import csv
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support.paths import FIXTURES, SHARED_DATA
from transforms.sources.feeds import DedupEntries, ParseFeeds, parse_feed
from transforms.urls import canonical_url

DATA = SHARED_DATA
FEEDS = DATA / "feeds"
FEED_RS = FEEDS / "feed-rs" / "feed-rs" / "fixture"
REPRINT_FEEDS = DATA / "reprints-dev" / "feeds"
SOURCES = FIXTURES / "sources"
FEED_URL = "https://feeds.example.org/news/rss.xml"

# Trimmed real-world feeds in feed-rs (publishers, podcasts, blogs): each must give entries.
REAL_FEEDS = [
    "rss2/rss_2.0_bbc.xml",
    "rss2/rss_2.0_spiegel.xml",
    "rss2/rss_2.0_nbcny.xml",
    "rss2/rss_2.0_ilgiornale.xml",
    "rss2/rss_2.0_ilmessaggero.xml",
    "rss2/rss_2.0_wirecutter.xml",
    "rss2/rss_2.0_cloudflare.xml",
    "rss2/rss_2.0_reddit.xml",
    "rss2/rss_2.0_matrix.xml",
    "rss2/rss_2.0_heated.xml",
    "rss2/rss_2.0_anchorfm.xml",
    "rss2/rss_2.0_spreaker.xml",
    "rss2/rss_2.0_encoding_1.xml",
    "atom/atom_example_reddit.xml",
    "atom/atom_mediarss_youtube_1.xml",
    "rss1/rss_1.0_debian.xml",
    "rss1/rss_1.0_biorxiv.xml",
]


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"corpus {path} is absent (see ../shared/data/README.md)")
    return path


def parse_file(path: Path, feed_url: str = FEED_URL):
    return parse_feed(path.read_bytes(), feed_url)


def test_every_corpus_file_parses_without_exception():
    files = sorted(
        p for p in need(FEEDS).rglob("*") if p.is_file() and p.suffix in (".xml", ".json", ".html")
    )
    summary = Counter()
    for path in files:
        corpus = path.relative_to(FEEDS).parts[0]
        if path.name.endswith(".serde.json"):  # feed-rs's expected parse results: no feeds, parsed anyway
            corpus += " serde"
        entries, failures = parse_file(path)
        summary[corpus, "files"] += 1
        summary[corpus, "with entries"] += bool(entries)
        summary[corpus, "entries"] += len(entries)
        summary[corpus, "bad feeds"] += any(
            f["error_type"] in ("FeedMalformed", "FeedUnparseable") for f in failures
        )
        summary[corpus, "failure rows"] += len(failures)
        for entry in entries:
            assert canonical_url(entry["url"]) == entry["url"], path
            assert entry["source"] == entry["feed_url"] == FEED_URL
            assert entry["published_at"] is None or entry["published_at"].tzinfo == UTC
        assert len({e["url"] for e in entries}) == len(entries), path
        assert all(f["stage"] == "feed" for f in failures)
        assert sum(f["source"] == FEED_URL for f in failures) <= 1, f"more than one feed-level row: {path}"
    for key in sorted(summary):
        print(f"{key[0]:>18} {key[1]:<13} {summary[key]}")
    assert sum(n for (_, kind), n in summary.items() if kind == "files") == len(files) > 3000
    assert summary["feed-rs", "with entries"] >= 50
    assert summary["w3c-feedvalidator", "with entries"] >= 700
    assert summary["feedparser", "bad feeds"] >= 100  # the ill-formed cases are reported, not hidden


@pytest.mark.parametrize("name", REAL_FEEDS)
def test_real_feeds_yield_entries_and_no_feed_failure(name):
    entries, failures = parse_file(need(FEED_RS / name))
    assert entries
    assert not [f for f in failures if f["source"] == FEED_URL]
    assert all(e["title"] for e in entries)


def test_bbc_feed_first_entry():
    entries, failures = parse_file(need(FEED_RS / "rss2" / "rss_2.0_bbc.xml"))
    assert (entries[0]["url"], entries[0]["title"], entries[0]["published_at"]) == (
        "http://www.bbc.co.uk/programmes/m000sjxt",
        "Marcus Aurelius",
        datetime(2021, 2, 25, 10, 15, tzinfo=UTC),
    )
    assert entries[0]["guid"].startswith("urn:bbc:podcast:")
    assert failures == []


def test_atom_relative_link_resolves_against_feed_url():
    entries, _ = parse_file(
        need(FEED_RS / "atom" / "atom_relative.xml"), "https://blog.example.net/feeds/atom.xml"
    )
    assert [e["url"] for e in entries] == ["https://blog.example.net/blog/2003/12/13/atom03"]


def test_malformed_feed_yields_what_it_can_and_one_failure():
    path = FEEDS / "feedparser" / "tests" / "illformed" / "rss_item_link_corrupted_ampersands.xml"
    entries, failures = parse_file(need(path))
    assert [e["url"] for e in entries] == ["http://link/get?a=1&b=2"]
    assert [(f["source"], f["error_type"]) for f in failures] == [(FEED_URL, "FeedMalformed")]
    assert "SAXParseException" in failures[0]["message"]


def test_truncated_feed_is_unparseable():
    entries, failures = parse_file(need(FEED_RS / "rss2" / "rss_2.0_invalid_1.xml"))
    assert entries == []
    assert [f["error_type"] for f in failures] == ["FeedUnparseable"]


@pytest.fixture
def vietnamese_feed():
    return parse_file(SOURCES / "vi_feed.xml", "https://tinnhanh.example/rss/kinh-te.rss")


def test_vietnamese_feed_title_is_nfc_and_date_is_utc(vietnamese_feed):
    entries, _ = vietnamese_feed
    first = entries[0]
    assert first["title"] == unicodedata.normalize(
        "NFC", "Giá vàng hôm nay tăng mạnh, người dân xếp hàng - Báo Tin Nhanh"
    )
    assert unicodedata.is_normalized("NFC", first["title"])
    assert first["published_at"] == datetime(2018, 2, 7, 10, 9, 32, tzinfo=UTC)  # 17:09:32 +0700
    assert first["guid"] == "tn-123"


def test_vietnamese_feed_tracking_params_dedup_relative_links_and_missing_links(vietnamese_feed):
    entries, failures = vietnamese_feed
    # the 2nd item is the 1st one with other tracking params: the first in document order is kept
    assert [(e["url"], e["guid"]) for e in entries] == [
        ("https://www.tinnhanh.example/kinh-te/gia-vang-123.html", "tn-123"),
        ("https://tinnhanh.example/thoi-su/ha-noi-mua-lon-124.html", "tn-124"),
    ]
    assert [(f["source"], f["error_type"]) for f in failures] == [
        ("https://tinnhanh.example/rss/kinh-te.rss#entry=3", "EntryWithoutLink"),
        ("https://tinnhanh.example/rss/kinh-te.rss#entry=4", "EntryWithoutLink"),
    ]
    assert "tn-125" in failures[0]["message"]


@pytest.mark.parametrize(
    "body", [b"", b"/etc/passwd", b"http://127.0.0.1:9/feed", b"<html><body>Not a feed</body></html>"]
)
def test_bodies_that_are_no_feed_become_one_failure_and_are_never_opened(body):
    entries, failures = parse_feed(body, FEED_URL)
    assert entries == []
    assert [f["source"] for f in failures] == [FEED_URL]
    assert failures[0]["error_type"] in ("NotAFeed", "FeedUnparseable")


def test_reprints_dev_feeds_list_every_page():
    feeds = sorted(need(REPRINT_FEEDS).glob("*.xml"))
    with open(DATA / "reprints-dev" / "manifest.csv", newline="", encoding="utf-8") as handle:
        manifest = {canonical_url(row["url"]): row for row in csv.DictReader(handle)}
    seen = set()
    for path in feeds:
        entries, failures = parse_file(path, f"https://{path.stem}/rss")
        links = [item.findtext("link") for item in ElementTree.parse(path).iter("item")]
        assert {e["url"] for e in entries} == {canonical_url(link) for link in links}, path
        assert failures == []
        seen.update(e["url"] for e in entries)
        for entry in entries:
            assert entry["published_at"] == datetime.fromisoformat(manifest[entry["url"]]["published_at"])
    assert seen == set(manifest)


def _entry(url, source, published_at=None, title=None):
    return {
        "url": url,
        "source": source,
        "feed_url": source,
        "title": title,
        "published_at": published_at,
        "guid": None,
    }


def test_parse_feeds_and_dedup_across_feeds():
    day = lambda d: datetime(2024, 5, d, tzinfo=UTC)
    feed_a = b"""<rss version="2.0"><channel><title>A</title>
      <item><title>Shared</title><link>https://x.example/s?utm_source=a</link>
            <pubDate>Fri, 03 May 2024 00:00:00 GMT</pubDate></item>
      <item><title>Only A</title><link>https://x.example/a</link></item>
      <item><title>No link</title></item></channel></rss>"""
    feed_b = b"""<rss version="2.0"><channel><title>B</title>
      <item><title>Shared early</title><link>https://x.example/s</link>
            <pubDate>Thu, 02 May 2024 00:00:00 GMT</pubDate></item>
      <item><title>Only A again</title><link>https://X.example/a#c</link></item></channel></rss>"""
    with test_pipeline.TestPipeline(runner="FnApiRunner") as pipeline:
        bodies = pipeline | "Feeds" >> beam.Create(
            [
                {"feed_url": "https://b.example/rss", "body": feed_b},
                {"feed_url": "https://a.example/rss", "body": feed_a},
                {"feed_url": "https://c.example/rss", "body": b"", "not_modified": True},
            ]
        )
        entries, failures = bodies | "Parse" >> ParseFeeds()
        unique = entries | "Dedup" >> DedupEntries()
        assert_that(
            unique,
            equal_to(
                [
                    _entry(
                        "https://x.example/s", "https://b.example/rss", day(2), "Shared early"
                    ),  # earliest published
                    _entry(
                        "https://x.example/a", "https://a.example/rss", None, "Only A"
                    ),  # then smallest source
                ]
            ),
            label="OneEntryPerUrl",
        )
        assert_that(
            failures | "Kind" >> beam.Map(lambda f: (f["source"], f["error_type"])),
            equal_to([("https://a.example/rss#entry=2", "EntryWithoutLink")]),
            label="Failures",
        )


def test_white_space_before_the_xml_declaration_is_tolerated():
    entries, failures = parse_file(need(FEED_RS / "atom" / "atom_example_4.xml"))  # starts with a blank line
    assert len(entries) == 1 and failures == []


@pytest.mark.parametrize(
    "body",
    [
        b"""<rss version="2.0"><channel><title>A</title><item><title>Blank</title><link> </link></item>
            <item><title>Ok</title><link>https://a.example/x</link></item></channel></rss>""",
        # feedparser itself resolves an empty Atom href against the feed's URL
        b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>Blank</title>
            <link href=""/><id>a1</id></entry><entry><title>Ok</title><link href="/x"/><id>a2</id></entry></feed>""",
    ],
    ids=["rss", "atom"],
)
def test_entry_whose_link_is_blank_or_the_feed_itself_is_a_failure_not_an_entry(body):
    entries, failures = parse_feed(body, "https://a.example/rss?utm_source=x")
    assert [e["url"] for e in entries] == ["https://a.example/x"]
    assert [(f["source"], f["error_type"]) for f in failures] == [
        ("https://a.example/rss?utm_source=x#entry=0", "EntryWithoutLink")
    ]
