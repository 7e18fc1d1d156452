"""The results of a run as JSON, a Markdown table and a latency plot (PNG)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FLAG_LOADER_CORES = 0.8
FLAG_UNACCOUNTED = 0.3
MEANINGFUL_DELIVERED = 50.0
"""Below this share delivered, CPU per delivered DM says nothing: left out."""


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))])


def _median(rows: list[dict[str, Any]], key: str) -> tuple[float, float, float]:
    if key.startswith("cpu_per_1k") or key == "edge_cpu_per_1k":
        rows = [r for r in rows if r["delivered_pct"] >= MEANINGFUL_DELIVERED]
    values = [r[key] for r in rows if r.get(key) is not None and r[key] == r[key]]
    if not values:
        return (float("nan"),) * 3
    return statistics.median(values), min(values), max(values)


def _fmt(triple: tuple[float, float, float], digits: int = 2, unit: str = "") -> str:
    mid, lo, hi = triple
    if mid != mid:  # NaN
        return "-"
    if digits == 2 and max(abs(mid), abs(hi)) >= 10:
        digits = 0 if max(abs(mid), abs(hi)) >= 100 else 1
    text = f"{mid:,.{digits}f}{unit}"
    if hi - lo > 10**-digits:
        text += f" ({lo:,.{digits}f} to {hi:,.{digits}f})"
    return text


def grouped(phases: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    out: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in phases:
        out.setdefault((row["target"], row["rate"]), []).append(row)
    return out


def markdown(run: dict[str, Any]) -> str:
    """The table of medians (min to max over repetitions), per target and rate."""
    phases = run["phases"]
    lines = [f"# DM comparison {run['stamp']}", ""]
    lines += [f"`{run['command']}`", ""]
    lines += [
        f"{run['pairs'] * 2} users in {run['pairs']} pairs of one tenant, one of each pair on "
        f"each of two servers; open loop, {run['duration']:g} s per rate, "
        f"{run['repeat']} repetition(s), {run['loaders']} load process(es). "
        "Median over repetitions (min to max). CPU: user+system of every counted server "
        "process per 1,000 delivered DMs, from /proc (left out where under "
        f"{MEANINGFUL_DELIVERED:g} % were delivered). Busy cores: the whole machine's, "
        "other work included.",
        "",
    ]
    for name, notes in run["targets"].items():
        lines.append(f"- **{name}**: {'; '.join(notes)}")
    lines += ["", f"Machine: {run['machine']}", ""]
    head = (
        "| target | DM/s | sent | delivered | p50 ms | p99 ms | ack p99 ms "
        "| CPU s / 1k DMs | of which edge | servers' cores | loader cores | busy cores |"
    )
    lines += [head, "|" + "---|" * 12]
    for (target, rate), rows in grouped(phases).items():
        lines.append(
            f"| {target} | {rate:,} | {_fmt(_median(rows, 'sent'), 0)} "
            f"| {_fmt(_median(rows, 'delivered_pct'), 1, ' %')} "
            f"| {_fmt(_median(rows, 'p50_ms'))} | {_fmt(_median(rows, 'p99_ms'))} "
            f"| {_fmt(_median(rows, 'ack_p99_ms'))} "
            f"| {_fmt(_median(rows, 'cpu_per_1k'))} | {_fmt(_median(rows, 'edge_cpu_per_1k'))} "
            f"| {_fmt(_median(rows, 'server_cores'))} | {_fmt(_median(rows, 'loader_cores'))} "
            f"| {_fmt(_median(rows, 'busy_cores'))} |"
        )
    lines += ["", "CPU seconds per 1,000 delivered DMs by process (median):", ""]
    for (target, rate), rows in grouped(phases).items():
        rows = [r for r in rows if r["delivered_pct"] >= MEANINGFUL_DELIVERED]
        names = sorted({n for r in rows for n in r["cpu_per_1k_by_process"]})
        if not names:
            continue
        parts = []
        for n in names:
            values = [r["cpu_per_1k_by_process"].get(n, 0.0) for r in rows]
            parts.append(f"{n} {statistics.median(values):.3f}")
        lines.append(f"- {target} @ {rate:,}/s: " + ", ".join(parts))
    lines += [
        "",
        "Read / write system calls per delivered DM by process (median; /proc/PID/io):",
        "",
    ]
    for (target, rate), rows in grouped(phases).items():
        rows = [r for r in rows if r["delivered_pct"] >= MEANINGFUL_DELIVERED]
        names = sorted({n for r in rows for n in r.get("syscalls_per_dm_by_process", {})})
        parts = []
        for n in names:
            calls = [r["syscalls_per_dm_by_process"].get(n, [0, 0]) for r in rows]
            reads = statistics.median(c[0] for c in calls)
            writes = statistics.median(c[1] for c in calls)
            parts.append(f"{n} {reads:.1f} / {writes:.1f}")
        if parts:
            lines.append(f"- {target} @ {rate:,}/s: " + ", ".join(parts))
    flags = []
    for row in phases:
        why = []
        if row["loader_cores"] >= FLAG_LOADER_CORES:
            why.append(f"a load process at {row['loader_cores']:.2f} cores")
        if row["unaccounted_cores"] >= FLAG_UNACCOUNTED:
            why.append(f"{row['unaccounted_cores']:.2f} cores busy outside the bench")
        if row["delivered_pct"] < 100:
            why.append(f"{row['delivered_pct']:.1f} % delivered")
        if why:
            flags.append(f"- {row['target']} @ {row['rate']}/s rep {row['rep']}: " + "; ".join(why))
    if flags:
        lines += ["", "Measurement flags:", "", *flags]
    return "\n".join(lines) + "\n"


def write(run: dict[str, Any], out: Path) -> list[Path]:
    """Write `<out>.json`, `<out>.md` and, if matplotlib is there, `<out>.png`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [out.with_suffix(".json"), out.with_suffix(".md")]
    written[0].write_text(json.dumps(run, indent=1) + "\n")
    written[1].write_text(markdown(run))
    png = out.with_suffix(".png")
    if plot(run, png):
        written.append(png)
    return written


