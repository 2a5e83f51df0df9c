"""Reprint detection in the streaming job: story assignment with TTL-bounded state.

    rows, stories, index, failures = articles | AssignStories(DedupConfig(), 7 * 86400, prior_index, seed_at)

The rules of the batch job (``transforms.dedup.rules``: fingerprint, LSH band keys, verification,
``sort_key``, best anchor, story ids and rows), made incrementally.  Beam graphs have no cycles, so a story
decision cannot flow back into the state that answered the query; the work is split in keyed
stages, all in the global window with event-time timers:

0. ``_UrlState`` keyed by the URL id an article claims: the articles claiming it; an arrival is
   held against them by batch's rule (``claim_url``): a copy of one's text is a ``DuplicateUrl``
   failure, another version of one an update of it, other content an article of its own (under
   its ``variant_id`` when the id is taken).
1. ``_BandState`` keyed by LSH band key (whole-text and lead bands, as in batch): keeps compact
   nodes (id, sort key, signatures, number sketch, arrival time, whether the band saw a verified
   earlier node of it).  A new node is verified against the stored ones (``verify_nodes``);
   it gets a report of its verified *earlier* nodes (by ``sort_key``, not arrival), and every
   stored node the new one precedes gets a report about it (a late original).  Like batch, a
   band pairs a node with at most ``max_bucket_size`` others: the band keeps the nodes of
   smallest id hash.  Nodes leave ``ttl_s`` after they arrived: measured against each new
   arrival's event time, and cleared by an event-time timer.
1b. ``_FollowerState`` keyed by article id: the later articles that verified with it while it
   looked like an anchor, and its own reports; when those make it a member (a late original
   met it, in any band), each follower gets a report saying so.  So a late original reaches
   the articles that joined its reprint even when they share no band (or no text) with it.
2. ``_ArticleState`` keyed by article id: gathers the reports, and once the watermark passes
   the arrival (all bands have answered) applies the batch rule: among the verified earlier
   nodes, one is an anchor unless an earlier anchor of the set verifies with it (sharing a
   band) or it is known to have an earlier match; the article joins the most similar anchor
   (then the earliest), else it is an anchor starting its own story.  Anchor = canonical
   (earliest member), similarity as in batch.  It writes an ``articles`` row (and a
   ``story_index`` row) when the article is new ("new"), when its content changed ("update") and
   whenever a later report changes its story or canonical flag ("correction", e.g. its original
   arrived late).  Rows are append-only; the latest ``row_at`` per article wins.
3. ``_StoryState`` keyed by story id: members join and leave; a ``stories`` row (counts
   recomputed, canonical = earliest member) is written whenever it changes; a story left empty
   by corrections gets a row with ``article_count`` 0.

A stream can start from a backfill's story index (``prior_index``: the latest row per article):
each indexed article is a ``Seed`` entering every stage at ``seed_at`` as the backfill decided it
(bands hold it with its status, the article stage its story, the story stage its members), so no
row is written for it until an arrival changes it.  Seeds are not verified against each other
(the backfill did that); a seeded member follows its canonical.

Unlike the design sketch of a band storing each node's band-local story, bands store only
"has a verified earlier match here": an article joins anchors only, so what a decision needs
is which earlier matches are anchors, and the article's stage re-checks that among them.
The hard reprint set gives batch's stories, canonicals and similarities in every arrival order
tested (originals first, interleaved, shuffled, originals last with corrections), and a stream
continuing a backfill of half of it gives the one-run state.

Where it can still differ from batch (for reprints arriving within the TTL):
- an earlier node counts as a member once it has any verified earlier match (batch: once one of
  them is an anchor), and a follower hears of its anchor's status one link away only: chains of
  two or more reprints-of-reprints, and a story whose first page matched only a member of another
  story (reuse_vi's c-fair, stitched into an earlier compilation page: its second page starts a
  story of its own), rare in practice;
- a seeded member remembers only the canonical it joined, not other anchors it matched;
- the ``max_cluster_size`` guard is not applied; buckets past ``max_bucket_size`` keep their
  smallest id hashes seen so far;
- an updated article's old fingerprint stays in the bands it left until its TTL;
- of two texts claiming one URL, the first to arrive keeps the URL's id (batch: the earliest
  published);
- ``similarity`` is the one at the last story change (not re-emitted on its own);
- what the TTL has forgotten is forgotten: a reprint arriving later starts a new story (or
  meets only the members still remembered, and then starts its own).
State per article and its cost on Dataflow: ``docs/scale.md``.
"""

