"""The payload codec: every Temporal payload (workflow inputs, Update arguments, activity inputs and results,
query answers) is encrypted with AES-GCM before it leaves the process, so staff-typed free text never sits in clear
in the Temporal history, its database or its web UI.

The key is derived from the settings' encryption key (HKDF-SHA256, its own label), its id (8 hex characters of its
SHA-256) travels in the payload's metadata; payloads without the ``binary/encrypted`` encoding (histories recorded
before the codec) pass through undecoded, so every one of them still replays. The codec server (`jiesu
codec-server`) decodes for the Temporal UI, for authorised staff only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE = 12


def payload_key(secret: bytes) -> bytes:
    """The 256-bit payload key derived from the settings' encryption key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jiesu temporal payloads").derive(secret)


def key_id(key: bytes) -> str:
    """The id a payload names its key by (never the key)."""
    return hashlib.sha256(key).hexdigest()[:8]


class EncryptionCodec(PayloadCodec):
    """AES-GCM over each serialised payload; decodes with any known key (the newest one encrypts)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("the payload codec needs at least one key")
        self._encrypt_id = key_id(keys[0])
        self._keys = {key_id(k): AESGCM(k) for k in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload."""
        aead, out = self._keys[self._encrypt_id], []
        for p in payloads:
            nonce = os.urandom(NONCE)
            out.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self._encrypt_id.encode()},
                               data=nonce + aead.encrypt(nonce, p.SerializeToString(), None)))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; pass the others through (recorded before the codec)."""
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            kid = p.metadata.get(KEY_ID, b"").decode()
            aead = self._keys.get(kid)
            if aead is None:
                raise ValueError(f"payload encrypted with unknown key {kid!r}")
            out.append(Payload.FromString(aead.decrypt(p.data[:NONCE], p.data[NONCE:], None)))
        return out


def data_converter(secrets: Sequence[bytes]) -> DataConverter:
    """The pydantic data converter with the payload codec (``secrets``: the current key first, then older ones)."""
    return dataclasses.replace(pydantic_data_converter,
                               payload_codec=EncryptionCodec([payload_key(s) for s in secrets]))
