"""What other backend services use to talk to roomcast over NATS, without a gateway.

- `roomcast.sdk.publisher`: notifications and app events to users, tenants, roles and
  rooms (`Publisher`).
- `roomcast.sdk.entities`: publish entity lifecycle events (`publish_entity_event`).
"""
