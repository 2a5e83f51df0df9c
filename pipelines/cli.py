"""``newsbeam`` command line.

    newsbeam [batch] [--input ...] [--output ...] [--config ...] [beam flags]   one run over everything given
    newsbeam watch [--interval 60 | --once] [same flags]                        incremental runs over what is new
    newsbeam stream --pubsub_subscription ... --feed ... --output gs://... --runner=DataflowRunner   unbounded job
"""

import importlib
import sys

importlib.import_module("transforms")  # first: it quiets Beam's import-time GCP warning

COMMANDS = {"batch": "pipelines.batch", "watch": "pipelines.watch", "stream": "pipelines.stream"}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "batch"
    return importlib.import_module(COMMANDS[command]).main(argv)


if __name__ == "__main__":
    sys.exit(main())
