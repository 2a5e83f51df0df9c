"""Crawl state between scheduled runs: round trip, atomic replace, what counts as new."""

from datetime import datetime, timedelta, timezone

from transforms.crawlstate import (
    empty_state,
    filter_new,
    forget_seen_before,
    load_state,
    remember,
    save_state,
    state_path,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def entry(url):
    return {"url": url, "source": "http://f/rss", "feed_url": "http://f/rss", "title": None, "published_at": None,
            "guid": None}


def test_first_run_has_an_empty_state(tmp_path):
    assert load_state(str(tmp_path)) == empty_state()


def test_round_trip_replaces_the_file_atomically(tmp_path):
    root = str(tmp_path / "out")
    body = {"feed_url": "http://f/rss", "body": b"<rss/>", "etag": '"v1"', "last_modified": None,
            "body_sha1": "ab", "not_modified": False}
    first = remember(empty_state(), [body], [entry("https://báo.vn/tin-1?utm_source=x")], NOW)
    save_state(root, first)
    assert load_state(root) == first
    assert first["validators"] == {"http://f/rss": {"etag": '"v1"', "last_modified": None, "body_sha1": "ab"}}

    second = remember(first, [], [entry("https://b.vn/2")], NOW + timedelta(hours=1))
    save_state(root, second)
    assert load_state(root) == second
    assert [p.name for p in (tmp_path / "out" / "_state").iterdir()] == ["crawl_state.json"]  # no temp left
    assert state_path(root).endswith("crawl_state.json")


def test_filter_new_uses_canonical_urls_and_drops_repeats():
    state = remember(empty_state(), [], [entry("https://b.vn/tin-1?utm_source=rss")], NOW)
    entries = [entry("https://b.vn/tin-1"), entry("https://b.vn/tin-2#top"), entry("https://B.vn/tin-2"),
               entry("https://b.vn/tin-3")]
    assert [e["url"] for e in filter_new(entries, state["seen"])] == ["https://b.vn/tin-2#top", "https://b.vn/tin-3"]


def test_remember_keeps_the_first_sighting_and_forgetting_bounds_the_state():
    state = remember(empty_state(), [], [entry("https://b.vn/1")], NOW)
    state = remember(state, [], [entry("https://b.vn/1"), entry("https://b.vn/2")], NOW + timedelta(days=3))
    assert state["seen"]["https://b.vn/1"] == NOW.isoformat()
    assert list(forget_seen_before(state, NOW + timedelta(days=1))["seen"]) == ["https://b.vn/2"]
