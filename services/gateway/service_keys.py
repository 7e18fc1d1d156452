"""Service API keys: how services that do not speak NATS authenticate to
`/api/server/...`, instead of a user's JWT.

A key is a random secret (`roomcast service-key new`) that the gateway never stores:
`ROOMCAST_SERVICE_API_KEYS` holds one entry per key, `name:tenant:sha256hex` — a name
for logs and limits, the one tenant the key may publish to (`*`: any tenant, and
platform-wide targets), and the SHA-256 digest of the key. A presented key is hashed
and compared with every digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

ANY_TENANT = "*"
KEY_PREFIX = "rck_"
_ENTRY = re.compile(r"^([A-Za-z0-9_.-]{1,64}):([^:\s]{1,128}):([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """One configured key: its name, the tenant it may publish to (None: any)."""

    name: str
    tenant: str | None
    digest: bytes

    def may_publish_to(self, tenant: str | None) -> bool:
        """`tenant` None is a platform-wide target: only an any-tenant key reaches it."""
        return self.tenant is None or self.tenant == tenant


def parse_entry(entry: str) -> ServiceKey:
    """One `name:tenant:sha256hex` entry.

    Raises:
        ValueError: the entry is not of that form.
    """
    match = _ENTRY.match(entry.strip())
    if match is None:
        raise ValueError(
            "a service API key entry is name:tenant:sha256hex (tenant * for any), "
            "as `roomcast service-key new` prints it"
        )
    name, tenant, digest = match.groups()
    return ServiceKey(name, None if tenant == ANY_TENANT else tenant, bytes.fromhex(digest))


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def find_key(keys: tuple[ServiceKey, ...], presented: str) -> ServiceKey | None:
    """The configured key `presented` is, or None; every digest is compared."""
    got = digest_of(presented)
    found = None
    for key in keys:
        if hmac.compare_digest(key.digest, got):
            found = key
    return found


def new_key(name: str, tenant: str | None) -> tuple[str, str]:
    """A fresh key and its settings entry: `(key, "name:tenant:sha256hex")`."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError("a key's name is 1-64 letters, digits, '_', '.' or '-'")
    if tenant is not None and (not tenant or ":" in tenant or tenant.strip() != tenant):
        raise ValueError("a tenant id without ':' or spaces")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry = f"{name}:{tenant or ANY_TENANT}:{digest_of(key).hex()}"
    parse_entry(entry)
    return key, entry
