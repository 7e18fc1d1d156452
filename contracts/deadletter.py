"""Dead letters: messages a consumer could never process, kept with the reason.

A dead letter is published to `subjects.dead_letter(<consumer>)`, stored in the
`ROOMCAST_DLQ` stream. Its body is the original message's body, unchanged; these
headers say where it came from and why it was given up.
"""

from __future__ import annotations

REASON = "Rc-Dlq-Reason"
"""Why the message was given up, e.g. `not a LoggedMessage (...)`."""
SOURCE_STREAM = "Rc-Dlq-Stream"
"""Stream the message was read from."""
SOURCE_SUBJECT = "Rc-Dlq-Subject"
"""Subject the message was published on."""
SOURCE_SEQ = "Rc-Dlq-Seq"
"""Its sequence in the source stream."""
DELIVERIES = "Rc-Dlq-Deliveries"
"""How many times it had been delivered to the consumer."""
DEDUP = "Nats-Msg-Id"
"""Set to `<consumer>:<stream>:<seq>` so a redelivered dead letter is stored once."""


def headers(
    consumer: str, stream: str, subject: str, seq: int, deliveries: int, reason: str
) -> dict[str, str]:
    """The headers of one dead letter."""
    return {
        REASON: reason.replace("\r", " ").replace("\n", " ")[:1000],
        SOURCE_STREAM: stream,
        SOURCE_SUBJECT: subject,
        SOURCE_SEQ: str(seq),
        DELIVERIES: str(deliveries),
        DEDUP: f"{consumer}:{stream}:{seq}",
    }
