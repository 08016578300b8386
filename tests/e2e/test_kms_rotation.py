"""KMS key rotation: EnableKeyRotation / DisableKeyRotation / GetKeyRotationStatus /
RotateKeyOnDemand / ListKeyRotations through boto3 and the aws CLI; old ciphertexts keep
decrypting after rotations; automatic rotation on the business clock."""

import json
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from conftest import admin
from test_kms import error_code, kms, new_key


def test_rotation_status_enable_disable(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    key = md["KeyId"]
    s = k.get_key_rotation_status(KeyId=key)
    assert s["KeyRotationEnabled"] is False and s["KeyId"] == md["Arn"]
    assert "RotationPeriodInDays" not in s and "NextRotationDate" not in s
    k.enable_key_rotation(KeyId=key)
    s = k.get_key_rotation_status(KeyId=key)
    assert s["KeyRotationEnabled"] is True and s["RotationPeriodInDays"] == 365
    assert s["NextRotationDate"] - md["CreationDate"] >= timedelta(days=364, hours=23)
    assert s["NextRotationDate"] - md["CreationDate"] <= timedelta(days=365, minutes=5)
    k.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    s = k.get_key_rotation_status(KeyId=key)
    assert s["RotationPeriodInDays"] == 90
    assert s["NextRotationDate"] - md["CreationDate"] <= timedelta(days=90, minutes=5)
    k.disable_key_rotation(KeyId=key)
    s = k.get_key_rotation_status(KeyId=key)
    assert s["KeyRotationEnabled"] is False and "NextRotationDate" not in s
    # The rotation operations take a key id or key ARN, not an alias (botocore's model
    # documents aliases only for the cryptographic operations and DescribeKey).
    k.create_alias(AliasName="alias/rot", TargetKeyId=key)
    for call in (lambda: k.enable_key_rotation(KeyId="alias/rot", RotationPeriodInDays=2560),
                 lambda: k.get_key_rotation_status(KeyId="alias/rot")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "NotFoundException"
        assert e.value.response["Error"]["Message"] == "Invalid keyId alias/rot"
    k.enable_key_rotation(KeyId=md["Arn"], RotationPeriodInDays=2560)
    assert k.get_key_rotation_status(KeyId=md["Arn"])["RotationPeriodInDays"] == 2560


def test_rotation_errors(endpoint):
    k = kms(endpoint, validate=False)
    key = new_key(k)["KeyId"]
    for period in [89, 2561, 0]:
        with pytest.raises(ClientError) as e:
            k.enable_key_rotation(KeyId=key, RotationPeriodInDays=period)
        assert error_code(e) == "ValidationException", period
    assert k.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    signing = new_key(k, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    hmac = new_key(k, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyId"]
    for other in [signing, hmac]:
        for call in [lambda: k.enable_key_rotation(KeyId=other),
                     lambda: k.rotate_key_on_demand(KeyId=other),
                     lambda: k.get_key_rotation_status(KeyId=other),
                     lambda: k.list_key_rotations(KeyId=other)]:
            with pytest.raises(ClientError) as e:
                call()
            assert error_code(e) == "UnsupportedOperationException"
    k.disable_key(KeyId=key)
    for call in [lambda: k.enable_key_rotation(KeyId=key), lambda: k.rotate_key_on_demand(KeyId=key)]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "DisabledException"
    k.enable_key(KeyId=key)
    k.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        k.rotate_key_on_demand(KeyId=key)
    assert error_code(e) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        k.enable_key_rotation(KeyId="11111111-2222-3333-4444-555555555555")
    assert error_code(e) == "NotFoundException"


def test_on_demand_rotation_keeps_old_ciphertexts(endpoint):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    ctx = {"tenant": "pettracker"}
    before = k.encrypt(KeyId=key, Plaintext=b"before rotation", EncryptionContext=ctx)["CiphertextBlob"]
    dk = k.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert k.list_key_rotations(KeyId=key)["Rotations"] == []
    r = k.rotate_key_on_demand(KeyId=key)
    assert r["KeyId"].endswith(key)
    k.rotate_key_on_demand(KeyId=key)
    after = k.encrypt(KeyId=key, Plaintext=b"after rotation", EncryptionContext=ctx)["CiphertextBlob"]
    assert k.decrypt(CiphertextBlob=before, EncryptionContext=ctx)["Plaintext"] == b"before rotation"
    assert k.decrypt(CiphertextBlob=after, EncryptionContext=ctx)["Plaintext"] == b"after rotation"
    assert k.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    # ReEncrypt moves an old ciphertext onto the current material.
    re = k.re_encrypt(CiphertextBlob=before, SourceEncryptionContext=ctx, DestinationKeyId=key,
                      DestinationEncryptionContext=ctx)
    assert k.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == b"before rotation"
    rot = k.list_key_rotations(KeyId=key)
    assert [x["RotationType"] for x in rot["Rotations"]] == ["ON_DEMAND", "ON_DEMAND"]
    assert all(x["KeyId"] == key for x in rot["Rotations"]) and rot["Truncated"] is False
    page = k.list_key_rotations(KeyId=key, Limit=1)
    assert len(page["Rotations"]) == 1 and page["Truncated"] is True
    rest = k.list_key_rotations(KeyId=key, Limit=1, Marker=page["NextMarker"])
    assert len(rest["Rotations"]) == 1 and rest["Truncated"] is False
    # On-demand rotation does not turn automatic rotation on.
    assert k.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False


def test_on_demand_rotation_quota(endpoint):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    blob = k.encrypt(KeyId=key, Plaintext=b"v1")["CiphertextBlob"]
    for _ in range(25):
        k.rotate_key_on_demand(KeyId=key)
    with pytest.raises(ClientError) as e:
        k.rotate_key_on_demand(KeyId=key)
    assert error_code(e) == "LimitExceededException"
    assert len(k.list_key_rotations(KeyId=key)["Rotations"]) == 25
    assert k.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v1"


def test_cli_rotation(endpoint, aws_cli):
    rc, out, err = aws_cli("kms", "create-key")
    assert rc == 0, err
    key = json.loads(out)["KeyMetadata"]["KeyId"]
    rc, out, err = aws_cli("kms", "enable-key-rotation", "--key-id", key, "--rotation-period-in-days", "180")
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "get-key-rotation-status", "--key-id", key)
    assert rc == 0, err
    s = json.loads(out)
    assert s["KeyRotationEnabled"] is True and s["RotationPeriodInDays"] == 180
    rc, out, err = aws_cli("kms", "rotate-key-on-demand", "--key-id", key)
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "list-key-rotations", "--key-id", key)
    assert rc == 0, err
    assert [r["RotationType"] for r in json.loads(out)["Rotations"]] == ["ON_DEMAND"]
    rc, out, err = aws_cli("kms", "disable-key-rotation", "--key-id", key)
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "get-key-rotation-status", "--key-id", key)
    assert json.loads(out)["KeyRotationEnabled"] is False


def test_automatic_rotation_on_the_business_clock(endpoint):
    """Rotation runs when the business clock passes NextRotationDate (the scheduler runs
    kms::rotate_due_keys right after a clock change)."""
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    off = new_key(k)["KeyId"]
    blob = k.encrypt(KeyId=key, Plaintext=b"year one")["CiphertextBlob"]
    k.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    next1 = k.get_key_rotation_status(KeyId=key)["NextRotationDate"]
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 89 * 86400})
    assert status == 200
    assert k.list_key_rotations(KeyId=key)["Rotations"] == []
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 2 * 86400})
    assert status == 200
    rot = k.list_key_rotations(KeyId=key)["Rotations"]
    assert [r["RotationType"] for r in rot] == ["AUTOMATIC"]
    assert abs((rot[0]["RotationDate"] - next1).total_seconds()) < 2
    s = k.get_key_rotation_status(KeyId=key)
    assert s["NextRotationDate"] - next1 >= timedelta(days=89, hours=23)
    # A year later: catch-up rotations, one per period; old ciphertexts still decrypt.
    admin(endpoint, "/_palisade/clock", {"advance_seconds": 365 * 86400})
    assert len(k.list_key_rotations(KeyId=key)["Rotations"]) == 5
    assert k.decrypt(CiphertextBlob=blob)["Plaintext"] == b"year one"
    assert k.list_key_rotations(KeyId=off)["Rotations"] == []


