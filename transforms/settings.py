"""Numeric settings with their allowed range, declared beside each config field and checked when
the config is built, so a wrong value stops a run at start-up with ``section.key`` and the range.

    @dataclass(frozen=True)
    class FetchConfig:
        max_workers: int = setting(32, at_least=1)

        def __post_init__(self):
            check_ranges(self, "fetch")
"""

import dataclasses
import math
from typing import Optional


def setting(default, *, at_least: Optional[float] = None, above: Optional[float] = None,
            at_most: Optional[float] = None, infinite: bool = False):
    """A config field with an allowed range (``infinite``: float('inf') is allowed)."""
    bounds = {"at_least": at_least, "above": above, "at_most": at_most, "infinite": infinite}
    return dataclasses.field(default=default, metadata={"bounds": bounds})


def _allowed(bounds: dict) -> str:
    low = f">= {bounds['at_least']}" if bounds["at_least"] is not None else (
        f"> {bounds['above']}" if bounds["above"] is not None else "")
    high = f"<= {bounds['at_most']}" if bounds["at_most"] is not None else ""
    return " and ".join(part for part in (low, high) if part) or "a number"


def check_ranges(config, section: str) -> None:
    """Raise ValueError for the first field of ``config`` outside its declared range."""
    for field in dataclasses.fields(config):
        bounds = field.metadata.get("bounds")
        if bounds is None:
            continue
        value = getattr(config, field.name)
        finite = not isinstance(value, float) or math.isfinite(value) or (bounds["infinite"] and value == math.inf)
        in_range = finite and not (
            (bounds["at_least"] is not None and value < bounds["at_least"])
            or (bounds["above"] is not None and value <= bounds["above"])
            or (bounds["at_most"] is not None and value > bounds["at_most"])
        )
        if not in_range:
            kind = "" if finite else "a finite number "
            raise ValueError(f"{section}.{field.name} must be {kind}{_allowed(bounds)}, got {value!r}")
