"""The reprint rules shared by batch and streaming (transforms/dedup/rules.py)."""

import random
import unicodedata
from datetime import timedelta

import pytest

from tests.support.paths import FIXTURES
from tests.support.reprints import OTHER, STORY, T0, article
from tests.support.reuse import reuse_vi_set
from transforms.dedup.fingerprints import (
    band_keys,
    fingerprint,
    fingerprints,
    index_row,
    node_from_index,
)
from transforms.dedup.rules import (
    DedupConfig,
    Edge,
    best_anchor,
    claim_url,
    sort_key,
    story_id_for,
    story_row,
    verify_nodes,
    wire_rank,
)
from transforms.records import StoryFields


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
    assert wire_rank("vnanet.vn", ("vnanet.vn",), None) == 0
    assert wire_rank("english.vnanet.vn", ("vnanet.vn",), "VNA") == 0
    assert wire_rank("baomoi.example", ("vnanet.vn",), "VNA") == 1  # credits an agency
    assert wire_rank("notvnanet.vn", ("vnanet.vn",), None) == 2
    assert wire_rank(None, ("vnanet.vn",), None) == 2
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


# ---------------------------------------------------------------------------- real-page patterns (issue 19)

REAL = FIXTURES / "reprints_real"  # hand-made pairs, see its README.md


def real_pair(case):
    return [fingerprint(article(f"{case}.{side}", (REAL / f"{case}.{side}.txt").read_text(encoding="utf-8")), DedupConfig())
            for side in "ab"]


@pytest.mark.parametrize("case", ["footer", "rating", "date", "one", "lead"])
def test_real_reprints_verify_whatever_numbers_the_page_chrome_leaks(case):
    # footer: "Page rendered in 789.0625 ms" / "898.4375 ms"; rating: a rating widget; date: "Posted:" /
    # "Last updated:" lines; one: "1" vs "one" where a later sentence of the original shares the one-word
    # context ("at least 3 of the"); lead: a cut copy with a rewritten lead (containment 0.55)
    assert verify_nodes(*real_pair(case), DedupConfig()) is not None


@pytest.mark.parametrize("case", ["gold", "gold-date"])
def test_templated_reports_of_two_days_stay_two_stories(case):
    # other prices ("78.5 million" / "79.1 million"), or the same prices and only the date in the first sentence
    assert verify_nodes(*real_pair(case), DedupConfig()) is None


def test_a_cut_copy_with_a_rewritten_lead_shares_a_band():
    _, keys = band_keys(real_pair("lead"), DedupConfig())
    assert (keys[0] == keys[1]).any()


def test_cut_copies_with_rewritten_leads_are_candidates():
    # a copy = a new lead of 40-60 words, 25-30% of the original from its second sentence on, and
    # words of its own (containment ~0.55, Jaccard ~0.2): lead bands of 16 x 4 rows found 46, 32 x 2 find 99
    rng = random.Random(5)
    config = DedupConfig()
    found = []
    for _ in range(100):
        original = [f"w{rng.randrange(50_000)}" for _ in range(rng.choice((400, 600, 800)))]
        copy = ([f"n{rng.randrange(50_000)}" for _ in range(rng.randrange(40, 61))]
                + original[30 : 30 + len(original) * rng.choice((25, 30)) // 100]
                + [f"n{rng.randrange(50_000)}" for _ in range(len(original) // 6)])
        _, keys = band_keys(fingerprints([article("a", " ".join(original)), article("b", " ".join(copy))], config), config)
        found.append(bool((keys[0] == keys[1]).any()))
    assert sum(found) >= 90


def test_index_rows_before_wire_source_rank_plain_domains_last():
    """Schema 3 rows wrote 1 for "not a wire domain", which now means "credits an agency"."""
    node = fingerprint({**article("a", STORY), "wire_source": "VNA"}, DedupConfig())
    row = index_row(node, StoryFields(story_id="s", is_canonical=True, similarity=1.0), DedupConfig())
    assert row["wire_rank"] == 1
    assert node_from_index({**row, "schema_version": 4})["key"].wire_rank == 1
    assert node_from_index({**row, "schema_version": 3})["key"].wire_rank == 2


VI_STORY = (
    "Chiều 5/12, UBND thành phố Hà Nội tổ chức hội nghị hoà giải tranh chấp đất đai tại quận Hoàn Kiếm với sự tham "
    "gia của hơn 200 hộ dân. Theo báo cáo, thành phố đã giải quyết xong 85% số vụ việc tồn đọng từ năm trước và "
    "sẽ hoàn thành phần còn lại trước tháng 3 năm sau."
)


def node(article_id, text, hours=0):
    return fingerprint(article(article_id, text, hours), DedupConfig())


def test_claim_url_tells_a_copy_a_version_and_another_article_apart():
    held = node("u", STORY)
    assert claim_url(node("u", STORY, 5), [held]) == ("duplicate", held)
    # a word edit, a cut, a tone-mark spelling (hoà/hòa) or NFD: another version of the same article
    edited = node("u", STORY.replace("Monday", "Tuesday") + " The work starts in spring.", 5)
    assert claim_url(edited, [held]) == ("update", held)
    vi = node("v", VI_STORY)
    assert claim_url(node("v", VI_STORY.replace("hoà", "hòa"), 3), [vi]) == ("update", vi)
    assert claim_url(node("v", unicodedata.normalize("NFD", VI_STORY) + " Tin liên quan", 3), [vi]) == ("update", vi)
    # other content: another article, under its own variant id when one of the claimants holds its id
    assert claim_url(node("u", OTHER, 5), [held]) == ("variant", None)
    assert claim_url(node("w", OTHER, 5), [held]) == ("new", None)
    # of two versions claiming the URL, the one of its own id is updated
    variant = {**node("x", STORY.replace("Monday", "Friday")), "id": "u-variant"}
    assert claim_url(edited, [variant, held]) == ("update", held)
    assert claim_url(node("w", STORY + " More.", 5), []) == ("new", None)


def test_a_page_lifting_passages_of_other_stories_is_not_their_reprint():
    """reuse_vi's s-city opens with its own paragraph, lifts two paragraphs of tn-metro and four of
    tn-exam, and holds over half of each of their pages; it is its own story (the ``reuse`` table
    links it).  A compilation page joins the story it opens with, not the one it stitches in; a
    reprint adding a paragraph of context stays a reprint."""
    articles, manifest = reuse_vi_set()
    nodes = {manifest[a["url"]]["path"].split("-")[-1][:4]: n for a, n in zip(articles, fingerprints(articles, DedupConfig()))}
    config = DedupConfig()
    for donor in ("1010", "1011", "1012", "1013", "1014", "1015"):  # tn-metro, tn-exam
        assert verify_nodes(nodes[donor], nodes["1023"], config) is None
    assert verify_nodes(nodes["1012"], nodes["1023"], DedupConfig(reuse_share=0))  # by what they share alone: a reprint
    assert verify_nodes(nodes["1038"], nodes["1042"], config)  # c-fuel's reprint and the compilation opening with it
    assert verify_nodes(nodes["1040"], nodes["1042"], config) is None  # c-traffic's reprint, stitched in second
    assert verify_nodes(nodes["1004"], nodes["1006"], config)  # vn-power and its reprint adding vn-heat context
