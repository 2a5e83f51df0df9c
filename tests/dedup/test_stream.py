"""Streaming story assignment (transforms/dedup/stream.py): pure rules, and TestStream runs on the
BundleBasedDirectRunner checked against the batch ``DetectReprints`` on the hard reprint set."""

import pickle
import random
import uuid
from collections import defaultdict

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import GlobalWindow, TimestampedValue

from tests.support.reprints import OTHER, STORY, article, hard_set, run_detect
from tests.support.reuse import reuse_vi_set
from transforms.dedup.fingerprints import variant_id
from transforms.dedup.rules import DedupConfig, story_id_for
from transforms.dedup.stream import (
    AssignStories,
    Report,
    expire,
    insert_node,
    merge_reports,
    story_of,
    stream_node,
)

PARAMS = DedupConfig()
DAY = 86400
T0 = 1_741_600_000  # arrival times (event time, epoch seconds)


def with_sha(a, version="v1"):
    return {**a, "content_sha1": f"{a['article_id']}#{version}"}


def node(article_id, text, hours=0.0, domain="site.example"):
    return stream_node(with_sha(article(article_id, text, hours, domain)), PARAMS)


# ---------------------------------------------------------------- pure functions


def test_insert_node_reports_earlier_matches_and_tells_later_ones_about_a_late_original():
    original, reprint, other = node("a", STORY, 0), node("b", "(AP) - " + STORY, 2), node("c", OTHER, 1)
    stored, earlier, later, follows = insert_node([], reprint, 10.0, PARAMS)
    assert earlier == later == follows == []
    stored, earlier, later, follows = insert_node(stored, other, 11.0, PARAMS)
    assert earlier == later == follows == []  # unrelated text: not verified
    stored, earlier, later, follows = insert_node(stored, original, 12.0, PARAMS)  # published first, arrived last
    assert earlier == []
    [(told, (about, jaccard, had_earlier))] = later
    assert told["id"] == "b" and about["id"] == "a" and jaccard > 0.5 and not had_earlier
    assert {e["node"]["id"]: e["earlier"] for e in stored} == {"a": False, "b": True, "c": False}
    assert [(first["id"], later_id) for first, later_id, _, _ in follows] == [("a", "b")]
    again = node("d", STORY + " Updated.", 3)
    inserted = insert_node(stored, again, 13.0, PARAMS)
    assert {(n["id"], flag) for n, _, flag in inserted.earlier} == {("a", False), ("b", True)}
    assert [(first["id"], later_id) for first, later_id, _, _ in inserted.follows] == [("a", "d")]  # b is a member: no anchor


def test_seeded_nodes_are_not_compared_with_each_other_but_with_arrivals():
    original, reprint = node("a", STORY, 0), node("b", "(AP) - " + STORY, 2)
    stored, *_ = insert_node([], original, 1.0, PARAMS, seeded=False)
    inserted = insert_node(stored, reprint, 1.0, PARAMS, seeded=True)
    assert inserted.earlier == inserted.later == inserted.follows == []
    assert {e["node"]["id"]: e["earlier"] for e in inserted.entries} == {"a": False, "b": True}
    arrival = insert_node(inserted.entries, node("c", STORY + " Ends.", 4), 2.0, PARAMS)
    assert {(n["id"], flag) for n, _, flag in arrival.earlier} == {("a", False), ("b", True)}


def test_band_keeps_the_smallest_id_hashes_like_batch_buckets():
    params = DedupConfig(max_bucket_size=2)
    stored = []
    copies = [node(f"copy{i}", STORY, i) for i in range(5)]
    for i, copy in enumerate(copies):
        stored = insert_node(stored, copy, float(i), params).entries
    assert [e["node"]["h"] for e in stored] == sorted(c["h"] for c in copies)[:2]


def test_expire_drops_entries_older_than_the_ttl():
    entries = [{"ts": 0.0}, {"ts": 5.0}]
    assert expire(entries, 7.0, ttl_s=5.0) == [{"ts": 5.0}]
    assert expire(entries, 11.0, ttl_s=5.0) == []


