"""URL canonicalisation shared by sources, extraction and dedup (built on courlan).

The canonical form is what identifies an article: lower-case scheme and host, default port,
tracking parameters (utm_*, fbclid, gclid, ...; courlan's list) and the fragment removed,
query sorted, dot segments resolved, non-ASCII path percent-encoded.
"""

from typing import Optional
from urllib.parse import urljoin, urlsplit, urlunsplit

from courlan import clean_url, extract_domain

_HTTP_SCHEMES = ("http", "https")


def is_http_url(url: Optional[str]) -> bool:
    """True for an absolute http(s) URL with a host (no whitespace inside)."""
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in _HTTP_SCHEMES and bool(parts.hostname) and "%" not in parts.hostname
    except ValueError:  # e.g. an invalid IPv6 literal or port
        return False


def canonical_url(url: Optional[str]) -> Optional[str]:
    """The canonical form of an http(s) URL, or None when it is not one."""
    if not isinstance(url, str):
        return None
    # courlan deletes white space inside URLs; a space in a path or query is really a %20.
    cleaned = clean_url(url.strip().replace(" ", "%20"))
    if not cleaned or not is_http_url(cleaned):
        return None
    parts = urlsplit(cleaned)
    # RFC 3986 dot-segment removal (urljoin does it), and a bare root without '/' as courlan
    # writes it, so that the result is a fixed point: canonical_url(canonical_url(u)) == canonical_url(u).
    path = urlsplit(urljoin("http://host/", parts.path)).path
    if path == "/" and not parts.query:
        path = ""
    return urlunsplit(parts._replace(path=path, fragment=""))


def domain_of(url: Optional[str]) -> Optional[str]:
    """The registered domain (public-suffix aware, without 'www.'), e.g. 'bbc.co.uk' for
    news.bbc.co.uk; the bare host for IPs, localhost and unknown suffixes; None if no URL."""
    canonical = canonical_url(url)
    if canonical is None:
        return None
    host = urlsplit(canonical).hostname or ""
    return extract_domain(canonical) or host.removeprefix("www.") or None
