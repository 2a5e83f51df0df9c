"""Local watch mode: small bounded runs, one every ``--interval`` seconds, over what is new.

    newsbeam watch --input incoming/ --feed https://... --output out --interval 60
    newsbeam watch --once ...        # one incremental run: what cron / Airflow call

Each round ingests the HTML and WARC files not ingested before and the new entries of the
feeds and URL lists; the state shared between rounds (ingested files, feed validators, settled
URLs) lives under ``<output>/_state``, the story index in ``<output>/story_index``.  Rounds use the kill-safe run
lifecycle of ``pipelines.runstate``: the loop can be killed and restarted at any moment
without losing or duplicating rows, and it holds the output's lease while it runs.
"""

import argparse
import sys
import time
from dataclasses import replace

from pipelines import bounded, lease, runstate
from transforms.sources.files import file_patterns
from transforms.sources.read import match_files


def matching_files(patterns) -> list:
    """Every file matching ``patterns`` (sorted, no duplicates), and every path a listing found but
    cannot read (a broken link, a folder it cannot list): a round reads it again for its failure row."""
    found = {item if isinstance(item, str) else item.value["source"] for item in match_files(list(patterns))}
    return sorted(found)


def watch_round(config, options, held) -> dict:
    """One incremental run over the files and web entries not ingested yet; None if nothing is new."""
    root = config.output.root
    sources = config.sources
    ingested = runstate.load_state(root).get("files", {})
    new_html = [p for p in matching_files(file_patterns(sources.html)) if p not in ingested] if sources.html else []
    new_warc = [p for p in matching_files(sources.warc) if p not in ingested] if sources.warc else []
    if not (new_html or new_warc or sources.fetches()):
        return None
    round_config = replace(config, sources=replace(sources, html=tuple(new_html), warc=tuple(new_warc)))
    run_ctx = runstate.new_run_context(root)
    state = runstate.begin_run(root, run_ctx.run_id)
    summary = bounded.execute(round_config, run_ctx, options, state)
    held.check()
    runstate.commit_run(root, run_ctx.run_id, state, [*new_html, *new_warc])
    return summary


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between rounds")
    parser.add_argument("--once", action="store_true", help="one round, then exit (for cron/Airflow)")
    parser.add_argument("--max-rounds", type=int, help="stop after this many rounds")
    return parser.parse_known_args(argv)


def main(argv=None) -> int:
    args, rest = parse_args(argv)
    config, run_ctx, options = bounded.prepare(rest, allow_empty_inputs=True)
    rounds = 1 if args.once else args.max_rounds
    done = 0
    with lease.hold_lease(config.output.root, f"watch-{run_ctx.run_id}", config.output.lease_wait_s) as held:
        while rounds is None or done < rounds:
            started = time.monotonic()
            summary = watch_round(config, options, held)
            done += 1
            print(bounded.format_summary(summary) if summary else "nothing new", flush=True)
            if rounds is None or done < rounds:
                time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    return 0


if __name__ == "__main__":
    from pipelines import cli

    sys.exit(cli.run_command("watch", sys.argv[1:], from_command_line=True))
