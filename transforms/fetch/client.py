"""The HTTP client of the fetch stage: guarded, polite GETs with retries and caps (no Beam).

Politeness: a :class:`HostPacer` spaces the requests to one host by ``per_host_delay_s``
(raised to robots.txt's Crawl-delay, capped by ``max_retry_after_s``); ``transforms.fetch.polite``
groups URLs by host so one worker owns a host at a time.

Safety: every hop (redirects are followed here, never by urllib3) passes the SSRF guard
(``transforms.fetch.netguard``) and, with ``respect_robots``, the host's robots.txt (protego, one
cached policy per origin per DoFn instance).  DNS rebinding cannot happen: the name is
resolved once, the address is checked, and urllib3 connects to *that address* while sending
the name as ``Host`` header, TLS SNI and certificate hostname (``server_hostname`` /
``assert_hostname`` pool arguments).  TLS is always verified.  Bodies are streamed and decoded
incrementally (gzip, deflate, br and zstd: urllib3 with its ``brotli`` and ``zstd`` extras, which
also makes Accept-Encoding offer them) with a cap on the *decoded* size, so neither a huge page nor
a decompression bomb is ever buffered.  A redirect to a URL that cannot be requested is an
``InvalidRedirect`` failure.

Retries: 408/425/429/5xx, timeouts and connection errors, with exponential backoff and jitter,
at least the server's Retry-After, at most ``max_retry_after_s``; ``total_timeout_s`` bounds one
URL including its redirects, retries and robots.txt.  A failed URL raises :class:`FetchError`,
which becomes a ``failures`` row with stage ``fetch``, ``robots`` or ``ssrf`` and ``attempts`` = the
number of tries of the URL (of its robots.txt, when that is what failed).
"""

import hashlib
import http.client
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import urllib3
from protego import Protego
from urllib3.util import parse_url

from transforms.fetch import netguard
from transforms.records import failure
from transforms.settings import check_ranges, setting

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 500 * 1024  # what Google reads of a robots.txt
ROBOTS_TTL_S = 3600.0  # a long-lived worker re-reads robots.txt hourly
ROBOTS_ERROR_TTL_S = 300.0  # and retries an unavailable one after 5 minutes
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchConfig:
    """Fetcher settings; field names are the keys of the YAML ``fetch:`` section."""

    user_agent: str = "newsbeam/0.1 (news research crawler)"
    per_host_delay_s: float = setting(1.0, at_least=0)
    per_host_concurrency: int = setting(1, at_least=1)
    max_workers: int = setting(32, at_least=1)
    connect_timeout_s: float = setting(10.0, above=0)
    read_timeout_s: float = setting(30.0, above=0)
    total_timeout_s: float = setting(120.0, above=0)
    max_bytes: int = setting(10 * 1024 * 1024, at_least=1)
    max_retries: int = setting(3, at_least=0)
    backoff_base_s: float = setting(1.0, at_least=0)
    max_retry_after_s: float = setting(120.0, at_least=0)
    max_redirects: int = setting(5, at_least=0)
    allow_loopback: bool = False
    respect_robots: bool = True

    def __post_init__(self):
        check_ranges(self, "fetch")


class FetchError(Exception):
    """A URL that could not be fetched, with everything its failures row needs."""

    def __init__(
        self, stage, error_type, message, *, http_status=None, retryable=False, retry_after=None, attempts=None
    ):
        super().__init__(message)
        self.stage, self.error_type, self.http_status = stage, error_type, http_status
        self.retryable, self.retry_after = retryable, retry_after
        self.attempts: int | None = attempts  # set by Fetcher.get unless already counted

    def to_failure(self, source: str) -> dict:
        return failure(
            source, self.stage, self.error_type, str(self), http_status=self.http_status, attempts=self.attempts
        )


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    status: int
    headers: dict  # lower-cased names
    body: bytes


# ---------------------------------------------------------------- pure helpers


