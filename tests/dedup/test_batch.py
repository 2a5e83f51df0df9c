import pickle
import random
import subprocess
import sys
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from schemas.tables import STORY_INDEX
from tests.support.paths import REPO
from tests.support.reprints import (
    OTHER,
    STORY,
    article,
    clusters,
    current_state,
    hard_set,
    run_detect,
)
from transforms.dedup import clustering, minhash
from transforms.dedup.by_url import pick_representative
from transforms.dedup.clustering import (
    Earlier,
    own_status,
    pair_edge,
    settle,
    shard_pairs,
    split_story,
    story_fields,
)
from transforms.dedup.fingerprints import (
    LSH_ENTRY,
    compressed,
    fingerprint,
    fingerprint_batch,
    fingerprints,
    lsh_arrays,
    match_node,
    node_from_index,
    pack,
    unpacked,
    variant_id,
)
from transforms.dedup.rules import DedupConfig, Edge, story_id_for
from transforms.dedup.textmatch import token_hashes

# ---------------------------------------------------------------- pure functions


def test_own_status_and_settle_never_chain():
    node = {"id": "v"}
    a, b = Edge("a", (1,), None, 0.9), Edge("b", (2,), None, 0.7)
    earlier = {"a": Earlier(a), "b": Earlier(b, "member")}
    assert own_status(earlier) is None and settle(node, earlier) is None
    earlier["a"] = Earlier(a._replace(story="st-a"), "anchor")
    assert own_status(earlier) == "member" and settle(node, earlier) == "st-a"
    earlier["a"] = Earlier(a, "member")  # all earlier matches are members: a new story
    assert own_status(earlier) == "anchor" and settle(node, earlier) == story_id_for("v")


def candidate_pairs(nodes, params):
    """lsh_arrays + shard_pairs as the pipeline runs them, for one shard."""
    [(shard, part)] = lsh_arrays(nodes, params)
    return set(map(tuple, shard_pairs((shard, [part]), params).tolist()))


def test_lsh_pairs_share_a_band():
    params = DedupConfig(lsh_shards=1)
    a, b = (fingerprint(article(i, STORY, n), params) for n, i in enumerate(("a", "b")))
    other = fingerprint(article("d", OTHER), params)
    pairs = candidate_pairs([a, b, other], params)
    assert pairs == {tuple(sorted((a["h"], b["h"])))}
    short = fingerprint(article("e", "too short to cluster"), params)
    assert lsh_arrays([short], params) == []


def test_shard_pairs_equal_the_pairs_of_every_bucket_by_hand():
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 40, size=300).astype(np.uint64)
    ids = rng.integers(0, 60, size=300).astype(np.int64)
    params = DedupConfig(max_bucket_size=3)
    buckets = defaultdict(list)
    for key, h in sorted(set(zip(keys.tolist(), ids.tolist()))):
        buckets[key].append(h)
    expected = set()
    for members in buckets.values():  # sorted by id hash; each member pairs with the first 3
        for j in range(1, len(members)):
            for i in range(min(j, 3)):
                a, b = members[i], members[j]
                expected.add((min(a, b), max(a, b)))
    part = np.array(sorted(set(zip(keys.tolist(), ids.tolist()))), dtype=LSH_ENTRY).tobytes()
    pairs = shard_pairs((0, [(part,)]), params)
    assert pairs.tolist() == sorted(map(list, expected)) and len(expected) > 50


def test_bucket_and_cluster_size_guards():
    params = DedupConfig(lsh_shards=1, max_bucket_size=2, max_cluster_size=3)
    copies = [fingerprint(article(f"copy{i}", STORY, i), params) for i in range(5)]
    pairs = candidate_pairs(copies, params)
    assert len(pairs) == 1 + 2 + 2 + 2  # each copy paired with at most 2 others per bucket
    stories = split_story("st-x", copies[::-1], params)
    assert [(story_id, [n["id"] for n in members]) for story_id, members in stories] == [
        ("st-x", ["copy0", "copy1", "copy2"]), (story_id_for("copy3"), ["copy3"]), (story_id_for("copy4"), ["copy4"]),
    ]
    fields = story_fields(*stories[0])
    assert [(node["id"], f["is_canonical"]) for node, f in fields] == [("copy0", True), ("copy1", False), ("copy2", False)]


# ---------------------------------------------------------------- pipeline on the hard cases


@pytest.fixture(scope="module")
def hard_run(tmp_path_factory):
    """The hard set in one run (file order, one process): the reference of the order, split and
    schema tests below."""
    articles, manifest = hard_set()
    return run_detect(articles, tmp_path_factory.mktemp("hard"))[:3], manifest


