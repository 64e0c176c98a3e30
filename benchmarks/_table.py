"""The results as one markdown table (printed by the runner, pasted into the README)."""

from __future__ import annotations

from typing import Any

__all__ = ["render"]

# The targets (ratios measured in one run).
OVERHEAD_TARGET = 1.15
BATCH_TARGET = 1.05
SCALING_TARGET = 1.2


def _f(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _verdict(ok: bool | None, how: str) -> str:
    if ok is None:
        return how
    return ("met" if ok else "MISSED") + (f" ({how})" if how else "")


def _overhead(r: dict[str, Any]) -> list[list[str]]:
    ratio = r["ratio"]
    rows = [
        [
            f"1. overhead: {r['n']} lifecycles, concurrency {r['concurrency']}, "
            f"instant generation (median of {r['reps']})",
            "client CPU s / 1000 lifecycles",
            _f(r["sdk"]["cpu_s_per_1000"], 3),
            f"raw aiohttp loop: {_f(r['baseline']['cpu_s_per_1000'], 3)}",
            f"{_f(ratio)}x",
            f"<= {OVERHEAD_TARGET}x",
            _verdict(
                ratio <= OVERHEAD_TARGET, f"{(ratio / OVERHEAD_TARGET - 1) * 100:+.0f}% vs target"
            ),
        ],
        [
            "",
            "polls per task",
            _f(r["polls_per_task_sdk"]),
            f"raw: {_f(r['polls_per_task_baseline'])}",
            "",
            "equal",
            _verdict(r["polls_per_task_sdk"] == r["polls_per_task_baseline"], ""),
        ],
        [
            "",
            "wall s of that run (same polls, different schedule)",
            _f(r["sdk"].get("wall_s")) + _learned(r),
            f"raw: {_f(r['baseline'].get('wall_s'))}",
            "",
            "",
            "",
        ],
    ]
    if r["sdk"].get("spread"):
        rows.append(
            [
                "",
                f"spread of the {r['reps']} runs: min / median / max (CV)",
                _spread(r["sdk"]["spread"]),
                f"raw: {_spread(r['baseline']['spread'])}",
                "",
                "",
                "",
            ]
        )
    o = r.get("open_loop")
    if o:
        rows.append(
            [
                f"1b. same lifecycles arriving at {_f(o['rate'], 0)}/s (open loop: both sides "
                "idle and wake on one schedule)",
                "client CPU s / 1000 lifecycles",
                _f(o["sdk"]["cpu_s_per_1000"], 3),
                f"raw aiohttp loop: {_f(o['baseline']['cpu_s_per_1000'], 3)}",
                f"{_f(o['ratio'])}x",
                "(diagnostic)",
                "",
            ]
        )
        if o["sdk"].get("spread"):
            rows.append(
                [
                    "",
                    "spread (1b): min / median / max (CV)",
                    _spread(o["sdk"]["spread"]),
                    f"raw: {_spread(o['baseline']['spread'])}",
                    "",
                    "",
                    "",
                ]
            )
    rows.extend(_diagnostics(r.get("diagnostics")))
    return rows


def _spread(sp: dict[str, float]) -> str:
    return (
        f"{_f(sp['min'], 3)} / {_f(sp['median'], 3)} / {_f(sp['max'], 3)} "
        f"({_f(sp['cv'] * 100, 0)} %)"
    )


_DIAG_LABELS = {
    "instrumented": "counting event loop",
    "gc_frozen": "GC frozen and off",
    "seeded_jitter": "SDK poll jitter seeded",
    "pinned": "client and emulator pinned to one CPU each",
}


def _diagnostics(d: dict[str, Any] | None) -> list[list[str]]:
    """1c: the closed-loop comparison again under each diagnostic condition."""
    if not d:
        return []
    rows: list[list[str]] = []
    for key, label in _DIAG_LABELS.items():
        v = d.get(key)
        if v is None:
            continue
        title = "1c. variance diagnostics (closed loop again)" if not rows else ""
        if "skipped" in v:
            rows.append([title, label, "", f"skipped: {v['skipped']}", "", "", ""])
            continue
        rows.append(
            [
                title,
                f"{label}: CPU s / 1000, min / median / max (CV)",
                _spread(v["sdk"]["spread"]),
                f"raw: {_spread(v['baseline']['spread'])}",
                f"{_f(v['ratio'])}x",
                "(diagnostic)",
                "",
            ]
        )
    inst = d.get("instrumented")
    if inst and "sdk" in inst and inst["sdk"].get("counts"):

        def counts(c: dict[str, Any]) -> str:
            def one(key: str, name: str, digits: int = 2) -> str:
                item = c.get(key)
                if not item:
                    return ""
                corr = item["corr_with_cpu"]
                r = f", r={_f(corr)}" if corr is not None else ""
                return f"{name} {_f(item['per_lifecycle'], digits)}{r}"

            parts = [
                one("loop_iterations", "loop iterations"),
                one("loop_idle_selects", "idle selects"),
                one("loop_timers", "timers"),
                one("involuntary_switches", "preemptions"),
            ]
            share = c.get("gc_share_of_cpu")
            if share is not None:
                parts.append(f"GC {_f(share * 100, 1)} % of CPU")
            return "; ".join(p for p in parts if p)

        rows.append(
            [
                "",
                "per lifecycle (r: correlation with the run's CPU)",
                counts(inst["sdk"]["counts"]),
                f"raw: {counts(inst['baseline']['counts'])}",
                "",
                "",
                "",
            ]
        )
    pool = d.get("pooled")
    if pool and pool.get("sdk", {}).get("runs"):
        sdk, raw = pool["sdk"], pool["baseline"]
        window = sdk.get("learned_window_ms") or {}
        rows.append(
            [
                "",
                f"all {sdk['runs']} closed-loop runs: correlation of CPU with wall time / "
                "preemptions / learned window",
                f"{_f(sdk['corr_cpu_wall'])} / {_f(sdk['corr_cpu_preemptions'])} / "
                f"{_f(sdk.get('corr_cpu_window'))} (window {_f(window.get('min'), 1)}-"
                f"{_f(window.get('max'), 1)} ms; instant generation, "
                f"{_f(pool.get('pause_ms'), 0)} ms pause)",
                f"raw: {_f(raw['corr_cpu_wall'])} / {_f(raw['corr_cpu_preemptions'])} / "
                "(fixed pause)",
                "",
                "",
                "",
            ]
        )
    return rows


def _learned(r: dict[str, Any]) -> str:
    window = r["sdk"]["runs"][-1].get("learned_window_s") if r["sdk"].get("runs") else None
    if not window:
        return ""
    return f" (learned finish window {window[0] * 1000:.0f} +- {window[1] * 1000:.0f} ms)"


def _batch(r: dict[str, Any]) -> list[list[str]]:
    sdk = r["sdk"]
    title = (
        f"2. batch: {r['n']} jobs, {_f(r['rate'], 0)} starts/s (burst {_f(r['burst'], 0)}), "
        f"generation {r['generation_time'][0]}-{r['generation_time'][1]} s, "
        f"concurrency {r['concurrency']}"
    )
    ratio = sdk["ratio"]
    rows = [
        [
            title,
            "wall s",
            f"{_f(sdk['wall_s'])} ({sdk['finished']}/{r['n']} ok, "
            f"{_f(sdk['polls_per_task'], 1)} polls/task, {sdk['rate_limited']} 429s)",
            f"lower bound: {_f(sdk['lower_bound_s'])}",
            f"{_f(ratio)}x" if ratio is not None else "n/a",
            f"<= {BATCH_TARGET}x",
            _verdict(
                ratio is not None and ratio <= BATCH_TARGET,
                f"{(ratio / BATCH_TARGET - 1) * 100:+.0f}% vs target" if ratio else "jobs failed",
            ),
        ]
    ]
    rows.append(
        [
            "",
            "where the extra time went",
            f"last start at {_f(sdk['last_start_s'])} s (earliest possible "
            f"{_f(sdk['earliest_last_start_s'])}); start limiter mean "
            f"{_f(sdk.get('limiter_rate_mean'), 1)}/s; tail lag {_f(sdk['tail_lag_s'])} s",
            "",
            "",
            "",
            "",
        ]
    )
    for key, label in (
        ("official", "musicapi-sdk, thread pool"),
        ("official_paced", "musicapi-sdk, thread pool + hand-written pacer"),
    ):
        off = r.get(key)
        if off is None:
            continue
        if "skipped" in off:
            rows.append(["", label, "", f"skipped: {off['skipped']}", "", "", ""])
            continue
        o_ratio = off["ratio"]
        rows.append(
            [
                "",
                f"{label}: wall s",
                "",
                f"{_f(off['wall_s'])} ({off['finished']}/{r['n']} ok, "
                f"{_f(off['polls_per_task'], 1)} polls/task, {off['rate_limited']} 429s; "
                f"slowest job {_f(off.get('slowest_job_s'), 1)} s; "
                f"bound {_f(off['lower_bound_s'])})",
                f"{_f(o_ratio)}x" if o_ratio is not None else "n/a (jobs failed)",
                "",
                "",
            ]
        )
    cpu_cells = [f"SDK {_f(sdk['cpu_s'])}"]
    for key in ("official", "official_paced"):
        off = r.get(key)
        if off and "cpu_s" in off:
            cpu_cells.append(f"{key.replace('_', ' ')} {_f(off['cpu_s'])}")
    rows.append(["", "client CPU s", _f(sdk["cpu_s"]), "; ".join(cpu_cells[1:]), "", "", ""])
    return rows


def _memory(r: dict[str, Any]) -> list[list[str]]:
    kb = r["sdk"]["bytes_per_task"] / 1024
    bare = r["bare_asyncio_task"]["bytes_per_task"] / 1024
    ratio = kb / bare if bare > 0 else None
    target = r.get("ratio_target", 2.0)
    rows = [
        [
            f"3. memory: {r['n']} tasks in flight, each awaited",
            "RSS growth KB / task",
            _f(kb, 1),
            f"bare asyncio task: {_f(bare, 1)}",
            f"{_f(ratio)}x",
            f"<= {target:g}x bare",
            _verdict(
                None if ratio is None else ratio <= target,
                "" if ratio is None else f"{(ratio / target - 1) * 100:+.0f}% vs target",
            ),
        ]
    ]
    trace = (r.get("breakdown") or {}).get("sdk")
    if trace:
        bare_trace = (r.get("breakdown") or {}).get("bare_asyncio_task") or {}
        top = "; ".join(
            f"{row['where']} {row['bytes_per_task']:.0f} B" for row in trace["by_sdk_line"][:5]
        )
        rows.append(
            [
                "",
                "where the bytes go (tracemalloc, B / task, by innermost SDK line; top 5)",
                f"traced {trace['traced_bytes_per_task']:.0f} B: {top}",
                f"bare traced: {_f(bare_trace.get('traced_bytes_per_task'), 0)} B",
                "",
                "",
                "",
            ]
        )
    return rows


def _polling(r: dict[str, Any]) -> list[list[str]]:
    title = (
        f"4. polling: {r['n']} tasks over {r['spread_s']} s, generation "
        f"{r['generation_time'][0]}-{r['generation_time'][1]} s (lag in real s = scaled / "
        f"{r['scale']})"
    )

    def lag(v: dict[str, Any]) -> str:
        return f"{_f(v['lag_real_s']['mean'], 1)} / {_f(v['lag_real_s']['p95'], 1)}"

    rows: list[list[str]] = []
    names = r.get("variants") or ["sdk_adaptive", "fixed", "sdk_webhook"]
    kinds = r.get("kinds") or {}
    ref = r.get("fixed") or {}
    for name in names:
        v = r.get(name)
        if v is None or kinds.get(name) == "webhook" or name == "sdk_webhook":
            continue
        label = (r.get("labels") or {}).get(name, name)
        cell_title = title if not rows else ""
        if "skipped" in v:
            rows.append([cell_title, f"{label}", "", v["skipped"], "", "", ""])
            continue
        is_sdk = kinds.get(name, "sdk" if name.startswith("sdk") else "fixed") == "sdk"
        ratio = v["polls_per_task"] / ref["polls_per_task"] if ref.get("polls_per_task") else None
        point = f"{_f(v['polls_per_task'], 1)} polls/task; lag {lag(v)}"
        rows.append(
            [
                cell_title,
                f"{label}: polls per task; lag mean / p95 (real s)",
                point if is_sdk else "",
                "" if is_sdk else point,
                f"{_f(ratio)}x fixed 5 s polls" if ratio is not None and name != "fixed" else "",
                "",
                "",
            ]
        )
    m = r.get("match_fixed_5s")
    if m:
        ratio = m.get("ratio")
        target = m.get("target", 0.6)
        rows.append(
            [
                "",
                "SDK polls per task at fixed 5 s's mean lag "
                f"({_f(m.get('lag_real_s'), 1)} s; {m['how']})",
                _f(m.get("sdk_polls"), 1),
                f"fixed 5 s: {_f(m.get('fixed_polls'), 1)}",
                f"{_f(ratio)}x" if ratio is not None else "n/a",
                f"<= {target:g}x",
                _verdict(
                    m.get("met"), f"{(ratio / target - 1) * 100:+.0f}% vs target" if ratio else ""
                )
                if ratio is not None
                else "not measurable",
            ]
        )
    at_default = r.get("fixed_polls_at_sdk_default_lag")
    if at_default is not None and "sdk_adaptive" in r and "polls_per_task" in r["sdk_adaptive"]:
        rows.append(
            [
                "",
                "fixed polling at the SDK default's mean lag (interpolated): polls per task",
                _f(r["sdk_adaptive"]["polls_per_task"], 1),
                _f(at_default, 1),
                f"{_f(r['sdk_adaptive']['polls_per_task'] / at_default)}x" if at_default else "",
                "",
                "",
            ]
        )
    w = r.get("sdk_webhook")
    if w and "polls_per_task" in w:
        rows.append(
            [
                "",
                "webhook mode: polls per task; lag mean / p95 (real s)",
                f"{_f(w['polls_per_task'], 2)}; {lag(w)}",
                "",
                "",
                "at or near 0 polls",
                _verdict(w["polls_per_task"] <= 0.1, f"{w['webhooks_sent']} webhooks"),
            ]
        )
    return rows


def _scaling(r: dict[str, Any]) -> list[list[str]]:
    runs = r["runs"]
    title = (
        f"5. scaling: batch with a journal{' and downloads' if r.get('downloads') else ''}, "
        f"{_f(r['rate'], 0)} starts/s, generation {r['generation_time'][0]}-"
        f"{r['generation_time'][1]} s, concurrency {r['concurrency']}"
    )
    rows: list[list[str]] = []
    for run in runs:
        stopped = (
            f"; STOPPED over budget after {run['done']}/{run['n']}"
            if run["stopped_over_budget"]
            else ""
        )
        rows.append(
            [
                title if not rows else "",
                f"{run['n']} jobs: CPU ms / job; RSS KB / job peak (left after)",
                f"{_f(run['cpu_ms_per_job'])}; {_f(run['rss_peak_growth_kb_per_job'], 1)} "
                f"({_f(run['rss_growth_kb_per_job'], 1)})",
                f"wall {_f(run['wall_s'], 1)} s (n / rate {_f(run['rate_bound_s'], 1)}); "
                f"{_f(run['polls_per_task'], 1)} polls/task; "
                f"{_f(run['commits_per_s'], 0)} commits/s{stopped}",
                "",
                "",
                "",
            ]
        )
    if len(runs) < 2:
        return rows
    first, last = runs[0]["n"], runs[-1]["n"]
    for key, label in (
        ("cpu_ratio", "client CPU per job"),
        ("rss_ratio", "peak RSS growth per job"),
    ):
        ratio = r.get(key)
        rows.append(
            [
                "",
                f"{label}, {last} over {first} jobs",
                "",
                "",
                f"{_f(ratio)}x",
                f"<= {SCALING_TARGET}x",
                _verdict(
                    None if ratio is None else ratio <= SCALING_TARGET,
                    ""
                    if ratio is None
                    else f"{(ratio / SCALING_TARGET - 1) * 100:+.0f}% vs target",
                ),
            ]
        )
    rows.append(
        [
            "",
            f"marginal peak RSS per further job ({first} -> {last}); journal commits/s at {last}",
            f"{_f(r.get('rss_marginal_kb_per_job'), 2)} KB; {_f(r['commits_per_s_largest'], 0)}",
            "",
            "",
            "",
            "",
        ]
    )
    return rows


def render(results: dict[str, Any]) -> str:
    """A markdown table of every scenario that ran, with the run's date and core count."""
    meta = results["meta"]
    head = ["scenario", "measure", "aimusic_async", "baseline", "ratio", "target", "result"]
    rows: list[list[str]] = []
    for name, fn in (
        ("overhead", _overhead),
        ("batch", _batch),
        ("memory", _memory),
        ("polling", _polling),
        ("scaling", _scaling),
    ):
        if name in results:
            rows.extend(fn(results[name]))
    lines = [
        f"Run {meta['date']} on {meta['cpu_count']} cores, Python {meta['python']}, "
        f"aimusic_async {meta['aimusic_async']}, seed {meta['seed']}, time scale {meta['scale']}"
        + (" (--quick sizes)" if meta["quick"] else "")
        + f"; took {meta['elapsed_s']:.0f} s.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)
