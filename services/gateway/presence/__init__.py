"""The gateway's side of presence: report connections in batches, hold a lease.

One `PresenceReporter` per gateway process sends `GatewayReport`s, one at a time, to
the presence service:

- soon after connections open or close (batched over `presence_flush_delay`);
- at least every `presence_beat_interval` seconds: that renews the gateway's lease
  (`gateway_lease_ttl`) and carries the ids of the connections whose clients sent a
  `presence:heartbeat` since, with how long ago. 10,000 connections cost one message
  per beat, not one per heartbeat.

A report the service could not apply (presence or Redis down) is kept and merged into
the next attempt. When the service answers `resync` (Redis lost its state, or this
gateway's lease ran out), the gateway restates every live connection.

Only `/tenant` (and `/`) sockets count for presence; `/manage` sockets watch.
"""

from services.gateway.presence.reporter import PresenceReporter, Tracked

__all__ = ["PresenceReporter", "Tracked"]
