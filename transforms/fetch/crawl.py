"""Web sources: feeds and URL lists -> new URL entries -> polite fetch -> raw pages.

``CrawlWeb`` skips URLs an earlier run already settled (``crawl_state``), retries entries whose
fetch failed transiently in earlier runs (a not-modified feed would never list them again), and
emits, besides pages and failures, the *state updates* of this run: feed validators, settled
URLs and entries to retry.  ``pipelines.runstate`` merges them into the saved state only after
the run's tables are written, so a crashed run never marks a URL as done.
"""

import apache_beam as beam

from transforms.fetch import crawl_state
from transforms.fetch.client import FetchConfig
from transforms.fetch.crawl_state import (
    entry_from_json,
    entry_to_json,
    is_settled_failure,
    validator_update,
)
from transforms.fetch.polite import FetchFeeds, FetchPages
from transforms.sources.feeds import DedupEntries, ParseFeeds
from transforms.sources.urllists import ReadUrlLists


def retry_later(keyed):
    """Entries (by URL) whose fetch failed transiently this run, as ``{"retry": entry}`` updates."""
    _, grouped = keyed
    if grouped["failures"] and grouped["entries"]:
        yield {"retry": entry_to_json(grouped["entries"][0])}


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
        if self._url_lists:
            entries, list_failures = pbegin | "ReadUrlLists" >> ReadUrlLists(self._url_lists)
            entry_sets.append(entries)
            failure_sets.append(list_failures)
        new_entries = (
            entry_sets
            | "AllEntries" >> beam.Flatten()
            | "DedupEntries" >> DedupEntries()
            | "OnlyNew" >> beam.Filter(crawl_state.is_new, self._seen)
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
