"""Gateway settings (`ROOMCAST_*`)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from contracts.client_events import DEFAULT_MAX_BYTES, check_patterns
from roomcast.platform.settings import CommonSettings, CsvList
from services.gateway.service_keys import ServiceKey, parse_entry

ALLOWED_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"}
)


MAX_FRAME_LIMIT = 512 * 1024
"""The largest frame (and body) a gateway may be configured to accept."""


class GatewaySettings(CommonSettings):
    """Everything the Socket.IO edge needs; validated at start-up."""

    host: str = Field(default="127.0.0.1", description="Interface the gateway binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the gateway binds.")

    jwt_secret: str = Field(default="", description="HS* shared secret.")
    jwt_public_key: str = Field(default="", description="RS*/ES* public key, PEM.")
    jwks_url: str = Field(default="", description="JWKS URL for RS*/ES* keys (by `kid`).")
    jwt_algorithms: CsvList = Field(
        default=["HS256"], description="Accepted algorithms, pinned; never read from the token."
    )
    jwt_audience: str = Field(default="", description="Required `aud` when set.")
    jwt_issuer: str = Field(default="", description="Required `iss` when set.")
    jwt_leeway: int = Field(default=30, ge=0, le=600, description="Clock leeway, seconds.")
    jwt_max_ttl: int = Field(
        default=0,
        ge=0,
        description="Longest accepted token lifetime (`exp - iat`), seconds; 0 = no limit. "
        "When set, tokens must carry `iat`.",
    )
    jwt_claim_user: str = Field(default="sub", description="Claim holding the user id.")
    jwt_claim_tenant: str = Field(default="tenant", description="Claim holding the tenant id.")
    jwt_claim_role: str = Field(default="role", description="Claim holding the role.")
    jwt_claim_name: str = Field(default="name", description="Claim holding the display name.")
    jwt_cookie: str = Field(default="access_token", description="Cookie holding the token.")
    policy_claims: CsvList = Field(
        default=[],
        description="Token claims forwarded to room-kind policies as `User.claims`, e.g. "
        "`plan,groups` (at most 16; a claim over 1 KiB as JSON is left out).",
    )
    default_tenant: str = Field(
        default="", description="Tenant for tokens without a tenant claim (single-tenant apps)."
    )
    default_role: str = Field(default="member", description="Role for tokens without a role.")
    jwks_min_refresh: float = Field(
        default=60.0, ge=0, description="Seconds between JWKS refetches for unknown `kid`s."
    )

    tenant_namespace_roles_denied: CsvList = Field(
        default=["super_admin"], description="Roles refused on /tenant and /."
    )
    manage_roles: CsvList = Field(default=["super_admin"], description="Roles allowed on /manage.")

    service_api_keys: CsvList = Field(
        default=[],
        description="Keys that may call `/api/server/...` (`POST /api/server/publish`): "
        "entries `name:tenant:sha256hex` (tenant `*` = any), as `roomcast service-key new` "
        "prints them. Only digests are kept here, never the keys.",
    )
    cors_origins: CsvList = Field(
        default=[],
        description="Allowed browser origins; empty = same origin only, ['*'] = any.",
    )
    max_frame_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=MAX_FRAME_LIMIT,
        description="Largest Socket.IO frame; larger closes the socket (at most 512 KiB, so "
        "that every command built from a frame fits NATS's default 1 MB max_payload).",
    )
    max_body_bytes: int = Field(
        default=8 * 1024, ge=1, le=MAX_FRAME_LIMIT, description="Largest message `body`."
    )
    max_bad_frames: int = Field(
        default=10,
        ge=1,
        description="Malformed frames a connection may send before it is closed.",
    )
    rate_limit_per_sec: float = Field(
        default=50.0, gt=0, description="Sustained client events per second per connection."
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="Event burst per connection.")
    user_rate_limit_per_sec: float = Field(
        default=0.0,
        ge=0,
        description="Sustained client events per second per user across every gateway and "
        "tab, kept in Redis (`ROOMCAST_REDIS_URL`); 0 = off.",
    )
    user_rate_limit_burst: int = Field(default=200, ge=1, description="Event burst per user.")
    tenant_rate_limit_per_sec: float = Field(
        default=0.0,
        ge=0,
        description="Sustained client events per second per tenant across every gateway, "
        "kept in Redis; 0 = off.",
    )
    tenant_rate_limit_burst: int = Field(default=2000, ge=1, description="Event burst per tenant.")
    rate_limit_key_prefix: str = Field(
        default="roomcast:rl:", description="Prefix of the shared rate limits' Redis keys."
    )
    http_rate_limit_per_sec: float = Field(
        default=20.0,
        gt=0,
        description="Sustained HTTP API requests per second per user, in each gateway.",
    )
    http_rate_limit_burst: int = Field(
        default=60, ge=1, description="HTTP API request burst per user, in each gateway."
    )
    room_changes_per_minute: float = Field(
        default=10.0,
        gt=0,
        description="Rooms a user may create or delete (archive) per minute over the HTTP "
        "API, sustained, in each gateway.",
    )
    room_changes_burst: int = Field(
        default=20, ge=1, description="Room creations and deletions a user may make at once."
    )
    member_changes_per_minute: float = Field(
        default=120.0,
        gt=0,
        description="Membership changes (add, change role, remove, join, leave) per user per "
        "minute over the HTTP API, sustained, in each gateway.",
    )
    member_changes_burst: int = Field(
        default=60, ge=1, description="Membership changes a user may make at once."
    )
    request_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for a service's answer."
    )
    max_pending_packets: int = Field(
        default=1000, ge=10, description="Queued packets per slow socket before it is dropped."
    )
    resync_horizon: float = Field(
        default=5.0,
        gt=0,
        description="After a NATS reconnect, sockets are resynced from the log's position "
        "this many seconds before the connection was last known to work: the longest a "
        "message's delivery may lag behind its append (docs/deploy.md, NATS failover).",
    )
    resync_concurrency: int = Field(
        default=32, ge=1, description="Sockets resynced at once after a NATS reconnect."
    )
    log_poll_interval: float = Field(
        default=1.0, gt=0, description="Seconds between polls of the message log's position."
    )
    presence_beat_interval: float = Field(
        default=5.0, gt=0, description="Seconds between presence reports (lease, heartbeats)."
    )
    gateway_lease_ttl: float = Field(
        default=15.0,
        gt=0,
        description="Seconds after its last report before a silent gateway's users go offline.",
    )
    presence_flush_delay: float = Field(
        default=0.02, ge=0, le=1, description="Seconds to batch connects/disconnects."
    )
    forward_events: CsvList = Field(
        default=[],
        description="Client events forwarded to backend services over JetStream (stream "
        "ROOMCAST_CLIENT_EVENTS), as fnmatch patterns, e.g. `progress:*,quiz:answer`; empty "
        "= none. Names of the roomcast protocol are never forwarded.",
    )
    forward_max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=2,
        le=MAX_FRAME_LIMIT,
        description="Largest forwarded payload, as compact JSON; larger is `TOO_LARGE`.",
    )
    forward_max_age: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Seconds the client event stream keeps an event, consumed or not.",
    )
    presence_batch_max: int = Field(
        default=1000, ge=1, description="Connections per presence report, at most."
    )

    def service_keys(self) -> tuple[ServiceKey, ...]:
        """`service_api_keys`, parsed (validated when the settings loaded)."""
        return tuple(parse_entry(entry) for entry in self.service_api_keys)

    @field_validator("service_api_keys")
    @classmethod
    def _key_entries(cls, value: list[str]) -> list[str]:
        names = [parse_entry(entry).name for entry in value]
        if len(set(names)) != len(names):
            raise ValueError("two service API keys have the same name")
        return value

    @field_validator("forward_events")
    @classmethod
    def _forward_patterns(cls, value: list[str]) -> list[str]:
        return check_patterns(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ALLOWED_ALGORITHMS)
        if unknown or not value:
            raise ValueError(
                f"unsupported algorithms {unknown}; choose from {sorted(ALLOWED_ALGORITHMS)}"
            )
        return value

    @model_validator(mode="after")
    def _lease_outlives_beats(self) -> GatewaySettings:
        if self.gateway_lease_ttl < 2 * self.presence_beat_interval:
            raise ValueError("gateway_lease_ttl must be at least twice presence_beat_interval")
        return self

    @model_validator(mode="after")
    def _keys_for_algorithms(self) -> GatewaySettings:
        wants_hs = any(a.startswith("HS") for a in self.jwt_algorithms)
        wants_pk = any(not a.startswith("HS") for a in self.jwt_algorithms)
        if wants_hs and wants_pk:
            raise ValueError("jwt_algorithms may not mix HS* with RS*/ES* (key confusion)")
        if wants_hs and len(self.jwt_secret) < 32:
            raise ValueError("jwt_secret must be set (32+ characters) for HS* algorithms")
        if wants_pk and not (self.jwt_public_key or self.jwks_url):
            raise ValueError("jwt_public_key or jwks_url must be set for RS*/ES* algorithms")
        return self
