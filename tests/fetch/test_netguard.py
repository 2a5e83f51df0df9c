"""SSRF guard: addresses, spellings, schemes.  No traffic is sent anywhere."""

import socket

import pytest

from transforms.fetch.netguard import (
    Blocked,
    address_refusal,
    resolve_public,
    split_target,
)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata (AWS/GCP/Azure)
        "100.100.100.200",  # Alibaba metadata, shared address space 100.64/10
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS IPv6 metadata
        "ff02::1",
        "::",
        "::ffff:10.0.0.1",  # IPv4-mapped IPv6
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::",  # 6to4 wrapping 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "fe80::1%eth0",
    ],
)
def test_non_public_addresses_are_refused_even_with_loopback_allowed(address):
    assert address_refusal(address, allow_loopback=True)
    assert address_refusal(address, allow_loopback=False)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_only_with_the_switch(address):
    assert "loopback" in address_refusal(address, allow_loopback=False)
    assert address_refusal(address, allow_loopback=True) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


@pytest.mark.parametrize(
    "url", ["http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/", "http://[::ffff:7f00:1]/"]
)
def test_odd_loopback_spellings_resolve_to_loopback_and_are_refused(url):
    _, host, port = split_target(url)
    with pytest.raises(Blocked, match="loopback"):
        resolve_public(host, port)
    assert resolve_public(host, port, allow_loopback=True) in ("127.0.0.1", "::ffff:127.0.0.1")


@pytest.mark.parametrize("url", ["http://0xa9fea9fe/latest/meta-data", "http://169.254.169.254/", "http://10.1/"])
def test_odd_private_spellings_are_refused(url):
    _, host, port = split_target(url)
    with pytest.raises(Blocked):
        resolve_public(host, port, allow_loopback=True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "javascript:alert(1)", "//x/"])
def test_non_http_schemes_are_refused(url):
    with pytest.raises(Blocked, match="scheme"):
        split_target(url)


def test_split_target_defaults_ports_and_rejects_bad_ones():
    assert split_target("HTTPS://Example.COM/a") == ("https", "example.com", 443)
    assert split_target("http://example.com:8080") == ("http", "example.com", 8080)
    assert split_target("http://Báo.vn/tin") == ("http", "xn--bo-mia.vn", 80)
    with pytest.raises(Blocked):
        split_target("http://example.com:99999/")
    with pytest.raises(Blocked, match="malformed"):
        split_target("http://[::1/")
    with pytest.raises(Blocked, match="malformed"):  # getaddrinfo would stop at the NUL; urllib3 refuses it
        split_target("http://127.0.0.1\x00.example.com/")
    with pytest.raises(Blocked, match="no host"):
        split_target("http:///path")


def fake_dns(*addresses):
    def resolver(host, port, type=0):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolver


def test_a_name_with_any_private_record_is_refused():
    with pytest.raises(Blocked, match="10.0.0.7"):
        resolve_public("news.example", 80, resolver=fake_dns("93.184.216.34", "10.0.0.7"))
    assert resolve_public("news.example", 80, resolver=fake_dns("93.184.216.34")) == "93.184.216.34"


def test_unresolvable_names_are_a_lookup_error():
    def failing(host, port, type=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(LookupError):
        resolve_public("nowhere.invalid", 80, resolver=failing)