def host_of(url: str) -> str:
    """The politeness key of a URL: its lower-cased host name ('' when unparsable)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, lower-cased, or ``None``."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    return message.get_content_charset()


def header_number(value: str | None) -> float | None:
    """A header's decimal number: ASCII digits only, as HTTP defines it (``str.isdigit`` also
    accepts "²", which ``int`` refuses), else ``None``.  A float, so no length overflows it."""
    value = (value or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or ``None``."""
    if not value:
        return None
    seconds = header_number(value)
    if seconds is not None:
        return seconds
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def retry_delay(attempt: int, retry_after: float | None, config: FetchConfig, jitter: float) -> float:
    """Wait before try ``attempt + 1``: exponential backoff with ``jitter`` in [0, 1) spreading
    it over [½, 1]×, at least the server's Retry-After, never more than ``max_retry_after_s``."""
    backoff = config.backoff_base_s * 2 ** (attempt - 1) * (0.5 + jitter / 2)
    return min(config.max_retry_after_s, max(backoff, retry_after or 0.0))


def redirect_target(url: str, location: str, status: int) -> str:
    """Where a redirect from ``url`` leads (fragment dropped); a FetchError ``InvalidRedirect`` when
    ``location`` is no URL that could be requested (bad IPv6 literal, port, host character)."""
    try:
        target = urljoin(url, location.strip()).split("#", 1)[0]
        parse_url(target)  # urllib3's parser, which the request uses
    except ValueError as exc:
        raise FetchError("fetch", "InvalidRedirect", f"redirect to {location!r}: {exc}", http_status=status) from exc
    return target


def conditional_headers(validators: dict | None) -> dict:
    """If-None-Match / If-Modified-Since from a feed's stored validators."""
    validators = validators or {}
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    return headers


def feed_body(feed_url: str, fetched: Fetched, previous: dict | None) -> dict:
    """A feed-bodies record; ``not_modified`` on a 304 *or* on a 200 whose body hash is
    unchanged (servers that ignore or lie about validators)."""
    previous = previous or {}
    if fetched.status == 304:
        sha1, body = previous.get("body_sha1"), b""
    else:
        sha1, body = hashlib.sha1(fetched.body).hexdigest(), fetched.body
    not_modified = fetched.status == 304 or sha1 == previous.get("body_sha1")
    return {
        "feed_url": feed_url,
        "body": b"" if not_modified else body,
        "etag": fetched.headers.get("etag") or previous.get("etag"),
        "last_modified": fetched.headers.get("last-modified") or previous.get("last_modified"),
        "body_sha1": sha1,
        "not_modified": not_modified,
    }


# ---------------------------------------------------------------- fetching


