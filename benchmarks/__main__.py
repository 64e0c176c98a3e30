"""``python -m benchmarks``: run every scenario against a separate emulator process, print a
markdown table and (with ``--out``) write every number as JSON. ``--quick`` is the CI smoke
size (under a minute); it asserts nothing about times."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from aimusic_async import __version__

from . import batch, memory, overhead, polling, scaling
from ._table import render

SCENARIOS = ("overhead", "batch", "memory", "polling", "scaling")

# name: (full size, quick size)
SIZES: dict[str, tuple[float, float]] = {
    "overhead_n": (2000, 300),
    "overhead_concurrency": (50, 20),
    "overhead_rate": (1000.0, 1000.0),
    "reps": (5, 1),
    "batch_n": (1000, 100),
    "batch_concurrency": (128, 64),
    "memory_n": (10_000, 1000),
    "polling_n": (400, 60),
    "polling_spread": (10.0, 1.5),
    "scaling_rate": (100.0, 200.0),
    "scaling_concurrency": (512, 512),
}
# Batch sizes of the scaling scenario: (full, quick).
SCALING_SIZES = ([1000, 5000, 20000], [100, 300])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run under a minute")
    p.add_argument("--out", metavar="FILE.json", help="write all results as JSON here")
    p.add_argument(
        "--update-readme",
        action="store_true",
        help="put the table into benchmarks/README.md (between its results markers)",
    )
    p.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    p.add_argument("--seed", type=int, default=7, help="emulator seed (same draws every run)")
    p.add_argument(
        "--scale",
        type=float,
        default=0.01,
        help="time scale: generation times and every poll interval are real ones times this "
        "(default 0.01: 0.5-2 s stands for 50-200 s)",
    )
    p.add_argument("--gen", type=float, nargs=2, default=(0.5, 2.0), metavar=("MIN", "MAX"))
    p.add_argument("--batch-rate", type=float, default=50.0, help="emulator create limit (/s)")
    p.add_argument("--batch-burst", type=float, default=5.0, help="create bucket size")
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="write a CPU-time profile (cProfile) of one more SDK overhead run to FILE",
    )
    p.add_argument(
        "--no-overhead-diagnostics",
        dest="overhead_diagnostics",
        action="store_false",
        help="skip scenario 1's variance diagnostics (instrumented loop, GC frozen, seeded "
        "jitter, pinned CPUs)",
    )
    p.add_argument(
        "--poll-fixed",
        type=float,
        nargs="+",
        metavar="S",
        help="fixed polling intervals to compare, real seconds (default: 5 15 20)",
    )
    p.add_argument(
        "--poll-knob",
        metavar="FIELD",
        help=f"the PollPolicy field of the lag-target knob (default: {polling.KNOB_FIELD}; its "
        "variants are skipped with a note while PollPolicy lacks it)",
    )
    p.add_argument(
        "--poll-knob-values",
        type=float,
        nargs="*",
        metavar="S",
        help="the knob's settings, real seconds (default: "
        + " ".join(f"{v:g}" for v in polling.KNOB_SETTINGS)
        + "; none to leave the knob out)",
    )
    p.add_argument(
        "--poll-policy",
        action="append",
        default=[],
        metavar="LABEL:FIELD=V[,FIELD=V]",
        help="one more SDK point on the polling curve: PollPolicy fields over the defaults, "
        "real seconds (durations are scaled); repeatable",
    )
    p.add_argument(
        "--scaling-sizes",
        type=int,
        nargs="+",
        metavar="N",
        help="batch sizes of the scaling scenario (default 1000 5000 20000; quick 100 300)",
    )
    p.add_argument(
        "--scaling-no-downloads",
        dest="scaling_downloads",
        action="store_false",
        help="scaling scenario without download_dir (journal only)",
    )
    p.add_argument(
        "--scaling-budget",
        type=float,
        default=scaling.BUDGET_FACTOR,
        metavar="X",
        help="stop a size after X times its rate bound (n / rate) plus slack, and report the "
        "jobs done by then (default %(default)s)",
    )
    for name in SIZES:
        p.add_argument("--" + name.replace("_", "-"), type=float, dest=name, metavar="N")
    return p


def _size(args: argparse.Namespace, name: str) -> Any:
    given = getattr(args, name)
    full, quick = SIZES[name]
    value = given if given is not None else (quick if args.quick else full)
    return value if isinstance(full, float) else int(value)


def _poll_variants(args: argparse.Namespace) -> list[polling.PollVariant]:
    try:
        custom = [polling.parse_policy_spec(spec) for spec in args.poll_policy]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    # The smoke run keeps one knob setting and two fixed intervals: every code path, less time.
    knob = polling.KNOB_SETTINGS[1:2] if args.quick else polling.KNOB_SETTINGS
    fixed = (polling.FIXED_INTERVAL, polling.FIXED_INTERVALS[-1]) if args.quick else None
    return polling.variants(
        knob_field=args.poll_knob or polling.KNOB_FIELD,
        knob_settings=knob if args.poll_knob_values is None else args.poll_knob_values,
        fixed_intervals=args.poll_fixed or fixed or polling.FIXED_INTERVALS,
        custom=custom,
    )


README = Path(__file__).with_name("README.md")
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _update_readme(table: str) -> None:
    text = README.read_text(encoding="utf-8")
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{README} has no {START} ... {END} markers")
    README.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The SDK logs each 429 retry as a warning; the emulator counts them for the table instead.
    logging.getLogger("aimusic_async").addHandler(logging.NullHandler())
    chosen = args.only or list(SCENARIOS)
    gen = (float(args.gen[0]), float(args.gen[1]))
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "aimusic_async": __version__,
            "quick": args.quick,
            "seed": args.seed,
            "scale": args.scale,
        }
    }
    began = time.monotonic()
    for name in chosen:
        t0 = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        if name == "overhead":
            res = overhead.run(
                n=_size(args, "overhead_n"),
                concurrency=_size(args, "overhead_concurrency"),
                reps=_size(args, "reps"),
                rate=_size(args, "overhead_rate"),
                seed=args.seed,
                profile=args.profile,
                diagnostics=args.overhead_diagnostics,
            )
        elif name == "batch":
            res = batch.run(
                n=_size(args, "batch_n"),
                concurrency=_size(args, "batch_concurrency"),
                rate=args.batch_rate,
                burst=args.batch_burst,
                gen=gen,
                scale=args.scale,
                seed=args.seed,
            )
        elif name == "memory":
            res = memory.run(n=_size(args, "memory_n"), seed=args.seed)
        elif name == "polling":
            res = polling.run(
                n=_size(args, "polling_n"),
                spread=_size(args, "polling_spread"),
                gen=gen,
                scale=args.scale,
                seed=args.seed,
                chosen=_poll_variants(args),
            )
        else:
            res = scaling.run(
                sizes=args.scaling_sizes or SCALING_SIZES[1 if args.quick else 0],
                rate=_size(args, "scaling_rate"),
                burst=args.batch_burst,
                concurrency=_size(args, "scaling_concurrency"),
                gen=gen,
                scale=args.scale,
                seed=args.seed,
                downloads=args.scaling_downloads,
                budget_factor=args.scaling_budget,
            )
        res["elapsed_s"] = time.monotonic() - t0
        results[name] = res
    results["meta"]["elapsed_s"] = time.monotonic() - began
    table = render(results)
    print(table)
    if args.update_readme:
        _update_readme(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
