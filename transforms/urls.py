"""URL canonicalisation shared by sources, extraction and dedup (built on courlan).

The canonical form is what identifies an article: lower-case scheme and host, default port,
tracking parameters (utm_*, fbclid, gclid, ...; courlan's list) and the fragment removed,
query sorted, dot segments resolved, non-ASCII path percent-encoded.
"""

import re
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from courlan import clean_url, extract_domain

_HTTP_SCHEMES = ("http", "https")
_ARTICLE_ID = re.compile(r"\d{4,}")
_SLUG_WORD = re.compile(r"[^\W_]+")


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host (no whitespace inside)."""
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in _HTTP_SCHEMES and bool(parts.hostname) and "%" not in parts.hostname
    except ValueError:  # e.g. an invalid IPv6 literal or port
        return False


def canonical_url(url: str | None) -> str | None:
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


def domain_of(url: str | None) -> str | None:
    """The registered domain (public-suffix aware, without 'www.'), e.g. 'bbc.co.uk' for
    news.bbc.co.uk; the bare host for IPs, localhost and unknown suffixes; None if no URL."""
    canonical = canonical_url(url)
    if canonical is None:
        return None
    host = urlsplit(canonical).hostname or ""
    return extract_domain(canonical) or host.removeprefix("www.") or None


def is_front_page(url: str) -> bool:
    """True for a site's home or a section front: no query and a path of at most one segment
    that carries neither an id (four or more digits) nor a slug of three or more words, such as
    ``/``, ``/kinh-te``, ``/index.html`` (``/!5928990`` and ``/gia-vang-tang-manh`` are articles)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.query or len(segments) > 1:
        return False
    name = unquote(segments[0]).rsplit(".", 1)[0] if segments else ""
    return not _ARTICLE_ID.search(name) and len(_SLUG_WORD.findall(name)) < 3
