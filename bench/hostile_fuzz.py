"""A long run of the hostile-input fuzz suite, with its figures.

Runs `tests/hostile/test_fuzz.py` with `ROOMCAST_HOSTILE_EXAMPLES` examples per test
and prints each test's summary: inputs sent, connections closed, frames refused,
tracebacks, control DMs and their failures, log bytes per hostile input, the target
gateway's RSS before and after. Run: `.venv/bin/python -m bench.hostile_fuzz 5000`
(the servers come from `ROOMCAST_*_URL` as for the tests).
"""

from __future__ import annotations

import os
import subprocess
import sys


def main() -> int:
    examples = sys.argv[1] if len(sys.argv) > 1 else "5000"
    env = {**os.environ, "ROOMCAST_HOSTILE_EXAMPLES": examples}
    command = [sys.executable, "-m", "pytest", "tests/hostile/test_fuzz.py", "-q", "-s"]
    command += ["-p", "no:cacheprovider", "-o", "timeout=3600"]
    return subprocess.run(command, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
