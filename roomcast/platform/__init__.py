"""What every service process runs beside its work: health, readiness and metrics."""
