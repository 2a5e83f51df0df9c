"""Known attacks that newsbeam already withstands, each checked with real inputs: a server of our
own on 127.0.0.1 started by the test, crafted feeds and bodies, no mocks.  Every test asserts the
specific refusal or failure row (not just "no crash"), and is bounded in time and memory.

- SSRF: odd spellings of a loopback address, IPv4-mapped IPv6, the cloud metadata address and a
  name resolving to 127.0.0.1 are ``ssrf``/``Blocked`` when loopback is not allowed; a redirect
  from an allowed server to a forbidden address or scheme is refused, naming the reason, and no
  connection to it is even attempted.
- Redirect loops and endless chains end as ``RedirectLoop``/``TooManyRedirects``/``Timeout``
  within the URL's deadline.
- A gzip bomb and an endless body over HTTP are ``fetch``/``TooLarge`` with the fetching
  process's peak RSS bounded (measured in a fresh interpreter, ``tests.support.bombs``).
- Feeds: billion-laughs entity expansion and XXE (a local file holding a secret, a server that
  records whether it is contacted) end as entries and a ``feed`` failure row in bounded time and
  memory, with no secret in any output and no request sent; so does a "quadratic blowup" (one
  large entity referenced many times), which feedparser's lenient parser expanded without limit
  until feeds lost their document type declaration.

Recovery after ``kill -9`` at any moment of a run is covered by
``tests/pipelines/test_watch.py::test_killed_and_restarted_watch_loses_and_duplicates_nothing``
(not repeated here).  WARC decompression bombs are in ``test_warc_hostile.py``, file bombs in
``test_files_hostile.py``, slow servers in ``test_slow_servers.py``.
"""

import socket
import time
from dataclasses import replace

import pytest

from tests.support.bombs import MIB, bomb, peak_growth
from tests.support.fetching import CONFIG, HTML, fetch_within
from tests.support.localweb import Reply
from transforms.sources.feeds import parse_feed