from typing import NamedTuple, Optional

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.transforms.window import GlobalWindows, TimestampedValue
from apache_beam.typehints import Any, Tuple
from apache_beam.utils.timestamp import Timestamp

from transforms.dedup import fingerprints
from transforms.dedup.fingerprints import (
    home_id,
    index_order,
    indexed_fields,
    node_from_index,
    renamed,
    variant_id,
)
from transforms.dedup.rules import (
    DedupConfig,
    Node,
    anchor_rank,
    claim_url,
    similarity_to,
    story_id_for,
    story_row,
    verify_nodes,
)
from transforms.records import (
    FAILED,
    Article,
    StoryFields,
    epoch_seconds,
    failure,
    from_epoch_seconds,
)

MEMBERSHIP = "membership"
FOLLOWS = "follows"
INDEX = "index"
_NODE_FIELDS = ("id", "h", "key", "n", "sig", "lead", "nums", "sha", "home")


class Report(NamedTuple):
    """A band's word about an earlier node that verifies with an article."""

    node: Node  # the earlier node (compact)
    jaccard: float
    had_earlier: bool  # the band saw a verified match of it earlier than it (so it is no anchor)


class Decided(NamedTuple):
    """An article's last written decision."""

    sha: str  # content_sha1 of the version decided
    story_id: str
    is_canonical: bool
    similarity: float


# ---------------------------------------------------------------------------- pure functions


def stream_node(article: Article, config: DedupConfig) -> dict:
    """The batch fingerprint of an article, compacted."""
    return compact(fingerprints.fingerprint(article, config))


def band_keys(node: Node, config: DedupConfig) -> frozenset:
    """The node's LSH band keys exactly as batch computes them (none for texts too short)."""
    _, keys = fingerprints.band_keys([node], config)
    return frozenset(keys.ravel().tolist())


def compact(node: dict) -> dict:
    """What the stateful stages keep of a node (~600 B pickled with the defaults)."""
    return {f: node.get(f) for f in _NODE_FIELDS}


class Inserted(NamedTuple):
    """What inserting a node into a band's entries gives."""

    entries: list  # the band's entries to keep
    earlier: list  # ``Report``s about the node's verified earlier matches
    later: list  # [(stored node, ``Report`` about the new one)]: stored nodes the new one precedes
    follows: list  # [(earlier node, later id, later sha, jaccard)]: verified pairs whose earlier node may anchor the later


def insert_node(stored: list, node: dict, ts: float, config: DedupConfig, seeded: Optional[bool] = None) -> Inserted:
    """Add ``node`` (arrived at ``ts``) to a band's stored entries.

    An entry is {"node", "ts", "earlier": whether a verified earlier match is known, "seeded"}.
    ``seeded``: None for an arriving article, else whether the story index made it a member: two
    seeded nodes are not compared again (the backfill decided them)."""
    entries = sorted((e for e in stored if e["node"]["id"] != node["id"]), key=lambda e: e["node"]["h"])
    rank = sum(1 for e in entries if e["node"]["h"] < node["h"])
    partners = entries if rank < config.max_bucket_size else entries[: config.max_bucket_size]
    new = {"node": node, "ts": ts, "earlier": bool(seeded), "seeded": seeded is not None}
    pairs = []  # (earlier entry, later entry, jaccard)
    for entry in partners:
        if entry.get("seeded") and new["seeded"]:
            continue
        verdict = verify_nodes(entry["node"], node, config)
        if verdict is not None:
            pairs.append((entry, new, verdict.jaccard) if entry["node"]["key"] < node["key"] else (new, entry, verdict.jaccard))
    for _, later, _ in pairs:
        later["earlier"] = True
    entries.insert(rank, new)
    return Inserted(
        entries=entries[: config.max_bucket_size],
        earlier=[Report(first["node"], j, first["earlier"]) for first, later, j in pairs if later is new],
        later=[(later["node"], Report(node, j, new["earlier"])) for first, later, j in pairs if first is new],
        follows=[(first["node"], later["node"]["id"], later["node"]["sha"], j) for first, later, j in pairs if not first["earlier"]],
    )


def expire(entries: list, now: float, ttl_s: float) -> list:
    return [e for e in entries if e["ts"] + ttl_s > now]


