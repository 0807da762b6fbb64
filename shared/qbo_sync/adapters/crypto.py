"""Seals small secrets with KMS Encrypt/Decrypt directly: OAuth tokens are far below KMS's 4 KB
plaintext limit, so no data keys (envelope encryption) are needed.

The encryption context binds a ciphertext to its owner (tenant + realm): a token blob copied onto
another tenant's item cannot be decrypted there, and every Decrypt is attributable in CloudTrail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class KmsSealer:
    def __init__(self, key_id: str, client: KMSClient) -> None:
        self._key_id = key_id
        self._client = client

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        response = self._client.encrypt(
            KeyId=self._key_id, Plaintext=plaintext, EncryptionContext=dict(context)
        )
        return response["CiphertextBlob"]

    def unseal(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        response = self._client.decrypt(
            KeyId=self._key_id, CiphertextBlob=ciphertext, EncryptionContext=dict(context)
        )
        return response["Plaintext"]