def test_templated_reports_stay_separate_days(hard_run):
    (rows, _, _), manifest = hard_run
    story_of = {r["article_id"]: r["story_id"] for r in rows}
    templated = defaultdict(set)
    for url, m in manifest.items():
        if m["case"] == "templated":
            templated[m["story_id"]].add(story_of[url])
    assert all(len(found) == 1 for found in templated.values())  # each day's reprints found
    assert len({next(iter(found)) for found in templated.values()}) == len(templated)  # no two days merged


def test_compilation_pages_never_glue_two_stories(hard_run):
    (rows, _, _), manifest = hard_run
    story_of = {r["article_id"]: r["story_id"] for r in rows}
    gold_of = defaultdict(set)
    for url, m in manifest.items():
        if m["case"] != "compilation":
            gold_of[m["story_id"]].add(story_of[url])
    for url, m in manifest.items():
        if m["case"] == "compilation":
            primary, secondary = gold_of[m["story_id"]], gold_of[m["secondary_story_id"]]
            assert len(primary) == len(secondary) == 1 and primary != secondary
            assert story_of[url] in primary | secondary


def test_reprints_updates_tone_marks_and_nfd_cluster_and_write_ups_do_not(hard_run):
    (rows, stories, index), manifest = hard_run
    predicted = clusters(r for r in rows if manifest[r["article_id"]]["case"] != "compilation")
    gold = defaultdict(set)
    for url, m in manifest.items():
        if m["case"] != "compilation":
            gold[m["story_id"]].add(url)
    assert predicted == {frozenset(v) for v in gold.values()}
    canonical = {r["article_id"] for r in rows if r["is_canonical"]}
    assert canonical == {url for url, m in manifest.items() if m["is_original"] == "True"}
    assert all(0.0 <= r["similarity"] <= 1.0 for r in rows)
    assert all(r["similarity"] == 1.0 for r in rows if r["is_canonical"])
    assert len(index) == len(rows) and len(stories) == len(clusters(rows))


def test_story_rows(hard_run):
    (rows, stories, _), manifest = hard_run
    by_id = {s["story_id"]: s for s in stories}
    metro = next(r for r in rows if manifest[r["article_id"]]["story_id"] == "metro" and r["is_canonical"])
    story = by_id[metro["story_id"]]
    members = [r for r in rows if r["story_id"] == metro["story_id"]]
    assert story["canonical_article_id"] == metro["article_id"]
    assert story["title"] == metro["title"]
    assert story["first_published_at"] == min(r["published_at"] for r in members)
    assert story["article_count"] == len(members)
    assert story["domains"] == sorted({r["domain"] for r in members}) and story["domain_count"] == len(story["domains"])


def test_same_clusters_whatever_the_input_order_processes_and_spilling(hard_run, tmp_path):
    articles, _ = hard_set()
    shuffled = articles[:]
    random.Random(2).shuffle(shuffled)
    (in_order, in_order_stories, _), _ = hard_run  # file order, one process, in memory
    spill = tmp_path / "spill"
    spill.mkdir()
    runs = tmp_path / "runs"
    runs.mkdir()
    params = DedupConfig(processes=2, pool_min_bytes=0, lsh_shards=4, spill_dir=str(spill))
    rows, stories, _, _ = run_detect(shuffled, runs, params=params)
    assert len(list(spill.iterdir())) > 10  # article, node and LSH batches (4 shards: over 4 KB) went through files
    runs = [(sorted((r["article_id"], r["story_id"], r["is_canonical"], r["similarity"]) for r in run_rows),
             sorted(s["story_id"] for s in run_stories))
            for run_rows, run_stories in ((in_order, in_order_stories), (rows, stories))]
    assert runs[0] == runs[1]


def test_pool_processes_start_without_importing_beam():
    # the pool's steps and their parameters unpickle from transforms.dedup.fingerprints and
    # transforms.dedup.clustering alone: a spawned process then skips Beam's ~1 s import before its first batch
    probe = "import pickle, sys; pickle.loads(sys.stdin.buffer.read()); print('apache_beam' in sys.modules)"
    steps = (clustering.reconcile, clustering.candidate_requests, clustering.send_nodes, clustering.decide_shard,
             clustering.answer, clustering.resolve, clustering.stories, clustering.changed_stories)
    payload = pickle.dumps((fingerprint_batch, *steps, DedupConfig(processes=2)))
    for code, beam_expected in ((probe, "False"), ("import transforms.dedup.batch; " + probe, "True")):
        result = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, check=True,
                                cwd=REPO)
        assert result.stdout.decode().strip() == beam_expected


# ---------------------------------------------------------------- incremental runs