class HostPacer:
    """Spaces request starts to one host by at least ``delay_s`` (thread-safe)."""

    def __init__(self, delay_s: float):
        self._delay_s = delay_s
        self._next_start = 0.0
        self._lock = threading.Lock()

    def slow_down(self, delay_s: float) -> None:
        self._delay_s = max(self._delay_s, delay_s)

    def wait_turn(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._delay_s
        if start > now:
            time.sleep(start - now)


class Fetcher:
    """Guarded HTTP GET with retries, redirects, robots.txt and size/time caps (thread-safe).

    One per DoFn instance (built in ``setup``): it owns the connection pools and the
    robots.txt cache.  ``resolver`` has ``socket.getaddrinfo``'s signature.
    """

    def __init__(self, config: FetchConfig, resolver: Callable = socket.getaddrinfo):
        self.config = config
        self._resolver = resolver
        self._pools = urllib3.PoolManager(
            num_pools=max(64, 2 * config.max_workers),
            maxsize=max(1, config.per_host_concurrency),
            cert_reqs="CERT_REQUIRED",
        )
        self._headers = {
            "User-Agent": config.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
            "application/xml;q=0.9,*/*;q=0.8",
            **urllib3.make_headers(accept_encoding=True),
        }
        self._robots: dict[str, tuple] = {}  # origin -> (expires, Protego | None | FetchError)
        self._robots_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._random = random.Random()

    def close(self) -> None:
        self._pools.clear()

    def get(
        self, url: str, pacer: HostPacer | None, headers: dict | None = None, *, check_robots: bool = True,
        max_bytes: int | None = None, keep_prefix: bool = False, deadline: float | None = None,
    ) -> Fetched:
        """Fetch ``url`` (retrying transient errors) or raise :class:`FetchError`; by ``deadline``
        (``time.monotonic()``), by default ``total_timeout_s`` from now."""
        if deadline is None:
            deadline = time.monotonic() + self.config.total_timeout_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._follow(
                    url, pacer, headers, deadline, check_robots=check_robots, max_bytes=max_bytes, keep_prefix=keep_prefix,
                )
            except FetchError as err:
                if err.attempts is None:
                    err.attempts = attempt
                if not err.retryable or attempt > self.config.max_retries:
                    raise
                with self._lock:
                    jitter = self._random.random()
                delay = retry_delay(attempt, err.retry_after, self.config, jitter)
                if time.monotonic() + delay >= deadline:
                    raise
                time.sleep(delay)

    def _follow(self, url, pacer, headers, deadline, *, check_robots, max_bytes=None, keep_prefix=False) -> Fetched:
        """One try: request ``url`` and follow up to ``max_redirects`` redirects."""
        seen, status = {url}, None
        for hop in range(self.config.max_redirects + 1):
            target = self._checked_target(url)  # SSRF guard first: nothing is sent to a refused host
            if check_robots and self.config.respect_robots:
                self._check_robots(url, pacer if hop == 0 else None, deadline)
            fetched = self._request(url, target, pacer, headers, deadline, max_bytes or self.config.max_bytes, keep_prefix)
            status, location = fetched.status, fetched.headers.get("location")
            if status not in REDIRECT_STATUSES or not location:
                return fetched
            url = redirect_target(url, location, status)
            if url in seen:
                raise FetchError("fetch", "RedirectLoop", f"redirect loop back to {url}", http_status=status)
            seen.add(url)
        raise FetchError(
            "fetch", "TooManyRedirects", f"more than {self.config.max_redirects} redirects", http_status=status
        )

    def _request(self, url, target, pacer, headers, deadline, max_bytes, keep_prefix=False) -> Fetched:
        """One HTTP GET of ``url`` to its checked address; the body read under the caps."""
        scheme, host, port, address = target
        path = parse_url(url).request_uri  # percent-encodes what http.client would refuse
        default_port = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port else f":{port}")
        pool = self._pools.connection_from_host(
            address,
            port,
            scheme,
            pool_kwargs={"server_hostname": host, "assert_hostname": host} if scheme == "https" else None,
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("fetch", "Timeout", "total deadline exceeded", retryable=True)
        timeout = urllib3.Timeout(
            connect=min(self.config.connect_timeout_s, remaining), read=min(self.config.read_timeout_s, remaining)
        )
        if pacer is not None:
            pacer.wait_turn()
        try:
            response = pool.urlopen(
                "GET",
                path,
                headers={**self._headers, **(headers or {}), "Host": host_header},
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
                decode_content=True,
                timeout=timeout,
            )
            try:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                # read for 3xx/4xx too: it keeps the connection reusable
                body = _read_capped(response, max_bytes, deadline, self.config.read_timeout_s, keep_prefix)
            finally:
                response.release_conn()
        except FetchError:
            raise
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            raise _classify(exc) from exc
        if response.status >= 400:
            raise FetchError(
                "fetch",
                "HTTPError",
                f"HTTP {response.status} from {url}",
                http_status=response.status,
                retryable=response.status in RETRYABLE_STATUSES,
                retry_after=retry_after_seconds(response_headers.get("retry-after"), time.time()),
            )
        return Fetched(url, response.status, response_headers, body)

    def _checked_target(self, url) -> tuple[str, str, int, str]:
        try:
            scheme, host, port = netguard.split_target(url)
            address = netguard.resolve_public(host, port, self.config.allow_loopback, self._resolver)
        except netguard.Blocked as exc:
            raise FetchError("ssrf", "Blocked", f"{url}: {exc}") from exc
        except LookupError as exc:
            raise FetchError("fetch", "DNSError", str(exc)) from exc
        return scheme, host, port, address

    def _check_robots(self, url, pacer, deadline: float) -> None:
        """Raise a FetchError unless robots.txt lets this user agent fetch ``url``."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        with origin_lock:
            expires, policy = self._robots.get(origin, (0.0, None))
            if time.monotonic() >= expires:
                policy = self._load_robots(origin, pacer, deadline)
                ttl = ROBOTS_ERROR_TTL_S if isinstance(policy, FetchError) else ROBOTS_TTL_S
                self._robots[origin] = (time.monotonic() + ttl, policy)
        if isinstance(policy, FetchError):
            if policy.http_status is None:  # the host is unreachable: say so, not "robots"
                raise FetchError(policy.stage, policy.error_type, f"robots.txt of {origin}: {policy}",
                                 attempts=policy.attempts)
            raise FetchError("robots", "RobotsUnavailable", f"robots.txt of {origin}: {policy}",
                             http_status=policy.http_status, attempts=policy.attempts)
        if policy is None:
            return
        crawl_delay = policy.crawl_delay(self.config.user_agent)
        if pacer is not None and crawl_delay:
            pacer.slow_down(min(crawl_delay, self.config.max_retry_after_s))
        if not policy.can_fetch(url, self.config.user_agent):
            raise FetchError("robots", "RobotsDisallowed", f"robots.txt of {origin} disallows {url}")

    def _load_robots(self, origin, pacer, deadline: float):
        """Protego policy, read by the page's ``deadline``; ``None`` = allow all (robots.txt 4xx); a
        FetchError = unavailable (5xx, 429, network): the host is left alone for
        ``ROBOTS_ERROR_TTL_S``, as Google does."""
        try:
            fetched = self.get(
                origin + "/robots.txt", pacer, check_robots=False, max_bytes=ROBOTS_MAX_BYTES, keep_prefix=True,
                deadline=deadline,
            )
        except FetchError as err:
            if err.http_status and 400 <= err.http_status < 500 and err.http_status != 429:
                return None
            return err
        body = fetched.body
        if len(body) >= ROBOTS_MAX_BYTES:  # cut at the cap: drop the last, partial line
            body = body[: body.rfind(b"\n") + 1]
        return Protego.parse(body.decode("utf-8", errors="replace"))


def _read_capped(response, max_bytes: int, deadline: float, read_timeout_s: float, keep_prefix: bool = False) -> bytes:
    """Read the decoded body as it arrives; abort past ``max_bytes`` decoded bytes (or, with
    ``keep_prefix``, keep the first ``max_bytes``) or the deadline.

    Each read takes what the socket has (``read1``) and may wait at most the time left before the
    deadline, so a server trickling a byte at a time cannot hold a URL past ``total_timeout_s``."""
    declared = response.headers.get("content-length")
    length = header_number(declared)
    if length is not None and length > max_bytes and not keep_prefix:
        raise FetchError("fetch", "TooLarge", f"Content-Length {declared} > {max_bytes}", http_status=response.status)
    sock = getattr(response.connection, "sock", None)
    chunks, size = [], 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError("fetch", "Timeout", "total deadline exceeded while reading", retryable=True)
            if sock is not None:
                sock.settimeout(min(read_timeout_s, remaining))
            chunk = response.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes and keep_prefix:
                chunks.append(chunk[: len(chunk) - (size - max_bytes)])
                response.close()  # the rest is not read
                break
            if size > max_bytes:
                raise FetchError("fetch", "TooLarge", f"body over {max_bytes} bytes", http_status=response.status)
            chunks.append(chunk)
    except FetchError:
        response.close()  # drop the connection instead of draining the rest
        raise
    return b"".join(chunks)


def _classify(exc: Exception) -> FetchError:
    """A FetchError for a urllib3/socket exception."""
    e = urllib3.exceptions
    if isinstance(exc, e.NewConnectionError):  # checked first: urllib3 makes it a ConnectTimeoutError
        return FetchError("fetch", "ConnectionError", repr(exc), retryable=True)
    if isinstance(exc, (e.TimeoutError, socket.timeout)):
        return FetchError("fetch", "Timeout", repr(exc), retryable=True)
    if isinstance(exc, e.SSLError):
        return FetchError("fetch", "TLSError", repr(exc))
    if isinstance(exc, e.DecodeError):
        return FetchError("fetch", "DecodeError", repr(exc))
    return FetchError("fetch", "ConnectionError", repr(exc), retryable=True)
