"""The rules of the crawl state, so an hourly run fetches only what is new (pure functions).

The state is one JSON-able document (kept by ``pipelines.runstate``)::

    {"validators": {feed_url: {"etag", "last_modified", "body_sha1"}},
     "seen": {canonical entry URL: first-seen ISO timestamp},
     "retry": {canonical entry URL: URL entry (JSON) whose fetch failed transiently}}

A run emits *updates* (``{"feed": validators}``, ``{"seen": url}``, ``{"retry": entry}``,
see ``transforms.fetch.crawl``) that ``merge_updates`` folds in once the run's tables are written.
"""

from collections.abc import Iterable
from datetime import datetime

from transforms.records import Failure, UrlEntry
from transforms.urls import canonical_url

VALIDATOR_KEYS = ("etag", "last_modified", "body_sha1")
MAX_RETRY_RUNS = 5  # an entry that failed transiently in this many runs is given up
_PERMANENT_ERRORS = {"RobotsDisallowed", "Blocked"}
_GONE_STATUSES = {404, 410}


def empty_state() -> dict:
    return {"validators": {}, "seen": {}, "retry": {}}


def seen_key(url: str) -> str:
    """What makes two entry URLs the same: the canonical URL (the raw one if not http(s))."""
    return canonical_url(url) or url


def is_new(entry: dict, seen) -> bool:
    """True when the entry's URL was not seen before."""
    return seen_key(entry["url"]) not in seen


def filter_new(entries: Iterable[dict], seen) -> list[dict]:
    """URL entries whose URL was not seen before (nor earlier in ``entries``), in input order."""
    fresh, taken = [], set()
    for entry in entries:
        key = seen_key(entry["url"])
        if key not in seen and key not in taken:
            taken.add(key)
            fresh.append(entry)
    return fresh


def remember(state: dict, feed_bodies: Iterable[dict], entries: Iterable[dict], now: datetime) -> dict:
    """A new state: the validators of ``feed_bodies`` (``FetchFeeds`` output) and the URLs of
    ``entries`` (pass those that must not be fetched again) marked seen at ``now``."""
    validators = dict(state["validators"])
    for body in feed_bodies:
        validators[body["feed_url"]] = {key: body.get(key) for key in VALIDATOR_KEYS}
    seen = dict(state["seen"])
    for entry in entries:
        seen.setdefault(seen_key(entry["url"]), now.isoformat())
    return {**state, "validators": validators, "seen": seen}


def forget_seen_before(state: dict, cutoff: datetime) -> dict:
    """A new state without URLs first seen before ``cutoff`` (keeps the state bounded)."""
    seen = {url: at for url, at in state["seen"].items() if datetime.fromisoformat(at) >= cutoff}
    return {**state, "seen": seen}


def entry_to_json(entry: UrlEntry) -> dict:
    published = entry.get("published_at")
    return {**entry, "published_at": published.isoformat() if published else None}


def entry_from_json(entry: dict) -> UrlEntry:
    published = entry.get("published_at")
    return {**entry, "published_at": datetime.fromisoformat(published) if published else None}


def is_settled_failure(row: Failure) -> bool:
    """A failure that retrying next run would not fix (gone, forbidden by robots.txt, refused)."""
    return row["error_type"] in _PERMANENT_ERRORS or row.get("http_status") in _GONE_STATUSES


def validator_update(body: dict) -> dict:
    """A feed's conditional-GET validators as a ``{"feed": ...}`` update."""
    return {"feed": {key: body.get(key) for key in ("feed_url", *VALIDATOR_KEYS)}}


def merge_updates(state: dict, updates: list, now: datetime) -> dict:
    """``state`` with a run's updates (``{"feed": body}``, ``{"seen": url}``, ``{"retry": entry}``) applied."""
    bodies = [u["feed"] for u in updates if "feed" in u]
    settled = [{"url": u["seen"]} for u in updates if "seen" in u]
    state = remember(state, bodies, settled, now)
    retry = {}
    for update in updates:
        if "retry" in update:
            entry = update["retry"]
            runs = entry.get("retry_runs", 0) + 1
            key = seen_key(entry["url"])
            if runs < MAX_RETRY_RUNS and key not in state["seen"]:
                retry[key] = {**entry, "retry_runs": runs}
    return {**state, "retry": retry}