def test_a_disabled_key_rotates_once_enabled_again(endpoint):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    k.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
    k.disable_key(KeyId=key)
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 91 * 86400})[0] == 200
    assert k.list_key_rotations(KeyId=key)["Rotations"] == []
    # Enabled again past its date: the next scheduler tick (at most a second) rotates it.
    k.enable_key(KeyId=key)
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 1})[0] == 200
    assert [r["RotationType"] for r in k.list_key_rotations(KeyId=key)["Rotations"]] == ["AUTOMATIC"]


def test_aws_managed_keys_are_aws_managed_and_rotate_every_year(endpoint):
    """The key behind alias/aws/secretsmanager: KeyManager AWS, rotation always on with a
    one-year period (AWS: "AWS KMS always rotates the key material in AWS managed KMS keys
    every year"), and it rotates on the business clock; values stay readable."""
    from conftest import client

    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="managed-key-secret", SecretString="v")
    k = kms(endpoint)
    md = k.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert md["KeyManager"] == "AWS"
    assert new_key(k)["KeyManager"] == "CUSTOMER"
    st = k.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 365
    assert k.list_key_rotations(KeyId=md["KeyId"])["Rotations"] == []
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 366 * 86400})[0] == 200
    rotations = k.list_key_rotations(KeyId=md["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert sm.get_secret_value(SecretId="managed-key-secret")["SecretString"] == "v"
