"""The rooms service's answers about explicit rooms, over NATS (`cmd.rooms.*`)."""

from __future__ import annotations

from nats.aio.client import Client as NATS

from contracts import endpoints
from contracts.explicit_rooms import Authorize, ListRooms
from contracts.identity import SUPER_ADMIN, Identity
from roomcast.platform import bus
from services.persistence.notifications.ports import RoomRef

PUBLISHER = "roomcast:publisher"
"""The identity the platform asks with on behalf of a backend's publication."""

MAX_READABLE_PAGES = 5
"""Pages of 200 rooms read per inbox request: a user who may read more than 1,000 rooms
of their tenant sees the notifications of the first 1,000 (by room id)."""


class NatsRoomDirectory:
    """Asks the rooms service; `wait` bounds each request."""

    def __init__(self, nc: NATS, wait: float) -> None:
        self._nc = nc
        self._wait = wait

    async def resolve(self, tenant: str, name: str) -> RoomRef:
        # the platform acts for the publisher: any room of the tenant, by any of its names
        ask = Authorize(
            identity=Identity(tenant=tenant, user_id=PUBLISHER, role=SUPER_ADMIN),
            tenant=tenant,
            via_manage=True,
            name=name,
        )
        reply = await bus.request(self._nc, endpoints.ROOM_AUTHORIZE, ask, wait=self._wait)
        reply = reply.checked()
        assert reply.room_id is not None
        return RoomRef(reply.room_id, reply.room or name)

    async def readable(self, who: Identity) -> list[int]:
        ids: list[int] = []
        cursor = None
        for _ in range(MAX_READABLE_PAGES):
            ask = ListRooms(
                identity=who,
                tenant=who.tenant,
                via_manage=who.role == SUPER_ADMIN,
                cursor=cursor,
                limit=200,
            )
            page = await bus.request(self._nc, endpoints.ROOM_LIST, ask, wait=self._wait)
            page = page.checked()
            ids += [room.id for room in page.items]
            cursor = page.next
            if cursor is None:
                break
        return ids
