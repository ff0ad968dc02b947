"""The harness's own processes: `python -m synccash.bench.harness sandbox PORT | load SPEC`."""

from __future__ import annotations

import asyncio
import json
import sys


def main(argv: list[str]) -> None:
    """Serve the sandboxes on PORT, or run the load generator with a JSON SPEC."""
    match argv:
        case ["sandbox", port]:
            from synccash.bench.harness.stack import serve_sandbox  # noqa: PLC0415

            serve_sandbox(int(port))
        case ["load", spec]:
            from synccash.bench.harness.load import initiate  # noqa: PLC0415

            port_, token, first, count, connections, rate = json.loads(spec)
            result = asyncio.run(initiate(port_, token, first, count, connections, rate))
            print(json.dumps(result))  # the parent reads this line
        case _:
            raise SystemExit("usage: python -m synccash.bench.harness sandbox PORT | load SPEC")


if __name__ == "__main__":
    main(sys.argv[1:])