# processes=1 (the default) is opt-in: the CLI runs the same sequence on the sample in one process
# (tests/pipelines/test_batch_e2e.py: a rerun adds nothing, reprints then originals give the one-run state)
@pytest.mark.parametrize("processes", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_runs_add_up_reruns_add_nothing_and_late_originals_re_anchor(tmp_path_factory, processes):
    tmp_path, spill = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("spill")
    # 2: reconciling with the index runs in the pool too, on spilled batches
    params = DedupConfig(processes=processes, pool_min_bytes=0, spill_dir=str(spill) if processes > 1 else None)
    day1 = [article("a/original", STORY, 0), article("a/other", OTHER, 1)]
    rows1, stories1, index1, failures1 = run_detect(day1, tmp_path, params=params)
    assert {r["row_kind"] for r in rows1} == {"new"} and len(index1) == 2 and failures1 == []
    first = story_id_for("a/original")

    # tomorrow: a truncated reprint with an attribution joins yesterday's story
    day2 = [article("b/reprint", "LONDON (Reuters) - " + STORY[:300] + "\nPhoto: Reuters", 24, "b.example")]
    rows2, stories2, index2, _ = run_detect(day2, tmp_path, prior=index1, params=params)
    assert [(r["article_id"], r["story_id"], r["is_canonical"], r["row_kind"]) for r in rows2] == [
        ("b/reprint", first, False, "new"),
    ]
    assert [(s["story_id"], s["article_count"], s["domain_count"], s["canonical_article_id"]) for s in stories2] == [
        (first, 2, 2, "a/original"),  # counts recomputed over the whole story
    ]
    assert [r["article_id"] for r in index2] == ["b/reprint"]

    # rerunning yesterday's input adds no article, story or index row: each copy is a DuplicateUrl
    rows3, stories3, index3, failures3 = run_detect(day1, tmp_path, prior=index1 + index2, params=params)
    assert rows3 == stories3 == index3 == []
    assert sorted((f["source"], f["error_type"]) for f in failures3) == [
        ("a/original", "DuplicateUrl"), ("a/other", "DuplicateUrl"),
    ]

    # a late-crawled original (published earlier, a wire) re-anchors the story: its id is now the
    # original's, the earlier members get correction rows and the old story an empty row
    late = [article("c/wire", STORY + " More details follow.", -5, "vnanet.vn")]
    rows4, stories4, index4, _ = run_detect(late, tmp_path, prior=index1 + index2, params=params)
    wire = story_id_for("c/wire")
    assert sorted((r["article_id"], r["story_id"], r["is_canonical"], r["row_kind"]) for r in rows4) == [
        ("a/original", wire, False, "correction"), ("b/reprint", wire, False, "correction"), ("c/wire", wire, True, "new"),
    ]
    assert sorted((s["story_id"], s["article_count"], s["canonical_article_id"]) for s in stories4) == sorted([
        (wire, 3, "c/wire"), (first, 0, None),
    ])
    assert sorted(r["article_id"] for r in index4) == ["a/original", "b/reprint", "c/wire"]

    # the same four articles in one run give the same current state
    single = tmp_path / "single"
    single.mkdir()
    rows, _, _, _ = run_detect(day1 + day2 + late, single, params=params)
    assert current_state(rows1, rows2, rows3, rows4) == current_state(rows)


def test_changed_content_is_an_update(tmp_path):
    rows1, _, index1, _ = run_detect([article("a/original", STORY), article("a/other", OTHER, 1)], tmp_path)
    edited = article("a/other", OTHER + " The team will return next summer to sample more lakes.", 1)
    rows2, stories2, index2, failures2 = run_detect([edited], tmp_path, prior=index1)
    assert [(r["article_id"], r["row_kind"], r["content_sha1"]) for r in rows2] == [
        ("a/other", "update", edited["content_sha1"]),
    ]
    assert failures2 == [] and [r["content_sha1"] for r in index2] == [edited["content_sha1"]]
    assert [s["story_id"] for s in stories2] == [story_id_for("a/other")]


def test_another_text_under_a_known_url_is_an_article_of_its_own(tmp_path):
    """A URL reused for another story (a page republished daily, a canonical link naming a shared
    page): the next run keeps the new text as an article of its own, under the id one run over
    both gives it (``variant_id``, naming the URL's id); reruns add nothing; a new version of the
    second text is an update of it."""
    first, second = article("a/daily", STORY), article("a/daily", OTHER, 24)
    rows1, _, index1, _ = run_detect([first], tmp_path)
    rows2, stories2, index2, failures2 = run_detect([second], tmp_path, prior=index1)
    variant = variant_id("a/daily", second["content_sha1"])
    assert [(r["article_id"], r["url_article_id"], r["row_kind"]) for r in rows2] == [(variant, "a/daily", "new")]
    assert failures2 == [] and [s["story_id"] for s in stories2] == [story_id_for(variant)]
    assert [(r["article_id"], r["url_article_id"]) for r in index2] == [(variant, "a/daily")]

    both = pick_representative("a/daily", [second, first])
    single = tmp_path / "single"
    single.mkdir()
    assert current_state(rows1, rows2) == current_state(run_detect(both, single)[0])

    rows3, stories3, index3, failures3 = run_detect(both, tmp_path, prior=index1 + index2)
    assert rows3 == stories3 == index3 == [] and [f["error_type"] for f in failures3] == ["DuplicateUrl"] * 2

    edited = article("a/daily", OTHER + " The team will return next summer to sample more lakes.", 25)
    rows4, _, _, _ = run_detect([edited], tmp_path, prior=index1 + index2)
    assert [(r["article_id"], r["url_article_id"], r["row_kind"]) for r in rows4] == [(variant, "a/daily", "update")]


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])  # each split: three runs
def test_any_split_into_runs_gives_the_single_run_state(hard_run, tmp_path, seed):
    articles, _ = hard_set()
    (rows, _, _), _ = hard_run
    expected = current_state(rows)
    shuffled = articles[:]
    random.Random(seed).shuffle(shuffled)
    cuts = sorted(random.Random(seed).sample(range(1, len(shuffled)), 2))
    index, all_rows = [], []
    for part in (shuffled[: cuts[0]], shuffled[cuts[0] : cuts[1]], shuffled[cuts[1] :]):
        rows, _, new_index, _ = run_detect(part, tmp_path, prior=index)
        index, all_rows = index + new_index, all_rows + [rows]
    assert current_state(*all_rows) == expected


