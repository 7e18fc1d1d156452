"""The gateway's side of recovering explicit rooms: leaving refused rooms, releasing held."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from contracts.identity import Identity
from contracts.recovery import RecoverRoom, RecoveryReason, RoomOutcome
from contracts.rooms import Room
from services.gateway.fanout import Fanout, Held
from services.gateway.limits import TokenBucket
from services.gateway.recovery import Recovery
from services.gateway.sessions import Session

BOB = Identity(tenant="acme", user_id="bob", role="member")


@dataclass
class FakeFanout:
    held: list[Held] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)
    holding: bool = True

    async def leave(self, sid: str, namespace: str, subjects: Iterable[str]) -> None:
        self.left += list(subjects)

    def take_held(self, sid: str) -> list[Held]:
        held, self.held = self.held, []
        return held

    async def send_packet(self, sid: str, namespace: str, pkt: Any) -> bool:
        self.sent.append(pkt)
        return True

    def unhold(self, sid: str) -> None:
        self.holding = False


def session() -> Session:
    s = Session(sid="s1", namespace="/tenant", identity=BOB, exp=0, bucket=TokenBucket(1, 1))
    for name in ("room:crew", "room:open"):
        subject = Room.explicit("acme", name).subject
        s.subjects.add(subject)
        s.joined[("acme", name)] = subject
    return s


def held(event: str, room: str, seq: int) -> Held:
    body = orjson.dumps({"tenant": "acme", "room": room, "seq": seq})
    return Held(event, body, cast(Any, f"{event}/{seq}"))


def recovery(fanout: FakeFanout, s: Session) -> Recovery:
    r = Recovery(cast(Any, None), cast(Fanout, fanout), {}, timeout=1)
    r._gone[s.sid] = set()  # as start() does
    return r


async def test_rooms_refused_after_the_read_are_left_and_their_held_messages_dropped() -> None:
    fanout = FakeFanout()
    s = session()
    wanted = [
        RecoverRoom(room="room:crew", after=1, canonical="room:crew"),
        RecoverRoom(room="room:open", after=1, canonical="room:open"),
        RecoverRoom(room="user:bob", after=1),
    ]
    outcomes = {
        "room:crew": RoomOutcome(
            room="room:crew", recovered=False, reason=RecoveryReason.FORBIDDEN
        ),
        "room:open": RoomOutcome(room="room:open", recovered=True, replayed=1),
        "user:bob": RoomOutcome(room="user:bob", recovered=False, reason=RecoveryReason.TOO_MANY),
    }
    rec = recovery(fanout, s)
    await rec._leave_refused(s, wanted, outcomes)
    crew = Room.explicit("acme", "room:crew").subject
    assert fanout.left == [crew]
    assert crew not in s.subjects and ("acme", "room:crew") not in s.joined
    assert ("acme", "room:open") in s.joined, "a recovered room stays joined"

    fanout.held = [
        held("room:message", "room:crew", 5),
        held("room:message", "room:open", 4),
        held("room:message", "room:open", 6),
        held("room:left", "room:crew", 0),
        held("chat:message", "user:bob", 7),
    ]
    await rec._release(s, replayed={4})
    assert fanout.sent == ["room:message/6", "room:left/0", "chat:message/7"]
    assert fanout.holding is False


async def test_a_room_left_by_revocation_during_recovery_gets_nothing_more() -> None:
    fanout = FakeFanout()
    s = session()
    rec = recovery(fanout, s)
    rec.revoked(s.sid, Room.explicit("acme", "room:open").subject)
    rec.revoked("another-socket", Room.explicit("acme", "room:crew").subject)
    fanout.held = [held("room:message", "room:open", 8), held("room:message", "room:crew", 9)]
    await rec._release(s, replayed=set())
    assert fanout.sent == ["room:message/9"]
