"""Encryption at rest for broker credentials: Fernet, with key rotation through MultiFernet.

`RM_ENCRYPTION_KEYS` holds comma-separated Fernet keys, newest first. New ciphertexts use the
newest key; every listed key still decrypts, so rotating is: put a new key in front, run
`rotate` over the stored ciphertexts (re-encrypting them with the new key), then drop the old key.
Plaintexts travel as `SecretStr`, whose repr and str are masked.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from rm_pipeline.app.errors import ConfigurationError, required_secret
from rm_pipeline.settings import Settings

KEYS_VARIABLE = "RM_ENCRYPTION_KEYS"


def generate_key() -> str:
    """A new Fernet key, for `RM_ENCRYPTION_KEYS`."""
    return Fernet.generate_key().decode()


class CredentialCipher:
    """Encrypts with the newest key, decrypts with any; never shows a key or a plaintext."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError(f"{KEYS_VARIABLE} lists no key")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ConfigurationError(
                f"{KEYS_VARIABLE} holds a value that is not a Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from exc
        self._key_count = len(keys)

    def __repr__(self) -> str:
        return f"CredentialCipher(keys={self._key_count})"

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialCipher:
        listed = required_secret(settings.encryption_keys, KEYS_VARIABLE).split(",")
        return cls([key.strip() for key in listed if key.strip()])

    def encrypt(self, plaintext: SecretStr) -> str:
        return self._fernet.encrypt(plaintext.get_secret_value().encode()).decode()

    def decrypt(self, ciphertext: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode()).decode())
        except InvalidToken as exc:
            raise ConfigurationError(self._unreadable()) from exc

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext, encrypted with the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError(self._unreadable()) from exc

    @staticmethod
    def _unreadable() -> str:
        return (
            f"a stored credential cannot be decrypted with any key in {KEYS_VARIABLE} "
            "(was its key removed before rotating?)"
        )
