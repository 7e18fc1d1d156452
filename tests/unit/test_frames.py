"""StrictPacket: what a client may send decodes as python-socketio would; the rest is refused."""

from __future__ import annotations

import pytest
from socketio import packet

from contracts.client import echoable_client_id
from contracts.errors import ErrorCode
from services.gateway import codec
from services.gateway.frames import MAX_ACK_ID, RefusedFrame, StrictPacket

StrictPacket.json = codec


def _refused(frame: object) -> RefusedFrame:
    with pytest.raises(RefusedFrame) as caught:
        StrictPacket(encoded_packet=frame)
    return caught.value


def test_valid_packets_decode_as_before() -> None:
    event = StrictPacket(encoded_packet='2/tenant,17["chat:send",{"to":"b"}]')
    assert (event.packet_type, event.namespace, event.id) == (packet.EVENT, "/tenant", 17)
    assert event.data == ["chat:send", {"to": "b"}]
    connect = StrictPacket(encoded_packet='0/tenant,{"token":"t"}')
    assert (connect.packet_type, connect.data) == (packet.CONNECT, {"token": "t"})
    assert StrictPacket(encoded_packet="1/tenant,").packet_type == packet.DISCONNECT


@pytest.mark.parametrize(
    "frame",
    ["x", "3/tenant,1[]", "4/tenant,", "51-/tenant,[]", "8", b"2[]", {"a": 1}, "25-[1]"],
)
def test_what_a_client_may_not_send_is_refused_without_an_ack_id(frame: object) -> None:
    refused = _refused(frame)
    assert refused.id is None and not refused.unanswerable


@pytest.mark.parametrize(
    "payload",
    ["[" * 1100 + "]" * 1100, '["a",' + "9" * 5000 + "]", '["a",{', "{}", "[]", '"a"'],
)
def test_an_undecodable_event_keeps_its_namespace_and_ack_id(payload: str) -> None:
    refused = _refused(f"2/tenant,5{payload}")
    assert (refused.namespace, refused.id, refused.code) == ("/tenant", 5, ErrorCode.INVALID)
    assert not refused.unanswerable


@pytest.mark.parametrize("ack_id", [str(MAX_ACK_ID + 1), "9" * 101])
def test_an_ack_id_too_large_to_answer_is_refused_as_unanswerable(ack_id: str) -> None:
    refused = _refused(f'2/tenant,{ack_id}["a",{{}}]')
    assert refused.unanswerable and refused.id is None


@pytest.mark.parametrize(
    ("value", "echoed"),
    [
        ("k1", "k1"),
        ("é" * 128, "é" * 128),
        ("k" * 129, None),
        ("", None),
        ("a\nb", None),
        (["k"], None),
        (7, None),
        (None, None),
    ],
)
def test_only_a_valid_client_id_is_echoed(value: object, echoed: str | None) -> None:
    assert echoable_client_id(value) == echoed
