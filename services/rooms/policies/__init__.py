"""Room kinds with policies (seed 001): the kind registry, the resolution order of room
access, cached decisions and revocation, in the rooms service."""
