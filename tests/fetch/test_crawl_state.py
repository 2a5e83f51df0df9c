"""The rules of the crawl state: what a run remembers, retries and forgets."""

from datetime import UTC, datetime, timedelta

from transforms.fetch.crawl_state import (
    MAX_RETRY_RUNS,
    empty_state,
    entry_from_json,
    entry_to_json,
    filter_new,
    forget_seen_before,
    is_settled_failure,
    merge_updates,
    remember,
)
from transforms.records import failure

NOW = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
ENTRY = {"url": "https://a.example/x", "source": "https://a.example/feed", "feed_url": "https://a.example/feed",
         "title": "X", "published_at": NOW, "guid": None}


def test_entries_round_trip_through_json():
    assert entry_from_json(entry_to_json(ENTRY)) == ENTRY


def test_settled_failures_are_permanent_ones():
    assert is_settled_failure(failure("u", "fetch", "HTTPError", "gone", http_status=410))
    assert is_settled_failure(failure("u", "robots", "RobotsDisallowed", "no"))
    assert not is_settled_failure(failure("u", "fetch", "HTTPError", "busy", http_status=503))
    assert not is_settled_failure(failure("u", "fetch", "Timeout", "slow"))


def test_merge_updates_marks_seen_keeps_validators_and_retries_transient_entries():
    updates = [
        {"seen": "https://a.example/done?utm_source=rss"},
        {"feed": {"feed_url": "https://a.example/feed", "etag": '"v1"', "last_modified": None, "body_sha1": "ab"}},
        {"retry": entry_to_json(ENTRY)},
    ]
    state = merge_updates(empty_state(), updates, NOW)
    assert list(state["seen"]) == ["https://a.example/done"]
    assert state["validators"]["https://a.example/feed"]["etag"] == '"v1"'
    assert state["retry"]["https://a.example/x"]["retry_runs"] == 1
    for _ in range(MAX_RETRY_RUNS - 1):  # failing again and again: given up after MAX_RETRY_RUNS runs
        state = merge_updates(state, [{"retry": state["retry"]["https://a.example/x"]}], NOW) if state["retry"] else state
    assert state["retry"] == {}


def test_a_retried_entry_that_succeeds_leaves_the_retry_list():
    state = merge_updates(empty_state(), [{"retry": entry_to_json(ENTRY)}], NOW)
    state = merge_updates(state, [{"seen": ENTRY["url"]}], NOW)
    assert state["retry"] == {} and ENTRY["url"] in state["seen"]


def entry(url):
    return {"url": url, "source": "http://f/rss", "feed_url": "http://f/rss", "title": None, "published_at": None,
            "guid": None}


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
