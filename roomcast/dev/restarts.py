"""When `roomcast dev` restarts something that died, and when it gives up.

A part (a service process or an embedded server) that dies is restarted after a
back-off that doubles with each recent crash. A part that crashes `max_crashes`
times within `window` seconds is broken, not unlucky: the supervisor then stops
everything and exits non-zero.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DEFAULT_MAX_CRASHES = 5
DEFAULT_WINDOW = 60.0


@dataclass(frozen=True)
class RestartPolicy:
    """How often a part may crash before `roomcast dev` gives up.

    Args:
        max_crashes: Crashes within `window` seconds that make the supervisor give up.
        window: Length of the sliding window, in seconds.
        first_delay: Back-off before the first restart, in seconds.
        max_delay: Upper bound of the back-off, in seconds.
    """

    max_crashes: int = DEFAULT_MAX_CRASHES
    window: float = DEFAULT_WINDOW
    first_delay: float = 0.5
    max_delay: float = 8.0

    def describe(self) -> str:
        """The rule in words, for the banner and error messages."""
        noun = "crash" if self.max_crashes == 1 else "crashes"
        return f"{self.max_crashes} {noun} within {self.window:g} s"


@dataclass
class CrashHistory:
    """The recent crashes of one part, and the back-off they call for."""

    policy: RestartPolicy
    _times: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> float | None:
        """Note a crash at `now` (monotonic seconds).

        Returns:
            Seconds to wait before restarting, or None when the part crashed
            `max_crashes` times within the window and should not be restarted.
        """
        self._times.append(now)
        while self._times and now - self._times[0] > self.policy.window:
            self._times.popleft()
        if len(self._times) >= self.policy.max_crashes:
            return None
        delay = self.policy.first_delay * 2 ** (len(self._times) - 1)
        return float(min(delay, self.policy.max_delay))

    @property
    def recent(self) -> int:
        """Crashes counted in the current window (as of the last `record`)."""
        return len(self._times)
