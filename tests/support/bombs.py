"""Decompression bombs built on the fly, and a fresh interpreter to read them in, so a test can
check that reading one stays in bounded memory without risking its own process."""

import json
import subprocess
import sys
import zlib

from tests.support.paths import REPO

MIB = 1 << 20


def bomb(size: int, encoding: str = "gzip") -> bytes:
    """``size`` bytes (whole MiBs) of HTML-looking filler in one ``gzip`` or (zlib) ``deflate``
    stream, at about 1/170 of that size."""
    block = b"<p>" + b" " * (MIB - 3)
    compressor = zlib.compressobj(1, zlib.DEFLATED, {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}[encoding])
    return b"".join([*(compressor.compress(block) for _ in range(size // MIB)), compressor.flush()])


def peak_growth(setup: str, work: str, timeout: float = 120) -> tuple[object, int]:
    """Run ``setup`` (imports, definitions), then evaluate the expression ``work`` in a fresh
    interpreter: (its value, which must be JSON-serialisable, and how many bytes the child's
    peak RSS grew by while evaluating it)."""
    script = "\n".join(
        [
            "import json, resource",
            setup,
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            f"value = {work}",
            "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before",
            "print(json.dumps([value, grown * 1024]))",  # ru_maxrss is in KiB on Linux
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    value, grown = json.loads(proc.stdout.splitlines()[-1])
    return value, grown
