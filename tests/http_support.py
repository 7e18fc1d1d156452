"""An HTTP client for the gateway's HTTP API, as a test user would call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.clients import token, unique


@dataclass
class Answer:
    """Status, decoded JSON body (None when empty) and headers of one response."""

    status: int
    body: Any
    headers: httpx.Headers

    @property
    def code(self) -> str | None:
        """`error.code` of a refusal."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"]["code"])
        return None


class Api:
    """One user of one tenant calling a gateway's HTTP API with a Bearer token."""

    def __init__(self, http: httpx.AsyncClient, tenant: str, user: str, role: str = "member"):
        self.http = http
        self.tenant = tenant
        self.user = user
        self.token = token(user, tenant, role)

    def as_(self, user: str, role: str = "member") -> Api:
        """Another user of the same tenant."""
        return Api(self.http, self.tenant, user, role)

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Answer:
        sent = {"Authorization": f"Bearer {self.token}"} if auth else {}
        if content is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        resp = await self.http.request(
            method, path, json=json, content=content, params=params, headers=sent
        )
        body = resp.json() if resp.content else None
        return Answer(resp.status_code, body, resp.headers)

    async def ok(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        """The body of a 2xx answer (fails the test otherwise)."""
        answer = await self.call(method, path, json, **kwargs)
        assert 200 <= answer.status < 300, (method, path, answer.status, answer.body)
        return answer.body

    async def refused(
        self, status: int, code: str, method: str, path: str, json: Any = None, **kwargs: Any
    ) -> Answer:
        """Assert a refusal with `status` and `error.code`; return it."""
        answer = await self.call(method, path, json, **kwargs)
        assert (answer.status, answer.code) == (status, code), (method, path, answer)
        return answer

    async def room(self, slug: str, visibility: str = "private", **fields: Any) -> Any:
        """Create a room (as a tenant admin) and return it."""
        body = {"name": slug.title(), "slug": slug, "visibility": visibility, **fields}
        return await self.ok("POST", "/api/chat-rooms", body)

    async def add(self, room: str | int, user: str, role: str = "member") -> Any:
        return await self.ok(
            "POST", f"/api/chat-rooms/{room}/members", {"userId": user, "role": role}
        )


def tenant_admin(http: httpx.AsyncClient, prefix: str = "http") -> Api:
    """A tenant admin of a fresh tenant."""
    return Api(http, unique(prefix), "admin", "admin")
