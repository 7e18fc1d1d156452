"""Typed NATS contracts shared by every roomcast service.

`subjects` builds every subject; the other modules hold one domain's messages each.
Within `v1` only additive changes are allowed.
"""
