"""Passage reuse in the batch job: which passages of each article other stories hold.

    *_, members, records = articles | DetectReprints(dedup_config, prior_index, reuse_config)
    reuse_rows, index_rows = (records, members) | DetectReuse(dedup_config, reuse_config, prior_passages)

The rules are in ``transforms.dedup.passages``; this is the Beam wiring.  Like the stories, every
article's reuse set is decided again in every run over the passage index's latest rows and this
run's articles, with each article's story as ``DetectReprints`` decided it (its ``members``), so
the sets are those of one run over all the articles, whatever their order and split into runs;
rows are written only for the sets that changed.

1. *Records*: this run's articles are cut into units and sampled seeds (``passage_records``, in
   ``DetectReprints``' fingerprinting step, from the same tokens).
2. *Holders*: every clustered article with its record (this run's, else the index's) and story,
   to its id's shard; its seeds go to their seed shard.
3. *Shared seeds*: per seed, the articles of different stories holding it; each (article, other
   story) pair's shared seeds go to the article's shard.
4. *Pick pairs*: there, with the article's record, only the pairs in which it holds a unit or a
   paragraph can lend it a passage: its holder goes on with them (and the holders of their
   sources are sent to its shard); an article with no such pair has no reuse, decided there.
5. *Decide*: each remaining article's units held by older stories' articles (``reuse_rows``);
   every set is compared with the digest the index holds.
"""

import apache_beam as beam

from transforms.dedup import passages
from transforms.dedup.batch import BatchByShard, PoolStep, batch_rows
from transforms.dedup.passages import ReuseConfig
from transforms.dedup.rules import DedupConfig


class DetectReuse(beam.PTransform):
    """(records, members) -> (``reuse`` rows, ``passage_index`` rows).

    ``records``, ``members``: ``DetectReprints``' last two outputs; ``prior_passages``: an optional PCollection of
    the ``passage_index`` rows earlier runs wrote (rows of another ``passage_version`` are ignored)."""

    def __init__(self, config: DedupConfig, reuse: ReuseConfig, prior_passages=None):
        super().__init__()
        self.config, self.reuse, self.prior_passages = config, reuse, prior_passages

    def expand(self, inputs):
        records, members = inputs
        config, reuse, shards = self.config, self.reuse, self.config.lsh_shards
        pipeline, version = records.pipeline, reuse.passage_version
        prior = self.prior_passages if self.prior_passages is not None else pipeline | "NoPrior" >> beam.Create([])
        prior_batches = (
            prior
            | "CompatiblePrior" >> beam.Filter(lambda r: r["passage_version"] == version)
            | "PriorByShard" >> beam.ParDo(BatchByShard(lambda r: r["article_id"], shards, folder=config.spill_dir))
        )
        holders = (
            {"new": records, "prior": prior_batches, "members": members}
            | "JoinHolders" >> beam.CoGroupByKey()
            | "Holders" >> beam.ParDo(PoolStep(passages.holders_of, config, reuse)).with_outputs("holders", "postings")
        )
        matches = (
            holders.postings
            | "GroupSeeds" >> beam.GroupByKey()
            | "SharedSeeds" >> beam.ParDo(PoolStep(passages.shared_seeds, config, reuse))
        )
        picked = (
            {"holders": holders.holders, "matches": matches}
            | "JoinMatches" >> beam.CoGroupByKey()
            | "PickPairs" >> beam.ParDo(PoolStep(passages.pick_pairs, config, reuse)).with_outputs(
                "targets", "requests", "index", main="rows"
            )
        )
        sources = (
            {"holders": holders.holders, "requests": picked.requests}
            | "JoinRequests" >> beam.CoGroupByKey()
            | "SendHolders" >> beam.ParDo(PoolStep(passages.send_holders, config, reuse))
        )
        decided = (
            {"targets": picked.targets, "sources": sources}
            | "JoinSources" >> beam.CoGroupByKey()
            | "Decide" >> beam.ParDo(PoolStep(passages.decide_reuse, config, reuse)).with_outputs("index", main="rows")
        )
        return (
            (picked.rows, decided.rows) | "ReuseBatches" >> beam.Flatten() | "ReuseRows" >> beam.FlatMap(batch_rows),
            (picked.index, decided.index) | "IndexBatches" >> beam.Flatten() | "IndexRows" >> beam.FlatMap(batch_rows),
        )


class RecordPassages(beam.PTransform):
    """Streaming: ``articles`` rows -> ``passage_index`` rows of the new and updated articles (their
    records; no reuse set yet).  The stream decides no reuse: the next batch or watch run on its
    output decides every article's reuse again, the streamed ones included."""

    def __init__(self, reuse: ReuseConfig):
        super().__init__()
        self.reuse = reuse

    def expand(self, rows):
        return (
            rows
            | "NewContent" >> beam.Filter(lambda row: row.get("row_kind") in ("new", "update"))
            | "Record" >> beam.FlatMap(lambda row, reuse: passages.index_rows([row], reuse), self.reuse)
        )
