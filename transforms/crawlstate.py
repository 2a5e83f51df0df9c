"""Crawl state shared by scheduled runs, so an hourly run fetches only what is new.

The state is one JSON document under the output root (``<root>/_state/crawl_state.json``)::

    {"validators": {feed_url: {"etag", "last_modified", "body_sha1"}},
     "seen": {canonical entry URL: first-seen ISO timestamp},
     "retry": {canonical entry URL: URL entry (JSON) whose fetch failed transiently}}

It is read and written through ``apache_beam.io.filesystems.FileSystems`` (local paths and
``gs://`` alike) and replaced atomically: written to a temporary name, then renamed over the
old file, so a crashed run leaves the previous state intact.  Everything else is pure.
"""

import json
import uuid
from datetime import datetime
from typing import Iterable

from apache_beam.io.filesystems import FileSystems

from transforms.urls import canonical_url

STATE_FILE = ("_state", "crawl_state.json")
VALIDATOR_KEYS = ("etag", "last_modified", "body_sha1")


def empty_state() -> dict:
    return {"validators": {}, "seen": {}, "retry": {}}


def state_path(root: str) -> str:
    return FileSystems.join(root, *STATE_FILE)


def load_state(root: str) -> dict:
    """The saved state under ``root``, or an empty one on the first run."""
    path = state_path(root)
    if not FileSystems.exists(path):
        return empty_state()
    with FileSystems.open(path) as handle:
        saved = json.loads(handle.read().decode("utf-8"))
    return {**empty_state(), **saved}


def save_state(root: str, state: dict) -> None:
    """Write ``state`` under ``root`` atomically (temporary file + rename)."""
    path = state_path(root)
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(state, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8"))
    FileSystems.rename([temporary], [path])


def seen_key(url: str) -> str:
    """What makes two entry URLs the same: the canonical URL (the raw one if not http(s))."""
    return canonical_url(url) or url


def is_new(entry: dict, seen) -> bool:
    """True when the entry's URL was not seen before."""
    return seen_key(entry["url"]) not in seen


def filter_new(entries: Iterable[dict], seen) -> list[dict]:
    """URL entries whose URL was not seen before (nor earlier in ``entries``), in input order."""
    fresh, taken = [], set()
    for entry in entries:
        key = seen_key(entry["url"])
        if key not in seen and key not in taken:
            taken.add(key)
            fresh.append(entry)
    return fresh


def remember(state: dict, feed_bodies: Iterable[dict], entries: Iterable[dict], now: datetime) -> dict:
    """A new state: the validators of ``feed_bodies`` (``FetchFeeds`` output) and the URLs of
    ``entries`` (pass those that must not be fetched again) marked seen at ``now``."""
    validators = dict(state["validators"])
    for body in feed_bodies:
        validators[body["feed_url"]] = {key: body.get(key) for key in VALIDATOR_KEYS}
    seen = dict(state["seen"])
    for entry in entries:
        seen.setdefault(seen_key(entry["url"]), now.isoformat())
    return {**state, "validators": validators, "seen": seen}


def forget_seen_before(state: dict, cutoff: datetime) -> dict:
    """A new state without URLs first seen before ``cutoff`` (keeps the state bounded)."""
    seen = {url: at for url, at in state["seen"].items() if datetime.fromisoformat(at) >= cutoff}
    return {**state, "seen": seen}
