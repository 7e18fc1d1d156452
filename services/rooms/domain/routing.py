"""The deliveries a direct message becomes. Pure logic.

Who may send and which rooms a message reaches are decided in `contracts/access.py`;
this module turns those rooms into deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.access import dm_rooms
from contracts.messages import ChatSend
from contracts.rooms import Room


@dataclass(frozen=True, slots=True)
class Target:
    """One copy of a message: the room it goes to and a socket to skip."""

    room: Room
    skip_sid: str | None = None


def dm_targets(cmd: ChatSend, supervised: bool) -> list[Target]:
    """The recipient, the sender's other sockets, then (if supervised) the admins.

    The order matters: a gateway skips sockets already served by an earlier copy.
    """
    rooms = dm_rooms(cmd.sender, cmd.tenant, cmd.to, supervised=supervised)
    targets = [Target(rooms.recipient), Target(rooms.sender, skip_sid=cmd.sid)]
    if rooms.admins is not None:
        targets.append(Target(rooms.admins))
    return targets