def plot(run: dict[str, Any], png: Path) -> bool:
    """Latency p50/p99 and CPU per 1,000 DMs against the offered rate; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    by_target: dict[str, list[tuple[int, list[dict[str, Any]]]]] = {}
    for (target, rate), rows in grouped(run["phases"]).items():
        by_target.setdefault(target, []).append((rate, rows))
    for i, (target, series) in enumerate(by_target.items()):
        colour = f"C{i}"
        series.sort()
        rates = [r for r, _ in series]
        p50 = [_median(rows, "p50_ms")[0] for _, rows in series]
        p99 = [_median(rows, "p99_ms")[0] for _, rows in series]
        lat.plot(rates, p50, "o-", color=colour, label=f"{target} p50")
        lat.plot(rates, p99, "s--", color=colour, label=f"{target} p99")
        for rate, rows in series:
            delivered = _median(rows, "delivered_pct")[0]
            if delivered < 99.95:
                lat.annotate(
                    f"{delivered:.0f} %",
                    (rate, _median(rows, "p99_ms")[0]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    color=colour,
                    fontsize=8,
                )
        cpu.plot(
            rates,
            [_median(rows, "cpu_per_1k")[0] for _, rows in series],
            "o-",
            color=colour,
            label=target,
        )
    lat.set_yscale("log")
    lat.set_xlabel("offered DM/s")
    lat.set_ylabel("send → delivery latency (ms, log)")
    lat.set_title("DM latency (median of repetitions; % = delivered)")
    lat.grid(True, which="both", alpha=0.3)
    lat.legend(fontsize=8)
    cpu.set_xlabel("offered DM/s")
    cpu.set_ylabel("CPU s per 1,000 delivered DMs")
    cpu.set_title("CPU of every counted server process")
    cpu.set_ylim(bottom=0)
    cpu.grid(True, alpha=0.3)
    cpu.legend(fontsize=8)
    fig.suptitle(f"roomcast bench.dm_compare {run['stamp']} ({run['machine']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    """`python -m bench.dm_compare.report RUN.json [STEM]`: the table and plot again."""
    import sys

    source = Path(sys.argv[1])
    stem = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix("")
    for path in write(json.loads(source.read_text()), stem):
        print(path)


if __name__ == "__main__":
    main()
