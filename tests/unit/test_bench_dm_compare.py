"""The pure parts of `bench.dm_compare`: CPU accounting, profile summaries, the table."""

from __future__ import annotations

import json
from pathlib import Path

from bench.dm_compare import procstat, profile, report


def test_a_pid_under_two_roots_counts_for_the_nearer_one() -> None:
    children = {1: [2, 3], 2: [4]}
    assert sorted(procstat.tree(1, children, {2})) == [1, 3]
    assert sorted(procstat.tree(2, children, {1})) == [2, 4]


def test_cpu_between_counts_a_new_pid_from_zero_and_never_negative() -> None:
    before = procstat.Sample(at=0.0, per_tree={"gw": {10: 1.0, 11: 2.0}})
    after = procstat.Sample(at=1.0, per_tree={"gw": {10: 1.5, 11: 1.0, 12: 0.25}})
    assert procstat.cpu_between(before, after) == {"gw": 0.75}


def test_this_process_has_cpu_time() -> None:
    import os

    sample = procstat.sample({"me": os.getpid()})
    assert sample.per_tree["me"][os.getpid()] >= 0.0


RAW = """\
_run_module_as_main (<frozen runpy>:198);main (services/gateway/app.py:145);Runner.run (asyncio/runners.py:118);Client._flusher (nats/aio/client.py:2363);StreamWriter.writelines (asyncio/streams.py:346) 30
_run_module_as_main (<frozen runpy>:198);main (services/gateway/app.py:145);Runner.run (asyncio/runners.py:118) 50
Subscription._wait_for_msgs (nats/aio/subscription.py:305) 20
"""  # noqa: E501


def test_profile_summary_shares(tmp_path: Path) -> None:
    raw = tmp_path / "p.txt"
    raw.write_text(RAW)
    s = profile.summarise(raw)
    assert s.samples == 100
    packages = dict(s.self_by_package)
    assert packages[profile.LOOP_LABEL] == 0.5
    assert packages["asyncio"] == 0.3
    assert packages["nats"] == 0.2
    inclusive = dict(s.inclusive)
    assert inclusive["Client._flusher (nats/aio/client.py)"] == 0.3
    assert not any("runpy" in name for name in inclusive)  # entry frames left out
    text = profile.markdown("gw", s, us_per_dm=200.0)
    assert "| asyncio | 30% | 60 |" in text


def _row(target: str, rate: int, rep: int, p99: float) -> dict[str, object]:
    return {
        "target": target,
        "rate": rate,
        "rep": rep,
        "sent": rate,
        "delivered_pct": 100.0,
        "p50_ms": 1.0,
        "p99_ms": p99,
        "ack_p99_ms": p99,
        "cpu_per_1k": 1.0,
        "edge_cpu_per_1k": 0.5,
        "cpu_per_1k_by_process": {"gateway-1": 0.25, "gateway-2": 0.25, "rooms": 0.5},
        "server_cores": 0.5,
        "loader_cores": 0.1,
        "busy_cores": 0.7,
        "unaccounted_cores": 0.1,
    }


def test_the_table_gives_medians_with_their_range(tmp_path: Path) -> None:
    run = {
        "stamp": "x",
        "command": "python -m bench.dm_compare",
        "machine": "test",
        "pairs": 100,
        "duration": 10.0,
        "repeat": 3,
        "loaders": 2,
        "targets": {"roomcast": ["embedded"]},
        "phases": [_row("roomcast", 500, i, p99) for i, p99 in enumerate([3.0, 9.0, 4.0])],
    }
    text = report.markdown(run)
    assert "| roomcast | 500 | 500 | 100.0 % | 1.00 | 4.00 (3.00 to 9.00) |" in text
    assert "rooms 0.500" in text
    written = report.write(run, tmp_path / "r")
    assert json.loads((tmp_path / "r.json").read_text())["phases"][0]["p99_ms"] == 3.0
    assert {p.suffix for p in written} >= {".json", ".md"}
