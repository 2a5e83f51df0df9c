"""Passage-reuse cases shared by the tests and the benchmark: the hand-made Vietnamese reuse set,
an in-memory run of the reuse steps on one shard, and link scores against a gold."""

import csv
import json
from collections import defaultdict

from tests.support.paths import FIXTURES
from tests.support.reprints import fixture_articles
from transforms.dedup import passages
from transforms.dedup.fingerprints import pack, unpacked
from transforms.dedup.passages import ReuseConfig
from transforms.dedup.rules import DedupConfig, sort_key, wire_rank

REUSE_VI = FIXTURES / "reuse_vi"


def reuse_vi_set():
    """(articles, {url: manifest row with reused_from/reused_text as lists})."""
    manifest = {}
    for row in csv.DictReader(open(REUSE_VI / "manifest.csv", encoding="utf-8")):
        for column in ("reused_from", "reused_text", "reuse_neutral"):
            row[column] = json.loads(row[column] or "[]")
        manifest[row["url"]] = row
    return fixture_articles(REUSE_VI), manifest


def reuse_in_memory(articles: list, stories: dict, config: ReuseConfig = ReuseConfig()) -> list:
    """The reuse rows of ``articles`` with the stories ``stories`` ({article id: story id}), by the
    batch job's steps on a single shard (what DetectReuse computes, without Beam)."""
    dedup = DedupConfig(lsh_shards=1)
    keys = {
        a["article_id"]: sort_key(a.get("published_at"), a.get("published_at_precision"),
                                  wire_rank(a.get("domain"), dedup.wire_domains, a.get("wire_source")), 0, a["article_id"])
        for a in articles
    }
    members = defaultdict(list)
    for article_id, story in stories.items():
        members[story].append(keys[article_id])
    records = pack(passages.record_items(config, articles))
    member_rows = [(i, i, s, keys[i], min(members[s]), len(members[s])) for i, s in stories.items()]
    held = dict(_by_tag(passages.holders_of((0, {"new": [records], "prior": [], "members": [pack(member_rows)]}), dedup, config)))
    matches = [value for _, (_, value) in passages.shared_seeds((0, held["postings"]), dedup, config)]
    picked = passages.pick_pairs((0, {"holders": held.get("holders", []), "matches": matches}), dedup, config)
    pairs = dict(_by_tag([(tag, value) for tag, value in picked if tag in ("targets", "requests")]))
    sources = [batch for _, (_, batch) in passages.send_holders((0, {"holders": held["holders"], "requests": pairs.get("requests", [])}), dedup, config)]
    decided = picked + passages.decide_reuse((0, {"targets": pairs.get("targets", []), "sources": sources}), dedup, config)
    batches = [value[1] for tag, value in decided if tag is None]  # (shard, packed rows)
    return [row for row in unpacked(batches) if row.get("source_article_id")]


def _by_tag(pairs: list) -> list:
    grouped = defaultdict(list)
    for tag, (_, value) in pairs:
        grouped[tag].append(value)
    return list(grouped.items())


def link_scores(rows: list, gold_story: dict, gold_links: set, neutral: set = frozenset()) -> dict:
    """Precision/recall/F1 of (article, donor story) links: a row links its article to the gold
    story of its source (rows whose source is of the article's own gold story are not scored)."""
    found = {(r["article_id"], gold_story[r["source_article_id"]]) for r in rows}
    found = {(a, d) for a, d in found if d != gold_story[a]} - set(neutral)
    hits = len(found & gold_links)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(gold_links) if gold_links else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "found": sorted(found), "missed": sorted(gold_links - found)}
