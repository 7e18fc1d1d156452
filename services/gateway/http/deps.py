"""What the routes are given: the gateway's pieces, the caller, and the per-user limits.

A caller acts in their own tenant. A `super_admin` (a role of `ROOMCAST_MANAGE_ROLES`)
has no tenant of its own to act in over HTTP: it names one with `?tenant=`, which the
rooms service then treats as a command from `/manage`. Anyone else may repeat their own
tenant there; another tenant is `FORBIDDEN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Query, Request
from nats.aio.client import Client as NATS

from contracts.errors import ErrorCode, ServiceError
from contracts.identity import MAX_TENANT_ID, Identity
from services.gateway.auth import TokenVerifier
from services.gateway.http.errors import RateLimited
from services.gateway.limits import KeyedBuckets
from services.gateway.settings import GatewaySettings
from services.gateway.signals import GatewaySignals


@dataclass(slots=True)
class ApiLimits:
    """Per-user token buckets of this gateway process (not shared between gateways)."""

    requests: KeyedBuckets
    rooms: KeyedBuckets
    members: KeyedBuckets

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ApiLimits:
        return cls(
            requests=KeyedBuckets(settings.http_rate_limit_per_sec, settings.http_rate_limit_burst),
            rooms=KeyedBuckets(settings.room_changes_per_minute / 60, settings.room_changes_burst),
            members=KeyedBuckets(
                settings.member_changes_per_minute / 60, settings.member_changes_burst
            ),
        )


@dataclass(slots=True)
class ApiDeps:
    """The gateway as the HTTP API sees it (it satisfies `commands.Asker`)."""

    settings: GatewaySettings
    nc: NATS
    verifier: TokenVerifier
    limits: ApiLimits
    signals: GatewaySignals | None = None
    """Metrics and security events (None in unit tests of the routes)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified caller and the tenant it acts in."""

    identity: Identity
    tenant: str
    via_manage: bool

    def scope(self) -> dict[str, Any]:
        """The fields every explicit-room command carries: who asks, in which tenant."""
        return {"identity": self.identity, "tenant": self.tenant, "via_manage": self.via_manage}


def gateway(request: Request) -> ApiDeps:
    """The `ApiDeps` the app was built with."""
    return cast(ApiDeps, request.app.state.deps)


def caller(
    request: Request,
    tenant: Annotated[
        str | None,
        Query(
            max_length=MAX_TENANT_ID,
            description="Tenant to act in: required for a super_admin, who has none of its "
            "own here; anyone else may only name their own.",
        ),
    ] = None,
) -> Caller:
    """The caller (verified by `edge.Edge`) and the tenant it acts in."""
    who = cast(Identity, request.scope["state"]["identity"])
    if who.role in gateway(request).settings.manage_roles:
        if not tenant:
            raise ServiceError(ErrorCode.INVALID, "a super_admin names the tenant: ?tenant=")
        return Caller(who, tenant, via_manage=True)
    if tenant is not None and tenant != who.tenant:
        message = "you may only act in your own tenant"
        signals = gateway(request).signals
        if signals is not None:
            signals.cross_tenant(who, tenant, message, request.url.path)
        raise ServiceError(ErrorCode.FORBIDDEN, message)
    return Caller(who, who.tenant, via_manage=False)


CallerDep = Annotated[Caller, Depends(caller)]
GatewayDep = Annotated[ApiDeps, Depends(gateway)]


def _limit(gw: ApiDeps, buckets: KeyedBuckets, what: str, who: Identity) -> None:
    wait = buckets.take((who.tenant, who.user_id))
    if wait:
        if gw.signals is not None:
            gw.signals.http_rate_limited(who, f"too many {what}")
        raise RateLimited(f"too many {what}; retry in {wait} s", wait)


def spend_room_change(gw: ApiDeps, who: Caller) -> None:
    """Spend one of the caller's room creations/deletions, or refuse `RATE_LIMITED`.

    Routes call it once the request is valid, so a refused request costs nothing.
    """
    _limit(gw, gw.limits.rooms, "room creations and deletions", who.identity)


def spend_member_change(gw: ApiDeps, who: Caller) -> None:
    """Spend one of the caller's membership changes, or refuse `RATE_LIMITED`."""
    _limit(gw, gw.limits.members, "membership changes", who.identity)