SECRET = "SECRET-MARKER-7f3a9c"
FEED_URL = "https://tin.example/feed.rss"
NO_LOOPBACK = replace(CONFIG, allow_loopback=False)


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket of this process tries to connect to (under the autouse loopback guard)."""
    seen = []
    connect = socket.socket.connect

    def recorded(sock, address):
        seen.append(address)
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recorded)
    return seen


def refusal(row: dict) -> tuple:
    assert "error_type" in row, f"fetched a page: {row.get('url')}"
    return row["stage"], row["error_type"], row["http_status"], row["attempts"]


# ---------------------------------------------------------------- SSRF


@pytest.mark.parametrize(
    "host, reason",
    [
        ("2130706433", "loopback address 127.0.0.1"),  # decimal
        ("0x7f000001", "loopback address 127.0.0.1"),  # hexadecimal
        ("0177.0.0.1", "loopback address 127.0.0.1"),  # octal
        ("127.1", "loopback address 127.0.0.1"),  # short form
        ("[::ffff:127.0.0.1]", "loopback address ::ffff:127.0.0.1"),  # IPv4-mapped IPv6
        ("localhost", "loopback address 127.0.0.1"),  # a name resolving to 127.0.0.1
        ("LOCALHOST", "loopback address 127.0.0.1"),
        ("0.0.0.0", "non-public address 0.0.0.0"),  # reaches loopback on Linux
    ],
)
def test_loopback_in_disguise_is_refused_before_connecting(local_web, connects, host, reason):
    """Every form names 127.0.0.1 (0.0.0.0: this host), where our server listens on ``port``: a
    guard that let one through would fetch the page."""
    local_web.route("/internal", Reply(200, b"internal admin page"))
    port = local_web.url("").rsplit(":", 1)[1]
    url = f"http://{host}:{port}/internal"
    row, seconds = fetch_within(url, NO_LOOPBACK)
    assert refusal(row) == ("ssrf", "Blocked", None, 1)
    assert reason in row["message"] and row["source"] == url
    assert (connects, local_web.hits) == ([], [])
    assert seconds < 2.0


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local/metadata address 169.254.169.254"),
        ("http://0xa9fea9fe/latest/meta-data/", "link-local/metadata address 169.254.169.254"),
        ("http://[::ffff:169.254.169.254]/", "link-local/metadata address ::ffff:169.254.169.254"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "non-public address fd00:ec2::254"),  # AWS IMDS over IPv6
        ("http://100.100.100.200/latest/meta-data/", "non-public address 100.100.100.200"),  # Alibaba, shared space
    ],
)
def test_cloud_metadata_addresses_are_refused_before_connecting(connects, url, reason):
    row, seconds = fetch_within(url, CONFIG)  # loopback allowed: metadata addresses still are not
    assert refusal(row) == ("ssrf", "Blocked", None, 1)
    assert reason in row["message"]
    assert connects == [] and seconds < 2.0


@pytest.mark.parametrize(
    "location, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local/metadata address 169.254.169.254"),
        ("http://10.0.0.1/admin", "non-public address 10.0.0.1"),
        ("http://192.168.1.1:8080/", "non-public address 192.168.1.1"),
        ("http://[::ffff:10.0.0.1]/", "non-public address ::ffff:10.0.0.1"),
        ("http://0.0.0.0:{port}/internal", "non-public address 0.0.0.0"),  # our own server, by another name
        ("http://[::]:{port}/internal", "non-public address ::"),
        ("file:///etc/passwd", "scheme 'file' not allowed"),
        ("gopher://127.0.0.1:{port}/_GET%20/internal", "scheme 'gopher' not allowed"),
        ("ftp://127.0.0.1:{port}/internal", "scheme 'ftp' not allowed"),
    ],
)
def test_redirect_from_an_allowed_server_to_a_forbidden_target_is_refused(local_web, connects, location, reason):
    """Loopback is allowed (``fetch.allow_loopback``: 127.0.0.0/8 and ::1 only), so the first hop is
    fetched; its redirect target is checked like any URL and nothing connects to it."""
    local_web.route("/internal", Reply(200, b"internal admin page"))
    server, port = local_web.url("").split("//")[1].split(":")
    target = location.format(port=port)
    url = local_web.route("/evil", Reply(302, headers={"Location": target}))
    row, seconds = fetch_within(url, CONFIG)
    assert refusal(row) == ("ssrf", "Blocked", None, 1)
    assert row["message"].startswith(f"{target}: ") and reason in row["message"]
    assert [hit.path for hit in local_web.hits] == ["/robots.txt", "/evil"]
    assert {address[:2] for address in connects} == {(server, int(port))}  # the allowed server only
    assert seconds < 2.0


# ---------------------------------------------------------------- redirect loops and chains


def test_redirect_loops_end_as_a_loop_at_once(local_web):
    local_web.route("/self", Reply(302, headers={"Location": "/self"}))
    local_web.route("/a", Reply(301, headers={"Location": "/b"}))
    local_web.route("/b", Reply(308, headers={"Location": local_web.url("/c", host=1)}))
    local_web.route("/c", Reply(307, headers={"Location": local_web.url("/a")}), host=1)  # back across hosts
    for start, status, asked in [("/self", 302, ["/self"]), ("/a", 307, ["/a", "/b", "/c"])]:
        local_web.hits.clear()
        row, seconds = fetch_within(local_web.url(start))
        assert refusal(row) == ("fetch", "RedirectLoop", status, 1), start
        assert [hit.path for hit in local_web.hits if hit.path != "/robots.txt"] == asked  # each URL once
        assert seconds < 2.0


def test_an_endless_redirect_chain_stops_at_max_redirects(local_web):
    for n in range(50):
        local_web.route(f"/hop/{n}", Reply(302, headers={"Location": f"/hop/{n + 1}?from={n}"}))
        local_web.route(f"/hop/{n}?from={n - 1}", Reply(302, headers={"Location": f"/hop/{n + 1}?from={n}"}))
    row, seconds = fetch_within(local_web.url("/hop/0"))
    assert refusal(row) == ("fetch", "TooManyRedirects", 302, 1)
    assert len(local_web.hits) == 1 + CONFIG.max_redirects + 1  # robots.txt, then the allowed hops
    assert seconds < 2.0


def test_a_slow_endless_redirect_chain_ends_at_the_total_deadline(local_web):
    """Each hop answers after 0.3 s and the chain is longer than max_redirects allows in time:
    the URL ends at its total deadline, not after 50 hops."""
    for n in range(50):
        local_web.route(f"/slow/{n}", Reply(302, headers={"Location": f"/slow/{n + 1}"}, delay_s=0.3))
    config = replace(CONFIG, max_redirects=50, total_timeout_s=1.5, read_timeout_s=1.0, max_retries=0)
    row, seconds = fetch_within(local_web.url("/slow/0"), config)
    assert refusal(row) == ("fetch", "Timeout", None, 1)
    assert seconds < config.total_timeout_s + 1.0
    assert len(local_web.hits_for("/slow/10")) == 0


# ---------------------------------------------------------------- bombs over HTTP

MAX_BYTES = 10 * MIB  # fetch.max_bytes's default
MAX_GROWTH = 100 * MIB  # the cap, buffers and decoder state; an uncapped read grows by 512 MiB or more

FETCH_IN_CHILD = f"""
import time
from dataclasses import replace
from tests.support.fetching import CONFIG, entry
from transforms.fetch.client import Fetcher, HostPacer
from transforms.fetch.polite import fetch_page

