"""KMS look-ups the lab needs, answered from moto's KMS backend in-process."""

from __future__ import annotations

import threading

from moto.kms.models import Key, kms_backends

from .common import ACCOUNT_ID

AWS_S3_ALIAS = "alias/aws/s3"
_lock = threading.Lock()


class UnknownKey(LookupError):
    """A key id, key ARN, alias name or alias ARN that names no key."""


def resolve_key(reference: str, region: str) -> Key:
    """The moto key behind any KMS key reference (id, key ARN, alias name, alias ARN).

    The AWS managed key ``aws/s3`` is created on first use, as AWS does, and is reported
    with ``KeyManager: AWS``.
    """
    if reference.startswith("arn:"):
        region = reference.split(":")[3]
    backend = kms_backends[ACCOUNT_ID][region]
    name = backend.get_alias_name(reference)
    with _lock:
        if name.startswith("alias/"):
            key_id = backend.get_key_id_from_alias(name)
            if key_id is None:
                raise UnknownKey(reference)
        else:
            key_id = backend.get_key_id(name)
        key = backend.keys.get(key_id)
        if key is None:
            raise UnknownKey(reference)
        if name.startswith("alias/aws/"):
            key.key_manager = "AWS"
        if name == AWS_S3_ALIAS:
            key.description = "Default key that protects my S3 objects when no other key is defined"
    return key


def key_arn(reference: str, region: str) -> str:
    """The key ARN for any KMS key reference; raises ``UnknownKey``."""
    return resolve_key(reference, region).arn
