"""``make bench``: run every part and write ``bench/results.json`` and ``bench/RESULTS.md``.

``results.json`` is keyed by input name at the top level (``results["phone12.jpg"]
["kitteh_ms"]``), as the targets and CI read it; the other top-level keys
(``machine``, ``coldstart``, ``targets``, ``stack``, ``resize_inputs``, ``formats``) never
collide with a file name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from bench import coldstart, formats, machine, report, resize, stack, targets
from bench.common import BENCH_DIR, INPUTS, find_convert


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__)
    p.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    p.add_argument(
        "--stack",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the stack benchmarks (LocalStack + PostgreSQL); --no-stack skips them",
    )
    p.add_argument("--out", default=str(BENCH_DIR), help="where results.json/RESULTS.md go")
    args = p.parse_args(argv)

    if find_convert() is None:
        print("real ImageMagick not found; run bench/setup.sh", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results: dict[str, Any] = {"machine": machine.describe(), "resize_inputs": args.inputs}
    print("resize:", file=sys.stderr)
    results.update(resize.run(tuple(args.inputs)))
    print("formats:", file=sys.stderr)
    results["formats"] = formats.run(tuple(args.inputs))
    print("cold start...", file=sys.stderr)
    results["coldstart"] = coldstart.run()
    results["stack"] = stack.run(args.stack)
    resize_rows = {name: results[name] for name in args.inputs}
    results["targets"] = targets.evaluate(resize_rows, results["coldstart"], results["stack"])
    results["targets"] += formats.evaluate(results["formats"])
    results["machine"]["loadavg_end"] = os.getloadavg()[0]
    results["machine"]["bench_seconds"] = round(time.perf_counter() - t0, 1)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "RESULTS.md"), "w", encoding="utf-8") as f:
        f.write(report.render(results, args.inputs))
    for t in results["targets"]:
        print(f"{t['status']:4}  {t['target']}: {t['detail']}", file=sys.stderr)
    print(
        f"wrote {args.out}/results.json and RESULTS.md in {results['machine']['bench_seconds']} s",
        file=sys.stderr,
    )
    broken = stack.failed(results["stack"])
    if broken:
        print(f"stack part(s) failed: {', '.join(broken)}; see results.json", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
