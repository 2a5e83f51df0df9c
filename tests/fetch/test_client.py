"""Fetcher against a real loopback HTTP server (tests/support/localweb.py) with injected faults."""

import gzip
import shutil
import socket
import ssl
import subprocess
from dataclasses import replace

import apache_beam as beam
import pytest

from tests.support.fetching import CONFIG, HTML, RSS, entry
from tests.support.localweb import LocalWeb, Reply
from transforms.fetch.client import (
    FetchConfig,
    Fetched,
    Fetcher,
    HostPacer,
    conditional_headers,
    feed_body,
    header_charset,
    retry_after_seconds,
    retry_delay,
)
from transforms.fetch.polite import fetch_feed, fetch_page


def fetch(url, config=CONFIG):
    """The raw page, or the failures row (without its timestamp), for one URL."""
    fetcher = Fetcher(config)
    try:
        result = fetch_page(fetcher, HostPacer(config.per_host_delay_s), entry(url))
    finally:
        fetcher.close()
    if isinstance(result, beam.pvalue.TaggedOutput):
        row = dict(result.value)
        assert row.pop("at") is not None
        return row
    return result


def failure_of(row):
    return row["stage"], row["error_type"], row["http_status"], row["attempts"]


# ---------------------------------------------------------------- pages


def test_page_with_utf8_header_charset(local_web):
    body = HTML.encode("utf-8")
    url = local_web.route("/a", Reply(200, body, {"Content-Type": "text/html; charset=UTF-8"}))
    page = fetch(url)
    assert (page["source"], page["url"], page["body"], page["charset"]) == (url, url, body, "utf-8")
    assert page["fetched_at"].tzinfo is not None
    assert local_web.hits_for("/a")[0].headers["User-Agent"] == CONFIG.user_agent


def test_vietnamese_windows_1258_and_missing_charset_are_passed_through(local_web):
    body = "Thu\u0309 tươ\u0301ng Hà Nô\u0323i".encode("cp1258")  # Thủ tướng Hà Nội: tones are combining marks
    legacy = local_web.route("/vn", Reply(200, body, {"Content-Type": 'text/html; charset="Windows-1258"'}))
    bare = local_web.route("/bare", Reply(200, body, {"Content-Type": "text/html"}))
    assert (fetch(legacy)["body"], fetch(legacy)["charset"]) == (body, "windows-1258")
    assert (fetch(bare)["body"], fetch(bare)["charset"]) == (body, None)


def test_non_ascii_path_is_percent_encoded_on_the_wire(local_web):
    local_web.route("/tin-m%E1%BB%9Bi?q=%C3%A1", Reply(200, b"ok"))
    url = local_web.url("/tin-mới?q=á")
    page = fetch(url)
    assert (page["body"], page["source"], page["url"]) == (b"ok", url, url)


def test_feed_fields_of_the_entry_are_carried(local_web):
    url = local_web.route("/story", Reply(200, b"<p>x</p>"))
    fetcher = Fetcher(CONFIG)
    page = fetch_page(fetcher, HostPacer(0), entry(url, feed_url="http://f/rss", title="Tiêu đề", published_at="T"))
    assert (page["feed_url"], page["feed_title"], page["feed_published_at"]) == ("http://f/rss", "Tiêu đề", "T")


@pytest.mark.parametrize("status", [404, 410, 403])
def test_client_errors_fail_at_once(local_web, status):
    url = local_web.route("/gone", Reply(status, b"no"))
    assert failure_of(fetch(url)) == ("fetch", "HTTPError", status, 1)
    assert len(local_web.hits_for("/gone")) == 1


def test_server_errors_are_retried_until_success(local_web):
    url = local_web.route("/flaky", Reply(500), Reply(503), Reply(200, b"ok"))
    page = fetch(url)
    assert page["body"] == b"ok"
    assert len(local_web.hits_for("/flaky")) == 3


def test_persistent_server_error_reports_every_attempt(local_web):
    url = local_web.route("/down", Reply(503))
    assert failure_of(fetch(url)) == ("fetch", "HTTPError", 503, 3)


def test_429_honours_retry_after_capped(local_web):
    url = local_web.route("/busy", Reply(429, headers={"Retry-After": "30"}), Reply(200, b"ok"))
    assert fetch(url)["body"] == b"ok"
    first, second = local_web.hits_for("/busy")
    assert CONFIG.max_retry_after_s * 0.9 <= second.at - first.at < 5  # waited the cap, not 30 s


