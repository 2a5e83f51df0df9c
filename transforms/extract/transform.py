"""The extraction stage: raw pages -> articles (clean text and metadata with trafilatura).

    articles, failures = pages | Extract(ExtractConfig(timeout_s=30, processes=2))

Each page goes whole to one of ``processes`` extractor processes (``isolated``; 0 counts as 1),
which makes its article (``articles.extract_article``) within a wall-clock budget; the worker
only hands pages over and takes articles back, so with one extractor per core every core
extracts (a local run's default, ``pipelines.runners.memory.local_processes``).  Every page ends as an
article or a failures row with stage ``extract``.
"""

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.extract.articles import ExtractConfig
from transforms.extract.decode import PageRejected
from transforms.extract.isolated import IsolatedExtractor
from transforms.records import FAILED, failure
from transforms.windowing import in_window_of


class _ExtractFn(beam.DoFn):
    """Keeps its extractors busy: a page goes to an idle one, and when none is idle
    the answers that are in (at least one) are emitted, in the window of their page."""

    def __init__(self, config: ExtractConfig):
        self._config = config

    def setup(self):
        self._idle = [IsolatedExtractor(self._config) for _ in range(max(1, self._config.processes))]
        self._busy = {}  # extractor -> (source, window, timestamp) of its page

    def process(self, page, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        ready = self._collect(IsolatedExtractor.ready(list(self._busy))) if not self._idle else []
        extractor = self._idle.pop()
        extractor.submit(page)
        self._busy[extractor] = (page["source"], window, timestamp)
        yield from ready

    def finish_bundle(self):
        while self._busy:
            yield from self._collect(IsolatedExtractor.ready(list(self._busy)))

    def _collect(self, extractors: list) -> list:
        """The outputs of these busy extractors' pages, which become idle."""
        outputs = []
        for extractor in extractors:
            source, window, timestamp = self._busy.pop(extractor)
            self._idle.append(extractor)
            try:
                output = extractor.result()
                Metrics.counter("extract", "articles").inc()
            except PageRejected as exc:
                Metrics.counter("extract", f"failed_{exc.error_type}").inc()
                output = beam.pvalue.TaggedOutput(FAILED, failure(source, "extract", exc.error_type, str(exc)))
            outputs.append(in_window_of(output, timestamp, window))
        return outputs

    def teardown(self):
        for extractor in [*self._busy, *self._idle]:
            extractor.close()


class Extract(beam.PTransform):
    """Raw pages -> (articles, failures)."""

    def __init__(self, config: ExtractConfig = ExtractConfig()):
        super().__init__()
        self._config = config

    def expand(self, pages):
        results = pages | "ExtractPages" >> beam.ParDo(_ExtractFn(self._config)).with_outputs(FAILED, main="articles")
        return results.articles, results[FAILED]
