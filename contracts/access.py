"""Who may join, read, recover and message what: auto rooms and direct messages.

Every service decides access here, so the gateway, rooms and persistence cannot
disagree. Pure functions of an `Identity`, a tenant and room names; no I/O. Explicit
rooms (created and joined by clients) are not decided here but by the rooms service.

| question | function | asked by |
|---|---|---|
| which rooms a socket joins on connect | `auto_rooms` | gateway (connect, recovery) |
| may this user send a direct message in that tenant | `authorize_dm` | rooms |
| which rooms a direct message goes to | `dm_rooms`, `is_supervised` | rooms |
| did a logged message go to this room | `dm_reaches` | persistence (recovery) |
| may this user read that tenant's history | `authorize_read` | persistence |
| which room's history may they read | `readable_room` | persistence |
| which room may they recover after a reconnect | `recoverable_room` | persistence |

Only a `super_admin` crosses tenants: it sends from `/manage` into the tenant it
names, and reads the history of any tenant it names. Everyone else acts in their own
tenant only.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.errors import ErrorCode, ServiceError
from contracts.events import MANAGE, TENANT
from contracts.identity import ADMIN, SUPER_ADMIN, Identity
from contracts.rooms import Room, RoomKind

LOGGED_KINDS = frozenset({RoomKind.USER, RoomKind.TENANT_ADMINS})
"""Kinds of auto rooms whose messages are in the message log (direct messages)."""


def auto_rooms(who: Identity, namespace: str) -> list[Room]:
    """The rooms a socket joins on connect (docs/protocol.md, "Namespaces").

    Args:
        who: the verified identity of the socket.
        namespace: `/manage`, or a tenant namespace (`/tenant`, `/`).

    Returns:
        On `/manage`: `manage:global` and the user's own room. Elsewhere: the user's
        own room, their tenant, their role within the tenant, their role across
        tenants and, for an `admin` (not a `super_admin`), their tenant's admins.
    """
    t, u = who.tenant, who.user_id
    if namespace == MANAGE:
        return [Room.manage(), Room.user(t, u)]
    rooms = [Room.user(t, u), Room.tenant(t), Room.tenant_role(t, who.role), Room.role(who.role)]
    if who.role == ADMIN:
        rooms.append(Room.tenant_admins(t))
    return rooms


def authorize_dm(sender: Identity, tenant: str, *, via_manage: bool) -> None:
    """Refuse a direct message that `sender` may not send in `tenant`.

    From a tenant namespace a user writes within their own tenant; from `/manage`
    only a `super_admin` writes, into any tenant it names.

    Raises:
        ServiceError: `FORBIDDEN` when the sender may not address `tenant`.
    """
    if via_manage:
        if sender.role != SUPER_ADMIN:
            raise ServiceError(ErrorCode.FORBIDDEN, "only a super_admin may send from /manage")
    elif tenant != sender.tenant:
        raise ServiceError(ErrorCode.FORBIDDEN, "the recipient is not in your tenant")


def is_supervised(sender: Identity, *, supervise_dms: bool) -> bool:
    """Whether a copy goes to the tenant's admins: the setting is on, the sender no admin."""
    return supervise_dms and not sender.is_admin


@dataclass(frozen=True, slots=True)
class DmRooms:
    """The rooms one direct message is delivered to."""

    recipient: Room
    """The recipient's `user:` room in the message's tenant."""
    sender: Room
    """The sender's own `user:` room (their other sockets), in the sender's tenant."""
    admins: Room | None
    """The tenant's admins room, when the message is supervised."""

    def in_order(self) -> list[Room]:
        """Recipient, sender, then admins: the order deliveries are published in."""
        rooms = [self.recipient, self.sender]
        if self.admins is not None:
            rooms.append(self.admins)
        return rooms


def dm_rooms(sender: Identity, tenant: str, to: str, *, supervised: bool) -> DmRooms:
    """The rooms a direct message from `sender` to `to` in `tenant` goes to."""
    return DmRooms(
        recipient=Room.user(tenant, to),
        sender=Room.user(sender.tenant, sender.user_id),
        admins=Room.tenant_admins(tenant) if supervised else None,
    )


def dm_reaches(room: Room, sender: Identity, tenant: str, to: str, *, supervised: bool) -> bool:
    """Whether a direct message is delivered to `room`: `room in dm_rooms(...).in_order()`.

    Cheap enough for a scan of the message log: a room is only built once its name
    matches.
    """
    if room.kind is RoomKind.USER:
        return (room.name == f"user:{to}" and room == Room.user(tenant, to)) or (
            room.name == f"user:{sender.user_id}"
            and room == Room.user(sender.tenant, sender.user_id)
        )
    return supervised and room.kind is RoomKind.TENANT_ADMINS and room == Room.tenant_admins(tenant)


def authorize_read(who: Identity, tenant: str) -> None:
    """Refuse reading the history of another tenant than one's own, but to a super_admin.

    Raises:
        ServiceError: `FORBIDDEN` for another tenant without being a `super_admin`.
    """
    if tenant != who.tenant and who.role != SUPER_ADMIN:
        raise ServiceError(ErrorCode.FORBIDDEN, "you may only read your own tenant")


def readable_room(who: Identity, tenant: str, name: str) -> Room | None:
    """The room named `name` in `tenant` if `who` may read its history, else None.

    Readable are one's own `user:` room in one's own tenant, and the
    `tenant:{t}:admins` room of one's own tenant for an `admin`, of any tenant for a
    `super_admin`.
    """
    own = Room.user(tenant, who.user_id)
    if tenant == who.tenant and name == own.name:
        return own
    admins = Room.tenant_admins(tenant)
    if name == admins.name and (
        who.role == SUPER_ADMIN or (who.role == ADMIN and tenant == who.tenant)
    ):
        return admins
    return None


def recoverable_room(who: Identity, name: str) -> Room | None:
    """The room named `name` if `who` may recover its messages after a reconnect.

    Recoverable are the rooms of `who`'s tenant namespace whose messages are in the
    log: their own `user:` room and, for an `admin`, their tenant's admins room.
    """
    for room in auto_rooms(who, TENANT):
        if room.name == name and room.kind in LOGGED_KINDS:
            return room
    return None
