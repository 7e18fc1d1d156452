"""What other backend services use to talk to roomcast over NATS, without a gateway.

- `roomcast.sdk.entities`: publish entity lifecycle events (`publish_entity_event`).
"""
