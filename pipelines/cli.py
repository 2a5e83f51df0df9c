"""``newsbeam`` command line: ``newsbeam [batch] [--input ...] [--output ...] [--config ...] [beam flags]``."""

import sys

from pipelines import batch

COMMANDS = {"batch": batch.main}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "batch"
    return COMMANDS[command](argv)


if __name__ == "__main__":
    sys.exit(main())
