"""A room kind backed by your own data: `course:<id>` rooms for enrolled users.

    roomcast policy serve examples.course_policy:CourseRoom

A client then joins with `room:join {kind: "course", data: {courseId: 42}}`, or
`room:join {room: "course:42"}`, or seed 002's `course:join 42`.
"""

from __future__ import annotations

from typing import Any

from roomcast.sdk import Answer, RoomKind, User

ENROLMENTS: dict[tuple[str, str], set[str]] = {
    ("acme", "42"): {"alice", "bob"},
    ("acme", "101"): {"alice"},
}
"""(tenant, course id) → enrolled user ids: stands in for your own database."""


class CourseRoom(RoomKind):
    kind = "course"
    description = "A course's live room: its enrolled students and every teacher."

    async def identifier(self, user: User, data: dict[str, Any]) -> str:
        return str(data["courseId"])  # a missing courseId is INVALID

    async def can_join(self, user: User, room_id: str) -> Answer:
        enrolled = user.id in ENROLMENTS.get((user.tenant, room_id), set())
        allowed = enrolled or user.role == "teacher"
        return Answer(allowed, ttl=30, reason=None if allowed else "not enrolled in this course")
