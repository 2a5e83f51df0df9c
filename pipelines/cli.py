"""``newsbeam`` command line.

    newsbeam [batch] [--input ...] [--output ...] [--config ...] [beam flags]   one run over everything given
    newsbeam watch [--interval 60 | --once] [same flags]                        incremental runs over what is new
    newsbeam stream --pubsub_subscription ... --feed ... --output gs://... --runner=DataflowRunner   unbounded job
    newsbeam sql --output out "select ..."                                      query the current state
    newsbeam report --output out [--since DATE] [--to FILE.html]                one HTML page of what was found
"""

import importlib
import sys

importlib.import_module("transforms")  # first: it quiets Beam's import-time GCP warning

from pipelines.runners import memory  # noqa: E402

COMMANDS = {
    "batch": "pipelines.batch", "watch": "pipelines.watch", "stream": "pipelines.stream", "sql": "pipelines.current",
    "repair": "pipelines.repair", "report": "pipelines.report",
}
BOUNDED = ("batch", "watch")


def main(argv=None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "batch"
    return run_command(command, argv, from_command_line)


def run_command(command: str, argv: list, from_command_line: bool = False) -> int:
    """Run one command; a configuration error, or an output another run is writing, exits 2
    with its message."""
    if from_command_line and command in BOUNDED:
        memory.restart_keeping_freed_memory(argv)  # in-process runs: see pipelines.runners.memory
    module = importlib.import_module(COMMANDS[command])  # after the restart: it imports Beam
    from pipelines.config import ConfigError
    from pipelines.lease import LeaseHeld, LeaseLost
    from pipelines.runstate import StateError

    try:
        return module.main(argv)
    except (ConfigError, LeaseHeld, LeaseLost, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