def story_of(node: Node, reports: dict, config: DedupConfig) -> tuple:
    """(story id, is canonical, similarity) of ``node`` from its verified earlier matches
    (``reports``: {id: Report}), by the batch rule."""
    anchors = []
    for report in sorted(reports.values(), key=lambda r: r.node["key"]):
        bands = band_keys(report.node, config)
        joins_anchor = any(bands & a_bands and verify_nodes(a.node, report.node, config) for a, a_bands in anchors)
        if not (report.had_earlier or joins_anchor):
            anchors.append((report, bands))
    if not anchors:
        return story_id_for(node["id"]), True, 1.0
    anchor = min((report for report, _ in anchors), key=lambda r: anchor_rank(r.jaccard, r.node["key"]))
    return story_id_for(anchor.node["id"]), False, similarity_to(anchor.node, node)


def merge_reports(reports: dict, incoming: list) -> dict:
    """Reports about the same earlier node from several bands: a band that saw an earlier
    match of it wins."""
    merged = dict(reports)
    for report in incoming:
        previous = merged.get(report.node["id"])
        merged[report.node["id"]] = report._replace(had_earlier=report.had_earlier or bool(previous and previous.had_earlier))
    return merged


def index_row(article: Article, node: Node, fields: StoryFields, config: DedupConfig) -> dict:
    """The ``story_index`` row of a decision, as batch writes it (so a batch run can continue a
    stream's output)."""
    return fingerprints.index_row({
        **node, "domain": article.get("domain"), "title": article.get("title"),
        "published_at": epoch_seconds(article.get("published_at")), "precision": article.get("published_at_precision"),
    }, fields, config)


def member_info(article: Article, node: Node) -> dict:
    """What the story stage keeps of a member (``rules.StoryMember``)."""
    return {
        "id": article["article_id"], "key": node["key"], "domain": article.get("domain"),
        "title": article.get("title"), "published_at": epoch_seconds(article.get("published_at")),
    }


class Seed(NamedTuple):
    """An article of a backfill's story index, as a stream starts with it."""

    article: dict  # the index row's article fields (a correction row of it carries these)
    node: dict  # compact node
    decided: Decided  # its story as the backfill decided it
    reports: list  # a member's ``Report`` about its canonical (the anchor it joined); [] for a canonical


_INDEXED_ARTICLE = ("article_id", "domain", "title", "published_at", "published_at_precision", "content_sha1")


def story_seeds(rows: list) -> list:
    """The ``Seed``s of one indexed story, from its members' latest index rows."""
    members = sorted(((row, compact(node_from_index(row))) for row in rows), key=lambda m: m[1]["key"])
    canonical = next((node for row, node in members if row.get("is_canonical")), members[0][1])
    seeds = []
    for row, node in members:
        fields = indexed_fields(row)
        is_canonical = node is canonical
        seeds.append(Seed(
            article={field: row.get(field) for field in _INDEXED_ARTICLE},
            node=node,
            decided=Decided(node["sha"], fields["story_id"], is_canonical, fields["similarity"]),
            reports=[] if is_canonical else [Report(canonical, fields["similarity"] or 0.0, False)],
        ))
    return seeds


# ---------------------------------------------------------------------------- stateful DoFns

_STATE = PickleCoder()  # keys are typed (deterministic key coders); state values are private


