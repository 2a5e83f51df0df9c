"""URL-level dedup: one article per canonical URL (``article_id``) and content, chosen deterministically.

Copies under one URL whose texts differ clearly (another ``content_sha1`` and under half of the
shorter text's word 3-grams in the other) are different articles that claim one URL, such as
pages whose canonical link names a shared page: each is kept, the first under the URL's id, the
others under the id of their source location (``metadata.article_id(None, source)``).
"""

import re
from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.extract.metadata import article_id as id_of
from transforms.records import FAILED, failure

_NEVER = datetime.max.replace(tzinfo=UTC)
_WORD = re.compile(r"\w+")
_SHINGLE_WORDS = 3
_SAME_CONTENT = 0.5  # share of the shorter text's shingles found in the other


def representative_key(article: dict) -> tuple:
    """Sort key of the copy to keep: earliest published, then longest text, then smallest source."""
    return (article["published_at"] or _NEVER, -article["word_count"], article["source"])


def _shingles(text: str) -> set:
    words = _WORD.findall(text.casefold())
    return set(zip(*(words[i:] for i in range(_SHINGLE_WORDS))))


def same_content(a: dict, b: dict) -> bool:
    """The same text, or one mostly contained in the other (an edited, updated or cut copy)."""
    if a["content_sha1"] == b["content_sha1"]:
        return True
    shingles_a, shingles_b = _shingles(a["text"]), _shingles(b["text"])
    shorter = min(len(shingles_a), len(shingles_b))
    return shorter > 0 and len(shingles_a & shingles_b) >= _SAME_CONTENT * shorter


def pick_representative(article_id: str, copies) -> list:
    """The kept articles first (the first under ``article_id``, any of clearly other content under
    their source's id), then a ``failures`` row for every copy of a kept article's content."""
    kept, duplicates = [], []
    for copy in sorted(copies, key=representative_key):
        original = next((k for k in kept if same_content(k, copy)), None)
        if original is None:
            kept.append({**copy, "article_id": id_of(None, copy["source"])} if kept else copy)
        else:
            message = f"same canonical URL as {original['source']} (article {original['article_id']})"
            duplicates.append(beam.pvalue.TaggedOutput(FAILED, failure(copy["source"], "dedup", "DuplicateUrl", message)))
    return kept + duplicates


class DedupByUrl(beam.PTransform):
    """Articles -> (one article per ``article_id`` and content, failures rows for the dropped copies)."""

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
        Metrics.counter("dedup", "duplicate_urls").inc(sum(isinstance(o, beam.pvalue.TaggedOutput) for o in outputs))
        return outputs
