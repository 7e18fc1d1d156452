"""Direct-message authorization (contracts/access.py) and routing rules (pure)."""

from __future__ import annotations

import pytest

from contracts.access import authorize_dm as authorize
from contracts.access import is_supervised
from contracts.errors import ErrorCode, ServiceError
from contracts.identity import Identity
from contracts.messages import ChatSend
from contracts.rooms import Room
from contracts.tenants import TenantSettings
from services.rooms.domain.routing import dm_targets


def send(role: str = "member", tenant: str = "acme", manage: bool = False) -> ChatSend:
    sender = Identity(tenant="acme", user_id="ann", role=role)
    return ChatSend(sender=sender, tenant=tenant, to="bob", body="hi", sid="s1", via_manage=manage)


def authorize_dm(cmd: ChatSend) -> None:
    authorize(cmd.sender, cmd.tenant, via_manage=cmd.via_manage)


def test_same_tenant_is_allowed() -> None:
    authorize_dm(send())


def test_other_tenant_is_forbidden() -> None:
    with pytest.raises(ServiceError) as err:
        authorize_dm(send(tenant="globex"))
    assert err.value.code is ErrorCode.FORBIDDEN


def test_only_super_admin_may_send_from_manage() -> None:
    authorize_dm(send(role="super_admin", tenant="globex", manage=True))
    with pytest.raises(ServiceError) as err:
        authorize_dm(send(role="admin", tenant="globex", manage=True))
    assert err.value.code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(
    ("role", "setting", "expected"),
    [
        ("member", True, True),
        ("member", False, False),
        ("admin", True, False),
        ("super_admin", True, False),
    ],
)
def test_supervision(role: str, setting: bool, expected: bool) -> None:
    settings = TenantSettings(supervise_dms=setting)
    assert is_supervised(send(role=role).sender, supervise_dms=settings.supervise_dms) is expected


def test_targets_are_recipient_then_sender_then_admins() -> None:
    targets = dm_targets(send(), supervised=True)
    assert [t.room for t in targets] == [
        Room.user("acme", "bob"),
        Room.user("acme", "ann"),
        Room.tenant_admins("acme"),
    ]
    assert [t.skip_sid for t in targets] == [None, "s1", None]
    assert len(dm_targets(send(), supervised=False)) == 2