@beam.typehints.with_input_types(Tuple[str, Any])
class _UrlState(beam.DoFn):
    """Stage 0, keyed by the URL id an article claims (``home_id``): the articles claiming it,
    each remembered for ``ttl_s`` after it arrived.  An arriving article is what ``claim_url``
    makes it, as in batch: a copy of one's text is a ``DuplicateUrl`` failure (``FAILED``),
    another version of one goes on under its id, other content under an id one holds under its
    ``variant_id``; seeds pass through."""

    CLAIMANTS = ReadModifyWriteStateSpec("claimants", _STATE)  # {article id: (compact node, arrival time)}
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, claimants=beam.DoFn.StateParam(CLAIMANTS),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        home, arrival = item
        now = float(ts)
        known = {i: (node, at) for i, (node, at) in (claimants.read() or {}).items() if at + self.ttl_s > now}
        if arrival[0] == "seed":
            node = arrival[1].node
        else:
            _, article, node = arrival
            kind, claimant = claim_url(node, sorted((n for n, _ in known.values()), key=lambda n: n["key"]))
            if kind == "duplicate":
                Metrics.counter("streaming", "duplicate_urls").inc()
                yield beam.pvalue.TaggedOutput(FAILED, failure(
                    article["source"], "dedup", "DuplicateUrl", f"same content as article {claimant['id']} already seen",
                ))
                return
            if kind == "update":
                node = renamed(node, claimant["id"], claimant["home"])
            elif kind == "variant":
                node = renamed(node, variant_id(home, node["sha"]), home)
            arrival = ("article", {**article, "article_id": node["id"], "url_article_id": node["home"]}, compact(node))
        known[node["id"]] = (compact(node), now)
        claimants.write(known)
        expiry.set(Timestamp(min(at for _, at in known.values()) + self.ttl_s))
        yield arrival

    @on_timer(EXPIRY)
    def on_expiry(self, ts=beam.DoFn.TimestampParam, claimants=beam.DoFn.StateParam(CLAIMANTS),
                  expiry=beam.DoFn.TimerParam(EXPIRY)):
        kept = {i: (node, at) for i, (node, at) in (claimants.read() or {}).items() if at + self.ttl_s > float(ts)}
        if kept:
            claimants.write(kept)
            expiry.set(Timestamp(min(at for _, at in kept.values()) + self.ttl_s))
        else:
            claimants.clear()


@beam.typehints.with_input_types(Tuple[bytes, Any])
class _BandState(beam.DoFn):
    """Stage 1, keyed by band key: (band key, (node, seeded)) -> (article id, ("report", sha,
    reports)) and, tagged ``FOLLOWS``, (earlier article id, ("follower", ...))."""

    ENTRIES = ReadModifyWriteStateSpec("entries", _STATE)
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: DedupConfig, ttl_s: float):
        self.config, self.ttl_s = config, ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(ENTRIES),
                expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (node, seeded) = item
        alive = expire(entries.read() or [], float(ts), self.ttl_s)  # the TTL holds whatever the watermark
        inserted = insert_node(alive, node, float(ts), self.config, seeded)
        entries.write(inserted.entries)
        expiry.set(Timestamp(min(e["ts"] for e in inserted.entries) + self.ttl_s))
        if inserted.earlier:
            yield node["id"], ("report", node["sha"], inserted.earlier)
        for other, report in inserted.later:
            Metrics.counter("streaming", "late_original_reports").inc()
            yield other["id"], ("report", other["sha"], [report])
        for earlier, later_id, later_sha, jaccard in inserted.follows:
            yield beam.pvalue.TaggedOutput(FOLLOWS, (earlier["id"], ("follower", earlier, later_id, later_sha, jaccard)))

    @on_timer(EXPIRY)
    def on_expiry(self, ts=beam.DoFn.TimestampParam, entries=beam.DoFn.StateParam(ENTRIES),
                  expiry=beam.DoFn.TimerParam(EXPIRY)):
        kept = expire(entries.read() or [], float(ts), self.ttl_s)
        Metrics.counter("streaming", "band_nodes_expired").inc(len(entries.read() or []) - len(kept))
        if kept:
            entries.write(kept)
            expiry.set(Timestamp(min(e["ts"] for e in kept) + self.ttl_s))
        else:
            entries.clear()


