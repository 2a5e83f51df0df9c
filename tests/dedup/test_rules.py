"""The reprint rules shared by batch and streaming (transforms/dedup/rules.py)."""

from datetime import timedelta

from tests.support.reprints import STORY, T0, article
from transforms.dedup.fingerprints import fingerprint
from transforms.dedup.rules import (
    DedupConfig,
    Edge,
    best_anchor,
    sort_key,
    story_id_for,
    story_row,
    wire_rank,
)


def test_sort_key_orders_earliest_then_wire_then_longest_then_id():
    early, late = T0 + timedelta(hours=8), T0 + timedelta(hours=9)
    keys = [
        sort_key(late, "minute", 0, 900, "a"),
        sort_key(early, "minute", 1, 900, "b"),
        sort_key(early, "minute", 0, 100, "c"),
        sort_key(early, "minute", 0, 500, "e"),
        sort_key(early, "minute", 0, 500, "d"),
        sort_key(None, "minute", 0, 999, "f"),
    ]
    assert [k.article_id for k in sorted(keys)] == ["d", "e", "c", "b", "a", "f"]


def test_a_bare_date_counts_as_the_end_of_its_day():
    bare, timed = T0.replace(hour=0), T0 + timedelta(hours=14)  # 00:00:00 UTC = the page showed only the date
    next_day = bare + timedelta(days=1)
    assert sort_key(timed, "minute", 1, 10, "timed") < sort_key(bare, "day", 0, 99, "bare") < sort_key(next_day, "day", 1, 10, "x")
    assert sort_key(bare, "minute", 0, 99, "midnight") < sort_key(timed, "minute", 1, 10, "timed")  # a real 00:00 UTC
    assert sort_key(bare, None, 0, 99, "bare") == sort_key(bare, "day", 0, 99, "bare")  # index rows without a precision


def test_wire_rank_and_story_id():
    assert wire_rank("vnanet.vn", ("vnanet.vn",)) == 0
    assert wire_rank("english.vnanet.vn", ("vnanet.vn",)) == 0
    assert wire_rank("notvnanet.vn", ("vnanet.vn",)) == 1
    assert wire_rank(None, ("vnanet.vn",)) == 1
    assert story_id_for("https://a.example/1") == story_id_for("https://a.example/1") != story_id_for("x")


def test_best_anchor_is_the_most_similar_then_the_earliest():
    early, late = sort_key(T0, "minute", 1, 10, "early"), sort_key(T0 + timedelta(hours=1), "minute", 1, 10, "late")
    edges = [Edge("late", late, "st-l", 0.9), Edge("early", early, "st-e", 0.9), Edge("x", early, "st-x", 0.6)]
    assert best_anchor(edges).id == "early"
    assert best_anchor([edges[0], edges[2]]).id == "late"


def test_story_row_recomputes_counts_and_canonical():
    config = DedupConfig()
    a = fingerprint({**article("a", STORY, 0, "x.example"), "title": "A"}, config)
    b = fingerprint({**article("b", STORY, 2, "y.example"), "title": "B"}, config)
    row = story_row("st-1", [b, a])
    assert (row["canonical_article_id"], row["title"], row["article_count"], row["domains"]) == ("a", "A", 2, ["x.example", "y.example"])
    assert row["first_published_at"] == T0
    assert story_row("st-1", [])["article_count"] == 0
