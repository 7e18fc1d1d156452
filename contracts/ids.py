"""Message ids: opaque strings that sort in send order.

An id is the message log's epoch (when its JetStream stream was created, in seconds)
and the message's stream sequence, both fixed-width hex. The stream sequence is
assigned by the NATS server in log order, so ids sort in send order within any
conversation, whichever rooms replica handled the send; the epoch keeps ids unique
and ordered if the stream is ever re-created.
"""

from __future__ import annotations


def message_id(epoch: int, seq: int) -> str:
    """The id of log message `seq` in the stream created at `epoch`."""
    return f"{epoch:09x}{seq:013x}"


def parse_message_id(value: str) -> tuple[int, int]:
    """`(epoch, seq)` of an id; raises `ValueError` for anything else."""
    if len(value) != 22:
        raise ValueError("not a message id")
    return int(value[:9], 16), int(value[9:], 16)