@beam.typehints.with_input_types(Tuple[str, Any])
class _FollowerState(beam.DoFn):
    """Stage 1b, keyed by article id: the later articles that verified with it while it looked
    like an anchor (they may have joined it), and its own reports.  It decides its status by
    the article stage's rule (``story_of``); once that makes it a member (a late original
    arrived, in any band), each follower gets a report saying so and re-decides, as in batch:
    it moves with it to the original's story or, matching no anchor, starts its own."""

    NODE = ReadModifyWriteStateSpec("node", _STATE)
    FOLLOWERS = ReadModifyWriteStateSpec("followers", _STATE)  # {later id: (sha, jaccard)}
    REPORTS = ReadModifyWriteStateSpec("reports", _STATE)  # {earlier id: Report}
    MEMBER = ReadModifyWriteStateSpec("member", _STATE)  # whether its followers were told it is a member
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: DedupConfig, ttl_s: float):
        self.config, self.ttl_s = config, ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, node_state=beam.DoFn.StateParam(NODE),
                followers=beam.DoFn.StateParam(FOLLOWERS), reports=beam.DoFn.StateParam(REPORTS),
                member=beam.DoFn.StateParam(MEMBER), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (kind, *payload) = item
        known, told = followers.read() or {}, {}
        if kind == "follower":
            node, later_id, later_sha, jaccard = payload
            node_state.write(node)
            known[later_id] = (later_sha, jaccard)
            followers.write(known)
            told = {later_id: known[later_id]} if member.read() else {}
        else:
            reports.write(merge_reports(reports.read() or {}, payload[1]))
        node = node_state.read()
        if node is not None and not member.read() and not story_of(node, reports.read() or {}, self.config)[1]:
            member.write(True)
            told = known
        for later_id, (sha, jaccard) in sorted(told.items()):
            Metrics.counter("streaming", "demotion_reports").inc()
            yield later_id, ("report", sha, [Report(node, jaccard, True)])
        expiry.set(ts + self.ttl_s)

    @on_timer(EXPIRY)
    def on_expiry(self, node_state=beam.DoFn.StateParam(NODE), followers=beam.DoFn.StateParam(FOLLOWERS),
                  reports=beam.DoFn.StateParam(REPORTS), member=beam.DoFn.StateParam(MEMBER)):
        for state in (node_state, followers, reports, member):
            state.clear()


@beam.typehints.with_input_types(Tuple[str, Any])
class _ArticleState(beam.DoFn):
    """Stage 2, keyed by article id: the article and its band reports -> articles rows
    (main) and membership changes (``MEMBERSHIP``)."""

    ARTICLE = ReadModifyWriteStateSpec("article", _STATE)  # (article, node)
    REPORTS = ReadModifyWriteStateSpec("reports", _STATE)  # {content sha: {earlier id: report}}
    DECIDED = ReadModifyWriteStateSpec("decided", _STATE)  # Decided
    DECIDE = TimerSpec("decide", TimeDomain.WATERMARK)
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, config: DedupConfig, ttl_s: float):
        self.config, self.ttl_s = config, ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, article_state=beam.DoFn.StateParam(ARTICLE),
                reports=beam.DoFn.StateParam(REPORTS), decided=beam.DoFn.StateParam(DECIDED),
                decide_timer=beam.DoFn.TimerParam(DECIDE), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (kind, *payload) = item
        if kind == "seed":
            if article_state.read() is None:  # (an arrival may beat its own seed: it stays)
                yield from self._seed(Seed(*payload), ts, article_state, reports, decided, expiry)
            return
        if kind == "article":
            article_state.write(tuple(payload))
            expiry.set(ts + self.ttl_s)
        else:
            sha, incoming = payload
            by_sha = reports.read() or {}
            by_sha[sha] = merge_reports(by_sha.get(sha, {}), incoming)
            reports.write(by_sha)
        decide_timer.set(ts)

    def _seed(self, seed: "Seed", ts, article_state, reports, decided, expiry):
        """An article of the story index: its state as the backfill decided it, no row."""
        article_state.write((seed.article, seed.node))
        reports.write({seed.node["sha"]: merge_reports({}, seed.reports)})
        decided.write(seed.decided)
        expiry.set(ts + self.ttl_s)
        member = {**member_info(seed.article, seed.node), "seeded": True}
        yield beam.pvalue.TaggedOutput(MEMBERSHIP, (seed.decided.story_id, ("seed", member)))

    @on_timer(DECIDE)
    def on_decide(self, ts=beam.DoFn.TimestampParam, article_state=beam.DoFn.StateParam(ARTICLE),
                  reports=beam.DoFn.StateParam(REPORTS), decided=beam.DoFn.StateParam(DECIDED)):
        yield from self._decide(ts, article_state, reports, decided)

    @on_timer(EXPIRY)
    def on_expiry(self, ts=beam.DoFn.TimestampParam, article_state=beam.DoFn.StateParam(ARTICLE),
                  reports=beam.DoFn.StateParam(REPORTS), decided=beam.DoFn.StateParam(DECIDED)):
        # A watermark jump past both timers may fire this one first: decide before forgetting.
        yield from self._decide(ts, article_state, reports, decided)
        for state in (article_state, reports, decided):
            state.clear()

    def _decide(self, ts, article_state, reports, decided):
        known = article_state.read()
        if known is None:  # reports about an article whose own element expired or never came
            return
        article, node = known
        story, is_canonical, similarity = story_of(node, (reports.read() or {}).get(node["sha"], {}), self.config)
        previous = decided.read()
        if previous is not None and (previous.sha, previous.story_id, previous.is_canonical) == (node["sha"], story, is_canonical):
            return
        kind = "new" if previous is None else "update" if previous.sha != node["sha"] else "correction"
        Metrics.counter("streaming", f"rows_{kind}").inc()
        decided.write(Decided(node["sha"], story, is_canonical, similarity))
        fields = StoryFields(story_id=story, is_canonical=is_canonical, similarity=similarity)
        row_at = from_epoch_seconds(float(ts))
        yield {**article, **fields, "row_kind": kind, "row_at": row_at}
        yield beam.pvalue.TaggedOutput(INDEX, {**index_row(article, node, fields, self.config), "row_at": row_at})
        if previous is not None and previous.story_id != story:
            yield beam.pvalue.TaggedOutput(MEMBERSHIP, (previous.story_id, ("leave", article["article_id"])))
        yield beam.pvalue.TaggedOutput(MEMBERSHIP, (story, ("join", member_info(article, node))))


