"""Beam helpers shared by the stages of both jobs."""

import apache_beam as beam


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
