"""`room:send`: authorize a message to an explicit room, log it, deliver it once.

The same steps as a direct message (`service.RoomsService.send_dm`): the rooms
service decides whether the sender may post (`RoomAccess.authorize` with `post`: an
explicit room's role table, else the kind's policy), the message log stores it (the
durability point; a repeated `clientId` is dropped by the stream and answered with the
original id), and one delivery goes to the room's subject, skipping the sending socket,
which has the ack.
"""

from __future__ import annotations

import time

from contracts import delivery, subjects
from contracts.explicit_rooms import Authorize
from contracts.ids import message_id
from contracts.messages import LoggedRoomMessage, RoomAck, RoomSend
from contracts.rooms import Room
from services.rooms.explicit import ExplicitRooms
from services.rooms.policies.access import RoomAccess
from services.rooms.ports import Publish, RoomLog

ROOM_MESSAGE_EVENT = "room:message"


class RoomMessages:
    """Posts messages to explicit rooms and policy rooms."""

    def __init__(
        self,
        rooms: ExplicitRooms | RoomAccess,
        message_log: RoomLog,
        publish: Publish,
        epoch: int,
    ) -> None:
        self._access = rooms if isinstance(rooms, RoomAccess) else RoomAccess.explicit_only(rooms)
        self._log = message_log
        self._publish = publish
        self._epoch = epoch

    async def send(self, cmd: RoomSend) -> RoomAck:
        """Log a room message, then deliver it; the ack follows the log write."""
        ask = Authorize(
            identity=cmd.sender,
            tenant=cmd.tenant,
            via_manage=cmd.via_manage,
            name=cmd.room,
            post=True,
            claims=cmd.claims,
        )
        room = await self._access.authorize(ask)
        message = LoggedRoomMessage(
            tenant=cmd.tenant,
            sender=cmd.sender,
            room=room.room,
            body=cmd.body,
            ts=int(time.time() * 1000),
            client_id=cmd.client_id,
        )
        dedup = None
        if cmd.client_id:
            who = cmd.sender
            # an explicit room by its numeric id, a policy room by its name (`course:7`)
            key = room.room if room.room_id is None else room.room_id
            dedup = f"room|{cmd.tenant}|{key}|{who.tenant}|{who.user_id}|{cmd.client_id}"
        appended = await self._log.append(subjects.log_room(cmd.tenant, room.room), message, dedup)
        mid = message_id(self._epoch, appended.seq)
        if appended.duplicate:
            original = await self._log.read_room(appended.seq)
            return RoomAck(ok=True, id=mid, ts=original.ts, seq=appended.seq, room=original.room)
        data = {
            "id": mid,
            "tenant": cmd.tenant,
            "room": room.room,
            "from": cmd.sender.user_id,
            "body": cmd.body,
            "ts": message.ts,
            "seq": appended.seq,
        }
        headers, body = delivery.encode(
            ROOM_MESSAGE_EVENT, data, skip_sid=cmd.sid, seq=appended.seq
        )
        await self._publish(Room.explicit(cmd.tenant, room.room).subject, body, headers)
        return RoomAck(ok=True, id=mid, ts=message.ts, seq=appended.seq, room=room.room)
