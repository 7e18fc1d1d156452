"""roomcast: shared runtime (settings, CLI, embedded servers, supervisor)."""
