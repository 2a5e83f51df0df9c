"""SSRF guard: decide which URLs and addresses the fetcher may connect to.

Only ``http``/``https`` URLs whose host resolves exclusively to public (globally routable,
non-multicast) addresses pass.  Private, loopback, link-local (which holds the cloud
metadata address 169.254.169.254), shared (100.64/10), multicast, reserved and unspecified
addresses are refused, for IPv4 and IPv6, with IPv4 embedded in IPv6 (``::ffff:a.b.c.d``,
6to4, NAT64 ``64:ff9b::/96``) judged by its IPv4 address.

Odd spellings of an IP (``http://2130706433/``, ``http://0177.0.0.1/``, ``http://0x7f.1/``)
need no special parsing: the host is resolved with ``getaddrinfo`` - which reads those
spellings exactly as a connection would - and the *resolved address* is what gets checked.

DNS rebinding is prevented by the caller connecting to the address returned by
:func:`resolve_public` (never resolving the name a second time); see ``transforms.fetch.client``.
``allow_loopback`` lets 127.0.0.0/8 and ::1 through (tests, local use) and nothing else.
"""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from urllib3.util import parse_url

ALLOWED_SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[..., list]  # the signature of socket.getaddrinfo


class Blocked(Exception):
    """The URL or one of its addresses is not allowed."""


def embedded_ipv4(ip: ipaddress._BaseAddress) -> ipaddress._BaseAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), else ``ip`` itself."""
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Why ``address`` must not be contacted, or ``None`` when it may."""
    ip = embedded_ipv4(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip.is_loopback:
        return None if allow_loopback else f"loopback address {address}"
    if ip.is_multicast:
        return f"multicast address {address}"
    if ip.is_link_local:
        return f"link-local/metadata address {address}"
    if not ip.is_global:
        return f"non-public address {address}"
    return None


def split_target(url: str) -> tuple[str, str, int]:
    """``(scheme, ASCII host, port)`` of an http(s) URL; :class:`Blocked` for anything else, such as
    a URL urllib3 (which builds the request) cannot parse."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise Blocked(f"scheme {scheme or '(none)'!r} not allowed")
        parse_url(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # bad IPv6 literal, port or host character
        raise Blocked(f"malformed URL: {exc}") from exc
    if not host:
        raise Blocked("URL has no host")
    try:
        host = host.encode("idna").decode("ascii")  # báo.vn -> xn--bo-mia.vn, as DNS and Host need
    except UnicodeError as exc:
        raise Blocked(f"malformed host {host!r}: {exc}") from exc
    return scheme, host, port or (443 if scheme == "https" else 80)


def resolve_public(
    host: str, port: int, allow_loopback: bool = False, resolver: Resolver = socket.getaddrinfo
) -> str:
    """Resolve ``host`` and return the address to connect to.

    Every address the name resolves to must pass :func:`address_refusal` (one bad record
    refuses the host: round-robin tricks cannot slip a private address in).
    """
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise LookupError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise LookupError(f"{host!r} resolved to no address")
    for address in addresses:
        reason = address_refusal(address, allow_loopback)
        if reason:
            raise Blocked(f"{host} -> {reason}")
    return addresses[0]
