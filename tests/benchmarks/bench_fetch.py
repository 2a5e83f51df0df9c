"""Fetch throughput against the politeness bound (hosts / per-host delay), loopback only.

Serves small pages from N loopback hosts (127.0.0.1..N, a separate process so the server
does not share the client's GIL), runs FetchPages over a finite URL list in a FnApiRunner
pipeline and prints pages/s, the bound and the ratio.  Prints figures, asserts nothing.

    python tests/benchmarks/bench_fetch.py [--hosts 20] [--pages 2000] [--delay 0.05]
"""

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import apache_beam as beam  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from tests.support.localweb import LocalWeb, Reply  # noqa: E402
from transforms.fetch.client import FetchConfig  # noqa: E402
from transforms.fetch.polite import FetchPages  # noqa: E402

PAGE = ("<html><head><title>Tin</title></head><body>" + "<p>Hà Nội hoà bình.</p>" * 200 + "</body></html>").encode()


def serve(hosts: int, ready, stop, report) -> None:
    web = LocalWeb(hosts=hosts, default=Reply(200, PAGE, {"Content-Type": "text/html; charset=utf-8"}))
    web.route("/robots.txt", Reply(404))
    ready.put([web.url("", host) for host in range(hosts)])
    stop.wait()
    times = [hit.at for hit in web.hits]
    report.put((len(times), min(times), max(times)))
    web.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()

    ready, report, stop = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.hosts, ready, stop, report), daemon=True)
    server.start()
    bases = ready.get(timeout=30)
    entries = [
        {"url": f"{bases[i % args.hosts]}/article/{i}", "source": f"bench:{i}", "feed_url": None,
         "title": None, "published_at": None, "guid": None}
        for i in range(args.pages)
    ]
    config = FetchConfig(
        user_agent="news-reprints-bench/1.0",
        per_host_delay_s=args.delay,
        max_workers=args.hosts,
        allow_loopback=True,
    )
    started = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(runner="FnApiRunner")) as p:
        pages, failures = p | "Entries" >> beam.Create(entries) | "Fetch" >> FetchPages(config)
        counts = (
            (pages | "PageOnes" >> beam.Map(lambda _: ("pages", 1)),
             failures | "FailureOnes" >> beam.Map(lambda _: ("failures", 1)))
            | "Both" >> beam.Flatten()
            | "Count" >> beam.CombinePerKey(sum)
        )
        counts | "Print" >> beam.Map(lambda kv: print(f"{kv[0]}: {kv[1]}"))
    wall = time.monotonic() - started
    stop.set()
    requests, first, last = report.get(timeout=30)
    server.join(timeout=10)

    bound = args.hosts / args.delay
    fetch_span = last - first
    print(f"hosts={args.hosts} pages={args.pages} per_host_delay={args.delay}s requests={requests} (incl. robots.txt)")
    print(f"politeness bound: {bound:.0f} pages/s")
    print(f"fetch phase (server-side first..last request): {fetch_span:.2f}s -> {args.pages / fetch_span:.0f} pages/s "
          f"= {args.pages / fetch_span / bound:.0%} of bound")
    print(f"whole pipeline (incl. Beam start-up): {wall:.2f}s -> {args.pages / wall:.0f} pages/s "
          f"= {args.pages / wall / bound:.0%} of bound")


if __name__ == "__main__":
    main()