@beam.typehints.with_input_types(Tuple[str, Any])
class _StoryState(beam.DoFn):
    """Stage 3, keyed by story id: membership changes -> a stories row whenever it changes."""

    MEMBERS = ReadModifyWriteStateSpec("members", _STATE)
    LAST = ReadModifyWriteStateSpec("last", _STATE)
    EMIT = TimerSpec("emit", TimeDomain.WATERMARK)
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, key=beam.DoFn.KeyParam, members=beam.DoFn.StateParam(MEMBERS),
                last=beam.DoFn.StateParam(LAST), emit=beam.DoFn.TimerParam(EMIT), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, (change, value) = item
        current = members.read() or {}
        if change == "leave":
            current.pop(value, None)
        else:
            current[value["id"]] = value
        members.write(current)
        if change == "seed":  # the backfill wrote this story's row already: a row when it changes
            last.write(story_row(key, [m for m in current.values() if m.get("seeded")]))
        else:
            emit.set(ts)
        expiry.set(ts + self.ttl_s)

    @on_timer(EMIT)
    def on_emit(self, ts=beam.DoFn.TimestampParam, key=beam.DoFn.KeyParam, members=beam.DoFn.StateParam(MEMBERS),
                last=beam.DoFn.StateParam(LAST)):
        yield from self._emit(ts, key, members, last)

    @on_timer(EXPIRY)
    def on_expiry(self, ts=beam.DoFn.TimestampParam, key=beam.DoFn.KeyParam, members=beam.DoFn.StateParam(MEMBERS),
                  last=beam.DoFn.StateParam(LAST)):
        yield from self._emit(ts, key, members, last)
        members.clear()
        last.clear()

    @staticmethod
    def _emit(ts, key, members, last):
        row = story_row(key, list((members.read() or {}).values()))
        if row != last.read():
            last.write(row)
            yield {**row, "row_at": from_epoch_seconds(float(ts))}


# ---------------------------------------------------------------------------- composites


