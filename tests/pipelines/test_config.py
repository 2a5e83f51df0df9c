
import pytest

from pipelines.config import Config, ConfigError, load_config, parse_config
from tests.support.paths import REPO


def test_default_yaml_matches_built_in_defaults():
    assert load_config(str(REPO / "configs" / "default.yaml")) == Config()


def test_values_are_typed_and_nested():
    config = parse_config("extract:\n  timeout_s: 5\n  min_words: 3\noutput:\n  shards: 4\nsources:\n  html: [a/*.html]\n")
    assert config.extract.timeout_s == 5.0 and config.extract.min_words == 3
    assert config.output.shards == 4 and config.sources.html == ("a/*.html",)


@pytest.mark.parametrize(
    "text, message",
    [
        ("extract:\n  timeot_s: 5\n", "unknown config key 'extract.timeot_s'"),
        ("bogus: 1\n", "unknown config key 'bogus'"),
        ("output:\n  shards: many\n", "config key 'output.shards' must be int"),
        ("extract:\n  favor_precision: 1\n", "config key 'extract.favor_precision' must be bool"),
        ("extract: [1, 2]\n", "config section 'extract.' must be a mapping"),
        ("extract: {\n", "not valid YAML"),
    ],
)
def test_invalid_configs_name_the_key(text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        parse_config(text)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("name", ["vietnam-feeds.yaml", "cc-news.yaml"])
def test_example_configs_are_valid(name):
    config = load_config(str(REPO / "configs" / name))
    assert config.sources.feeds or config.sources.warc
