"""The payload codec: AES-GCM per payload with the key id in its metadata, unencrypted payloads passed through
(histories recorded before the codec), older keys still decoding after a rotation."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from core.codec import ENCODING, KEY_ID, EncryptionCodec, data_converter, key_id, payload_key

NEW, OLD = payload_key(b"new secret"), payload_key(b"old secret")
SECRET_TEXT = "王某某 13800009999 说楼顶违建"


def plain(text: str = SECRET_TEXT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_payloads_are_encrypted_with_the_key_id_and_decode_back() -> None:
    codec = EncryptionCodec([NEW])
    (sealed,) = await codec.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == key_id(NEW).encode()
    assert SECRET_TEXT.encode() not in sealed.data and b"13800009999" not in sealed.data
    (opened,) = await codec.decode([sealed])
    assert opened == plain()
    (again,) = await codec.encode([plain()])
    assert again.data != sealed.data  # a fresh nonce every time


async def test_unencrypted_payloads_pass_through() -> None:
    assert await EncryptionCodec([NEW]).decode([plain()]) == [plain()]


async def test_a_rotated_key_still_decodes_and_an_unknown_one_is_refused() -> None:
    (old_sealed,) = await EncryptionCodec([OLD]).encode([plain()])
    assert await EncryptionCodec([NEW, OLD]).decode([old_sealed]) == [plain()]
    with pytest.raises(ValueError, match="unknown key"):
        await EncryptionCodec([NEW]).decode([old_sealed])


async def test_a_tampered_payload_does_not_decode() -> None:
    (sealed,) = await EncryptionCodec([NEW]).encode([plain()])
    broken = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(Exception):  # noqa: B017  (cryptography's InvalidTag)
        await EncryptionCodec([NEW]).decode([broken])


async def test_the_converter_round_trips_values() -> None:
    conv = data_converter([b"secret"])
    payloads = await conv.encode([{"summary": SECRET_TEXT}])
    assert SECRET_TEXT.encode() not in payloads[0].SerializeToString()
    assert await conv.decode(payloads, [dict]) == [{"summary": SECRET_TEXT}]
