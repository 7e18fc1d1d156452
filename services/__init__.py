"""roomcast services: gateway, rooms, presence, persistence."""