def test_429_forever_fails_with_status(local_web):
    url = local_web.route("/busy", Reply(429, headers={"Retry-After": "0"}))
    assert failure_of(fetch(url)) == ("fetch", "HTTPError", 429, 3)


def test_slow_response_times_out(local_web):
    url = local_web.route("/slow", Reply(200, b"late", delay_s=1.0))
    assert failure_of(fetch(url, replace(CONFIG, max_retries=1))) == ("fetch", "Timeout", None, 2)


def test_total_deadline_bounds_retries(local_web):
    url = local_web.route("/slow", Reply(200, b"late", delay_s=1.0))
    config = replace(CONFIG, read_timeout_s=0.3, total_timeout_s=0.5, max_retries=5)
    row = fetch(url, config)
    assert row["error_type"] == "Timeout" and row["attempts"] <= 2


def test_connection_reset(local_web):
    url = local_web.route("/reset", Reply(reset=True))
    assert failure_of(fetch(url)) == ("fetch", "ConnectionError", None, 3)


def test_redirect_chain_is_followed_to_the_final_url(local_web):
    final = local_web.route("/final", Reply(200, b"here"), host=1)
    local_web.route("/r2", Reply(302, headers={"Location": final}))
    start = local_web.route("/r1", Reply(301, headers={"Location": "/r2"}))
    page = fetch(start)
    assert (page["source"], page["url"], page["body"]) == (start, final, b"here")


def test_redirect_loop(local_web):
    local_web.route("/lb", Reply(302, headers={"Location": "/la"}))
    url = local_web.route("/la", Reply(302, headers={"Location": "/lb"}))
    assert failure_of(fetch(url)) == ("fetch", "RedirectLoop", 302, 1)


def test_too_many_redirects(local_web):
    for i in range(5):
        local_web.route(f"/hop{i}", Reply(307, headers={"Location": f"/hop{i + 1}"}))
    assert failure_of(fetch(local_web.url("/hop0"))) == ("fetch", "TooManyRedirects", 307, 1)


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.1/admin", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/",
     "http://0xa9fea9fe/", "file:///etc/passwd"],
)
def test_redirect_to_a_forbidden_target_is_refused_before_connecting(local_web, target):
    url = local_web.route("/evil", Reply(302, headers={"Location": target}))
    row = failure_of(fetch(url))
    assert row == ("ssrf", "Blocked", None, 1)  # the guard's autouse fixture proves no connection was tried
    assert len(local_web.hits) == 2  # robots.txt + /evil only


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://192.168.0.1:8080/x", "ftp://127.0.0.1/x"])
def test_forbidden_urls_are_refused(url):
    assert failure_of(fetch(url)) == ("ssrf", "Blocked", None, 1)


def test_loopback_is_refused_without_the_switch(local_web):
    url = local_web.route("/a", Reply(200, b"x"))
    assert failure_of(fetch(url, replace(CONFIG, allow_loopback=False))) == ("ssrf", "Blocked", None, 1)
    assert local_web.hits == []


def test_gzip_bomb_is_capped_on_decoded_size(local_web):
    bomb = gzip.compress(b"\0" * 50_000_000)
    url = local_web.route("/bomb", Reply(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "text/html"}))
    assert len(bomb) < CONFIG.max_bytes
    assert failure_of(fetch(url)) == ("fetch", "TooLarge", 200, 1)


def test_gzip_page_is_decoded(local_web):
    url = local_web.route("/gz", Reply(200, gzip.compress(HTML.encode()), {"Content-Encoding": "gzip"}))
    assert fetch(url)["body"] == HTML.encode()


@pytest.mark.parametrize("declare_length", [True, False])
def test_25_mb_page_hits_the_size_cap(local_web, declare_length):
    url = local_web.route("/huge", Reply(200, b"x" * 1_000_000, repeat_body=25, declare_length=declare_length))
    assert failure_of(fetch(url)) == ("fetch", "TooLarge", 200, 1)


