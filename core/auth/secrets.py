"""TOTP secrets encrypted at rest (issue #12, item 15): Fernet (AES-128-CBC with an
HMAC-SHA256 tag, from ``cryptography``), keyed with TOTP_ENCRYPTION_KEY — a Fernet key,
or several separated by commas, the first encrypting and all decrypting (rotation).
Unset, the key is derived from SECRET_KEY like AUDIT_KEY; set it explicitly in
production and keep it when rotating SECRET_KEY, or every enrolled user must enrol again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator


def fernet(config=None) -> MultiFernet:
    cfg = config if config is not None else current_app.config
    keys = cfg.get("TOTP_ENCRYPTION_KEY")
    if keys:
        return MultiFernet([Fernet(k.strip()) for k in str(keys).split(",") if k.strip()])
    secret = cfg["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    derived = hmac.new(secret, b"retiree-admin totp secrets", hashlib.sha256).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def encrypt(value: str, config=None) -> str:
    return fernet(config).encrypt(value.encode()).decode()


def decrypt(token: str, config=None) -> str:
    return fernet(config).decrypt(token.encode()).decode()


class EncryptedString(TypeDecorator):
    """A string column stored as a Fernet token; a wrong key raises (never reads as
    "no secret", which would switch the second factor off)."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
