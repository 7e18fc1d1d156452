"""Which roles may connect to which Socket.IO namespace (docs/protocol.md)."""

from __future__ import annotations

from contracts.errors import ErrorCode
from services.gateway.auth.errors import AuthError
from services.gateway.settings import GatewaySettings

TENANT_NAMESPACES = frozenset({"/", "/tenant"})
MANAGE_NAMESPACE = "/manage"


def check_namespace(namespace: str, role: str, settings: GatewaySettings) -> None:
    """Refuse a verified role on a namespace it may not use.

    `/tenant` and its alias `/` accept every role except those in
    `tenant_namespace_roles_denied`; `/manage` accepts only `manage_roles`; any
    other namespace is refused.

    Args:
        namespace: the Socket.IO namespace being connected, e.g. `/tenant`.
        role: the role of the verified identity.
        settings: the gateway settings holding both role lists.

    Raises:
        AuthError: FORBIDDEN when the role may not connect to the namespace.
    """
    if namespace in TENANT_NAMESPACES:
        if role in settings.tenant_namespace_roles_denied:
            raise AuthError(f"this role may not connect to {namespace}", ErrorCode.FORBIDDEN)
        return
    if namespace == MANAGE_NAMESPACE:
        if role not in settings.manage_roles:
            raise AuthError(f"this role may not connect to {namespace}", ErrorCode.FORBIDDEN)
        return
    raise AuthError("unknown namespace", ErrorCode.FORBIDDEN)
