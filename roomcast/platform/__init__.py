"""What every roomcast service process shares: the bus, lifecycle, health and metrics."""
