"""The HTTP API of explicit rooms (seed 004), on the gateway's public port.

`build_api` makes one ASGI app: `edge.Edge` (origin, size, token, rate) in front of a
FastAPI app whose routers forward to the rooms and persistence services over NATS
(`commands.ask`), with errors in one shape (`errors`) and the OpenAPI document at
`/api/openapi.json`. The gateway keeps no state for it beyond per-user rate limits.
"""

from services.gateway.http.app import API_PREFIX, build_api
from services.gateway.http.deps import ApiDeps, ApiLimits

__all__ = ["API_PREFIX", "ApiDeps", "ApiLimits", "build_api"]
