"""What other backend services use to work with roomcast.

- `RoomKind`, `User`, `Answer`, `revoke`: room kinds answered by your own policy
  (`roomcast policy serve module:Class`), see `roomcast.sdk.policy`.
"""

from roomcast.sdk.policy import Answer, RoomKind, User, revoke

__all__ = ["Answer", "RoomKind", "User", "revoke"]
