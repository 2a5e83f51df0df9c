"""WARC reading speed: FastWARC beside warcio on the same files, in one run.

    python tests/benchmarks/bench_warc.py [--pages 600] [--repeat 3] [--min-time 0.5]

Files: the real WARCs of ../shared/data/warc (a Common Crawl excerpt, plain and gzipped, and the
Wikipedia captures of the UKWA test suite; skipped with a note when absent), and a larger file
written here with warcio's writer into a temp folder, plain and gzipped (one gzip member per
record): ``--pages`` real article pages of ../shared/data/extraction/scrapinghub-aeb in Common
Crawl's layout, a request, a response and a metadata record per page.

For each file it times, alternating the two libraries in each round:

- raw: the library alone, every record iterated and its payload read (warcio: ``raw_stream``
  after the HTTP headers it parses; FastWARC: ``reader`` with ``parse_http=True``), no decoding;
- ours: ``iter_warc_pages`` end to end (RawPage and failure rows out, payloads de-chunked and
  decoded) with ``library="warcio"`` and ``library="fastwarc"`` (FastWARC for all but the last
  record, which warcio reads; see transforms/sources/warc.py), after checking both give the
  same rows.

Records/s counts every record of the file (skipped ones too), MB/s the stored (compressed) size.
Each figure is the best of ``--repeat`` rounds, a round repeating the file for at least
``--min-time`` seconds; the ratio is FastWARC's figure over warcio's.  It prints a table and
asserts nothing about timings.
"""

import argparse
import gzip
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fastwarc
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.paths import SHARED_DATA
from transforms.sources.warc import iter_warc_pages

WARC = SHARED_DATA / "warc"
REAL = [
    WARC / "resiliparse" / "tests" / "data" / "warcfile.warc",
    WARC / "resiliparse" / "tests" / "data" / "warcfile.warc.gz",
    WARC / "ukwa-webarchive-test-suite" / "wikipedia-sopa-blackout-2012" / "wikipedia-blackout" / "sopa-wikipedia-homepage.warc.gz",
    WARC / "ukwa-webarchive-test-suite" / "wikipedia-sopa-blackout-2012" / "wikipedia-post-blackout" / "main-page.warc.gz",
]
PAGES = SHARED_DATA / "extraction" / "scrapinghub-aeb"


def write_crawl(folder: Path, pages: int) -> list[Path]:
    """``pages`` real pages (cycling through the corpus) as request, response and metadata records,
    in a plain and a gzipped WARC."""
    gold = json.loads((PAGES / "ground-truth.json").read_text())
    files = sorted((PAGES / "html").glob("*.html.gz"))
    corpus = [(gold.get(f.name.split(".")[0], {}).get("url") or f"https://aeb.example/{f.name}", gzip.decompress(f.read_bytes())) for f in files]
    paths = [folder / "crawl.warc", folder / "crawl.warc.gz"]
    for path in paths:
        with open(path, "wb") as out:
            writer = WARCWriter(out, gzip=path.suffix == ".gz")
            writer.write_record(writer.create_warcinfo_record(path.name, {"software": "newsbeam bench_warc"}))
            for n in range(pages):
                url, body = corpus[n % len(corpus)]
                url = f"{url}{'&' if '?' in url else '?'}n={n}" if n >= len(corpus) else url
                request = StatusAndHeaders(f"GET {url} HTTP/1.1", [("Host", "aeb.example"), ("User-Agent", "newsbeam-bench/1.0"), ("Accept", "text/html")], is_http_request=True)
                writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=request))
                headers = [
                    ("Date", "Sun, 01 Nov 2026 08:30:00 GMT"),
                    ("Server", "nginx"),
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                    ("Cache-Control", "max-age=300, public"),
                    ("Vary", "Accept-Encoding"),
                    ("X-Cache", "HIT"),
                    ("Set-Cookie", f"session={n:08x}; Path=/; HttpOnly"),
                    ("Connection", "close"),
                ]
                response = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=response))
                metadata = f"fetchTimeMs: {n % 900 + 50}\r\ncharset-detected: UTF-8\r\n".encode()
                writer.write_record(writer.create_warc_record(url, "metadata", payload=io.BytesIO(metadata), warc_content_type="application/warc-fields"))
    return paths


def raw_warcio(path: Path) -> int:
    records = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            record.raw_stream.read()
            records += 1
    return records


def raw_fastwarc(path: Path) -> int:
    records = 0
    with open(path, "rb") as stream:
        for record in fastwarc.ArchiveIterator(stream, parse_http=True):
            record.reader.read()
            records += 1
    return records


def ours(library: str) -> Callable[[Path], int]:
    def read(path: Path) -> int:
        return sum(1 for _ in iter_warc_pages(str(path), path.name, library=library))

    return read


def timed(read: Callable[[Path], int], path: Path, min_time: float) -> float:
    """Seconds per pass over the file, passes repeated for at least ``min_time`` seconds."""
    passes, started = 0, time.perf_counter()
    while True:
        read(path)
        passes += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_time:
            return elapsed / passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=600, help="pages in the generated crawl (3 records each)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_warc_") as tmp:
        files = [p for p in REAL if p.exists()]
        if len(files) < len(REAL):
            print(f"note: {len(REAL) - len(files)} of the real WARCs are absent under {WARC} (see ../shared/data/README.md)")
        if (PAGES / "html").exists():
            files += write_crawl(Path(tmp), args.pages)
        else:
            print(f"note: {PAGES} is absent: no generated crawl (see ../shared/data/README.md)")
        if not files:
            sys.exit("no WARC to read")

        steps = {"raw": (raw_warcio, raw_fastwarc), "ours": (ours("warcio"), ours("fastwarc"))}
        print(f"{'file':<38} {'records':>7} {'MB':>7}  {'step':<4}  {'warcio rec/s':>12} {'MB/s':>7}  {'fastwarc rec/s':>14} {'MB/s':>7}  {'ratio':>6}")
        for path in files:
            records, size = raw_warcio(path), path.stat().st_size / 1e6
            same = [
                [{k: v for k, v in row.items() if k != "at"} for row in iter_warc_pages(str(path), path.name, library=library)]
                for library in ("warcio", "fastwarc")
            ]
            assert same[0] == same[1], f"{path.name}: the two libraries give different rows"
            for step, (slow, fast) in steps.items():
                best = [float("inf"), float("inf")]
                for _ in range(args.repeat):
                    for i, read in enumerate((slow, fast)):
                        best[i] = min(best[i], timed(read, path, args.min_time))
                rates = [records / seconds for seconds in best]
                print(
                    f"{path.name:<38} {records:>7} {size:>7.2f}  {step:<4}  {rates[0]:>12,.0f} {size / best[0]:>7.1f}  "
                    f"{rates[1]:>14,.0f} {size / best[1]:>7.1f}  {rates[1] / rates[0]:>5.2f}×"
                )


if __name__ == "__main__":
    main()
