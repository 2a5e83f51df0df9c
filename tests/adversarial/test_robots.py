"""A robots.txt over 500 KB: its first 500 KB are read and obeyed (as Google does), not a reason
to leave the whole host alone."""

from tests.support.fetching import CONFIG, entry
from tests.support.localweb import Reply
from transforms.fetch.client import Fetcher, HostPacer
from transforms.fetch.polite import fetch_page


def test_a_huge_robots_txt_is_read_up_to_500_kb(local_web):
    rules = b"User-agent: *\nDisallow: /private/\n"
    padding = b"# " + b"x" * 98 + b"\n"  # 100 bytes a line
    local_web.route("/robots.txt", Reply(200, rules + padding * 6000))  # 600 KB
    allowed = local_web.route("/public/1", Reply(200, b"<html>ok</html>"))
    denied = local_web.route("/private/1", Reply(200, b"<html>no</html>"))
    fetcher = Fetcher(CONFIG)
    try:
        page = fetch_page(fetcher, HostPacer(0), entry(allowed))
        refused = fetch_page(fetcher, HostPacer(0), entry(denied)).value
    finally:
        fetcher.close()
    assert page["body"] == b"<html>ok</html>"
    assert (refused["stage"], refused["error_type"]) == ("robots", "RobotsDisallowed")
    assert len(local_web.hits_for("/robots.txt")) == 1


def test_the_line_cut_by_the_500_kb_cap_is_not_obeyed(local_web):
    """The cap falls inside "Disallow: /news/archive": read as "Disallow: /", it would close the host."""
    start = b"User-agent: *\n"
    filler = 500 * 1024 - 12 - len(start)  # 12 bytes of the Disallow line fit: "Disallow: /n"
    lines, rest = divmod(filler, 100)
    head = start + (b"#" * 99 + b"\n") * lines + b"#" * (rest - 1) + b"\n"
    assert 500 * 1024 - len(head) == 12
    local_web.route("/robots.txt", Reply(200, head + b"Disallow: /news/archive\n"))
    page = local_web.route("/news/today", Reply(200, b"<html>ok</html>"))
    fetcher = Fetcher(CONFIG)
    try:
        assert fetch_page(fetcher, HostPacer(0), entry(page))["body"] == b"<html>ok</html>"
    finally:
        fetcher.close()