def attempt(url):
    config = replace(CONFIG, max_bytes={MAX_BYTES}, read_timeout_s=5.0, total_timeout_s=30.0, max_retries=0)
    fetcher = Fetcher(config)
    started = time.monotonic()
    outcome = fetch_page(fetcher, HostPacer(0), entry(url))
    fetcher.close()
    row = outcome.value if hasattr(outcome, "value") else {{"stage": "page", "error_type": len(outcome["body"])}}
    return [row["stage"], row["error_type"], time.monotonic() - started]
"""


def gzip_members(size: int) -> bytes:
    """``size`` bytes (whole MiBs) of spaces as a stream of 1 MiB gzip members (about 1 KB each)."""
    return bomb(MIB) * (size // MIB)


BOMBS = {  # built when a test asks, not when the module is collected
    "gzip-bomb": lambda: Reply(200, bomb(512 * MIB), {"Content-Encoding": "gzip", "Content-Type": "text/html"}),
    "endless-gzip-without-length": lambda: Reply(
        200, gzip_members(MIB), {"Content-Encoding": "gzip"}, repeat_body=1_000_000, declare_length=False
    ),
    "endless-body-without-length": lambda: Reply(
        200, b"<p>" + b"x" * (MIB - 3), {"Content-Type": "text/html"}, repeat_body=1_000_000, declare_length=False
    ),
}


@pytest.mark.parametrize("kind", BOMBS)
def test_bombs_and_endless_bodies_are_too_large_in_bounded_memory(local_web, kind):
    url = local_web.route("/bomb", BOMBS[kind]())
    (stage, error_type, seconds), grown = peak_growth(FETCH_IN_CHILD, f"attempt({url!r})", timeout=90)
    assert (stage, error_type) == ("fetch", "TooLarge")
    assert seconds < 30.0
    assert grown < MAX_GROWTH, f"the fetch grew the peak RSS by {grown / MIB:.0f} MiB"


def test_the_child_fetcher_does_fetch_a_page(local_web):
    """The child's fetcher does fetch pages: the refusals above are the caps', not a broken setup."""
    url = local_web.route("/page", Reply(200, HTML.encode(), {"Content-Type": "text/html; charset=utf-8"}))
    (stage, size, _), _ = peak_growth(FETCH_IN_CHILD, f"attempt({url!r})", timeout=90)
    assert (stage, size) == ("page", len(HTML.encode()))


# ---------------------------------------------------------------- feeds: entity expansion and XXE

ITEM = '<item><title>{text}</title><link>https://tin.example/a</link><description>{text}</description></item>'


def laughs(one_line: bool) -> bytes:
    """The billion-laughs feed: ten levels of ten references, 10^9 "lol"s from under 1 KB.  One
    line after the XML declaration, feedparser's DOCTYPE filter (which reads line starts) leaves
    the entities to expat."""
    declarations = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    separator = "" if one_line else "\n"
    head = separator.join(['<?xml version="1.0"?>', "<!DOCTYPE rss [", *declarations, "]>"])
    text = "&lol9;"
    return (head + separator + f'<rss version="2.0"><channel><title>{text}</title>{ITEM.format(text=text)}</channel></rss>').encode()


PARSE_IN_CHILD = """
import time
from transforms.sources.feeds import parse_feed

