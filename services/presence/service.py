"""The presence service's use cases: apply reports, sweep, list, announce changes."""

from __future__ import annotations

import logging

from contracts.errors import ErrorCode, ServiceError
from contracts.presence import GatewayReport, PresenceListReply, ReportReply
from services.presence.domain.changes import Change, outgoing
from services.presence.ports import PresenceStore, Publish, StoreUnavailable

log = logging.getLogger(__name__)


def _unavailable(exc: StoreUnavailable) -> ServiceError:
    return ServiceError(ErrorCode.UNAVAILABLE, f"presence is unavailable ({exc})")


class PresenceService:
    """Applies gateway reports and sweeps, and announces what changed.

    Args:
        store: the presence state.
        publish: sends one delivery (subject, body, headers) to NATS.
        sweep_budget: items one sweep script may claim.
    """

    def __init__(self, store: PresenceStore, publish: Publish, sweep_budget: int) -> None:
        self._store = store
        self._publish = publish
        self._budget = sweep_budget
        self.announced = 0
        self.online_announced = 0
        """Of `announced`, the changes that brought a user online (the rest went offline)."""

    async def report(self, report: GatewayReport) -> ReportReply:
        """Apply a gateway's report, then announce the changes it caused.

        Raises:
            ServiceError: `UNAVAILABLE` when Redis cannot be reached.
        """
        try:
            result = await self._store.report(report)
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None
        if result.resync:
            log.info("gateway %s must resync (epoch %r)", report.gateway, report.epoch)
            return ReportReply(ok=False, epoch=result.epoch, resync=True)
        await self._announce(result.changes, result.now_ms)
        return ReportReply(ok=True, epoch=result.epoch, unknown=result.unknown)

    async def sweep(self) -> int:
        """Run sweeps until nothing due is left; returns the changes announced.

        Raises:
            StoreUnavailable: Redis cannot be reached.
        """
        total = 0
        while True:
            result = await self._store.sweep(self._budget)
            await self._announce(result.changes, result.now_ms)
            total += len(result.changes)
            if not result.more:
                return total

    async def online(self, tenant: str) -> PresenceListReply:
        """The online users of `tenant`.

        Raises:
            ServiceError: `UNAVAILABLE` when Redis cannot be reached.
        """
        try:
            users = await self._store.online(tenant)
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None
        return PresenceListReply(ok=True, users=users)

    async def _announce(self, changes: list[Change], ts: int) -> None:
        for item in outgoing(changes, ts):
            await self._publish(item.subject, item.body, item.headers)
        self.announced += len(changes)
        self.online_announced += sum(1 for change in changes if change.online)
