"""Room kinds the policy tests serve in separate `roomcast policy serve` processes.

State shared with the test lives in `$POLICY_TEST_DIR`: `course.json` holds
`{"ttl": seconds, "enrolled": {"<tenant>/<courseId>": [userId, ...]}}` (read on every
question, so a test changes who is enrolled), and each process appends the questions
it answered to `questions-<pid>.log`. Kinds other than `course` end with
`$POLICY_TEST_SUFFIX`, so runs against a database that outlives them stay apart.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from roomcast.sdk import Answer, RoomKind, User

STATE = Path(os.environ.get("POLICY_TEST_DIR", "."))
SUFFIX = os.environ.get("POLICY_TEST_SUFFIX", "")


def _note(*parts: str) -> None:
    with (STATE / f"questions-{os.getpid()}.log").open("a") as out:
        out.write(" ".join(parts) + "\n")


class Course(RoomKind):
    kind = "course"
    description = "Enrolled users and teachers (tests)"

    async def identifier(self, user: User, data: dict[str, Any]) -> str:
        course = data["courseId"]
        if isinstance(course, int) and course <= 0:
            raise ValueError("courseId must be positive")
        return str(course)

    async def can_join(self, user: User, room_id: str) -> Answer:
        state = json.loads((STATE / "course.json").read_text())
        _note("join", user.tenant, user.id, room_id)
        enrolled = user.id in state["enrolled"].get(f"{user.tenant}/{room_id}", [])
        allow = enrolled or user.role == "teacher"
        return Answer(allow, ttl=state.get("ttl"), reason=None if allow else "not enrolled")

    async def can_post(self, user: User, room_id: str) -> Answer:
        _note("post", user.tenant, user.id, room_id)
        return Answer(user.role == "teacher", reason="only teachers post")


class Slow(RoomKind):
    kind = f"slow{SUFFIX}"

    async def can_join(self, user: User, room_id: str) -> bool:
        await asyncio.sleep(30)
        return True


class Broken(RoomKind):
    kind = f"broken{SUFFIX}"

    async def identifier(self, user: User, data: dict[str, Any]) -> str:
        raise RuntimeError("the course catalogue is down")

    async def can_join(self, user: User, room_id: str) -> bool:
        raise RuntimeError("the enrolment database is down")


class Counted(RoomKind):
    """Allows everyone, never cached; notes which process answered."""

    kind = f"counted{SUFFIX}"

    async def can_join(self, user: User, room_id: str) -> bool:
        _note("counted", user.tenant, user.id, room_id)
        return True


class Gone(RoomKind):
    """Served, then stopped by the test."""

    kind = f"gone{SUFFIX}"

    async def can_join(self, user: User, room_id: str) -> bool:
        return True


class Plan(RoomKind):
    """Users whose token's `plan` claim is `pro` (forwarded by `ROOMCAST_POLICY_CLAIMS`)."""

    kind = f"plan{SUFFIX}"

    async def can_join(self, user: User, room_id: str) -> Answer:
        plan = user.claims.get("plan")
        return Answer(plan == "pro", reason=f"plan {plan!r} is not pro")


class Flip(RoomKind):
    """Allows a user's first question about a room, refuses the next (never cached)."""

    kind = f"flip{SUFFIX}"

    async def can_join(self, user: User, room_id: str) -> Answer:
        seen = STATE / f"flip-{user.tenant}-{user.id}-{room_id}"
        first = not seen.exists()
        seen.touch()
        return Answer(first, reason="access withdrawn meanwhile")
