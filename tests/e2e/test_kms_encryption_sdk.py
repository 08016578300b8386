"""The AWS Encryption SDK for Python (`aws-encryption-sdk` on PyPI) encrypts and decrypts with
a Palisade KMS key: envelope encryption through GenerateDataKey / Encrypt / Decrypt with the
SDK's encryption context, unmodified. Skipped when the package is not installed."""

import pytest

aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
from aws_encryption_sdk.identifiers import CommitmentPolicy  # noqa: E402

from conftest import ROOT_AK, ROOT_SK  # noqa: E402
from test_kms import kms, new_key  # noqa: E402

import boto3  # noqa: E402


def provider(key_arns):
    # The SDK builds its own KMS clients from a botocore session; AWS_ENDPOINT_URL_KMS points
    # them at Palisade.
    session = boto3.session.Session(aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
                                    region_name="us-east-1")
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=key_arns, botocore_session=session._session)


def test_encryption_sdk_round_trip(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", endpoint)
    k = kms(endpoint)
    a = new_key(k)["Arn"]
    b = new_key(k)["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    plaintext = b"PetTracker owner records " * 200
    ctx = {"purpose": "pettracker-backup", "tenant": "t-1"}
    ciphertext, header = client.encrypt(source=plaintext, key_provider=provider([a, b]),
                                        encryption_context=ctx)
    assert plaintext not in ciphertext
    assert {e.key_provider.key_info.decode() for e in header.encrypted_data_keys} == {a, b}
    # Either key alone decrypts (the data key was encrypted under both).
    for arn in (a, b):
        decrypted, dheader = client.decrypt(source=ciphertext, key_provider=provider([arn]))
        assert decrypted == plaintext
        assert all(dheader.encryption_context[key] == v for key, v in ctx.items())
    # With both keys disabled the SDK cannot decrypt.
    k.disable_key(KeyId=a)
    k.disable_key(KeyId=b)
    with pytest.raises(Exception):
        client.decrypt(source=ciphertext, key_provider=provider([a, b]))
