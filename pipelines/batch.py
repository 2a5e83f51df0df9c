"""``newsbeam [batch]``: one run over everything given, safe to kill at any moment.

    python -m pipelines.batch --input 'pages/**/*.html' --output out --config configs/default.yaml

Runs the bounded job of ``pipelines.bounded`` inside the run lifecycle of ``pipelines.runstate``.
Any other flag is a Beam pipeline option (``--runner``, ``--direct_num_workers`` ...).  With no
arguments the job runs on the bundled sample.
"""

import sys

from pipelines import bounded, lease, runstate
from pipelines.runners import dataflow
from transforms.fetch import crawl_state


def run(argv=None) -> dict:
    """Run the batch job to completion; returns the run summary."""
    config, run_ctx, options = bounded.prepare(argv)
    if dataflow.translated_only(options):
        offline = not dataflow.reads_at_build(options, run_ctx.output)  # a dry run on gs:// reads no state
        state = crawl_state.empty_state() if offline else runstate.load_state(run_ctx.output)
        return bounded.execute(config, run_ctx, options, state)
    with lease.hold_lease(run_ctx.output, run_ctx.run_id, config.output.lease_wait_s) as held:
        run_ctx = runstate.new_run_context(run_ctx.output)  # row_at after any wait: later than the holder's rows
        state = runstate.begin_run(run_ctx.output, run_ctx.run_id)
        summary = bounded.execute(config, run_ctx, options, state)
        held.check()
        runstate.commit_run(run_ctx.output, run_ctx.run_id, state)
    return summary


def main(argv=None) -> int:
    summary = run(argv)
    print(dataflow.format_translation(summary) if "translated_only" in summary else bounded.format_summary(summary))
    return 0


if __name__ == "__main__":
    from pipelines import cli

    sys.exit(cli.run_command("batch", sys.argv[1:], from_command_line=True))
