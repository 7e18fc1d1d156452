"""What this gateway delivered, by log position: the bookkeeping of a resync. Pure logic.

When the gateway's own NATS connection drops, the deliveries published meanwhile are
lost (core NATS does not buffer them). After the reconnect each socket is replayed, from
the message log, what its rooms got after a *floor*, minus what it already had
(`services/gateway/resync.py`). Two small structures make that exact and cheap:

- `LogClock` remembers the log's last `seq` as polled every second or so, with the
  time of the poll. `floor(horizon)` is the position the log had `horizon` seconds
  before the newest successful poll (the last moment the connection is known to have
  worked). Every message at or below it was appended at least `horizon` seconds
  before the connection could have failed; if its delivery reaches the gateway within
  `horizon` of its append (the delivery horizon), it arrived before the failure.
- `Seen` records, per key, the `seq`s that reached it above the last floor: per
  delivery subject the logged messages received on it (one append per delivery, no
  per-socket work), per socket (`sid_key`) the messages replayed to it by a
  recovery. A socket in subjects S₁…Sₙ has had every `seq` seen on those subjects
  while it was in them, and those replayed to it: a resync skips them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import orjson

from contracts.delivery import Delivery

LOGGED_EVENTS = frozenset({"chat:message", "room:message"})
"""Events whose payload is a logged message carrying its `seq`."""


def logged_seq(item: Delivery) -> int | None:
    """The log `seq` of a delivery: its `Rc-Seq` header, else (a publisher that does not
    set it) the body's `seq` for logged events; None for everything else."""
    if item.seq is not None:
        return item.seq
    if item.event not in LOGGED_EVENTS:
        return None
    try:
        seq = orjson.loads(item.body).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def sid_key(sid: str) -> str:
    """The `Seen` key of messages replayed to one socket (never a subject: `@` first)."""
    return "@" + sid


class LogClock:
    """The message log's last `seq` at the times it was polled."""

    def __init__(self) -> None:
        self._polls: deque[tuple[float, int]] = deque()

    def record(self, at: float, last_seq: int, horizon: float) -> None:
        """A poll sent at monotonic time `at` answered `last_seq`.

        Polls older than the newest one at or before `at - horizon` are forgotten.
        """
        polls = self._polls
        if polls and at < polls[-1][0]:
            return  # an answer that overtook a newer one
        if polls and last_seq < polls[-1][1]:
            polls.clear()  # the log was recreated: earlier positions mean nothing now
        polls.append((at, last_seq))
        while len(polls) > 1 and polls[1][0] <= at - horizon:
            polls.popleft()

    def floor(self, horizon: float) -> int | None:
        """The last `seq` polled at least `horizon` seconds before the newest poll, or
        the oldest poll's if the gateway has not polled for that long; None before the
        first answer."""
        if not self._polls:
            return None
        newest = self._polls[-1][0]
        best = self._polls[0][1]
        for at, seq in self._polls:
            if at > newest - horizon:
                break
            best = seq
        return best


class Seen:
    """Log `seq`s that reached each delivery subject (received) or socket (replayed)."""

    def __init__(self) -> None:
        self._by_key: dict[str, deque[int]] = {}

    def add(self, key: str, seq: int) -> None:
        """`seq` reached `key`; O(1)."""
        seqs = self._by_key.get(key)
        if seqs is None:
            seqs = self._by_key[key] = deque()
        seqs.append(seq)

    def seqs(self, keys: Iterable[str]) -> set[int]:
        """Every `seq` still recorded for any of `keys`."""
        found: set[int] = set()
        for key in keys:
            seqs = self._by_key.get(key)
            if seqs:
                found.update(seqs)
        return found

    def forget(self, key: str) -> None:
        """Drop what was recorded for `key` (a socket that closed)."""
        self._by_key.pop(key, None)

    def prune(self, floor: int) -> None:
        """Forget `seq`s at or below `floor`, oldest first per key (a `seq` that arrived
        after a higher one may stay a little longer: keeping more is always safe)."""
        for key, seqs in list(self._by_key.items()):
            while seqs and seqs[0] <= floor:
                seqs.popleft()
            if not seqs:
                del self._by_key[key]

    def __len__(self) -> int:
        return sum(len(seqs) for seqs in self._by_key.values())