class AssignStories(beam.PTransform):
    """Articles (timestamped with their arrival) -> (articles rows, stories rows, story-index rows,
    failures), the outputs of batch's ``DetectReprints``.

    Rows carry ``row_kind`` and ``row_at`` (see ``schemas.tables``).  ``prior_index``: the
    ``story_index`` rows of a backfill (a bounded PCollection) to start from, loaded at event time
    ``seed_at``: its articles and stories are known from the start (no rows for them until they
    change) and remembered for ``ttl_s``."""

    def __init__(self, config: DedupConfig = DedupConfig(), ttl_s: float = 7 * 86400, prior_index=None,
                 seed_at: Optional[float] = None):
        super().__init__()
        if prior_index is not None and seed_at is None:
            raise ValueError("a prior index needs seed_at (the event time the stream starts at)")
        self.config, self.ttl_s, self.prior_index, self.seed_at = config, ttl_s, prior_index, seed_at

    def expand(self, articles):
        config = self.config
        arrivals = [
            articles
            | "Global" >> beam.WindowInto(GlobalWindows())
            | "Fingerprint" >> beam.Map(lambda a: ("article", a, stream_node(a, config)))
        ]
        if self.prior_index is not None:
            seeds = self.prior_index | "Seeds" >> _Seeds(config, self.seed_at)
            arrivals.append(seeds | "SeedArrivals" >> beam.Map(lambda seed: ("seed", seed)))
        if len(arrivals) > 1:
            arrivals = [arrivals | "Arrivals" >> beam.Flatten()]
        # (one stream of arrivals: on the DirectRunner a Flatten right before a stateful step lets
        # the steps after it see the watermark pass an element that step has not yet processed)
        claimed = (
            arrivals[0]
            | "ByUrl" >> beam.Map(lambda arrival: (home_id(_arrival_node(arrival)), arrival)).with_output_types(Tuple[str, Any])
            | "Urls" >> beam.ParDo(_UrlState(self.ttl_s)).with_outputs(FAILED, main="arrivals")
        )
        bands = (
            claimed.arrivals
            | "ByBand" >> beam.FlatMap(_band_inputs, config).with_output_types(Tuple[bytes, Any])
            | "Bands" >> beam.ParDo(_BandState(config, self.ttl_s)).with_outputs(FOLLOWS, main="reports")
        )
        demotions = (
            [bands[FOLLOWS], bands.reports, claimed.arrivals | "SeedFollows" >> beam.FlatMap(_seed_follows)]
            | "FollowInputs" >> beam.Flatten().with_output_types(Tuple[str, Any])
            | "Followers" >> beam.ParDo(_FollowerState(config, self.ttl_s))
        )
        decided = (
            [claimed.arrivals | "ById" >> beam.Map(_article_input), bands.reports, demotions]
            | "ArticleInputs" >> beam.Flatten().with_output_types(Tuple[str, Any])
            | "Articles"
            >> beam.ParDo(_ArticleState(config, self.ttl_s))
            .with_outputs(MEMBERSHIP, INDEX, main="rows")
        )
        decided[MEMBERSHIP].element_type = Tuple[str, Any]  # a tagged output has no type hint of its own
        stories = decided[MEMBERSHIP] | "Stories" >> beam.ParDo(_StoryState(self.ttl_s))
        return decided.rows, stories, decided[INDEX], claimed[FAILED]


class _Seeds(beam.PTransform):
    """Story-index rows -> a ``Seed`` per article (its latest row of this fingerprint version),
    timestamped ``seed_at``."""

    def __init__(self, config: DedupConfig, seed_at: float):
        super().__init__()
        self.config, self.seed_at = config, seed_at

    def expand(self, rows):
        version, seed_at = self.config.fingerprint_version, self.seed_at
        return (
            rows
            | "Compatible" >> beam.Filter(lambda r: r["fingerprint_version"] == version)
            | "ByArticle" >> beam.Map(lambda r: (r["article_id"], r))
            | "Versions" >> beam.GroupByKey()
            | "Latest" >> beam.MapTuple(lambda article_id, held: (article_id, max(held, key=index_order)))
            | "ByStory" >> beam.MapTuple(lambda _, r: (r["story_id"], r))
            | "Stories" >> beam.GroupByKey()
            | "Seed" >> beam.FlatMapTuple(lambda _, members: story_seeds(list(members)))
            | "At" >> beam.Map(lambda seed: TimestampedValue(seed, seed_at))
        )


def _arrival_node(arrival: tuple) -> dict:
    """The node of an arriving article or a seed."""
    return arrival[2] if arrival[0] == "article" else arrival[1].node


def _band_inputs(arrival: tuple, config: DedupConfig):
    """(band key, (node, seeded)) for each LSH band key of an arriving article or a seed."""
    seeded = None if arrival[0] == "article" else not arrival[1].decided.is_canonical
    node = _arrival_node(arrival)
    for key in sorted(band_keys(node, config)):
        yield key.to_bytes(8, "big"), (node, seeded)


def _article_input(arrival: tuple) -> tuple:
    if arrival[0] == "article":
        _, article, node = arrival
        return article["article_id"], ("article", article, node)
    return arrival[1].node["id"], ("seed", *arrival[1])


def _seed_follows(arrival: tuple):
    """A seeded member follows its canonical (it re-decides if the canonical becomes a member)."""
    if arrival[0] != "seed":
        return
    seed = arrival[1]
    for report in seed.reports:
        yield report.node["id"], ("follower", report.node, seed.node["id"], seed.node["sha"], report.jaccard)
