"""Encryption at rest for channel credentials (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from CREDENTIALS_KEY (settings.CREDENTIALS_KEYS, the first one encrypts). Production
requires it (settings refuses to start without it when DEBUG is off). Installs from before that
rule encrypted with a key derived from SECRET_KEY: that key is still accepted for decryption
only, so such an install keeps working once CREDENTIALS_KEY is set, and
`manage.py rotate_credentials` re-encrypts every channel with the first CREDENTIALS_KEY.
A DEBUG demo without CREDENTIALS_KEY encrypts with the derived key.
"""

import base64
import hashlib
import json
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from socialdesk.scrub import remember_secrets

log = logging.getLogger(__name__)


def derived_key() -> str:
    """The key older installs derived from SECRET_KEY (decryption only when keys are set)."""
    digest = hashlib.sha256(b"socialdesk-credentials:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _fernets() -> list[Fernet]:
    keys = list(settings.CREDENTIALS_KEYS)
    if not keys and not settings.DEBUG:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY is not set: production needs its own key for channel credentials."
        )
    try:
        return [Fernet(key) for key in keys or [derived_key()]]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEY must be 32 url-safe base64-encoded bytes "
            "(make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def _multi() -> MultiFernet:
    return MultiFernet(_fernets())


def encrypt_json(value: dict[str, Any]) -> str:
    remember_secrets(value)
    return _multi().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        value = json.loads(_multi().decrypt(token.encode()))
    except InvalidToken:
        value = _decrypt_legacy(token)
    remember_secrets(value)
    return value


def needs_rotation(token: str) -> bool:
    """Whether `token` is not encrypted with the first (current) key."""
    if not token:
        return False
    try:
        _fernets()[0].decrypt(token.encode())
    except InvalidToken:
        return True
    return False


def rotate(token: str) -> str:
    """`token` re-encrypted with the first key (decrypting with any key, or the legacy one)."""
    return encrypt_json(decrypt_json(token)) if token else token


def _decrypt_legacy(token: str) -> dict[str, Any]:
    if settings.CREDENTIALS_KEYS:
        try:
            value = json.loads(Fernet(derived_key()).decrypt(token.encode()))
        except InvalidToken:
            pass
        else:
            log.warning(
                "channel credentials are still encrypted with the key derived from SECRET_KEY: "
                "run `manage.py rotate_credentials`"
            )
            return value
    raise ImproperlyConfigured(
        "Channel credentials cannot be decrypted: CREDENTIALS_KEY changed without keeping "
        "the old key (list old keys after the new one, comma separated)."
    )
