"""TLS and credentials settings become each client library's arguments."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from roomcast.platform.backbone import database_connect_args, nats_options, redis_options
from roomcast.platform.settings import CommonSettings
from tests.tls_support import TestCA


def test_nothing_set_passes_nothing() -> None:
    plain = CommonSettings()
    assert nats_options(plain) == {} and database_connect_args(plain) == {}
    assert redis_options(plain) == {}


def test_a_ca_and_a_client_certificate_make_verifying_contexts(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    client = ca.issue("roomcast", server=False)
    settings = CommonSettings(
        nats_tls_ca=ca.cert,
        nats_tls_cert=client.cert,
        nats_tls_key=client.key,
        database_tls_ca=ca.cert,
        redis_url="rediss://:pw@redis:6379/0",
        redis_tls_ca=ca.cert,
    )
    context = nats_options(settings)["tls"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert isinstance(database_connect_args(settings)["ssl"], ssl.SSLContext)
    assert redis_options(settings) == {"ssl_ca_certs": str(ca.cert)}


def test_a_plain_redis_url_takes_no_tls_arguments(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    settings = CommonSettings(redis_url="redis://redis:6379/0", redis_tls_ca=ca.cert)
    assert redis_options(settings) == {}


def test_missing_files_and_a_certificate_without_its_key_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        CommonSettings(nats_tls_ca=tmp_path / "missing.pem")
    client = TestCA(tmp_path).issue("roomcast", server=False)
    with pytest.raises(ValidationError, match="ROOMCAST_NATS_TLS_KEY"):
        CommonSettings(nats_tls_cert=client.cert)
