"""URL-level dedup: one article per canonical URL (``article_id``), chosen deterministically."""

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import FAILURES, failure

_NEVER = datetime.max.replace(tzinfo=timezone.utc)


def representative_key(article: dict) -> tuple:
    """Sort key of the copy to keep: earliest published, then longest text, then smallest source."""
    return (article["published_at"] or _NEVER, -article["word_count"], article["source"])


def pick_representative(article_id: str, copies) -> list:
    """The kept article first, then a ``failures`` row for every other copy of the same URL."""
    ordered = sorted(copies, key=representative_key)
    kept = ordered[0]
    outputs = [kept]
    for dup in ordered[1:]:
        message = f"same canonical URL as {kept['source']} (article {article_id})"
        outputs.append(beam.pvalue.TaggedOutput(FAILURES, failure(dup["source"], "dedup", "DuplicateUrl", message)))
    return outputs


class DedupByUrl(beam.PTransform):
    """Articles -> (one article per ``article_id``, failures rows for the dropped copies)."""

    def expand(self, articles):
        results = (
            articles
            | "KeyById" >> beam.WithKeys(lambda a: a["article_id"])
            | "GroupById" >> beam.GroupByKey()
            | "KeepOne" >> beam.FlatMapTuple(self._keep).with_outputs(FAILURES, main="articles")
        )
        return results.articles, results[FAILURES]

    @staticmethod
    def _keep(article_id, copies):
        outputs = pick_representative(article_id, copies)
        Metrics.counter("dedup", "duplicate_urls").inc(len(outputs) - 1)
        return outputs


def story_rows(story_id: str, members: list) -> tuple[list, dict]:
    """Mark the canonical member (earliest published, then longest) and build the ``stories`` row."""
    members = sorted(members, key=lambda a: (a["published_at"] or _NEVER, -a["word_count"], a["article_id"]))
    canonical = members[0]
    articles = [{**a, "story_id": story_id, "is_canonical": a is canonical, "similarity": 1.0} for a in members]
    domains = sorted({a["domain"] for a in members if a["domain"]})
    story = {
        "story_id": story_id,
        "canonical_article_id": canonical["article_id"],
        "title": canonical["title"],
        "first_published_at": canonical["published_at"],
        "article_count": len(members),
        "domain_count": len(domains),
        "domains": domains,
    }
    return articles, story


class ExactStories(beam.PTransform):
    """Articles -> (articles with story fields, stories): identical normalised text = one story."""

    def expand(self, articles):
        grouped = (
            articles
            | "KeyByText" >> beam.WithKeys(lambda a: a["content_sha1"][:20])
            | "GroupByText" >> beam.GroupByKey()
            | "Stories" >> beam.MapTuple(lambda story_id, members: story_rows(story_id, list(members)))
        )
        return (
            grouped | "StoryArticles" >> beam.FlatMap(lambda pair: pair[0]),
            grouped | "StoryRows" >> beam.Map(lambda pair: pair[1]),
        )
