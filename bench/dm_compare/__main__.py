"""Direct messages: roomcast and python-socketio + Redis, side by side, in one command.

    python -m bench.dm_compare                      # 500,1000,2000,3000 DM/s, 10 s each, 2 reps
    python -m bench.dm_compare --quick              # CI's record: one low rate for 3 s
    python -m bench.dm_compare --publish            # and update docs/benchmarks/
    python -m bench.dm_compare --targets roomcast --rates 500,1000 --repeat 1 \\
        --profile gateway-1,rooms                   # py-spy profiles during each rate

Both systems get the same load: 200 users in 100 pairs of one tenant, one user of each
pair on each of the two servers, DMs within the pairs in alternating directions, open
loop at each offered rate (after a warm-up), from `--loaders` load processes
(`bench.dm_compare.load`). roomcast runs as `roomcast dev --gateways 2` runs it; the
reference is `bench.reference.server` twice, sharing a Redis. Targets alternate
between repetitions (A B, B A, …) to spread drift. Writes `<out>.json`, `<out>.md` and
`<out>.png` (the plot needs the `bench` extra: `pip install -e '.[bench]'`) and prints
the table. Never asserts a timing: it exits non-zero only when it could not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dm_compare import procstat, profile, report
from bench.dm_compare.load import Loaders
from bench.dm_compare.targets import SERVER_ENVS, Reference, Roomcast, Target
from bench.stack import token

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.dm_compare",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("--targets", default="roomcast,reference", help="roomcast,reference")
    p.add_argument("--rates", default="500,1000,2000,3000", help="offered DM/s, in order")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per rate (10)")
    p.add_argument("--repeat", type=int, default=2, help="repetitions (2)")
    p.add_argument("--pairs", type=int, default=100, help="user pairs (100: 200 users)")
    p.add_argument("--loaders", type=int, default=2, help="load processes (2)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds at 200 DM/s first (2)")
    p.add_argument("--drain", type=float, default=5.0, help="seconds to wait after sends (5)")
    p.add_argument(
        "--servers",
        choices=("embedded", "env", "auto"),
        default="embedded",
        help="roomcast's NATS/PostgreSQL/Redis: embedded (as `roomcast dev` without\n"
        "ROOMCAST_*_URL), env (from ROOMCAST_*_URL), auto (env if all three are set)",
    )
    p.add_argument(
        "--reference-redis",
        default=None,
        help="the reference's Redis URL; default: an embedded Valkey with --servers\n"
        "embedded, else redis://127.0.0.1:6379/8",
    )
    p.add_argument("--profile", default="", help="py-spy these processes (gateway-1,rooms)")
    p.add_argument("--profile-rates", default="", help="only at these rates (default: all)")
    p.add_argument("--out", default=None, help="output path stem (bench/results/dm-compare-…)")
    p.add_argument(
        "--publish",
        action="store_true",
        help="also copy the table, plot, JSON and profile summary to docs/benchmarks/\n"
        "(what docs/benchmarks.md shows)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI's short record: 200 DM/s for 3 s, 20 pairs, 1 rep, 1 loader",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.rates, args.duration, args.repeat, args.pairs = "200", 3.0, 1, 20
        args.loaders, args.warmup, args.drain = 1, 1.0, 3.0
    if args.servers == "auto":
        args.servers = "env" if all(os.environ.get(k) for k in SERVER_ENVS) else "embedded"
    return args


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average {load} at start"


class Run:
    def __init__(self, args: argparse.Namespace, stem: Path) -> None:
        self.args = args
        self.stem = stem
        self.rates = [int(r) for r in args.rates.split(",")]
        self.phases: list[dict[str, Any]] = []
        self.notes: dict[str, list[str]] = {}
        self.profiles: list[str] = []
        self.phase_id = 0
        self.profile_names = [n for n in args.profile.split(",") if n]
        self.profile_rates = {int(r) for r in args.profile_rates.split(",") if r} or set(self.rates)

    async def target(self, target: Target, rep: int) -> None:
        a = self.args
        print(f"== {target.name}, repetition {rep + 1}: starting", flush=True)
        await asyncio.to_thread(target.start)
        self.notes[target.name] = target.notes
        loaders = Loaders.start(a.loaders)
        try:
            tenant = f"dmc-{uuid.uuid4().hex[:8]}"
            users = [
                (f"a{i}", token(f"a{i}", tenant), f"b{i}", token(f"b{i}", tenant))
                for i in range(a.pairs)
            ]
            parts = [users[j :: a.loaders] for j in range(a.loaders)]
            await loaders.ask([("connect", (target.urls, part)) for part in parts])
            await self.phase(target, loaders, 200, a.warmup, rep, record=False)
            for rate in self.rates:
                await self.settle(target)
                await self.phase(target, loaders, rate, a.duration, rep, record=True)
        finally:
            await loaders.stop()
            await asyncio.to_thread(target.stop)

    async def settle(self, target: Target, idle_cores: float = 0.25, within: float = 15.0) -> None:
        """Wait until the servers are idle (a backlog of the last rate is worked off)."""
        deadline = time.monotonic() + within
        while True:
            before = procstat.sample(target.processes)
            await asyncio.sleep(0.5)
            after = procstat.sample(target.processes)
            cores = sum(procstat.cpu_between(before, after).values()) / (after.at - before.at)
            if cores < idle_cores or time.monotonic() > deadline:
                return

    async def phase(
        self, target: Target, loaders: Loaders, rate: int, duration: float, rep: int, record: bool
    ) -> None:
        a = self.args
        self.phase_id += 1
        n = len(loaders.pipes)
        roots: dict[str, int | list[int]] = dict(target.processes)
        roots |= {f"loader-{j + 1}": pid for j, pid in enumerate(loaders.pids)}
        spies = self._spies(target, rate, duration, rep) if record else []
        start_at = time.monotonic() + 0.3
        before = procstat.sample(roots)
        commands = [
            (
                "run",
                {
                    "phase": self.phase_id,
                    "rate": rate / n,
                    "duration": duration,
                    "start_at": start_at + j / rate,
                    "drain": a.drain,
                },
            )
            for j in range(n)
        ]
        results = await loaders.ask(commands, within=duration + a.drain + 60)
        after = procstat.sample(roots)
        if not record:
            return
        window = after.at - before.at
        cpu = procstat.cpu_between(before, after)
        io = procstat.io_between(before, after)
        servers = {k: v for k, v in cpu.items() if not k.startswith("loader-")}
        loader_cpu = {k: v for k, v in cpu.items() if k.startswith("loader-")}
        sent = sum(r["sent"] for r in results)
        delivered = sum(r["delivered"] for r in results)
        lat = [x / 1000 for r in results for x in r["latency_us"]]
        ack = [x / 1000 for r in results for x in r["ack_us"]]
        per_1k = 1000 / delivered if delivered else float("nan")
        busy = procstat.busy_cores(before, after)
        row = {
            "target": target.name,
            "rate": rate,
            "rep": rep + 1,
            "duration": duration,
            "window_s": window,
            "sent": sent,
            "delivered": delivered,
            "delivered_pct": 100 * delivered / sent if sent else 0.0,
            "duplicates": sum(r["duplicates"] for r in results),
            "ack_failures": sum(r["ack_failures"] for r in results),
            "failure_codes": sorted({c for r in results for c in r["failure_codes"]}),
            "p50_ms": report.pct(lat, 50),
            "p90_ms": report.pct(lat, 90),
            "p99_ms": report.pct(lat, 99),
            "max_ms": max(lat) if lat else float("nan"),
            "ack_p50_ms": report.pct(ack, 50),
            "ack_p99_ms": report.pct(ack, 99),
            "cpu_per_1k": sum(servers.values()) * per_1k,
            "edge_cpu_per_1k": sum(servers.get(e, 0.0) for e in target.edge) * per_1k,
            "cpu_per_1k_by_process": {k: v * per_1k for k, v in servers.items()},
            "syscalls_per_dm_by_process": {
                k: [r * per_1k / 1000, w * per_1k / 1000]
                for k, (r, w) in io.items()
                if k in servers
            },
            "server_cores": sum(servers.values()) / window,
            "cores_by_process": {k: v / window for k, v in cpu.items()},
            "loader_cores": max(loader_cpu.values()) / window,
            "busy_cores": busy,
            "unaccounted_cores": busy - sum(cpu.values()) / window,
            "send_lag_p99_ms": max(r["send_lag_p99_ms"] for r in results),
            "send_lag_max_ms": max(r["send_lag_max_ms"] for r in results),
            "sockets_closed": sum(r["closed"] for r in results),
            "profiled": bool(spies),
        }
        self.phases.append(row)
        print(
            f"   {rate:>5} DM/s: {row['delivered_pct']:.1f} % of {sent} delivered, "
            f"p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms, ack p99 "
            f"{row['ack_p99_ms']:.2f} ms; CPU {row['cpu_per_1k']:.3f} s/1k DMs "
            f"(edge {row['edge_cpu_per_1k']:.3f}); loader {row['loader_cores']:.2f} cores; "
            f"machine {busy:.2f} busy cores ({row['unaccounted_cores']:.2f} not ours)",
            flush=True,
        )
        for name, proc, path in spies:
            _, err = await asyncio.to_thread(proc.communicate)
            if not path.exists():
                print(f"   py-spy {name}: no output ({err.decode(errors='replace')[-300:]})")
                continue
            us = servers.get(name, 0.0) / delivered * 1e6 if delivered else None
            title = f"{target.name} {name} at {rate:,} DM/s"
            self.profiles.append(profile.markdown(title, profile.summarise(path), us))

    def _spies(self, target: Target, rate: int, duration: float, rep: int) -> list[Any]:
        if rep or rate not in self.profile_rates:
            return []
        spies = []
        for name in self.profile_names:
            pid = target.processes.get(name)
            if pid is None:
                continue
            slug = target.name.split()[0].replace("/", "-")
            path = Path(f"{self.stem}-profiles/{slug}-{name}-{rate}.txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            spies.append((name, profile.record(pid, duration, path), path))
        return spies


def publish(files: list[Path], profiled: bool) -> list[Path]:
    """Copy a run's files to `docs/benchmarks/`: `dm-compare.*`, or for a profiling run
    (whose figures py-spy disturbs) only `dm-compare-profile.md`."""
    docs = ROOT / "docs" / "benchmarks"
    docs.mkdir(exist_ok=True)
    copied = []
    for f in files:
        if f.name.endswith("-profile.md"):
            target = docs / "dm-compare-profile.md"
        elif profiled:
            continue
        else:
            target = docs / f"dm-compare{f.suffix}"
        shutil.copyfile(f, target)
        copied.append(target)
    return copied


async def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if a.out:
        stem = Path(a.out)
    elif a.quick:
        stem = ROOT / "bench" / "results" / "quick" / "dm-compare"
    else:
        stem = ROOT / "bench" / "results" / f"dm-compare-{stamp}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    if a.profile and profile.available() is None:
        print("--profile needs py-spy: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    log = Path(f"{stem}-servers.log")
    reference_redis = a.reference_redis or (
        None if a.servers == "embedded" else "redis://127.0.0.1:6379/8"
    )
    if reference_redis == "embedded":
        reference_redis = None
    targets: list[Target] = []
    for name in a.targets.split(","):
        if name == "roomcast":
            targets.append(Roomcast(a.servers, log))
        elif name == "reference":
            targets.append(Reference(reference_redis, log))
        else:
            print(f"unknown target {name!r}", file=sys.stderr)
            return 2
    run = Run(a, stem)
    started = time.monotonic()
    machine_text = machine()
    try:
        for rep in range(a.repeat):
            for target in targets if rep % 2 == 0 else list(reversed(targets)):
                await run.target(target, rep)
    finally:
        for target in targets:
            await asyncio.to_thread(target.stop)
            target.cleanup()
    result = {
        "stamp": stamp,
        "command": "python -m bench.dm_compare " + " ".join(argv or sys.argv[1:]),
        "machine": machine_text,
        "pairs": a.pairs,
        "duration": a.duration,
        "repeat": a.repeat,
        "loaders": a.loaders,
        "servers": a.servers,
        "targets": run.notes,
        "elapsed_s": time.monotonic() - started,
        "phases": run.phases,
    }
    written = report.write(result, stem)
    if run.profiles:
        prof = Path(f"{stem}-profile.md")
        text = report.markdown(result) + "\n" + "\n".join(run.profiles)
        await asyncio.to_thread(prof.write_text, text)
        written.append(prof)
    if a.publish:
        written += await asyncio.to_thread(publish, written, bool(run.profiles))
    print()
    print(report.markdown(result))
    print("wrote " + ", ".join(str(p) for p in written))
    print(f"took {result['elapsed_s']:.1f} s")
    return 0 if run.phases else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
