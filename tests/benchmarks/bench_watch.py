"""Watch-mode latency: from a file landing in the watched folder to its row in the articles table.

    python tests/benchmarks/bench_watch.py [--files 10] [--interval 1.0]

Starts ``newsbeam watch`` on a temporary folder, drops one page at a time and polls the
Parquet output; prints each latency and the median / max.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.test_watch import articles, start, wait_for, write_page  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10, help="at most 12")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        incoming, out = Path(tmp) / "incoming", Path(tmp) / "out"
        incoming.mkdir()
        proc = start(incoming, out, interval=args.interval)
        latencies = []
        args.files = min(args.files, 12)
        try:
            time.sleep(3)  # let the first (empty) round and Beam imports pass
            for i in range(args.files):
                landed = time.monotonic()
                write_page(incoming, i)
                wait_for(lambda: len(articles(out)) > i, timeout=120)
                latencies.append(time.monotonic() - landed)
                print(f"file {i}: {latencies[-1]:.2f} s")
        finally:
            proc.kill()
            proc.wait()
    print(f"latency file -> Parquet row: median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
          f"(poll interval {args.interval} s)")


if __name__ == "__main__":
    main()
