"""Beam helpers shared by the stages of both jobs."""

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue


def in_window_of(output, timestamp, window):
    """``output`` (a value or a ``TaggedOutput``) with the timestamp and window of the element it
    came from: what a DoFn that keeps elements in flight emits for an earlier element, so no
    output takes the window of whichever element happens to be processed when it is ready."""
    if isinstance(output, TaggedOutput):
        return TaggedOutput(output.tag, WindowedValue(output.value, timestamp, [window]))
    return WindowedValue(output, timestamp, [window])


class FlattenInto(beam.PTransform):
    """Flatten PCollections of different windowing, each first put into ``windowfn`` (None: as
    they are, e.g. all in the batch job's global window)."""

    def __init__(self, windowfn=None):
        super().__init__()
        self.windowfn = windowfn

    def _extract_input_pvalues(self, pvalueish):  # a list of PCollections, as for Flatten
        return tuple(pvalueish), tuple(pvalueish)

    def expand(self, pcolls):
        if self.windowfn is not None:
            pcolls = [p | f"Window{i}" >> beam.WindowInto(self.windowfn) for i, p in enumerate(pcolls)]
        return pcolls | "Flatten" >> beam.Flatten()
