"""Web sources: feeds and URL lists -> new URL entries -> polite fetch -> raw pages.

``CrawlWeb`` skips URLs an earlier run already settled (``crawlstate``), retries entries whose
fetch failed transiently in earlier runs (a not-modified feed would never list them again), and
emits, besides pages and failures, the *state updates* of this run: feed validators, settled
URLs and entries to retry.  The driver merges them into the saved state only after the run's
tables are written, so a crashed run never marks a URL as done.
"""

import json
from datetime import datetime

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import crawlstate
from transforms.feeds import DedupEntries, ParseFeeds
from transforms.fetch import FetchConfig, FetchFeeds, FetchPages
from transforms.urllists import ReadUrlLists

_PERMANENT_ERRORS = {"RobotsDisallowed", "Blocked"}
_GONE_STATUSES = {404, 410}
MAX_RETRY_RUNS = 5  # an entry that failed transiently in this many runs is given up


def entry_to_json(entry: dict) -> dict:
    published = entry.get("published_at")
    return {**entry, "published_at": published.isoformat() if published else None}


def entry_from_json(entry: dict) -> dict:
    published = entry.get("published_at")
    return {**entry, "published_at": datetime.fromisoformat(published) if published else None}


def is_settled_failure(row: dict) -> bool:
    """A failure that retrying next run would not fix (gone, forbidden by robots.txt, refused)."""
    return row["error_type"] in _PERMANENT_ERRORS or row.get("http_status") in _GONE_STATUSES


def merge_updates(state: dict, updates: list, now) -> dict:
    """``state`` with a run's updates (``{"feed": body}``, ``{"seen": url}``, ``{"retry": entry}``) applied."""
    bodies = [u["feed"] for u in updates if "feed" in u]
    settled = [{"url": u["seen"]} for u in updates if "seen" in u]
    state = crawlstate.remember(state, bodies, settled, now)
    retry = {}
    for update in updates:
        if "retry" in update:
            entry = update["retry"]
            runs = entry.get("retry_runs", 0) + 1
            key = crawlstate.seen_key(entry["url"])
            if runs < MAX_RETRY_RUNS and key not in state["seen"]:
                retry[key] = {**entry, "retry_runs": runs}
    return {**state, "retry": retry}


def validator_update(body: dict) -> dict:
    """A feed's conditional-GET validators as a ``{"feed": ...}`` state update."""
    return {"feed": {key: body.get(key) for key in ("feed_url", *crawlstate.VALIDATOR_KEYS)}}


def retry_later(keyed):
    """Entries (by URL) whose fetch failed transiently this run, as ``{"retry": entry}`` updates."""
    _, grouped = keyed
    if grouped["failures"] and grouped["entries"]:
        yield {"retry": entry_to_json(grouped["entries"][0])}


def pending_updates_path(root: str, run_id: str) -> str:
    return FileSystems.join(root, "_state", "pending", f"{run_id}.json")


def write_updates(updates: list, path: str) -> str:
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(sorted(updates, key=json.dumps), ensure_ascii=False).encode("utf-8"))
    return path


def read_updates(path: str) -> list:
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


class CrawlWeb(beam.PTransform):
    """Feeds and URL lists -> (raw pages, failures, state updates)."""

    def __init__(self, fetch_config: FetchConfig, feed_urls, url_list_patterns, state: dict):
        super().__init__()
        self._config = fetch_config
        self._feed_urls = sorted(feed_urls)
        self._url_lists = list(url_list_patterns)
        self._validators = state["validators"]
        self._seen = frozenset(state["seen"])
        self._retry = sorted((entry_from_json(e) for e in state.get("retry", {}).values()), key=lambda e: e["url"])

    def expand(self, pbegin):
        entry_sets, failure_sets, updates = [], [], []
        if self._feed_urls:
            bodies, feed_fetch_failures = (
                pbegin | "FeedUrls" >> beam.Create(self._feed_urls) | "FetchFeeds" >> FetchFeeds(self._config, self._validators)
            )
            entries, feed_failures = bodies | "ParseFeeds" >> ParseFeeds()
            entry_sets.append(entries)
            failure_sets += [feed_fetch_failures, feed_failures]
            updates.append(bodies | "FeedValidators" >> beam.Map(validator_update))
        if self._retry:
            entry_sets.append(pbegin | "RetryEntries" >> beam.Create(self._retry))
        for i, pattern in enumerate(self._url_lists):
            entries, list_failures = pbegin | f"ReadUrlList{i}" >> ReadUrlLists(pattern)
            entry_sets.append(entries)
            failure_sets.append(list_failures)
        new_entries = (
            entry_sets
            | "AllEntries" >> beam.Flatten()
            | "DedupEntries" >> DedupEntries()
            | "OnlyNew" >> beam.Filter(crawlstate.is_new, self._seen)
        )
        pages, fetch_failures = new_entries | "FetchPages" >> FetchPages(self._config)
        transient = fetch_failures | "TransientFailures" >> beam.Filter(lambda f: not is_settled_failure(f))
        retries = (
            {
                "entries": new_entries | "EntriesByUrl" >> beam.WithKeys(lambda e: e["url"]),
                "failures": transient | "FailuresByUrl" >> beam.WithKeys(lambda f: f["source"]),
            }
            | "JoinFailedEntries" >> beam.CoGroupByKey()
            | "RetryLater" >> beam.FlatMap(retry_later)
        )
        updates += [
            pages | "FetchedUrls" >> beam.Map(lambda page: {"seen": page["source"]}),
            fetch_failures
            | "SettledFailures" >> beam.Filter(is_settled_failure)
            | "SettledUrls" >> beam.Map(lambda f: {"seen": f["source"]}),
            retries,
        ]
        failures = [*failure_sets, fetch_failures] | "CrawlFailures" >> beam.Flatten()
        return pages, failures, updates | "AllUpdates" >> beam.Flatten()