def test_story_of_applies_the_batch_anchor_rule():
    original, reprint, late = node("a", STORY, 0), node("b", "(AP) - " + STORY, 2), node("c", STORY + " Ends.", 4)
    assert story_of(original, {}, PARAMS) == (story_id_for("a"), True, 1.0)
    story, canonical, similarity = story_of(late, merge_reports({}, [Report(original, 0.9, False), Report(reprint, 0.95, False)]), PARAMS)
    assert (story, canonical) == (story_id_for("a"), False) and 0.5 < similarity <= 1.0  # b verifies with a: a member
    # a band saw an earlier match of b: b is a member even when its anchor is not in the set
    reports = merge_reports({}, [Report(reprint, 0.95, False)])
    assert story_of(late, reports, PARAMS)[0] == story_id_for("b")
    reports = merge_reports(reports, [Report(reprint, 0.95, True)])
    assert story_of(late, reports, PARAMS) == (story_id_for("c"), True, 1.0)  # only members before it: own story


# ---------------------------------------------------------------- TestStream runs


def _dump(row, folder, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
    """Keep a row with the event time and window it was emitted in (``_at``, ``_window``)."""
    (folder / f"{uuid.uuid4().hex}.pkl").write_bytes(pickle.dumps({**row, "_at": timestamp.micros, "_window": window}))


def run_stream(steps, tmp_path, params=PARAMS, ttl_s=7 * DAY, prior=None):
    """Feed ``steps`` (each a list of (article, arrival ts); the watermark passes a step's
    last arrival before the next one) through AssignStories, started from the story index rows
    ``prior`` (loaded at T0) when given; returns (rows, stories, failures)."""
    stream = TestStream()
    for step in steps:
        stream.add_elements([TimestampedValue(a, ts) for a, ts in step])
        stream.advance_watermark_to(max(ts for _, ts in step) + 1)
    # Timers firing at the final (infinite) watermark lose their output on this runner.
    stream.advance_watermark_to(max(ts for step in steps for _, ts in step) + ttl_s + 10).advance_watermark_to_infinity()
    out = tmp_path / uuid.uuid4().hex
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        prior_index = p | "Prior" >> beam.Create(prior) if prior is not None else None
        outputs = p | stream | AssignStories(params, ttl_s, prior_index, seed_at=T0 if prior is not None else None)
        for name, rows in zip(("rows", "stories", "index", "failures"), outputs):
            (out / name).mkdir(parents=True)
            rows | f"Dump{name}" >> beam.Map(_dump, out / name)
    return tuple([pickle.loads(f.read_bytes()) for f in (out / name).iterdir()] for name in ("rows", "stories", "failures"))


def latest(rows, key="article_id"):
    current = {}
    for row in sorted(rows, key=lambda r: r["row_at"]):
        current[row[key]] = row
    return current


@pytest.fixture(scope="module")
def hard():
    articles, manifest = hard_set()
    return [with_sha(a) for a in articles], manifest


@pytest.fixture(scope="module")
def batch_result(hard, tmp_path_factory):
    rows, stories, _, _ = run_detect(hard[0], tmp_path_factory.mktemp("batch"))
    return {r["article_id"]: (r["story_id"], r["is_canonical"], round(r["similarity"], 4)) for r in rows}


def originals_first(articles):
    return [[(a, T0 + i)] for i, a in enumerate(sorted(articles, key=lambda a: a["published_at"]))]


def interleaved(articles, manifest):
    """Stories round-robin, each in publication order; five arrivals per watermark step."""
    by_story = defaultdict(list)
    for a in sorted(articles, key=lambda a: a["published_at"]):
        by_story[manifest[a["article_id"]]["story_id"]].append(a)
    order = [s[i] for i in range(max(map(len, by_story.values()))) for s in by_story.values() if i < len(s)]
    return [[(a, T0 + n + j) for j, a in enumerate(order[n : n + 5])] for n in range(0, len(order), 5)]


def shuffled_in_one_window(articles):
    order = articles[:]
    random.Random(7).shuffle(order)
    return [[(a, T0 + i) for i, a in enumerate(order)]]


def originals_last(articles):
    return [[(a, T0 + i)] for i, a in enumerate(sorted(articles, key=lambda a: a["published_at"], reverse=True))]


def by_story_rank(order, manifest, start=T0):
    """Step k holds the k-th article in ``order`` of every story: each story arrives in that order,
    an article a step, the stories side by side (as many steps as the largest story has articles)."""
    by_story = defaultdict(list)
    for a in order:
        by_story[manifest[a["article_id"]]["story_id"]].append(a)
    ranks = [[s[k] for s in by_story.values() if k < len(s)] for k in range(max(map(len, by_story.values())))]
    return [[(a, start + 100 * k + j) for j, a in enumerate(step)] for k, step in enumerate(ranks)]


def each_story_newest_first(articles, manifest):
    """Within each story the originals come last, one step after another, as in originals_last,
    in 5 steps instead of 47."""
    return by_story_rank(sorted(articles, key=lambda a: a["published_at"], reverse=True), manifest)


# One article a watermark step (47 steps) is opt-in: interleaved also feeds each story in publication
# order (10 steps), each_story_newest_first each story's originals last (5 steps).
@pytest.mark.parametrize("order", [
    pytest.param("originals_first", marks=pytest.mark.slow), "interleaved", "shuffled_in_one_window",
    "each_story_newest_first", pytest.param("originals_last", marks=pytest.mark.slow),
])
def test_same_stories_and_canonicals_as_batch(order, hard, batch_result, tmp_path):
    articles, manifest = hard
    steps = {
        "originals_first": lambda: originals_first(articles),
        "interleaved": lambda: interleaved(articles, manifest),
        "shuffled_in_one_window": lambda: shuffled_in_one_window(articles),
        "each_story_newest_first": lambda: each_story_newest_first(articles, manifest),
        "originals_last": lambda: originals_last(articles),
    }[order]()
    rows, stories, failures = run_stream(steps, tmp_path)
    current = latest(rows)
    assert {a: (r["story_id"], r["is_canonical"], round(r["similarity"], 4)) for a, r in current.items()} == batch_result
    kinds = {r["row_kind"] for r in rows}
    if order in ("originals_last", "each_story_newest_first"):  # every reprint first looked like an original, then was corrected
        assert kinds == {"new", "correction"}
    else:
        assert kinds == {"new"} and len(rows) == len(articles)
    live = {s: r for s, r in latest(stories, "story_id").items() if r["article_count"]}
    assert {s: r["canonical_article_id"] for s, r in live.items()} == {
        story: a for a, (story, canonical, _) in batch_result.items() if canonical
    }
    assert failures == []


def test_pages_lifting_passages_are_their_own_stories_as_in_batch(tmp_path):
    """reuse_vi streamed a story rank a step: the seed-like pages (their own lead, over half of a
    short story's text among more of their own) and the compilations' second stories stay apart
    from the stories they take from, as batch and the gold have it.  One page differs by a limit
    stream.py lists: c-fair's first page (by sort key) matched only the early compilation page, a
    member, so batch makes it an anchor, but the stream counts it a member for c-fair's other page,
    which starts a story of its own."""
    articles, manifest = reuse_vi_set()
    articles = [with_sha(a) for a in articles]
    by_id = {a["article_id"]: manifest[a["url"]] for a in articles}
    rows, _, _ = run_stream(by_story_rank(sorted(articles, key=lambda a: a["published_at"]), by_id), tmp_path)
    streamed = {a: r["story_id"] for a, r in latest(rows).items()}
    (batch := tmp_path / "batch").mkdir()
    batch_rows, *_ = run_detect(articles, batch)
    batch_stories = {r["article_id"]: r["story_id"] for r in batch_rows}
    assert same_partition(batch_stories, {a: row["story_id"] for a, row in by_id.items()})
    differing = {a for a in streamed if streamed[a] != batch_stories[a]}
    assert {by_id[a]["path"].rsplit("-", 1)[-1] for a in differing} == {"1046.html"}
    assert streamed[next(iter(differing))] == story_id_for(next(iter(differing)))


def same_partition(stories: dict, gold: dict) -> bool:
    """Whether two {article: story} maps group the articles alike."""
    return {frozenset(a for a in stories if stories[a] == s) for s in stories.values()} == {
        frozenset(a for a in gold if gold[a] == g) for g in gold.values()
    }


def test_a_late_original_corrects_its_reprints_and_their_story(tmp_path):
    original = with_sha(article("wire/original", STORY, 0, "vnanet.vn"))
    reprint = with_sha(article("b/reprint", "HANOI (Reuters) - " + STORY[:300], 3, "b.example"))
    second = with_sha(article("c/reprint", STORY + "\nẢnh: Reuters", 5, "c.example"))
    rows, stories, _ = run_stream([[(reprint, T0)], [(second, T0 + 60)], [(original, T0 + 3600)]], tmp_path)
    by_article = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["row_at"]):
        by_article[row["article_id"]].append((row["row_kind"], row["story_id"], row["is_canonical"]))
    first, final = story_id_for("b/reprint"), story_id_for("wire/original")
    assert by_article["b/reprint"] == [("new", first, True), ("correction", final, False)]
    assert by_article["c/reprint"] == [("new", first, False), ("correction", final, False)]
    assert by_article["wire/original"] == [("new", final, True)]
    current = latest(stories, "story_id")
    assert current[first]["article_count"] == 0 and current[first]["canonical_article_id"] is None
    assert (current[final]["canonical_article_id"], current[final]["article_count"]) == ("wire/original", 3)
    # every row is emitted at the event time it records (so windowed writers file it by row_at),
    # in the global window of the story state
    for row in rows + stories:
        assert row["_at"] == round(row["row_at"].timestamp() * 1e6) and row["_window"] == GlobalWindow()
    assert sorted({row["_at"] // 10**6 for row in rows}) == [T0, T0 + 60, T0 + 3600]

BACKGROUND = (
    " Officials said the first tracks would open next spring, and that buses would keep their own lanes on the"
    " busiest avenues. The transport department expects the number of daily cycling trips to double within five"
    " years, and it will publish counts from sensors on the new tracks every month. Critics on the council argued"
    " that the budget should have gone to road repairs in the outer districts first, where potholes have damaged"
    " cars and delivery vans for several winters."
)


def test_a_late_original_reaches_members_that_share_no_band_with_it(tmp_path):
    """A chain: R1 = O + B, R2 = B + C (R2 verifies with R1 only) arrive before O.  Batch makes R1
    a member of O's story, so R2, whose only earlier match is now a member, starts its own."""
    lead = STORY.split(". ")[0] + ". " + STORY.split(". ")[1] + "."
    o = with_sha(article("o/original", lead, 0, "vnanet.vn"))
    r1 = with_sha(article("r1/reprint", lead + BACKGROUND, 1, "b.example"))
    r2 = with_sha(article("r2/reprint", BACKGROUND + " " + OTHER.split(". ")[0] + ".", 2, "c.example"))
    (tmp_path / "batch").mkdir()
    batch_rows, *_ = run_detect([o, r1, r2], tmp_path / "batch")
    expected = {r["article_id"]: (r["story_id"], r["is_canonical"]) for r in batch_rows}
    assert expected["r2/reprint"] == (story_id_for("r2/reprint"), True)  # (what the case is about)
    assert expected["r1/reprint"] == (story_id_for("o/original"), False)
    rows, stories, _ = run_stream([[(r1, T0)], [(r2, T0 + 60)], [(o, T0 + 3600)]], tmp_path)
    assert {a: (r["story_id"], r["is_canonical"]) for a, r in latest(rows).items()} == expected
    current = {s: r for s, r in latest(stories, "story_id").items() if r["article_count"]}
    assert {s: r["canonical_article_id"] for s, r in current.items()} == {
        story_id_for("o/original"): "o/original", story_id_for("r2/reprint"): "r2/reprint",
    }


# live arrivals one a watermark step (24 steps) are opt-in; by_story: each story's, one a step, side by side
@pytest.mark.parametrize("backfill_first, steps", [
    ("reprints", "by_story"), pytest.param("reprints", "one_by_one", marks=pytest.mark.slow),
    pytest.param("originals", "one_by_one", marks=pytest.mark.slow),
])
def test_a_stream_continues_a_backfill_as_one_batch_run(backfill_first, steps, hard, batch_result, tmp_path):
    articles, manifest = hard
    order = sorted(articles, key=lambda a: a["published_at"], reverse=backfill_first == "reprints")
    backfill, live = order[: len(order) // 2], order[len(order) // 2 :]
    (tmp_path / "backfill").mkdir()
    backfill_rows, backfill_stories, index, _ = run_detect(backfill, tmp_path / "backfill")
    arrivals = by_story_rank(live, manifest, T0 + 10) if steps == "by_story" else [[(a, T0 + 10 + i)] for i, a in enumerate(live)]
    rows, stories, failures = run_stream(arrivals, tmp_path, prior=index)
    assert failures == []
    # the stream writes nothing about the backfill's articles until they change, and then corrections
    backfilled = {a["article_id"] for a in backfill}
    assert {r["row_kind"] for r in rows if r["article_id"] in backfilled} <= {"correction"}
    assert sorted(r["article_id"] for r in rows if r["row_kind"] == "new") == sorted(a["article_id"] for a in live)
    state = {a: (r["story_id"], r["is_canonical"]) for a, r in latest(backfill_rows + rows).items()}
    assert state == {a: (story, canonical) for a, (story, canonical, _) in batch_result.items()}
    current = {s: r for s, r in latest(backfill_stories + stories, "story_id").items() if r["article_count"]}
    assert {s: r["canonical_article_id"] for s, r in current.items()} == {
        story: a for a, (story, canonical, _) in batch_result.items() if canonical
    }
    before = {a: r["story_id"] for a, r in latest(backfill_rows).items()}
    touched = {r["story_id"] for r in rows} | {before[r["article_id"]] for r in rows if r["article_id"] in before}
    assert {r["story_id"] for r in stories} <= touched  # no row for a story nothing happened to


def test_reprints_after_the_ttl_start_a_new_story(tmp_path):
    ttl_s = 2 * DAY
    original = with_sha(article("a/original", STORY, 0))
    within = with_sha(article("b/within", "(AFP) - " + STORY, 30, "b.example"))
    after = with_sha(article("c/after", STORY + " More.", 60, "c.example"))
    steps = [[(original, T0)], [(within, T0 + ttl_s - 60)], [(after, T0 + ttl_s + 60)]]
    rows, _, _ = run_stream(steps, tmp_path, ttl_s=ttl_s)
    current = latest(rows)
    assert current["b/within"]["story_id"] == story_id_for("a/original")
    # a/original has expired; b/within is still kept, but as a member it anchors no story (batch rule)
    assert (current["c/after"]["story_id"], current["c/after"]["is_canonical"]) == (story_id_for("c/after"), True)


def test_updates_are_new_rows_and_repeats_are_failures(tmp_path):
    first = with_sha(article("a/story", STORY, 0))
    repeat = {**first, "source": "refetch"}
    updated = with_sha(article("a/story", STORY + " Update: the vote passed.", 0), version="v2")
    reprint = with_sha(article("b/reprint", STORY, 1, "b.example"))
    rows, _, failures = run_stream([[(first, T0)], [(repeat, T0 + 10)], [(updated, T0 + 20), (reprint, T0 + 21)]], tmp_path)
    kinds = sorted((r["article_id"], r["row_kind"], r["content_sha1"]) for r in rows)
    assert kinds == [("a/story", "new", "a/story#v1"), ("a/story", "update", "a/story#v2"), ("b/reprint", "new", "b/reprint#v1")]
    assert latest(rows)["b/reprint"]["story_id"] == story_id_for("a/story")
    assert [(f["source"], f["stage"], f["error_type"]) for f in failures] == [("refetch", "dedup", "DuplicateUrl")]


def test_another_text_under_a_known_url_is_an_article_of_its_own(tmp_path):
    """As in batch (``claim_url``): a URL reused for another story keeps both texts, the second
    under its variant id naming the URL's id, at its own arrival time; its copy is a failure and
    its new version an update of it."""
    first = with_sha(article("a/daily", STORY, 0))
    second = with_sha(article("a/daily", OTHER, 24), version="v2")
    repeat = {**second, "source": "refetch"}
    edited = with_sha(article("a/daily", OTHER + " The team will return next summer to sample more lakes.", 25), "v3")
    steps = [[(first, T0)], [(second, T0 + DAY)], [(repeat, T0 + DAY + 10)], [(edited, T0 + DAY + 20)]]
    rows, stories, failures = run_stream(steps, tmp_path)
    variant = variant_id("a/daily", "a/daily#v2")
    assert sorted((r["_at"] // 10**6, r["article_id"], r["url_article_id"], r["row_kind"]) for r in rows) == [
        (T0, "a/daily", None, "new"), (T0 + DAY, variant, "a/daily", "new"), (T0 + DAY + 20, variant, "a/daily", "update"),
    ]
    assert {s["story_id"] for s in stories} == {story_id_for("a/daily"), story_id_for(variant)}
    assert [(f["source"], f["error_type"]) for f in failures] == [("refetch", "DuplicateUrl")]