def test_robots_disallow_and_single_robots_fetch(local_web):
    local_web.route("/robots.txt", Reply(200, b"User-agent: *\nDisallow: /private\n"))
    local_web.route("/private/1", Reply(200, b"secret"))
    local_web.route("/public/1", Reply(200, b"open"))
    fetcher, pacer = Fetcher(CONFIG), HostPacer(0)
    denied = fetch_page(fetcher, pacer, entry(local_web.url("/private/1")))
    allowed = fetch_page(fetcher, pacer, entry(local_web.url("/public/1")))
    assert failure_of(denied.value) == ("robots", "RobotsDisallowed", None, 1)
    assert allowed["body"] == b"open"
    assert len(local_web.hits_for("/robots.txt")) == 1 and local_web.hits_for("/private/1") == []


def test_robots_for_our_user_agent_and_crawl_delay(local_web):
    local_web.route("/robots.txt", Reply(200, b"User-agent: news-reprints-test\nCrawl-delay: 0.3\nDisallow: /x\n"))
    local_web.route("/y", Reply(200, b"y"))
    fetcher, pacer = Fetcher(replace(CONFIG, max_retry_after_s=1.0)), HostPacer(0)  # the cap of Crawl-delay
    assert fetch_page(fetcher, pacer, entry(local_web.url("/y")))["body"] == b"y"
    assert fetch_page(fetcher, pacer, entry(local_web.url("/y")))["body"] == b"y"
    first, second = local_web.hits_for("/y")
    assert second.at - first.at >= 0.25
    assert failure_of(fetch_page(fetcher, pacer, entry(local_web.url("/x"))).value)[:2] == ("robots", "RobotsDisallowed")


def test_robots_server_error_leaves_the_host_alone_and_counts_the_robots_tries(local_web):
    local_web.route("/robots.txt", Reply(503))
    local_web.route("/a", Reply(200, b"a"))
    row = fetch(local_web.url("/a"))
    tries = len(local_web.hits_for("/robots.txt"))
    assert tries == CONFIG.max_retries + 1
    assert failure_of(row) == ("robots", "RobotsUnavailable", 503, tries)
    assert local_web.hits_for("/a") == []


def test_robots_fetch_is_retried(local_web):
    local_web.route("/robots.txt", Reply(503), Reply(200, b"User-agent: *\nDisallow: /a\n"))
    assert failure_of(fetch(local_web.url("/a"))) == ("robots", "RobotsDisallowed", None, 1)


def test_unreachable_host_is_a_connection_error_not_a_robots_one():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    row = fetch(f"http://127.0.0.1:{port}/a")
    assert failure_of(row) == ("fetch", "ConnectionError", None, CONFIG.max_retries + 1)  # robots.txt's tries
    assert "robots.txt" in row["message"]


def test_robots_ignored_when_not_respected(local_web):
    local_web.route("/robots.txt", Reply(200, b"User-agent: *\nDisallow: /\n"))
    url = local_web.route("/a", Reply(200, b"a"))
    assert fetch(url, replace(CONFIG, respect_robots=False))["body"] == b"a"
    assert local_web.hits_for("/robots.txt") == []


# ---------------------------------------------------------------- feeds / conditional GET



def feed_once(url, validators):
    fetcher = Fetcher(CONFIG)
    return fetch_feed(fetcher, HostPacer(0), url, validators)


def test_conditional_get_304_and_the_lying_server(local_web):
    url = local_web.route(
        "/rss",
        Reply(200, RSS, {"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 10:00:00 GMT"}),
        Reply(304, headers={"ETag": '"v1"'}),
        Reply(200, RSS, {"ETag": '"v2"'}),  # ignores the validators, same body
        Reply(200, RSS + b" ", {"ETag": '"v3"'}),
    )
    first = feed_once(url, {})
    assert (first["body"], first["etag"], first["not_modified"]) == (RSS, '"v1"', False)
    state = {url: {k: first[k] for k in ("etag", "last_modified", "body_sha1")}}

    unchanged = feed_once(url, state)
    sent = local_web.hits_for("/rss")[1].headers
    assert (sent["If-None-Match"], sent["If-Modified-Since"]) == ('"v1"', "Mon, 23 Nov 2026 10:00:00 GMT")
    assert (unchanged["not_modified"], unchanged["body"], unchanged["body_sha1"]) == (True, b"", first["body_sha1"])

    lying = feed_once(url, state)
    assert (lying["not_modified"], lying["body"], lying["etag"]) == (True, b"", '"v2"')

    changed = feed_once(url, state)
    assert (changed["not_modified"], changed["body"]) == (False, RSS + b" ")
    assert changed["body_sha1"] != first["body_sha1"]


