"""What other backend services use to talk to roomcast over NATS, without a gateway.

- `roomcast.sdk.publisher`: notifications and app events to users, tenants, roles and
  rooms (`Publisher`).
- `roomcast.sdk.entities`: publish entity lifecycle events (`publish_entity_event`).
- `RoomKind`, `User`, `Answer`, `revoke`: room kinds answered by your own policy
  (`roomcast policy serve module:Class`), see `roomcast.sdk.policy`.
"""

from roomcast.sdk.policy import Answer, RoomKind, User, revoke

__all__ = ["Answer", "RoomKind", "User", "revoke"]