def parse(path):
    body = open(path, "rb").read()
    started = time.monotonic()
    entries, failures = parse_feed(body, "https://tin.example/feed.rss")
    return [len(repr(entries)) + len(repr(failures)), [e["url"] for e in entries],
            [[f["stage"], f["error_type"]] for f in failures], time.monotonic() - started]
"""


@pytest.mark.parametrize("one_line", [False, True], ids=["declarations-on-lines", "declarations-on-one-line"])
def test_billion_laughs_feed_is_bounded(tmp_path, one_line):
    path = tmp_path / "laughs.rss"
    path.write_bytes(laughs(one_line))
    (size, urls, failures, seconds), grown = peak_growth(PARSE_IN_CHILD, f"parse({str(path)!r})", timeout=90)
    assert urls == ["https://tin.example/a"]
    assert failures == [["feed", "FeedMalformed"]]  # expat's amplification limit, or an undefined entity
    assert size < 10 * path.stat().st_size, "the expansion reached the entries"
    assert grown < 150 * MIB and seconds < 30.0  # about 5 s on one line: expat expands 8 MiB before it stops


def test_quadratic_entity_blowup_is_bounded(tmp_path):
    """A scaled-down quadratic blowup: a 60 KB feed whose title expands to 50 MB."""
    text = "&big;" * 5_000
    body = f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{"A" * 10_000}">\n]>\n<rss version="2.0"><channel>{ITEM.format(text=text)}</channel></rss>'
    path = tmp_path / "quadratic.rss"
    path.write_bytes(body.encode())
    (size, urls, failures, seconds), grown = peak_growth(PARSE_IN_CHILD, f"parse({str(path)!r})", timeout=90)
    assert urls == ["https://tin.example/a"] and all(stage == "feed" for stage, _ in failures)
    assert size < 10 * len(body), f"a {len(body)} byte feed gave {size} bytes of entries"
    assert grown < 50 * MIB and seconds < 10.0


def xxe_feeds(secret_path, web_url: str) -> dict:
    """Feeds that would carry the secret file (or a request to our server) into their entries if
    an XML parser resolved external entities or loaded an external DTD."""
    file_url = secret_path.as_uri()
    item = ITEM.format(text="news &xxe;")
    return {
        "file-entity-on-lines": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{file_url}">\n]>\n'
        f'<rss version="2.0"><channel><title>&xxe;</title>{item}</channel></rss>',
        "file-entity-on-one-line": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{file_url}">]>'
        f'<rss version="2.0"><channel><title>&xxe;</title>{item}</channel></rss>',
        "http-entity": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{web_url}/xxe">]>'
        f'<rss version="2.0"><channel><title>&xxe;</title>{item}</channel></rss>',
        "parameter-entity": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % dtd SYSTEM "{web_url}/evil.dtd"> %dtd;]>'
        f'<rss version="2.0"><channel>{item}</channel></rss>',
        "external-dtd": f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{web_url}/evil.dtd">'
        f'<rss version="2.0"><channel>{item}</channel></rss>',
        "atom-file-entity": f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "{file_url}">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title>'
        '<entry><title>news &xxe;</title><link href="https://tin.example/a"/><id>&xxe;</id></entry></feed>',
    }


@pytest.mark.parametrize(
    "kind",
    ["file-entity-on-lines", "file-entity-on-one-line", "http-entity", "parameter-entity", "external-dtd", "atom-file-entity"],
)
def test_xxe_feed_reads_no_file_and_contacts_no_server(tmp_path, local_web, connects, kind):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    local_web.route("/xxe", Reply(200, SECRET.encode()))
    local_web.route("/evil.dtd", Reply(200, f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">'.encode()))
    body = xxe_feeds(secret, local_web.url("").rstrip("/"))[kind].encode()
    started = time.monotonic()
    entries, failures = parse_feed(body, FEED_URL)
    seconds = time.monotonic() - started
    assert SECRET not in repr(entries) + repr(failures)
    assert (local_web.hits, connects) == ([], [])
    assert [e["url"] for e in entries] == ["https://tin.example/a"]
    assert {row["stage"] for row in failures} <= {"feed"} and len(failures) <= 1
    assert seconds < 5.0
