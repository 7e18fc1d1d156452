"""Deliveries to sockets over NATS (`contracts.delivery`): what gateways hand to sockets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nats.aio.client import Client as NATS

from contracts import delivery


class NatsDeliveries:
    """Publishes one delivery to a delivery subject; gateways hosting its room emit it."""

    def __init__(self, nc: NATS) -> None:
        self._nc = nc

    async def send(self, subject: str, event: str, data: Mapping[str, Any]) -> None:
        headers, body = delivery.encode(event, data)
        await self._nc.publish(subject, body, headers=headers)
