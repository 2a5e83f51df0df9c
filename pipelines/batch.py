"""``newsbeam [batch]``: one run over everything given, safe to kill at any moment.

    python -m pipelines.batch --input 'pages/**/*.html' --output out --config configs/default.yaml

Runs the bounded job of ``pipelines.bounded`` inside the run lifecycle of ``pipelines.runstate``.
Any other flag is a Beam pipeline option (``--runner``, ``--direct_num_workers`` ...).  With no
arguments the job runs on the bundled sample.
"""

import sys

from pipelines import bounded, runstate
from pipelines.config import ConfigError
from pipelines.runners import dataflow, memory


def run(argv=None) -> dict:
    """Run the batch job to completion; returns the run summary."""
    config, run_ctx, options = bounded.prepare(argv)
    if dataflow.translated_only(options):
        return bounded.execute(config, run_ctx, options, runstate.load_state(run_ctx.output))
    state = runstate.begin_run(run_ctx.output, run_ctx.run_id)
    summary = bounded.execute(config, run_ctx, options, state)
    runstate.commit_run(run_ctx.output, run_ctx.run_id, state)
    return summary


def main(argv=None) -> int:
    try:
        summary = run(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(dataflow.format_translation(summary) if "translated_only" in summary else bounded.format_summary(summary))
    return 0


if __name__ == "__main__":
    memory.restart_keeping_freed_memory(sys.argv[1:])  # in-process runs: see pipelines.runners.memory
    sys.exit(main())
