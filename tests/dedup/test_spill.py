"""Shuffled batches in files (transforms/dedup/spill.py)."""

import os
import random

import apache_beam as beam

from tests.support.beam import stage_inputs
from tests.support.reprints import article
from transforms.dedup.batch import DetectReprints
from transforms.dedup.passages import ReuseConfig
from transforms.dedup.reuse import DetectReuse
from transforms.dedup.rules import DedupConfig
from transforms.dedup.spill import MIN_BYTES, Spilled, loaded, payload_bytes, spill_folder, spilled, spilling


def test_large_bytes_go_to_files_and_come_back_at_any_depth(tmp_path):
    big, small = os.urandom(MIN_BYTES), b"small"
    value = (7, [big, small, (big, {"not": "bytes"})])
    held = spilled(value, str(tmp_path))
    shard, (first, second, (third, row)) = held
    assert (shard, second, row) == (7, small, {"not": "bytes"})
    assert isinstance(first, Spilled) and isinstance(third, Spilled)
    assert len(list(tmp_path.iterdir())) == 1  # one file a call: creating files is what costs
    assert loaded(held) == (7, [big, small, (big, {"not": "bytes"})])
    assert spilled(value, None) is value


def test_a_grouped_input_is_read_back_whole(tmp_path):
    batches = [spilled(os.urandom(MIN_BYTES + i), str(tmp_path)) for i in range(3)]
    grouped = (5, {"new": iter(batches), "prior": iter([])})  # a CoGroupByKey's iterables
    assert loaded(grouped) == (5, {"new": [loaded(b) for b in batches], "prior": []})


def test_a_step_reads_its_input_back_and_spills_its_outputs(tmp_path):
    data = os.urandom(MIN_BYTES)

    def step(element, suffix):
        shard, batch = element
        return [("out", (shard, batch + suffix)), ("counters", {"seen": 1})]

    pairs = spilling(step, (3, spilled(data, str(tmp_path))), str(tmp_path), b"!")
    assert [tag for tag, _ in pairs] == ["out", "counters"] and isinstance(pairs[0][1][1], Spilled)
    assert loaded(pairs[0][1]) == (3, data + b"!") and pairs[1][1] == {"seen": 1}


def test_a_step_s_outputs_share_one_file_and_each_reads_back_alone(tmp_path):
    batches = [os.urandom(MIN_BYTES + i) for i in range(4)]
    pairs = spilling(lambda element: [("out", (shard, b)) for shard, b in enumerate(element)], batches, str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 1
    assert [loaded(value) for _, value in reversed(pairs)] == list(reversed(list(enumerate(batches))))
    assert spilling(lambda element: [("out", b"tiny")], None, str(tmp_path)) == [("out", b"tiny")]
    assert len(list(tmp_path.iterdir())) == 1  # nothing to spill: no file


def test_a_run_s_folder_is_removed_with_its_files_when_it_ends(tmp_path):
    with spill_folder(str(tmp_path)) as folder:
        spilled(os.urandom(MIN_BYTES), folder)
        assert len(os.listdir(folder)) == 1
    assert list(tmp_path.iterdir()) == []


def test_payload_bytes_count_spilled_values_as_their_files(tmp_path):
    big = os.urandom(MIN_BYTES * 2)
    grouped = (1, {"new": [spilled(big, str(tmp_path)), b"abc"], "prior": []})
    assert payload_bytes(grouped) == len(big) + 3


def test_an_in_process_run_with_a_spill_folder_holds_references_not_articles(tmp_path, monkeypatch):
    """What the FnApiRunner holds between the stages of DetectReprints and DetectReuse (every
    stage's input, which it keeps in memory and copies to send) stays a few hundred bytes an
    article: the articles, their rows, LSH entries and passage records are in the spill folder."""
    held = stage_inputs(monkeypatch)
    rng = random.Random(3)
    words = [f"w{n}" for n in range(5000)]
    texts = [" ".join(rng.choices(words, k=400)) for _ in range(250)]
    articles = [article(f"a{n}", texts[n % 200], n) for n in range(300)]  # 100 reprints
    with spill_folder(str(tmp_path)) as folder:
        config = DedupConfig(lsh_shards=2, spill_dir=folder)
        with beam.Pipeline(runner="FnApiRunner") as p:
            rows, *_, members, records = p | beam.Create(articles) | DetectReprints(config, None, ReuseConfig())
            reuse_rows, index_rows = (records, members) | DetectReuse(config, ReuseConfig())
            for n, table in enumerate((rows, reuse_rows, index_rows)):
                table | f"Drop{n}" >> beam.Map(lambda row: None)
    text_bytes = sum(len(a["text"]) for a in articles)
    stages = {name: size for name, size in held.items() if name.startswith(("DetectReprints/", "DetectReuse/"))}
    assert stages and max(stages.values()) < text_bytes / 10, stages
