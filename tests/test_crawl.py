from datetime import datetime, timezone

from transforms.crawl import MAX_RETRY_RUNS, entry_from_json, entry_to_json, is_settled_failure, merge_updates
from transforms.crawlstate import empty_state
from transforms.records import failure

NOW = datetime(2026, 11, 16, 1, 0, tzinfo=timezone.utc)
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
