"""A message fetched from a JetStream pull consumer, as the services' consumers see it.

`Fetched` reads the stream sequence and the delivery count from the message's reply
subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...`, or the longer form
with domain and account) without building nats-py's metadata objects, and settles the
message (`ack`, `nak` with a delay, `in_progress`).
"""

from __future__ import annotations

from nats.aio.msg import Msg


class Fetched:
    """One fetched message: its subject, data, stream sequence and delivery count."""

    __slots__ = ("_msg", "deliveries", "seq")

    def __init__(self, msg: Msg) -> None:
        self._msg = msg
        tokens = msg.reply.split(".")
        at = 4 if len(tokens) == 9 else 6
        self.deliveries = int(tokens[at])
        self.seq = int(tokens[at + 1])

    @property
    def subject(self) -> str:
        return self._msg.subject

    @property
    def data(self) -> bytes:
        return self._msg.data

    async def ack(self) -> None:
        await self._msg.ack()

    async def nak(self, delay: float) -> None:
        await self._msg.nak(delay=delay)

    async def in_progress(self) -> None:
        await self._msg.in_progress()
