"""Who is acting: the identity a gateway attaches from a verified token."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.tokens import MAX_ID_LENGTH

Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
"""An id from a token or a client: non-empty, bounded, no control characters."""

SUPER_ADMIN = "super_admin"
ADMIN = "admin"


class Identity(BaseModel):
    """A verified user as the gateway saw it in the token."""

    model_config = ConfigDict(frozen=True)

    tenant: Id = Field(description="Tenant the user belongs to.")
    user_id: Id = Field(description="User id, unique within the tenant.")
    role: Id = Field(description="Role claim, e.g. member, admin, super_admin.")
    name: str | None = Field(default=None, max_length=256, description="Display name, if any.")

    @property
    def is_admin(self) -> bool:
        return self.role in (ADMIN, SUPER_ADMIN)