def test_index_rows_fit_the_schema_and_1kb(hard_run):
    (_, _, index), _ = hard_run
    table = pa.Table.from_pylist([{**r, "run_id": "r1", "schema_version": 2} for r in index], schema=STORY_INDEX.schema)
    assert table.nbytes / table.num_rows <= 1024
    back = table.to_pylist()
    assert node_from_index(back[0])["sig"] == index[0]["signature"]


def test_prior_rows_of_other_fingerprint_settings_are_ignored(tmp_path):
    _, _, index, _ = run_detect([article("a/original", STORY)], tmp_path)
    stale = [{**r, "fingerprint_version": "something-else"} for r in index]
    rows, _, new_index, _ = run_detect([article("a/original", STORY)], tmp_path, prior=stale)
    assert len(new_index) == 1 and rows[0]["story_id"] == story_id_for("a/original")


def test_fingerprints_of_a_batch_equal_each_article_alone():
    params = DedupConfig()
    batch = [article("a", STORY), article("b", ""), article("c", "too short"), article("d", OTHER), article("e", STORY[:90])]
    assert fingerprints(batch, params) == [fingerprint(a, params) for a in batch]


def test_16_bit_signatures_estimate_jaccard_as_32_bit_ones():
    params = DedupConfig()
    texts = [STORY, STORY[:250] + " Photo: Reuters", OTHER, STORY.replace("council", "assembly")]
    hashes, _, offsets = token_hashes(texts)
    full = minhash.signatures(minhash.shingle_rows(hashes, offsets, params.shingle_size), params.num_perm)
    for a in range(len(texts)):
        for b in range(a + 1, len(texts)):
            exact = minhash.estimate_jaccard(full[a], full[b])
            low_bits = minhash.estimate_jaccard(full[a].astype(np.uint16), full[b].astype(np.uint16))
            assert exact <= low_bits <= exact + 1 / params.num_perm  # at most a rare spurious agreement
    assert len(fingerprint(article("a", STORY), params)["sig"]) == 2 * params.num_perm


def test_partners_travel_as_match_nodes_and_verify_the_same():
    params = DedupConfig()
    original, reprint, other = (fingerprint(article(i, text, hours), params) for i, text, hours in (
        ("a", STORY, 0), ("b", STORY[:300] + "\n(Reuters)", 2), ("c", OTHER, 1)))
    for a, b in ((original, reprint), (reprint, original), (original, other)):
        assert pair_edge(match_node(a), match_node(b), params) == pair_edge(a, b, params)
    assert pair_edge(original, reprint, params) is not None and pair_edge(original, other, params) is None


def test_article_batches_travel_compressed_and_read_back_like_plain_ones():
    articles = [article(f"a/{i}", f"{STORY} ({i})", i) for i in range(20)]  # reprints: much alike
    packed = pack(articles)
    assert len(compressed(packed)) < len(packed) / 4
    assert list(unpacked([compressed(packed), pack(articles[:2])])) == articles + articles[:2]
