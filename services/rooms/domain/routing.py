"""Who may send a direct message, and which rooms it goes to. Pure logic."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.errors import ErrorCode, ServiceError
from contracts.identity import SUPER_ADMIN
from contracts.messages import ChatSend
from contracts.rooms import Room
from contracts.tenants import TenantSettings


@dataclass(frozen=True, slots=True)
class Target:
    """One copy of a message: the room it goes to and a socket to skip."""

    room: Room
    skip_sid: str | None = None


def authorize_dm(cmd: ChatSend) -> None:
    """Refuse a send that crosses tenants without the right to.

    Raises:
        ServiceError: `FORBIDDEN` when the sender may not address `cmd.tenant`.
    """
    if cmd.via_manage:
        if cmd.sender.role != SUPER_ADMIN:
            raise ServiceError(ErrorCode.FORBIDDEN, "only a super_admin may send from /manage")
    elif cmd.tenant != cmd.sender.tenant:
        raise ServiceError(ErrorCode.FORBIDDEN, "the recipient is not in your tenant")


def is_supervised(cmd: ChatSend, settings: TenantSettings) -> bool:
    """Seed 000's support desk: admins see what non-admins send, when enabled."""
    return settings.supervise_dms and not cmd.sender.is_admin


def dm_targets(cmd: ChatSend, supervised: bool) -> list[Target]:
    """The recipient, the sender's other sockets, then (if supervised) the admins.

    The order matters: a gateway skips sockets already served by an earlier copy.
    """
    targets = [
        Target(Room.user(cmd.tenant, cmd.to)),
        Target(Room.user(cmd.sender.tenant, cmd.sender.user_id), skip_sid=cmd.sid),
    ]
    if supervised:
        targets.append(Target(Room.tenant_admins(cmd.tenant)))
    return targets
