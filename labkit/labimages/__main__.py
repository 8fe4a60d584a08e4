"""`python -m labkit.labimages build [--dest DIR] [--no-reuse]` regenerates the shipped layout; `verify` checks it."""

from __future__ import annotations

import argparse
import sys


def main(argv: "list[str] | None" = None) -> int:
    """Run the build or verify command; return the exit status."""
    from . import LAYOUT_DIR

    parser = argparse.ArgumentParser(prog="python -m labkit.labimages")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the lab images into an OCI layout")
    b.add_argument("--dest", default=str(LAYOUT_DIR), help="layout directory (default: the shipped one)")
    b.add_argument("--no-reuse", action="store_true", help="compress every layer again (new gzip bytes)")
    v = sub.add_parser("verify", help="check a layout's configs against the recipes")
    v.add_argument("--dest", default=str(LAYOUT_DIR))
    args = parser.parse_args(argv)
    from . import build

    if args.command == "build":
        report = build.build(args.dest, reuse=not args.no_reuse)
        for line in report.lines():
            print(line)
        return 0
    problems = build.verify(args.dest)
    for line in problems:
        print(line, file=sys.stderr)
    print("ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