def test_feed_failure_row(local_web):
    url = local_web.route("/rss", Reply(404))
    result = feed_once(url, {})
    assert (result.value["source"],) + failure_of(result.value) == (url, "fetch", "HTTPError", 404, 1)


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize("field, value", [("max_workers", 0), ("per_host_delay_s", -1), ("max_bytes", 0)])
def test_config_rejects_impossible_values(field, value):
    with pytest.raises(ValueError, match=f"fetch.{field}"):
        FetchConfig(**{field: value})


def test_header_charset():
    assert header_charset("text/html; charset=UTF-8") == "utf-8"
    assert header_charset('text/html;charset="windows-1258"') == "windows-1258"
    assert header_charset("text/html") is None
    assert header_charset(None) is None


def test_retry_after_seconds():
    assert retry_after_seconds("120", now=0) == 120
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40) == 60
    assert retry_after_seconds("soon", now=0) is None
    assert retry_after_seconds("²", now=0) is None  # str.isdigit, but no number
    assert retry_after_seconds(None, now=0) is None


def test_retry_delay_is_exponential_with_jitter_and_capped():
    config = FetchConfig(backoff_base_s=1, max_retry_after_s=10)
    assert [retry_delay(n, None, config, jitter=1.0) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    assert retry_delay(1, None, config, jitter=0.0) == 0.5
    assert retry_delay(1, 7, config, jitter=0.0) == 7
    assert retry_delay(1, 3600, config, jitter=0.0) == 10


def test_conditional_headers_and_feed_body_without_history():
    assert conditional_headers(None) == {}
    assert conditional_headers({"etag": "e", "last_modified": None}) == {"If-None-Match": "e"}
    fetched = Fetched("http://f/", 200, {"etag": "e"}, b"x")
    record = feed_body("http://f/", fetched, None)
    assert (record["not_modified"], record["body"], record["etag"], record["last_modified"]) == (False, b"x", "e", None)


# ---------------------------------------------------------------- TLS and address pinning


@pytest.fixture
def tls_web(tmp_path):
    """An HTTPS LocalWeb whose self-signed certificate names ``news.localtest``."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=news.localtest",
         "-addext", "subjectAltName=DNS:news.localtest", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    web = LocalWeb(hosts=1, tls=context)
    web.route("/robots.txt", Reply(404))
    web.route("/tin", Reply(200, b"secure"))
    yield web, cert
    web.close()


def localtest_dns(address_by_name):
    """A getaddrinfo stand-in resolving test names to chosen addresses (real ones otherwise)."""
    def resolver(host, port, type=0):
        addresses = address_by_name.get(host)
        if addresses is None:
            return socket.getaddrinfo(host, port, type=type)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolver


def test_tls_is_verified(tls_web):
    web, _ = tls_web
    assert failure_of(fetch(web.url("/tin"))) == ("fetch", "TLSError", None, 1)


def test_connection_goes_to_the_checked_address_with_the_name_as_host_and_sni(tls_web, monkeypatch):
    web, cert = tls_web
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
    port = web.url("").rsplit(":", 1)[1]
    fetcher = Fetcher(CONFIG, resolver=localtest_dns({"news.localtest": ["127.0.0.1"]}))
    page = fetch_page(fetcher, HostPacer(0), entry(f"https://news.localtest:{port}/tin"))
    assert page["body"] == b"secure"  # certificate verified against the name, not the address
    assert web.hits_for("/tin")[0].headers["Host"] == f"news.localtest:{port}"


def test_a_name_with_a_private_address_is_refused(local_web):
    local_web.route("/a", Reply(200, b"a"))
    port = local_web.url("").rsplit(":", 1)[1]
    fetcher = Fetcher(CONFIG, resolver=localtest_dns({"mixed.localtest": ["127.0.0.1", "10.0.0.1"]}))
    row = fetch_page(fetcher, HostPacer(0), entry(f"http://mixed.localtest:{port}/a")).value
    assert failure_of(row) == ("ssrf", "Blocked", None, 1)
    assert local_web.hits == []
