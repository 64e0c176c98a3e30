"""The results as one markdown table (printed by the runner, pasted into the README)."""

from __future__ import annotations

from typing import Any

__all__ = ["render"]


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
            "<= 1.25x",
            _verdict(ratio <= 1.25, f"{(ratio / 1.25 - 1) * 100:+.0f}% vs target"),
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
            "<= 1.1x",
            _verdict(
                ratio is not None and ratio <= 1.1,
                f"{(ratio / 1.1 - 1) * 100:+.0f}% vs target" if ratio else "jobs failed",
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
    return [
        [
            f"3. memory: {r['n']} tasks in flight, each awaited",
            "RSS growth KB / task",
            _f(kb, 1),
            f"bare asyncio task: {_f(bare, 1)}",
            f"{_f(kb / bare if bare else None)}x",
            "< 10 KB",
            _verdict(kb < 10, f"{kb / 10 * 100:.0f}% of the budget"),
        ]
    ]


def _polling(r: dict[str, Any]) -> list[list[str]]:
    title = (
        f"4. polling: {r['n']} tasks over {r['spread_s']} s, generation "
        f"{r['generation_time'][0]}-{r['generation_time'][1]} s (lag in real s = scaled / "
        f"{r['scale']})"
    )
    a, f, w = r["sdk_adaptive"], r["fixed"], r["sdk_webhook"]

    def lag(v: dict[str, Any]) -> str:
        return f"{_f(v['lag_real_s']['mean'], 1)} / {_f(v['lag_real_s']['p95'], 1)}"

    return [
        [
            title,
            "polls per task",
            f"adaptive: {_f(a['polls_per_task'], 1)}",
            f"fixed 5 s: {_f(f['polls_per_task'], 1)}",
            f"{_f(a['polls_per_task'] / f['polls_per_task'])}x",
            "fewer than fixed",
            _verdict(a["polls_per_task"] < f["polls_per_task"], ""),
        ],
        [
            "",
            "detection lag, mean / p95 (real s)",
            f"adaptive: {lag(a)}",
            f"fixed 5 s: {lag(f)}",
            "",
            "",
            "",
        ],
        [
            "",
            "webhook mode: polls per task; lag mean / p95 (real s)",
            f"{_f(w['polls_per_task'], 2)}; {lag(w)}",
            "",
            "",
            "at or near 0 polls",
            _verdict(w["polls_per_task"] <= 0.1, f"{w['webhooks_sent']} webhooks"),
        ],
    ]


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
