"""Every configuration value is checked at start-up: a value out of range stops the run with exit 2
and names ``section.key`` and the allowed range, before any page is read."""

import pytest

from pipelines.config import ConfigError, parse_config
from tests.support.cli import run_cli_here

BAD = [
    ("output:\n  shards: 0", "output.shards must be >= 1, got 0"),
    ("output:\n  shards: -3", "output.shards must be >= 1, got -3"),
    ("dedup:\n  lsh_shards: 0", "dedup.lsh_shards must be >= 1, got 0"),
    ("extract:\n  processes: -2", "extract.processes must be >= 0, got -2"),
    ("dedup:\n  processes: -1", "dedup.processes must be >= 0, got -1"),
    ("extract:\n  timeout_s: 0", "extract.timeout_s must be > 0, got 0.0"),
    ("dedup:\n  shingle_size: 0", "dedup.shingle_size must be >= 1, got 0"),
    ("extract:\n  min_words: -5", "extract.min_words must be >= 0, got -5"),
    ("dedup:\n  min_jaccard: 7", "dedup.min_jaccard must be >= 0 and <= 1, got 7.0"),
    ("fetch:\n  total_timeout_s: .nan", "fetch.total_timeout_s must be a finite number > 0, got nan"),
    ("fetch:\n  read_timeout_s: .inf", "fetch.read_timeout_s must be a finite number > 0, got inf"),
    ("output:\n  lease_wait_s: -1", "output.lease_wait_s must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m.split(" ")[0] for _, m in BAD])
def test_values_out_of_range_name_the_key_and_the_range(text, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert str(info.value) == message


def test_unbounded_waits_and_defaults_pass():
    assert parse_config("output:\n  lease_wait_s: .inf").output.lease_wait_s == float("inf")
    assert parse_config("").output.shards == 1


def test_the_cli_exits_2_before_reading_anything(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("output:\n  shards: 0\n", encoding="utf-8")
    code, _, stderr = run_cli_here("--sample", "--config", str(config), "--output", str(tmp_path / "out"))
    assert code == 2 and "output.shards must be >= 1, got 0" in stderr
    assert not (tmp_path / "out").exists()
    code, _, stderr = run_cli_here("--sample", "--wait", "-1", "--output", str(tmp_path / "out"))
    assert code == 2 and "output.lease_wait_s must be >= 0" in stderr
