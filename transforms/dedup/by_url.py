"""URL-level dedup: one article per canonical URL (``article_id``) and content, chosen deterministically.

Copies under one URL that are versions of one article (``rules.same_content``) are one article:
the first by ``representative_key`` is kept, the others are ``DuplicateUrl`` failures.  Copies of
different content are different articles claiming one URL (a canonical link naming a shared
page, a URL reused for another story): each is kept, the first under the URL's id, the others
under their ``variant_id`` with ``url_article_id`` naming the URL's id.  Across runs
``clustering.reconcile`` applies the same rule between this run's articles and the story index.
"""

from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.dedup.fingerprints import fingerprints, variant_id
from transforms.dedup.rules import DedupConfig, same_content
from transforms.records import FAILED, failure

_NEVER = datetime.max.replace(tzinfo=UTC)


def representative_key(article: dict) -> tuple:
    """Sort key of the copy to keep: earliest published, then longest text, then smallest source."""
    return (article["published_at"] or _NEVER, -article["word_count"], article["source"])


def pick_representative(article_id: str, copies, config: DedupConfig = DedupConfig()) -> list:
    """The kept articles first (the first under ``article_id``, any of other content under its
    ``variant_id``), then a ``failures`` row for every other version of a kept article."""
    copies = sorted(copies, key=representative_key)
    if len({copy["content_sha1"] for copy in copies}) > 1:
        nodes = fingerprints(copies, config)
    else:  # one content: nothing to compare
        nodes = [{"sha": copy["content_sha1"]} for copy in copies]
    kept, duplicates = [], []
    for copy, node in zip(copies, nodes):
        original = next((k for k, kept_node in kept if same_content(kept_node, node)), None)
        if original is None:
            variant = {"article_id": variant_id(article_id, copy["content_sha1"]), "url_article_id": article_id}
            kept.append(({**copy, **variant} if kept else copy, node))
        else:
            message = f"same canonical URL as {original['source']} (article {original['article_id']})"
            duplicates.append(beam.pvalue.TaggedOutput(FAILED, failure(copy["source"], "dedup", "DuplicateUrl", message)))
    return [copy for copy, _ in kept] + duplicates


class DedupByUrl(beam.PTransform):
    """Articles -> (one article per ``article_id`` and content, failures rows for the dropped copies)."""

    def __init__(self, config: DedupConfig = DedupConfig()):
        super().__init__()
        self.config = config

    def expand(self, articles):
        results = (
            articles
            | "KeyById" >> beam.WithKeys(lambda a: a["article_id"])
            | "GroupById" >> beam.GroupByKey()
            | "KeepOne" >> beam.FlatMap(self._keep, self.config).with_outputs(FAILED, main="articles")
        )
        return results.articles, results[FAILED]

    @staticmethod
    def _keep(group, config):
        article_id, copies = group
        outputs = pick_representative(article_id, copies, config)
        dropped = sum(isinstance(o, beam.pvalue.TaggedOutput) for o in outputs)
        Metrics.counter("dedup", "duplicate_urls").inc(dropped)
        Metrics.counter("reprints", "url_variants").inc(len(outputs) - dropped - 1)
        return outputs
