"""Runs every pattern example against a Temporal frontend (Chronicle or Temporal) and prints each
result. Each example's main() runs its own worker on its own task queue.

    python examples/python/run_all.py [--address 127.0.0.1:7233] [--namespace default] [PATTERN ...]

Exits non-zero if any example fails."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from temporalio.client import Client  # noqa: E402

PATTERNS = ["child_workflows", "continue_as_new", "dynamic_selection", "saga"]


async def run(address: str, namespace: str, patterns: list[str]) -> int:
    client = await Client.connect(address, namespace=namespace)
    failed = []
    for name in patterns:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(importlib.import_module(name).main(client), timeout=120)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            print(f"FAILED {name}", flush=True)
            continue
        print(f"  result: {result}\n  ok ({time.monotonic() - started:.2f}s)", flush=True)
    summary = f"{len(patterns) - len(failed)}/{len(patterns)} examples passed"
    print(f"\n{summary}; failed: {failed}" if failed else f"\n{summary}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("patterns", nargs="*", metavar="PATTERN", help=f"any of {', '.join(PATTERNS)} (default: all)")
    args = parser.parse_args()
    if unknown := set(args.patterns) - set(PATTERNS):
        parser.error(f"unknown patterns {sorted(unknown)}; choose from {PATTERNS}")
    # The saga's activity failures are intentional; the worker would log each with a traceback.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    rc = asyncio.run(run(args.address, args.namespace, args.patterns or PATTERNS))
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: the SDK's Rust core threads occasionally crash (SIGSEGV) while
    # CPython finalizes, which would turn a passing run into a failing exit code.
    os._exit(rc)


if __name__ == "__main__":
    main()
