"""URL-level dedup: one article per canonical URL (``article_id``), chosen deterministically."""

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.records import FAILED, failure

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
        outputs.append(beam.pvalue.TaggedOutput(FAILED, failure(dup["source"], "dedup", "DuplicateUrl", message)))
    return outputs


class DedupByUrl(beam.PTransform):
    """Articles -> (one article per ``article_id``, failures rows for the dropped copies)."""

    def expand(self, articles):
        results = (
            articles
            | "KeyById" >> beam.WithKeys(lambda a: a["article_id"])
            | "GroupById" >> beam.GroupByKey()
            | "KeepOne" >> beam.FlatMapTuple(self._keep).with_outputs(FAILED, main="articles")
        )
        return results.articles, results[FAILED]

    @staticmethod
    def _keep(article_id, copies):
        outputs = pick_representative(article_id, copies)
        Metrics.counter("dedup", "duplicate_urls").inc(len(outputs) - 1)
        return outputs

