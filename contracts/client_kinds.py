"""Client payloads of room kinds with policies: `room:join {kind, data}` and seed 002's
`course:join` / `course:leave` with a bare course id."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, JsonValue, RootModel, StringConstraints, field_validator

from contracts.client import ClientModel, ManageRoomIn, RoomIn
from contracts.identity import MAX_ROOM_ID, NO_SPACE_OR_CONTROL, TenantId
from contracts.policies import KIND_PATTERN, check_data

SEED_KINDS = ("course",)
"""Kinds whose `<kind>:join` / `<kind>:leave` events take a bare id (seed 002)."""


class RoomKindIn(ClientModel):
    """`room:join` by a kind's domain data on `/tenant`: the kind's policy derives the id."""

    kind: Annotated[str, StringConstraints(pattern=KIND_PATTERN)] = Field(
        description="Room kind, e.g. `course`."
    )
    data: dict[str, JsonValue] = Field(
        description='Domain data the kind derives the id from, e.g. `{"courseId": 42}` '
        "(at most 4 KiB as JSON)."
    )

    _data = field_validator("data")(check_data)


class ManageRoomKindIn(RoomKindIn):
    """`room:join {kind, data}` on `/manage`: a super_admin names the tenant."""

    tenant: TenantId = Field(description="Tenant of the room.")


class RoomJoinIn(RootModel[RoomIn | RoomKindIn]):
    """`room:join` on `/tenant`: `{room}`, or `{kind, data}`."""


class ManageRoomJoinIn(RootModel[ManageRoomIn | ManageRoomKindIn]):
    """`room:join` on `/manage`: `{tenant, room}`, or `{tenant, kind, data}`."""


BareId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ROOM_ID, pattern=NO_SPACE_OR_CONTROL)
]


class BareIdIn(RootModel[BareId | int]):
    """A bare id, as seed 002 sends it: `socket.emit("course:join", courseId)`."""


def bare_id(data: Any) -> str:
    """The room id of a bare-id payload (a string or an integer, not a boolean).

    Raises:
        pydantic.ValidationError: anything else.
    """
    if isinstance(data, bool):
        data = None  # JSON true/false is no id; let validation refuse it
    return str(BareIdIn.model_validate(data).root)
