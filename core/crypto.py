"""Encryption, hashing and masking of personal data (name, phone)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import Settings

ANONYMISED = "已匿名化"  # what the retention sweep leaves where personal data was
PHONE_RE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{9,11})$")


@lru_cache(maxsize=8)
def _load_key(explicit: str, key_file: str) -> bytes:
    if explicit:
        return explicit.encode()
    path = Path(key_file)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_bytes().strip()


def settings_secret(settings: Settings) -> bytes:
    """The settings' encryption key (generated once into ``key_file``, by default <data_dir>/secret.key, when not
    given)."""
    return _load_key(settings.encryption_key, str(settings.key_file or settings.data_dir / "secret.key"))


class Cipher:
    """Encrypts personal data at rest and derives the keyed phone hash used to find repeat complaints."""

    def __init__(self, settings: Settings) -> None:
        key = settings_secret(settings)
        # the current key encrypts; older ones still decrypt (key rotation, `jiesu keys rotate-data-key`)
        self._fernet = MultiFernet([Fernet(key), *(Fernet(k.encode()) for k in settings.previous_encryption_keys)])
        # the hashes have their own secret when configured, so rotating the encryption key keeps repeat detection
        hashes = settings.phone_hash_key.encode() or key
        self._hash_key = hashlib.sha256(b"jiesu-phone-hash:" + hashes).digest()
        self._intake_key = hashlib.sha256(b"jiesu-intake-fingerprint:" + hashes).digest()

    def rotate(self, token: str) -> str:
        """The token re-encrypted under the current key (from any configured key)."""
        return self._fernet.rotate(token.encode()).decode()

    def encrypt(self, text: str) -> str:
        """Encrypt a string (Fernet token, ASCII)."""
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Decrypt a Fernet token; raises ValueError when the key does not fit."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("personal data cannot be decrypted with the configured key") from exc

    def fingerprint(self, text: str) -> str:
        """Keyed fingerprint of what intake sent (HMAC-SHA256, hex): without the key nobody can test guesses of
        the name and phone against it."""
        return hmac.new(self._intake_key, text.encode(), hashlib.sha256).hexdigest()

    def phone_hash(self, phone: str) -> str:
        """Keyed hash of the normalised phone number (HMAC-SHA256, hex)."""
        return hmac.new(self._hash_key, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()


def normalise_phone(phone: str) -> str:
    """Strip spaces, dashes and the +86 prefix; raise ValueError when it is no Chinese phone number."""
    compact = re.sub(r"[\s()-]", "", phone)
    match = PHONE_RE.match(compact)
    if not match:
        raise ValueError("phone must be a mainland mobile (11 digits, 1[3-9]…) or a landline (0xx-xxxxxxx)")
    return match.group(1)


def mask_phone(phone: str) -> str:
    """138****5678: keep the first three and the last four digits."""
    digits = normalise_phone(phone)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """张** : keep the first character only."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def new_token(prefix: str, nbytes: int = 24) -> str:
    """A random URL-safe token with a readable prefix."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def token_hash(token: str) -> str:
    """SHA-256 of an API token (tokens are high-entropy, so no salt or KDF is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
