"""For other backend services: publish to roomcast over NATS (`Publisher`)."""
