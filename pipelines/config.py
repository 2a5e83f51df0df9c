"""Run configuration (YAML and flags), validated at start-up.

Each top-level section maps onto a frozen dataclass owned by the stage that uses it; unknown
keys, wrongly typed values and values out of range are errors that name the offending key, and
flags that are neither ours nor Beam's are errors with a hint.
"""

import argparse
import dataclasses
import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Optional, get_type_hints

import yaml

from transforms.dedup.passages import ReuseConfig
from transforms.dedup.rules import DedupConfig
from transforms.extract.articles import ExtractConfig
from transforms.fetch.client import FetchConfig
from transforms.settings import check_ranges, setting


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SourcesConfig:
    html: tuple = ()  # globs or folders of HTML files (.html, .htm, optionally .gz)
    warc: tuple = ()  # globs of WARC/ARC files (.warc, .warc.gz, .arc.gz), e.g. CC-NEWS
    feeds: tuple = ()  # RSS/Atom feed URLs; their new entries are fetched
    url_lists: tuple = ()  # globs of text files with one URL per line (# comments allowed)

    def fetches(self) -> bool:
        return bool(self.feeds or self.url_lists)


@dataclass(frozen=True)
class OutputConfig:
    root: str = "out"
    shards: int = setting(1, at_least=1)  # files per table partition; raise for large runs so no worker writes all
    lease_wait_s: float = setting(0.0, at_least=0, infinite=True)  # wait for another run writing the output (--wait)

    def __post_init__(self):
        check_ranges(self, "output")


@dataclass(frozen=True)
class Config:
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    reuse: ReuseConfig = field(default_factory=ReuseConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def _coerce(value: Any, expected: type, key: str) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in (tuple, frozenset) and isinstance(value, (list, tuple)):
        return expected(value)
    if expected is Optional[str] and (value is None or isinstance(value, str)):
        return value
    if isinstance(expected, type) and isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"config key '{key}' must be {getattr(expected, '__name__', expected)}, got {value!r}")


def _build(cls: type, values: Any, prefix: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{prefix or 'top level'}' must be a mapping, got {type(values).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key '{prefix}{key}' (known: {', '.join(sorted(known))})")
    kwargs = {}
    for key, value in values.items():
        expected = hints[key]
        if dataclasses.is_dataclass(expected):
            kwargs[key] = _build(expected, value, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, expected, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a stage's own validation (e.g. fetch.max_workers must be >= 1)
        raise ConfigError(str(exc)) from exc


def parse_config(text: str) -> Config:
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config is not valid YAML: {exc}") from exc
    return _build(Config, values, "")


SUBCOMMANDS = ("batch", "watch", "stream", "sql", "repair", "report")


def check_beam_args(beam_args: list, our_flags: list) -> None:
    """Raise ConfigError for a flag that is neither one of ``our_flags`` nor a Beam pipeline
    option (with the closest known one), and for a stray word (a subcommand out of place)."""
    from apache_beam.options.pipeline_options import (
        PipelineOptions,
        _BeamArgumentParser,
    )

    runner_flag = argparse.ArgumentParser(add_help=False)
    runner_flag.add_argument("--runner", default="")
    runner = runner_flag.parse_known_args(beam_args)[0].runner
    if "." in runner:  # a runner class path, e.g. pipelines.runners.dask_runner.DaskRunner: its options
        try:
            importlib.import_module(runner.rsplit(".", 1)[0])
        except ImportError as exc:
            raise ConfigError(f"--runner={runner}: {exc}") from exc
    parser = _BeamArgumentParser(allow_abbrev=False)
    for options in {str(cls): cls for cls in PipelineOptions.__subclasses__()}.values():
        options._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(beam_args)
    for arg in unknown:
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            close = difflib.get_close_matches(name, [*our_flags, *parser._option_string_actions], n=1)
            raise ConfigError(f"unknown flag {name}" + (f" (did you mean {close[0]}?)" if close else ""))
        hint = f": subcommands go first (newsbeam {arg} ...)" if arg in SUBCOMMANDS else ""
        raise ConfigError(f"unexpected argument {arg!r}{hint}")


def load_config(path: Optional[str]) -> Config:
    """The configuration in ``path`` (read through FileSystems), or the defaults when None."""
    if path is None:
        return Config()
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path) as handle:
            return parse_config(handle.read().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
