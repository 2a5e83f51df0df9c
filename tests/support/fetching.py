"""Fetch settings, URL entries and a bounded fetch shared by the fetch tests."""

import threading
import time

from transforms.fetch.client import FetchConfig, Fetcher, HostPacer
from transforms.fetch.polite import fetch_page

CONFIG = FetchConfig(
    user_agent="news-reprints-test/1.0 (+tests)",
    per_host_delay_s=0.0,
    max_workers=8,
    connect_timeout_s=1.0,
    read_timeout_s=0.3,
    total_timeout_s=5.0,
    max_bytes=1_000_000,
    max_retries=2,
    backoff_base_s=0.01,
    max_retry_after_s=0.2,
    max_redirects=3,
    allow_loopback=True,
)
HTML = "<html><head><title>Tin mới</title></head><body><p>Hà Nội hoà bình</p></body></html>"


def entry(url, **extra):
    return {"url": url, "source": "list.txt:1", "feed_url": None, "title": None, "published_at": None, "guid": None,
            **extra}


RSS = b"<rss><channel><item><link>http://x/1</link></item></channel></rss>"


def fetch_within(url: str, config=CONFIG, limit_s: float = 20.0):
    """(a raw page or a failures row, seconds) of one ``fetch_page``, run in a thread the test
    gives up on after ``limit_s``, so a hang fails the test instead of stalling it."""
    result = {}

    def work():
        fetcher = Fetcher(config)
        started = time.monotonic()
        try:
            outcome = fetch_page(fetcher, HostPacer(0), entry(url))
            result["value"] = getattr(outcome, "value", outcome)  # a failure comes tagged
        finally:
            result["seconds"] = time.monotonic() - started
            fetcher.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"still fetching {url} after {limit_s} s"
    return result["value"], result["seconds"]
