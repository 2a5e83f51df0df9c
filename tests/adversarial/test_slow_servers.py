"""Servers that answer a byte at a time: a URL ends as a ``fetch``/``Timeout`` failure at about
``total_timeout_s``, for pages and robots.txt alike, whatever the server does."""

from dataclasses import replace

import pytest

from tests.support.fetching import CONFIG, fetch_within
from tests.support.localweb import Reply

TOTAL_S = 1.5
# every read gets a byte well within the read timeout: only the total deadline can stop it
SLOW = replace(CONFIG, total_timeout_s=TOTAL_S, read_timeout_s=5.0, max_retries=0)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "until-close"])
def test_a_trickling_body_ends_at_the_total_deadline(local_web, declare_length):
    url = local_web.route("/page", Reply(200, b"x", repeat_body=1_000_000, trickle_s=0.05, declare_length=declare_length))
    row, seconds = fetch_within(url, SLOW)
    assert (row["stage"], row["error_type"]) == ("fetch", "Timeout")
    assert TOTAL_S * 0.8 <= seconds <= TOTAL_S + 1.0


def test_a_trickling_robots_txt_ends_the_page_at_the_deadline(local_web):
    local_web.route("/robots.txt", Reply(200, b"#", repeat_body=1000, trickle_s=0.05))
    url = local_web.route("/page", Reply(200, b"<html>fine</html>"))
    row, seconds = fetch_within(url, SLOW)
    assert (row["stage"], row["error_type"]) == ("fetch", "Timeout") and "robots.txt" in row["message"]
    assert seconds <= TOTAL_S + 1.0
