"""`ROOMCAST_NATS_URL` names one NATS server or several of one cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roomcast.platform.settings import CommonSettings, describe, nats_servers


def test_one_url_is_one_server() -> None:
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]


def test_commas_separate_servers_and_spaces_do_not_count() -> None:
    url = " nats://a:4222, nats://b:4222 ,,tls://c:4222"
    assert nats_servers(url) == ["nats://a:4222", "nats://b:4222", "tls://c:4222"]


@pytest.mark.parametrize("url", ["", " ", ",", " , "])
def test_no_server_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="names no NATS server"):
        nats_servers(url)
    with pytest.raises(ValidationError, match="names no NATS server"):
        CommonSettings(nats_url=url)


def test_describe_masks_the_password_of_every_server() -> None:
    settings = CommonSettings(nats_url="nats://u:secret1@a:4222,nats://u:secret2@b:4222")
    shown = describe(settings)["ROOMCAST_NATS_URL"]
    assert shown == "nats://u:***@a:4222,nats://u:***@b:4222"
