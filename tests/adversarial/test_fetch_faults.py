"""Servers that answer oddly: headers no parser expects, redirects to URLs that cannot be
requested, robots.txt that fails or stalls, compressed bodies.  Every URL ends as a page or a
failures row whose type says what happened and whose ``attempts`` counts the requests made."""

import time
from dataclasses import replace

import brotli
import pytest
from backports import zstd

from tests.support.fetching import CONFIG, HTML, entry
from tests.support.localweb import Reply
from transforms.fetch.client import Fetcher, HostPacer
from transforms.fetch.polite import fetch_page


def fetch(url, config=CONFIG):
    """The raw page, or the failures row, of one URL, and the seconds it took."""
    fetcher = Fetcher(config)
    started = time.monotonic()
    try:
        result = fetch_page(fetcher, HostPacer(0), entry(url))
    finally:
        fetcher.close()
    return getattr(result, "value", result), time.monotonic() - started


def failure_of(row):
    return row["stage"], row["error_type"], row["http_status"], row["attempts"]


@pytest.mark.parametrize("value", ["²", "9" * 5000])  # a superscript two, 5000 digits
def test_retry_after_that_is_no_ascii_number_is_ignored(local_web, value):
    url = local_web.route("/busy", Reply(503, headers={"Retry-After": value}))
    row, _ = fetch(url)
    assert failure_of(row) == ("fetch", "HTTPError", 503, CONFIG.max_retries + 1)
    assert len(local_web.hits_for("/busy")) == CONFIG.max_retries + 1


def test_content_length_that_is_no_ascii_number_is_ignored(local_web):
    url = local_web.route("/odd", Reply(200, HTML.encode(), {"Content-Length": "²", "Connection": "close"}))
    page, _ = fetch(url)
    assert page["body"] == HTML.encode()


def test_content_length_of_5000_digits_is_too_large(local_web):
    url = local_web.route("/odd", Reply(200, HTML.encode(), {"Content-Length": "9" * 5000, "Connection": "close"}))
    row, _ = fetch(url)
    assert failure_of(row) == ("fetch", "TooLarge", 200, 1)


@pytest.mark.parametrize(
    "location", ["http://[::1/x", "http://127.0.0.1:99999/x", "http://127.0.0.1:80a/x", "http://127.0.0.1\x00/x"]
)
def test_redirect_to_an_invalid_url_is_an_invalid_redirect(local_web, location):
    url = local_web.route("/moved", Reply(302, headers={"Location": location}))
    row, _ = fetch(url)
    assert failure_of(row) == ("fetch", "InvalidRedirect", 302, 1)
    assert len(local_web.hits_for("/moved")) == 1


def test_robots_txt_of_a_redirect_target_shares_the_page_deadline(local_web):
    """The page spends 2 s before its redirect; the target host's robots.txt trickles forever: the
    page ends at its own deadline (3 s), not 3 s after the redirect."""
    total_s = 3.0
    local_web.route("/robots.txt", Reply(404), host=0)
    local_web.route("/robots.txt", Reply(200, b"#", repeat_body=10_000, trickle_s=0.05), host=1)
    target = local_web.route("/final", Reply(200, b"here"), host=1)
    url = local_web.route("/slow-redirect", Reply(302, headers={"Location": target}, delay_s=2.0), host=0)
    config = replace(CONFIG, total_timeout_s=total_s, read_timeout_s=5.0, max_retries=0)
    row, seconds = fetch(url, config)
    assert (row["stage"], row["error_type"]) == ("fetch", "Timeout") and "robots.txt" in row["message"]
    assert seconds < total_s + 1.0


@pytest.mark.parametrize("encoding, compress", [("br", brotli.compress), ("zstd", zstd.compress)])
def test_br_and_zstd_bodies_are_asked_for_decoded_and_capped(local_web, encoding, compress):
    page = local_web.route("/page", Reply(200, compress(HTML.encode()), {"Content-Encoding": encoding}))
    bomb = compress(b"\0" * 50_000_000)
    assert len(bomb) < CONFIG.max_bytes
    local_web.route("/bomb", Reply(200, bomb, {"Content-Encoding": encoding}))
    decoded, _ = fetch(page)
    assert decoded["body"] == HTML.encode()
    sent = {name.lower(): value for name, value in local_web.hits_for("/page")[0].headers.items()}
    assert encoding in sent["accept-encoding"].split(",")
    row, _ = fetch(local_web.url("/bomb"))
    assert failure_of(row) == ("fetch", "TooLarge", 200, 1)
