"""Fetch settings and URL entries shared by the fetch tests."""

from transforms.fetch.client import FetchConfig

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
