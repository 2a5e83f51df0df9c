"""Fetching in Beam: ``FetchPages`` (URL entries -> raw pages) and ``FetchFeeds`` (feed URLs ->
feed bodies, conditional GET), politely.

    pages, failures = entries | FetchPages(FetchConfig(per_host_delay_s=1.0))

URLs are keyed by host name and grouped, so one worker owns a host at a time; inside the DoFn a
thread pool fetches different hosts concurrently while each host's :class:`HostPacer` spaces its
requests (``transforms.fetch.client``) with at most ``per_host_concurrency`` in flight.
Throughput thus approaches ``hosts / per_host_delay_s`` when ``max_workers`` >= hosts.  A host's
pacer lives as long as its group, so in streaming the spacing holds within one pane of a host,
not across panes.  Every input ends as an output or a failures row.
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from functools import partial
from queue import SimpleQueue

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import GlobalWindows

from transforms.fetch.client import (
    FetchConfig,
    Fetcher,
    FetchError,
    HostPacer,
    conditional_headers,
    feed_body,
    header_charset,
    host_of,
)
from transforms.fetch.crawl_state import VALIDATOR_KEYS
from transforms.records import FAILED, failure, raw_page, utcnow
from transforms.windowing import in_window_of


def fetch_page(fetcher: Fetcher, pacer: HostPacer, entry: dict):
    """A raw page for a URL entry, or its failures row tagged ``FAILED``."""
    try:
        fetched = fetcher.get(entry["url"], pacer)
    except FetchError as err:
        return beam.pvalue.TaggedOutput(FAILED, err.to_failure(entry["url"]))
    return raw_page(
        entry["url"],
        fetched.body,
        url=fetched.url,
        fetched_at=utcnow(),
        feed_url=entry.get("feed_url"),
        charset=header_charset(fetched.headers.get("content-type")),
        feed_title=entry.get("title"),
        feed_published_at=entry.get("published_at"),
    )


def fetch_feed(fetcher: Fetcher, pacer: HostPacer, feed_url: str, validators: dict):
    """A feed-bodies record (conditional GET), or its failures row tagged ``FAILED``."""
    previous = validators.get(feed_url)
    try:
        fetched = fetcher.get(feed_url, pacer, conditional_headers(previous))
    except FetchError as err:
        return beam.pvalue.TaggedOutput(FAILED, err.to_failure(feed_url))
    return feed_body(feed_url, fetched, previous)


class _FetchHostGroups(beam.DoFn):
    """(host, items) -> one output per item.  Hosts run concurrently on a thread pool; a host's
    items share one pacer and at most ``per_host_concurrency`` threads.  Each result is emitted
    soon after it is fetched (with the window/timestamp of its own input), the rest at bundle end."""

    def __init__(self, config: FetchConfig, outcome: Callable, url_of: Callable):
        self._config, self._outcome, self._url_of = config, outcome, url_of

    def setup(self):
        self._fetcher = Fetcher(self._config)
        self._executor = ThreadPoolExecutor(max_workers=self._config.max_workers, thread_name_prefix="fetch")

    def start_bundle(self):
        self._lanes = set()
        self._results = SimpleQueue()

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        _, items = element
        queue = deque(items)
        pacer = HostPacer(self._config.per_host_delay_s)
        for _ in range(min(self._config.per_host_concurrency, len(queue))):
            self._lanes.add(self._executor.submit(self._host_lane, queue, pacer, window, timestamp))
        # Bounded backlog: every thread busy plus about as many lanes queued.
        yield from self._emit_while(lambda: len(self._lanes) > 2 * self._config.max_workers)

    def finish_bundle(self):
        yield from self._emit_while(lambda: bool(self._lanes))

    def teardown(self):
        self._executor.shutdown(wait=True)
        self._fetcher.close()

    def _emit_while(self, lanes_to_wait_for):
        """Emit finished results, waiting for lanes while ``lanes_to_wait_for()``."""
        while True:
            while not self._results.empty():
                yield self._results.get()
            if not lanes_to_wait_for():
                return
            done, self._lanes = wait(self._lanes, timeout=0.05, return_when=FIRST_COMPLETED)
            for lane in done:
                lane.result()  # re-raise what only a bug could throw

    def _host_lane(self, queue: deque, pacer: HostPacer, window, timestamp) -> None:
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                return
            try:
                result = self._outcome(self._fetcher, pacer, item)
            except Exception as exc:  # noqa: BLE001 -- a bug must not lose the item: it becomes a failures row
                result = beam.pvalue.TaggedOutput(
                    FAILED, failure(self._url_of(item), "fetch", type(exc).__name__, repr(exc))
                )
            self._results.put(in_window_of(result, timestamp, window))


class _PoliteFetch(beam.PTransform):
    """Key by host, group (one worker owns a host), fetch; returns (good, failures)."""

    def __init__(self, config: FetchConfig, url_of: Callable, outcome: Callable):
        super().__init__()
        self._config, self._url_of, self._outcome = config, url_of, outcome

    def expand(self, items):
        results = (
            items
            | "KeyByHost" >> beam.Map(lambda item, url_of: (host_of(url_of(item)), item), self._url_of)
            | "GroupByHost" >> beam.GroupByKey()
            | "Fetch"
            >> beam.ParDo(_FetchHostGroups(self._config, self._outcome, self._url_of)).with_outputs(
                FAILED, main="good"
            )
        )
        return results.good, results[FAILED]


def _entry_url(entry: dict) -> str:
    return entry["url"]


def _same(url: str) -> str:
    return url


class FetchPages(beam.PTransform):
    """URL entries -> ``(raw_pages, failures)``."""

    def __init__(self, fetch_config: FetchConfig):
        super().__init__()
        self._config = fetch_config

    def expand(self, entries):
        return entries | "PoliteFetch" >> _PoliteFetch(self._config, _entry_url, fetch_page)


class FetchFeeds(beam.PTransform):
    """Feed URLs -> ``(feed_bodies, failures)`` with conditional GET against ``validators``
    ({feed_url: {"etag", "last_modified", "body_sha1"}}, e.g. from ``pipelines.runstate.load_state``)."""

    def __init__(self, fetch_config: FetchConfig, validators: dict | None = None):
        super().__init__()
        self._config, self._validators = fetch_config, dict(validators or {})

    def expand(self, feed_urls):
        outcome = partial(fetch_feed, validators=self._validators)
        return feed_urls | "PoliteFetch" >> _PoliteFetch(self._config, _same, outcome)


class _PollHostFeeds(beam.DoFn):
    """(host, its feed URLs of one poll) -> each feed's body, fetched one after the other (paced)
    and conditionally on the validators the feed's previous poll left in this host's state."""

    VALIDATORS = ReadModifyWriteStateSpec("validators", PickleCoder())  # {feed URL: validators}

    def __init__(self, config: FetchConfig):
        self._config = config

    def setup(self):
        self._fetcher = Fetcher(self._config)

    def teardown(self):
        self._fetcher.close()

    def process(self, item, validators=beam.DoFn.StateParam(VALIDATORS)):  # noqa: B008 -- Beam's idiom
        _, feed_urls = item
        known = dict(validators.read() or {})
        pacer = HostPacer(self._config.per_host_delay_s)
        for feed_url in sorted(set(feed_urls)):
            result = fetch_feed(self._fetcher, pacer, feed_url, known)
            if not isinstance(result, beam.pvalue.TaggedOutput):
                known[feed_url] = {key: result.get(key) for key in VALIDATOR_KEYS}
            yield result
        validators.write(known)


class PollFeeds(beam.PTransform):
    """Feed URLs, in one window per poll (e.g. ``PeriodicImpulse``'s) -> (feed bodies, failures):
    the streaming job's ``FetchFeeds``.  Each poll is a conditional GET against the validators of
    the feed's previous poll, kept in state per host (batch runs keep them in their crawl state),
    and one host's feeds are fetched one after the other, paced."""

    def __init__(self, fetch_config: FetchConfig):
        super().__init__()
        self._config = fetch_config

    def expand(self, feed_urls):
        results = (
            feed_urls
            | "KeyByHost" >> beam.Map(lambda url: (host_of(url), url))
            | "GroupPoll" >> beam.GroupByKey()
            | "Global" >> beam.WindowInto(GlobalWindows())
            | "Poll" >> beam.ParDo(_PollHostFeeds(self._config)).with_outputs(FAILED, main="bodies")
        )
        return results.bodies, results[FAILED]
