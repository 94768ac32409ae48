"""Encryption at rest for tokens, PKCE verifiers and kubeconfigs (Fernet, key from settings)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class SealError(Exception):
    """Stored data could not be decrypted (wrong key, or tampered)."""


class Sealer:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, token: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise SealError("stored credentials cannot be decrypted with the configured "
                            "HEXABOT_ENCRYPTION_KEY") from exc
