"""Feeds and URL lists end to end against a real server on 127.0.0.x, across two scheduled runs."""

import pyarrow.dataset as ds

from pipelines import batch
from tests.support.localweb import Reply
from tests.support.pagegen import PARAGRAPHS_EN, PARAGRAPHS_VI, article_html

FAST_POLITE = """
fetch:
  allow_loopback: true
  per_host_delay_s: 0.01
  max_retries: 1
  backoff_base_s: 0.01
"""


def rss(items):
    body = "".join(f"<item><title>{t}</title><link>{u}</link><pubDate>Mon, 16 Nov 2026 01:00:00 +0000</pubDate></item>" for t, u in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'.encode()


def read(root, table):
    return ds.dataset(root / table, format="parquet", partitioning="hive").to_table().to_pylist()


def test_feeds_and_url_lists_fetch_only_what_is_new(local_web, tmp_path):
    page_a = local_web.route("/a.html", Reply(200, article_html("Mưa lớn ở miền Trung", PARAGRAPHS_VI).encode(), {"Content-Type": "text/html; charset=utf-8"}))
    page_b = local_web.route("/b.html", Reply(200, article_html("Bus network grows", PARAGRAPHS_EN, lang="en").encode(), {"Content-Type": "text/html"}), host=1)
    gone = local_web.route("/gone.html", Reply(404, b"no"))
    flaky = local_web.route("/flaky.html", Reply(503, b"busy"))
    feed = local_web.route(
        "/feed.xml",
        Reply(200, rss([("A", page_a + "?utm_source=rss"), ("B", page_b), ("Gone", gone), ("Flaky", flaky)]), {"ETag": '"v1"', "Content-Type": "application/rss+xml"}),
    )
    url_list = tmp_path / "urls.txt"
    url_list.write_text(f"# morning list\n{page_b}\n{page_a}  # same as the feed's\n\nnot a url\n")
    config = tmp_path / "config.yaml"
    config.write_text(FAST_POLITE)
    out = tmp_path / "out"
    args = ["--feed", feed, "--url-list", str(url_list), "--output", str(out), "--config", str(config)]

    first = batch.run(args)
    articles = read(out, "articles")
    failures = {(f["source"], f["error_type"], f["http_status"], f["attempts"]) for f in read(out, "failures")}
    assert sorted(a["source"] for a in articles) == sorted([page_a, page_b])
    assert {a["feed_url"] for a in articles} == {feed}
    assert (gone, "HTTPError", 404, 1) in failures
    assert (flaky, "HTTPError", 503, 2) in failures
    assert any(f[1] == "InvalidUrl" for f in failures)
    assert first["articles"] == 2 and first["failures"] == 3

    hits_before = len(local_web.hits)
    second = batch.run(args)
    new_paths = [hit.path for hit in local_web.hits[hits_before:]]
    assert "/a.html" not in new_paths and "/b.html" not in new_paths and "/gone.html" not in new_paths
    assert new_paths.count("/flaky.html") == 2  # transient failures are tried again next run
    feed_hit = [hit for hit in local_web.hits[hits_before:] if hit.path == "/feed.xml"][0]
    assert feed_hit.headers.get("If-None-Match") == '"v1"'
    assert second["articles"] == 0
