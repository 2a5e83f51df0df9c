"""The streaming job's "fetch only what is new": URLs seen within a TTL are dropped.

    entries = entries | FirstSeenUrls(ttl_s=7 * 86400)

Feeds repeat their entries at every poll; a URL seen again is expected, not a failure.  (Batch
and watch runs keep the same memory in their crawl state: ``transforms.fetch.crawl_state``.)
"""

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.transforms.window import GlobalWindows
from apache_beam.typehints import Any, Tuple


@beam.typehints.with_input_types(Tuple[str, Any])
class _FirstSeen(beam.DoFn):
    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s

    def process(self, item, ts=beam.DoFn.TimestampParam, seen=beam.DoFn.StateParam(SEEN),  # noqa: B008 -- Beam's idiom
                expiry=beam.DoFn.TimerParam(EXPIRY)):  # noqa: B008
        _, entry = item
        if seen.read():
            Metrics.counter("streaming", "urls_seen_before").inc()
            return
        seen.write(True)
        expiry.set(ts + self.ttl_s)
        yield entry

    @on_timer(EXPIRY)
    def on_expiry(self, seen=beam.DoFn.StateParam(SEEN)):  # noqa: B008 -- Beam's idiom
        seen.clear()


class FirstSeenUrls(beam.PTransform):
    """URL entries -> those whose URL was not seen in the last ``ttl_s`` of event time."""

    def __init__(self, ttl_s: float):
        super().__init__()
        self.ttl_s = ttl_s

    def expand(self, entries):
        return (
            entries
            | "Global" >> beam.WindowInto(GlobalWindows())
            | "ByUrl" >> beam.Map(lambda e: (e["url"], e)).with_output_types(Tuple[str, Any])
            | "FirstSeen" >> beam.ParDo(_FirstSeen(self.ttl_s))
        )
