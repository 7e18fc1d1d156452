"""Who is acting: the identity a gateway attaches from a verified token, and id bounds.

Every id that can reach a subject, a key or a row has a maximum length and a
character rule, checked at the edge (a token outside them is refused at connect, a
payload outside them is `INVALID`):

| id | characters | rule |
|---|---|---|
| user id | 1..255 | no control characters (OpenID Connect's `sub` limit) |
| tenant id, role | 1..128 | no control characters |
| display name | 1..256 | no control characters |
| room id (after `{kind}:`) | 1..128 | no whitespace or control characters |
| `clientId` | 1..128 | no control characters |

Whatever an id holds, `contracts.tokens.encode_token` keeps its subject token within
`MAX_TOKEN_LENGTH`, so the bounds here are product limits, not what keeps NATS safe.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_USER_ID = 255
MAX_TENANT_ID = 128
MAX_ROLE = 128
MAX_NAME = 256
MAX_ROOM_ID = 128
MAX_CLIENT_ID = 128

NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]+$"
"""Non-empty, without C0/C1 control characters."""

NO_SPACE_OR_CONTROL = r"^[^\s\x00-\x1f\x7f-\x9f]+$"
"""Non-empty, without whitespace or control characters."""


def _bounded(limit: int, pattern: str = NO_CONTROL) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=limit, pattern=pattern)


UserId = Annotated[str, _bounded(MAX_USER_ID)]
"""A user id: 1..255 characters, no control characters."""

TenantId = Annotated[str, _bounded(MAX_TENANT_ID)]
"""A tenant id: 1..128 characters, no control characters."""

RoleName = Annotated[str, _bounded(MAX_ROLE)]
"""A role: 1..128 characters, no control characters."""

DisplayName = Annotated[str, _bounded(MAX_NAME)]
"""A display name: 1..256 characters, no control characters."""

ClientId = Annotated[str, _bounded(MAX_CLIENT_ID)]
"""A client's idempotency key: 1..128 characters, no control characters."""

Id = UserId
"""Any other id from a token or a client (room names, gateway ids): as a user id."""

SUPER_ADMIN = "super_admin"
ADMIN = "admin"


class Identity(BaseModel):
    """A verified user as the gateway saw it in the token."""

    model_config = ConfigDict(frozen=True)

    tenant: TenantId = Field(description="Tenant the user belongs to (1..128 characters).")
    user_id: UserId = Field(description="User id, unique within the tenant (1..255 characters).")
    role: RoleName = Field(description="Role claim, e.g. member, admin, super_admin (1..128).")
    name: DisplayName | None = Field(default=None, description="Display name, if any (1..256).")

    @property
    def is_admin(self) -> bool:
        return self.role in (ADMIN, SUPER_ADMIN)
