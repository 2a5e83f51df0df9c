import pytest

from transforms.urls import canonical_url, domain_of, is_http_url


@pytest.mark.parametrize(
    "url, expected",
    [
        # host lower-cased, default port, tracking params and fragment dropped
        (
            "https://WWW.Example.COM:443/a/b?utm_source=x&utm_medium=rss&id=7#comments",
            "https://www.example.com/a/b?id=7",
        ),
        ("https://example.com/a?fbclid=1&gclid=2&page=2", "https://example.com/a?page=2"),
        ("http://example.com:80/", "http://example.com"),  # root: no trailing slash
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        # query order does not matter
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        # surrounding white space, non-ASCII path percent-encoded
        ("  https://vnexpress.net/ngư-dân-1.html\n", "https://vnexpress.net/ng%C6%B0-d%C3%A2n-1.html"),
        # a space inside is a %20 (courlan would delete it); a space in the host is no URL
        ("https://example.com/a b.html?q=x y", "https://example.com/a%20b.html?q=x+y"),
        ("https://exa mple.com/", None),
        ("ftp://example.com/file", None),
        ("javascript:void(0)", None),
        ("/relative/path", None),
        ("mailto:a@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent():
    once = canonical_url("https://WWW.Example.com/x?utm_campaign=a&q=1#f")
    assert canonical_url(once) == once


def test_percent_encoded_and_raw_vietnamese_paths_are_the_same_url():
    assert canonical_url("https://vnexpress.net/ngư-dân.html") == canonical_url(
        "https://vnexpress.net/ng%C6%B0-d%C3%A2n.html"
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://www.vnexpress.net/a", "vnexpress.net"),
        ("https://e.vnexpress.net/news/a", "vnexpress.net"),
        ("https://news.bbc.co.uk/1/hi", "bbc.co.uk"),
        ("https://WWW.BanTinSang.example/?p=1", "bantinsang.example"),  # no public suffix: the host
        ("http://127.0.0.1:8000/x", "127.0.0.1"),
        ("not a url", None),
    ],
)
def test_domain_of(url, expected):
    assert domain_of(url) == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://example.com/a", True),
        ("HTTP://example.com", True),
        ("http://[::1]:8080/", True),
        ("http://[zz/", False),
        ("https://exa mple.com/", False),
        ("https:///path-only", False),
        ("file:///etc/passwd", False),
        ("example.com/a", False),
        (None, False),
    ],
)
def test_is_http_url(url, expected):
    assert is_http_url(url) is expected


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://example.com/", "http://example.com"),
        ("http://example.com/?", "http://example.com"),
        ("http://example.com/?#", "http://example.com"),
        ("http://example.com//", "http://example.com"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/../x", "http://example.com/x"),
        ("http://example.com/?q=1", "http://example.com/?q=1"),
    ],
)
def test_root_and_dot_segments_have_one_form(url, expected):
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected
