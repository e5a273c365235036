"""``python -m statuspage demo | env ...``"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m statuspage")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the page on an embedded PostgreSQL with a simulated engine")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--trade-every", type=float, default=4.0, metavar="SECONDS",
                      help="how often the simulated engine closes a trade (default 4)")
    sub.add_parser("env", help="check, snapshot and diff environment variables", add_help=False)
    if argv[:1] == ["env"]:
        from . import envtools

        return envtools.main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "demo":
        from . import demo as demo_module

        demo_module.run(args.port, args.trade_every)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
