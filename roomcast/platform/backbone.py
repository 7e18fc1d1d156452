"""Secure connections to the backbone: TLS for NATS, PostgreSQL and Redis, and NATS
credentials, from settings (`ROOMCAST_*_TLS_*`, `ROOMCAST_NATS_CREDS`,
`ROOMCAST_NATS_NKEY`). Users, passwords and tokens go in the URLs
(`tls://user:password@host:4222`, `rediss://:password@host:6379/0`,
`postgresql+asyncpg://user:password@host/db`), which are masked wherever they are shown.

Each function returns the keyword arguments its client library takes, empty when
nothing is set, so a plain development setup passes nothing extra.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from roomcast.platform.settings import CommonSettings


def tls_context(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A client TLS context verifying the server against `ca` (the system's CAs when
    None) and presenting `cert`/`key` when given; None when nothing is set."""
    if ca is None and cert is None:
        return None
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def nats_options(settings: CommonSettings) -> dict[str, Any]:
    """`nats.connect` arguments: TLS context, a creds file or an NKey seed file."""
    options: dict[str, Any] = {}
    context = tls_context(settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key)
    if context is not None:
        options["tls"] = context
    if settings.nats_creds is not None:
        options["user_credentials"] = str(settings.nats_creds)
    if settings.nats_nkey is not None:
        options["nkeys_seed"] = str(settings.nats_nkey)
    return options


def database_connect_args(settings: CommonSettings) -> dict[str, Any]:
    """asyncpg `connect` arguments: `ssl` as a verifying context when a CA or a client
    certificate is set (else whatever `?ssl=` in the URL says)."""
    context = tls_context(
        settings.database_tls_ca, settings.database_tls_cert, settings.database_tls_key
    )
    return {} if context is None else {"ssl": context}


def redis_options(settings: CommonSettings) -> dict[str, Any]:
    """`redis.asyncio.Redis.from_url` arguments for a `rediss://` URL: the CA and the
    client certificate (verification is on by default); none for a plain `redis://`
    URL, whose connections take no TLS arguments."""
    options: dict[str, Any] = {}
    if not settings.redis_url.startswith("rediss://"):
        return options
    if settings.redis_tls_ca is not None:
        options["ssl_ca_certs"] = str(settings.redis_tls_ca)
    if settings.redis_tls_cert is not None:
        options["ssl_certfile"] = str(settings.redis_tls_cert)
        options["ssl_keyfile"] = str(settings.redis_tls_key) if settings.redis_tls_key else None
    return options
