"""Personal data: phone masking and normalisation, encryption, keyed phone hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from core.crypto import Cipher, mask_name, mask_phone, normalise_phone
from core.settings import Settings


def make_cipher(tmp_path: Path, key: str | None = None) -> Cipher:
    return Cipher(Settings(encryption_key=key or Fernet.generate_key().decode(), data_dir=tmp_path))


# --- masking and normalisation --------------------------------------------------------------------------------


def test_mask_mobile() -> None:
    assert mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize(
    "phone",
    ["+8613812345678", "8613812345678", "+86 138 1234 5678", " 138 1234 5678 "],
)
def test_mask_mobile_strips_country_code_and_spaces(phone: str) -> None:
    assert normalise_phone(phone) == "13812345678"
    assert mask_phone(phone) == "138****5678"


@pytest.mark.parametrize("phone", ["138-1234-5678", "+86 138-1234-5678", "+86-13812345678"])
def test_mask_mobile_strips_dashes(phone: str) -> None:
    """normalise_phone's docstring promises to strip dashes; mobiles written 138-1234-5678 are common."""
    assert normalise_phone(phone) == "13812345678"
    assert mask_phone(phone) == "138****5678"


@pytest.mark.parametrize(
    ("phone", "normalised", "masked"),
    [
        ("010-12345678", "01012345678", "010****5678"),
        ("01012345678", "01012345678", "010****5678"),
        ("(010)12345678", "01012345678", "010****5678"),
        ("0755-1234567", "07551234567", "075****4567"),
        ("0755-12345678", "075512345678", "075*****5678"),
    ],
)
def test_mask_landline(phone: str, normalised: str, masked: str) -> None:
    assert normalise_phone(phone) == normalised
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    "phone",
    ["", "abc", "1381234567", "138123456789", "12812345678", "23812345678", "+1 415 555 0100", "010-123456"],
)
def test_invalid_phone_raises(phone: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(phone)
    with pytest.raises(ValueError):
        mask_phone(phone)


def test_mask_never_contains_middle_digits() -> None:
    masked = mask_phone("13899990000")
    assert masked == "138****0000"
    assert "9999" not in masked


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("欧阳娜娜", "欧***"), ("李", "李*"), ("  王五 ", "王*"), ("", "")]
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# --- encryption ---------------------------------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip(tmp_path: Path) -> None:
    cipher = make_cipher(tmp_path)
    for text in ["张三", "13812345678", "北京市西城区什刹海街道 1 号", ""]:
        token = cipher.encrypt(text)
        assert token != text
        assert text == "" or text not in token
        token.encode("ascii")  # Fernet tokens are ASCII
        assert cipher.decrypt(token) == text


def test_encryption_is_randomised(tmp_path: Path) -> None:
    cipher = make_cipher(tmp_path)
    assert cipher.encrypt("张三") != cipher.encrypt("张三")


def test_decrypt_with_same_key_in_another_instance(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    token = make_cipher(tmp_path, key).encrypt("张三")
    assert make_cipher(tmp_path / "other", key).decrypt(token) == "张三"


def test_decrypt_with_wrong_key_raises_value_error(tmp_path: Path) -> None:
    token = make_cipher(tmp_path).encrypt("张三")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        make_cipher(tmp_path).decrypt(token)


def test_decrypt_garbage_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_cipher(tmp_path).decrypt("not-a-token")


def test_key_file_is_generated_and_reused(tmp_path: Path) -> None:
    settings = Settings(encryption_key="", data_dir=tmp_path / "data")
    token = Cipher(settings).encrypt("张三")
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Cipher(Settings(encryption_key="", data_dir=tmp_path / "data")).decrypt(token) == "张三"
    assert Cipher(Settings(encryption_key=key_file.read_text().strip(), data_dir=tmp_path)).decrypt(token) == "张三"


# --- phone hash ---------------------------------------------------------------------------------------------------


def test_phone_hash_is_stable_across_formats(tmp_path: Path) -> None:
    cipher = make_cipher(tmp_path)
    h = cipher.phone_hash("13812345678")
    assert len(h) == 64 and int(h, 16) >= 0
    assert cipher.phone_hash("13812345678") == h
    assert cipher.phone_hash("+86 138 1234 5678") == h
    assert cipher.phone_hash("+8613812345678") == h
    assert cipher.phone_hash("8613812345678") == h
    assert "13812345678" not in h


def test_phone_hash_is_stable_across_dashed_formats(tmp_path: Path) -> None:
    cipher = make_cipher(tmp_path)
    assert cipher.phone_hash("138-1234-5678") == cipher.phone_hash("13812345678")
    assert cipher.phone_hash("010-12345678") == cipher.phone_hash("01012345678")


def test_phone_hash_differs_per_phone(tmp_path: Path) -> None:
    cipher = make_cipher(tmp_path)
    assert cipher.phone_hash("13812345678") != cipher.phone_hash("13812345679")


def test_phone_hash_differs_per_key(tmp_path: Path) -> None:
    a = make_cipher(tmp_path)
    b = make_cipher(tmp_path)
    assert a.phone_hash("13812345678") != b.phone_hash("13812345678")


def test_phone_hash_same_key_same_hash(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert make_cipher(tmp_path, key).phone_hash("13812345678") == make_cipher(tmp_path / "x", key).phone_hash(
        "+86 13812345678"
    )


def test_phone_hash_rejects_invalid_phone(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_cipher(tmp_path).phone_hash("12345")
