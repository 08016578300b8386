"""KMS: keys, aliases, key policies and real symmetric cryptography, through boto3 and the aws CLI."""

import base64
import json
import os
import urllib.request

import boto3
import botocore.auth
import botocore.config
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, admin, client, unprivileged_client

REGION = "us-east-1"


def kms(endpoint, region=REGION, validate=True):
    """A boto3 KMS client; validate=False sends out-of-range values to the server unchecked."""
    if validate:
        return client(endpoint, "kms", region=region)
    return boto3.session.Session(
        aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name=region
    ).client("kms", endpoint_url=endpoint, config=botocore.config.Config(parameter_validation=False))


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def new_key(k, **kwargs):
    return k.create_key(**kwargs)["KeyMetadata"]


def raw_call(endpoint, action, body):
    """A SigV4-signed awsJson1.1 call with an arbitrary body. Returns (status, json)."""
    data = json.dumps(body).encode()
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=data,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{action}"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ROOT_AK, ROOT_SK), "kms", REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_create_and_describe_key_metadata_as_aws(endpoint):
    k = kms(endpoint)
    md = new_key(k, Description="PetTracker data key", Tags=[{"TagKey": "app", "TagValue": "pettracker"}])
    key_id = md["KeyId"]
    assert len(key_id) == 36 and key_id.count("-") == 4
    assert md["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert md["AWSAccountId"] == ACCOUNT
    assert md["Enabled"] is True
    assert md["KeyState"] == "Enabled"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["MultiRegion"] is False
    assert md["Description"] == "PetTracker data key"
    assert md["CreationDate"].year >= 2020
    for ident in (key_id, md["Arn"]):
        assert k.describe_key(KeyId=ident)["KeyMetadata"]["KeyId"] == key_id
    assert k.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "app", "TagValue": "pettracker"}]
    k.tag_resource(KeyId=key_id, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    k.untag_resource(KeyId=key_id, TagKeys=["app"])
    assert k.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
    k.update_key_description(KeyId=key_id, Description="new")
    assert k.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "new"


def test_keys_are_regional(endpoint):
    md = new_key(kms(endpoint))
    with pytest.raises(ClientError) as e:
        kms(endpoint, region="eu-west-1").describe_key(KeyId=md["KeyId"])
    assert error_code(e) == "NotFoundException"
    # Named by its ARN, the key is found in its own region.
    assert kms(endpoint, region="eu-west-1").describe_key(KeyId=md["Arn"])["KeyMetadata"]["KeyId"] == md["KeyId"]


def test_list_keys_paging(endpoint):
    k = kms(endpoint)
    ids = sorted(new_key(k)["KeyId"] for _ in range(5))
    first = k.list_keys(Limit=2)
    assert first["Truncated"] is True and len(first["Keys"]) == 2
    seen = [x["KeyId"] for x in first["Keys"]]
    marker = first["NextMarker"]
    while marker:
        page = k.list_keys(Limit=2, Marker=marker)
        seen += [x["KeyId"] for x in page["Keys"]]
        marker = page.get("NextMarker")
        assert page["Truncated"] == bool(marker)
    assert sorted(seen) == ids
    for entry in k.list_keys()["Keys"]:
        assert entry["KeyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{entry['KeyId']}"
    with pytest.raises(ClientError) as e:
        k.list_keys(Marker="not-a-marker")
    assert error_code(e) == "InvalidMarkerException"


def test_encrypt_decrypt_round_trip_with_and_without_context(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    ct = k.encrypt(KeyId=md["KeyId"], Plaintext=b"secret pet data")
    assert ct["KeyId"] == md["Arn"]
    assert ct["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    # Decrypt without KeyId: the blob says which key.
    out = k.decrypt(CiphertextBlob=ct["CiphertextBlob"])
    assert out["Plaintext"] == b"secret pet data"
    assert out["KeyId"] == md["Arn"]
    assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert k.decrypt(CiphertextBlob=ct["CiphertextBlob"], KeyId=md["Arn"])["Plaintext"] == b"secret pet data"
    # Two encryptions of the same plaintext differ (random nonce).
    assert k.encrypt(KeyId=md["KeyId"], Plaintext=b"secret pet data")["CiphertextBlob"] != ct["CiphertextBlob"]

    context = {"tenant": "pettracker", "table": "owners"}
    ct2 = k.encrypt(KeyId=md["KeyId"], Plaintext=b"x" * 4096, EncryptionContext=context)["CiphertextBlob"]
    assert k.decrypt(CiphertextBlob=ct2, EncryptionContext=dict(reversed(list(context.items()))))["Plaintext"] == b"x" * 4096
    for wrong in ({}, {"tenant": "pettracker"}, {"tenant": "other", "table": "owners"}):
        with pytest.raises(ClientError) as e:
            k.decrypt(CiphertextBlob=ct2, EncryptionContext=wrong)
        assert error_code(e) == "InvalidCiphertextException"
    # A blob made without context does not decrypt with one.
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert error_code(e) == "InvalidCiphertextException"


def test_tampered_truncated_and_foreign_blobs(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    blob = k.encrypt(KeyId=md["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
    for i in (0, 5, len(blob) // 2, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(ClientError) as e:
            k.decrypt(CiphertextBlob=bytes(tampered))
        assert error_code(e) == "InvalidCiphertextException", i
    for cut in (1, 10, len(blob) - 1):
        with pytest.raises(ClientError) as e:
            k.decrypt(CiphertextBlob=blob[:cut])
        assert error_code(e) == "InvalidCiphertextException", cut
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=os.urandom(200))
    assert error_code(e) == "InvalidCiphertextException"
    # KeyId naming another key.
    other = new_key(k)
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"])
    assert error_code(e) == "IncorrectKeyException"


def test_envelope_encryption_as_seed_004(endpoint):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    k = kms(endpoint)
    md = new_key(k, Description="PetTracker CMK")
    context = {"purpose": "pettracker-records"}
    dk = k.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256", EncryptionContext=context)
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == md["Arn"]
    # Encrypt locally with the plaintext data key, keep only the encrypted data key.
    nonce = os.urandom(12)
    record = AESGCM(dk["Plaintext"]).encrypt(nonce, b"owner: Alex; pet: Rex", None)
    stored_key = dk["CiphertextBlob"]
    del dk
    # Later: decrypt the data key through KMS, then the data locally.
    plain_key = k.decrypt(CiphertextBlob=stored_key, EncryptionContext=context)["Plaintext"]
    assert AESGCM(plain_key).decrypt(nonce, record, None) == b"owner: Alex; pet: Rex"

    dk128 = k.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_128")
    assert len(dk128["Plaintext"]) == 16
    assert k.decrypt(CiphertextBlob=dk128["CiphertextBlob"])["Plaintext"] == dk128["Plaintext"]
    dk_n = k.generate_data_key(KeyId=md["KeyId"], NumberOfBytes=64)
    assert len(dk_n["Plaintext"]) == 64
    nop = k.generate_data_key_without_plaintext(KeyId=md["KeyId"], KeySpec="AES_256", EncryptionContext=context)
    assert "Plaintext" not in nop
    assert len(k.decrypt(CiphertextBlob=nop["CiphertextBlob"], EncryptionContext=context)["Plaintext"]) == 32
    lenient = kms(endpoint, validate=False)
    for bad in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}, {"NumberOfBytes": 1025}, {"NumberOfBytes": 0}):
        with pytest.raises(ClientError) as e:
            lenient.generate_data_key(KeyId=md["KeyId"], **bad)
        assert error_code(e) == "ValidationException", bad


def test_re_encrypt_between_keys(endpoint):
    k = kms(endpoint)
    a, b = new_key(k), new_key(k)
    blob = k.encrypt(KeyId=a["KeyId"], Plaintext=b"move me", EncryptionContext={"x": "1"})["CiphertextBlob"]
    out = k.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"x": "1"},
        DestinationKeyId=b["KeyId"],
        DestinationEncryptionContext={"y": "2"},
    )
    assert out["SourceKeyId"] == a["Arn"] and out["KeyId"] == b["Arn"]
    dec = k.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"y": "2"})
    assert dec["Plaintext"] == b"move me" and dec["KeyId"] == b["Arn"]
    with pytest.raises(ClientError) as e:
        k.re_encrypt(CiphertextBlob=blob, DestinationKeyId=b["KeyId"])
    assert error_code(e) == "InvalidCiphertextException"


def test_generate_random(endpoint):
    k = kms(endpoint)
    r1 = k.generate_random(NumberOfBytes=1024)["Plaintext"]
    r2 = k.generate_random(NumberOfBytes=1024)["Plaintext"]
    assert len(r1) == 1024 and r1 != r2
    assert len(k.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    lenient = kms(endpoint, validate=False)
    for n in (0, 1025):
        with pytest.raises(ClientError) as e:
            lenient.generate_random(NumberOfBytes=n)
        assert error_code(e) == "ValidationException"


def test_disable_and_enable_key(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    blob = k.encrypt(KeyId=md["KeyId"], Plaintext=b"data")["CiphertextBlob"]
    k.disable_key(KeyId=md["KeyId"])
    d = k.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert d["KeyState"] == "Disabled" and d["Enabled"] is False
    for call in (
        lambda: k.encrypt(KeyId=md["KeyId"], Plaintext=b"data"),
        lambda: k.decrypt(CiphertextBlob=blob),
        lambda: k.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "DisabledException"
        assert md["Arn"] in e.value.response["Error"]["Message"]
    k.enable_key(KeyId=md["Arn"])
    assert k.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data"


def test_schedule_and_cancel_deletion_on_business_clock(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    blob = k.encrypt(KeyId=md["KeyId"], Plaintext=b"data")["CiphertextBlob"]
    for days in (6, 31):
        with pytest.raises(ClientError) as e:
            k.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=days)
        assert error_code(e) == "ValidationException"
    out = k.schedule_key_deletion(KeyId=md["KeyId"])
    assert out["KeyId"] == md["Arn"] and out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 30
    delta = out["DeletionDate"] - md["CreationDate"]
    assert 29.9 < delta.total_seconds() / 86400 < 30.1
    d = k.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert d["KeyState"] == "PendingDeletion" and d["Enabled"] is False and "DeletionDate" in d
    # The key-state table: crypto, state changes, tags, description and new aliases fail.
    kid = md["KeyId"]
    for call in (lambda: k.decrypt(CiphertextBlob=blob), lambda: k.encrypt(KeyId=kid, Plaintext=b"d"),
                 lambda: k.enable_key(KeyId=kid), lambda: k.schedule_key_deletion(KeyId=kid),
                 lambda: k.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "b"}]),
                 lambda: k.untag_resource(KeyId=kid, TagKeys=["a"]),
                 lambda: k.update_key_description(KeyId=kid, Description="new"),
                 lambda: k.create_alias(AliasName="alias/late", TargetKeyId=kid)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "KMSInvalidStateException"
        assert e.value.response["Error"]["Message"] == f"{md['Arn']} is pending deletion."
    assert k.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == md["Description"]
    assert "alias/late" not in [a["AliasName"] for a in k.list_aliases()["Aliases"]]
    assert k.cancel_key_deletion(KeyId=md["KeyId"])["KeyId"] == md["Arn"]
    assert k.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        k.cancel_key_deletion(KeyId=md["KeyId"])
    assert error_code(e) == "KMSInvalidStateException"
    k.enable_key(KeyId=md["KeyId"])
    assert k.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data"

    # A 7-day window elapses on the business clock: the key and its alias are gone.
    k.create_alias(AliasName="alias/doomed", TargetKeyId=md["KeyId"])
    k.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 6 * 86400})
    assert status == 200
    assert k.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    admin(endpoint, "/_palisade/clock", {"advance_seconds": 86400 + 60})
    with pytest.raises(ClientError) as e:
        k.describe_key(KeyId=md["KeyId"])
    assert error_code(e) == "NotFoundException"
    assert md["KeyId"] not in [x["KeyId"] for x in k.list_keys()["Keys"]]
    assert "alias/doomed" not in [a["AliasName"] for a in k.list_aliases()["Aliases"]]
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "InvalidCiphertextException"


def test_aliases(endpoint):
    k = kms(endpoint)
    a, b = new_key(k), new_key(k)
    k.create_alias(AliasName="alias/pettracker", TargetKeyId=a["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/pettracker"
    entries = [x for x in k.list_aliases()["Aliases"] if x["AliasName"] == "alias/pettracker"]
    assert len(entries) == 1
    assert entries[0]["AliasArn"] == alias_arn and entries[0]["TargetKeyId"] == a["KeyId"]
    assert "CreationDate" in entries[0]
    assert [x["AliasName"] for x in k.list_aliases(KeyId=a["KeyId"])["Aliases"]] == ["alias/pettracker"]
    assert k.list_aliases(KeyId=b["KeyId"])["Aliases"] == []
    # Alias name and alias ARN work wherever a KeyId does.
    for ident in ("alias/pettracker", alias_arn):
        assert k.describe_key(KeyId=ident)["KeyMetadata"]["KeyId"] == a["KeyId"]
        blob = k.encrypt(KeyId=ident, Plaintext=b"via alias")["CiphertextBlob"]
        assert k.decrypt(CiphertextBlob=blob, KeyId=ident)["Plaintext"] == b"via alias"
    with pytest.raises(ClientError) as e:
        k.create_alias(AliasName="alias/pettracker", TargetKeyId=b["KeyId"])
    assert error_code(e) == "AlreadyExistsException"
    k.update_alias(AliasName="alias/pettracker", TargetKeyId=b["KeyId"])
    assert k.describe_key(KeyId="alias/pettracker")["KeyMetadata"]["KeyId"] == b["KeyId"]
    with pytest.raises(ClientError) as e:
        k.create_alias(AliasName="alias/aws/mine", TargetKeyId=a["KeyId"])
    assert error_code(e) == "NotAuthorizedException"
    for bad in ("pettracker", "alias/has space", "alias/"):
        with pytest.raises(ClientError) as e:
            k.create_alias(AliasName=bad, TargetKeyId=a["KeyId"])
        assert error_code(e) == "ValidationException", bad
    with pytest.raises(ClientError) as e:
        k.create_alias(AliasName="alias/x", TargetKeyId="11111111-2222-3333-4444-555555555555")
    assert error_code(e) == "NotFoundException"
    k.delete_alias(AliasName="alias/pettracker")
    with pytest.raises(ClientError) as e:
        k.describe_key(KeyId="alias/pettracker")
    assert error_code(e) == "NotFoundException"
    assert e.value.response["Error"]["Message"] == f"Alias {alias_arn} is not found."
    with pytest.raises(ClientError) as e:
        k.delete_alias(AliasName="alias/pettracker")
    assert error_code(e) == "NotFoundException"


def test_key_policies(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    got = k.get_key_policy(KeyId=md["KeyId"], PolicyName="default")
    policy = json.loads(got["Policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    assert k.list_key_policies(KeyId=md["KeyId"])["PolicyNames"] == ["default"]
    new_policy = json.dumps({
        "Version": "2012-10-17",
        "Id": "pettracker",
        "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "AppDecrypt", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
             "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"StringEquals": {"kms:EncryptionContext:app": "pettracker"}}},
        ],
    })
    k.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=new_policy)
    assert k.get_key_policy(KeyId=md["KeyId"])["Policy"] == new_policy
    for bad in ("not json", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})):
        with pytest.raises(ClientError) as e:
            k.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=bad)
        assert error_code(e) == "MalformedPolicyDocumentException"
        with pytest.raises(ClientError) as e:
            k.create_key(Policy=bad)
        assert error_code(e) == "MalformedPolicyDocumentException"
    assert k.get_key_policy(KeyId=md["KeyId"])["Policy"] == new_policy
    custom = new_key(k, Policy=new_policy)
    assert k.get_key_policy(KeyId=custom["KeyId"])["Policy"] == new_policy


def test_hmac_key(endpoint):
    import hmac as pyhmac
    k = kms(endpoint)
    md = new_key(k, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    assert md["MacAlgorithms"] == ["HMAC_SHA_256"] and md["KeyUsage"] == "GENERATE_VERIFY_MAC"
    mac = k.generate_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    assert k.verify_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"] is True
    with pytest.raises(ClientError) as e:
        k.verify_mac(KeyId=md["KeyId"], Message=b"other", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert error_code(e) == "KMSInvalidMacException"
    with pytest.raises(ClientError) as e:
        k.encrypt(KeyId=md["KeyId"], Plaintext=b"x")
    assert error_code(e) == "InvalidKeyUsageException"
    assert not pyhmac.compare_digest(mac, b"\0" * 32)


def test_bad_input(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    with pytest.raises(ClientError) as e:
        kms(endpoint, validate=False).encrypt(KeyId=md["KeyId"], Plaintext=b"x" * 4097)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        k.encrypt(KeyId="11111111-2222-3333-4444-555555555555", Plaintext=b"x")
    assert error_code(e) == "NotFoundException"
    assert e.value.response["Error"]["Message"] == (
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555' does not exist"
    )
    with pytest.raises(ClientError) as e:
        k.describe_key(KeyId="not-a-key")
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        k.create_key(KeySpec="AES_999")
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        k.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="SIGN_VERIFY")
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        k.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    assert error_code(e) == "UnsupportedOperationException"
    # Blobs that are not base64, sent raw.
    status, body = raw_call(endpoint, "Encrypt", {"KeyId": md["KeyId"], "Plaintext": "%%%not base64%%%"})
    assert status == 400 and body["__type"].endswith("SerializationException")
    status, body = raw_call(endpoint, "Decrypt", {"CiphertextBlob": "@@@@"})
    assert status == 400 and body["__type"].endswith("SerializationException")
    status, body = raw_call(endpoint, "Decrypt", {})
    assert status == 400 and body["__type"].endswith("ValidationException")
    status, body = raw_call(endpoint, "Encrypt", {"KeyId": md["KeyId"], "Plaintext": 5})
    assert status == 400 and body["__type"].endswith("SerializationException")
    # A structure given as an array (serde would fill it by position) is the wrong type,
    # at any depth, and changes nothing.
    for action, body in (("CreateKey", {"Tags": [["app", "pettracker"]]}),
                         ("TagResource", {"KeyId": md["KeyId"], "Tags": [["app", "other"]]}),
                         ("CreateGrant", {"KeyId": md["KeyId"], "GranteePrincipal": f"arn:aws:iam::{ACCOUNT}:root",
                                          "Operations": ["Decrypt"], "Constraints": [{"a": "b"}]})):
        status, resp = raw_call(endpoint, action, body)
        assert status == 400 and resp["__type"].endswith("SerializationException"), (action, resp)
    assert k.list_resource_tags(KeyId=md["KeyId"])["Tags"] == []
    assert k.list_grants(KeyId=md["KeyId"])["Grants"] == []
    # Nothing half-created by the failed CreateKey calls.
    assert [x["KeyId"] for x in k.list_keys()["Keys"]] == [md["KeyId"]]


def test_cli_encrypt_decrypt_with_files(endpoint, aws_cli, tmp_path):
    rc, out, err = aws_cli("kms", "create-key", "--description", "cli key")
    assert rc == 0, err
    key_id = json.loads(out)["KeyMetadata"]["KeyId"]
    rc, out, err = aws_cli("kms", "create-alias", "--alias-name", "alias/cli", "--target-key-id", key_id)
    assert rc == 0, err
    plain = tmp_path / "plain.bin"
    plain.write_bytes(bytes(range(256)) * 4)
    rc, out, err = aws_cli(
        "kms", "encrypt", "--key-id", "alias/cli", "--plaintext", f"fileb://{plain}",
        "--encryption-context", "app=pettracker", "--query", "CiphertextBlob", "--output", "text",
    )
    assert rc == 0, err
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(out.strip()))
    rc, out, err = aws_cli(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "app=pettracker",
        "--query", "Plaintext", "--output", "text",
    )
    assert rc == 0, err
    assert base64.b64decode(out.strip()) == plain.read_bytes()
    rc, out, err = aws_cli("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}")
    assert rc != 0 and "InvalidCiphertextException" in err
    rc, out, err = aws_cli("kms", "get-key-policy", "--key-id", key_id, "--policy-name", "default")
    assert rc == 0, err
    assert json.loads(json.loads(out)["Policy"])["Statement"][0]["Action"] == "kms:*"
    rc, out, err = aws_cli("kms", "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7")
    assert rc == 0, err
    assert json.loads(out)["KeyState"] == "PendingDeletion"


def test_cloudtrail_records_kms_calls_without_plaintext(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    blob = k.encrypt(KeyId=md["KeyId"], Plaintext=b"TOPSECRETVALUE", EncryptionContext={"app": "pt"})["CiphertextBlob"]
    k.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "pt"})
    ct = client(endpoint, "cloudtrail")
    evs = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}])["Events"]
    names = [e["EventName"] for e in evs]
    assert {"CreateKey", "Encrypt", "Decrypt"} <= set(names)
    for e in evs:
        assert "TOPSECRETVALUE" not in e["CloudTrailEvent"]
        assert base64.b64encode(b"TOPSECRETVALUE").decode() not in e["CloudTrailEvent"]
    enc = json.loads(next(e for e in evs if e["EventName"] == "Encrypt")["CloudTrailEvent"])
    assert enc["requestParameters"] == {
        "keyId": md["KeyId"], "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"app": "pt"},
    }
    assert enc["readOnly"] is True
    assert enc["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": md["Arn"]}]
    created = json.loads(next(e for e in evs if e["EventName"] == "CreateKey")["CloudTrailEvent"])
    assert created["readOnly"] is False
    assert created["requestParameters"]["keySpec"] == "SYMMETRIC_DEFAULT"
    meta = created["responseElements"]["keyMetadata"]
    assert meta["keyId"] == md["KeyId"] and meta["aWSAccountId"] == ACCOUNT and meta["keyState"] == "Enabled"
    assert "," in meta["creationDate"] and meta["creationDate"][-2:] in ("AM", "PM")
    dec = json.loads(next(e for e in evs if e["EventName"] == "Decrypt")["CloudTrailEvent"])
    assert dec["requestParameters"] == {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"app": "pt"}}
    assert dec["resources"][0]["ARN"] == md["Arn"]


def test_update_alias_keeps_key_type_and_usage(endpoint):
    """AWS: UpdateAlias moves an alias only to a key of the same type (symmetric, asymmetric,
    HMAC) and key usage, so code using the alias keeps working."""
    k = kms(endpoint)
    sym, sym2 = new_key(k)["KeyId"], new_key(k)["KeyId"]
    signing = new_key(k, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyId"]
    hmac = new_key(k, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyId"]
    k.create_alias(AliasName="alias/app", TargetKeyId=sym)
    for other in (signing, hmac):
        with pytest.raises(ClientError) as e:
            k.update_alias(AliasName="alias/app", TargetKeyId=other)
        assert error_code(e) == "ValidationException"
    assert k.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == sym
    k.update_alias(AliasName="alias/app", TargetKeyId=sym2)
    assert k.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == sym2


def test_key_management_refuses_aliases(endpoint):
    # ScheduleKeyDeletion and the other key-management operations take "the key ID or key
    # ARN"; an alias must not reach (and schedule for deletion) the key behind it.
    k = client(endpoint, "kms")
    key = k.create_key()["KeyMetadata"]
    k.create_alias(AliasName="alias/keep-me", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/keep-me"
    for call, kw in [
        (k.schedule_key_deletion, dict(PendingWindowInDays=7)),
        (k.disable_key, {}),
        (k.tag_resource, dict(Tags=[{"TagKey": "a", "TagValue": "b"}])),
        (k.get_key_policy, dict(PolicyName="default")),
        (k.update_key_description, dict(Description="d")),
        (k.create_grant, dict(GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:root", Operations=["Decrypt"])),
    ]:
        for ref in ("alias/keep-me", alias_arn):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(KeyId=ref, **kw)
            assert e.value.response["Error"]["Code"] == "NotFoundException", (call, ref)
            assert e.value.response["Error"]["Message"] == f"Invalid keyId {ref}"
    md = k.describe_key(KeyId="alias/keep-me")["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["Description"] == ""
    assert k.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_request_checks_come_before_authorization(endpoint):
    # The model's checks (enums, ranges, lengths) answer a caller allowed nothing in KMS
    # with ValidationException, as AWS's request validation does, not AccessDenied.
    nobody = unprivileged_client(endpoint, "kms", "kms-nobody")
    target = client(endpoint, "kms").create_key()["KeyMetadata"]["KeyId"]
    for call, kw in [
        (nobody.create_key, dict(KeySpec="BOGUS")),
        (nobody.create_key, dict(Description="d" * 8193)),
        (nobody.list_keys, dict(Limit=0)),
        (nobody.list_aliases, dict(Limit=1001)),
        (nobody.list_keys, dict(Marker="")),
        (nobody.generate_data_key, dict(KeyId=target, NumberOfBytes=0)),
        (nobody.generate_data_key, dict(KeyId=target, KeySpec="AES_512")),
        (nobody.generate_data_key_without_plaintext, dict(KeyId=target)),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        assert e.value.response["Error"]["Code"] == "ValidationException", (call, kw, e.value.response["Error"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nobody.list_keys(Limit=5)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_predefined_aws_aliases_are_listed_without_a_target_until_first_use(endpoint):
    # AWS: ListAliases "might also include aliases that have no TargetKeyId field", the
    # predefined aliases of AWS managed keys not made yet.
    k = kms(endpoint)
    listed = k.list_aliases()["Aliases"]
    assert listed == [
        {"AliasName": f"alias/aws/{s}", "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/{s}"}
        for s in ("secretsmanager", "ssm")
    ]
    key = new_key(k)
    k.create_alias(AliasName="alias/zz", TargetKeyId=key["KeyId"])
    k.create_alias(AliasName="alias/aa", TargetKeyId=key["KeyId"])
    client(endpoint, "ssm").put_parameter(Name="/p", Value="v", Type="SecureString")
    listed = k.list_aliases()["Aliases"]
    assert [a["AliasName"] for a in listed] == ["alias/aa", "alias/aws/secretsmanager", "alias/aws/ssm", "alias/zz"]
    ssm_alias = listed[2]
    assert ssm_alias["TargetKeyId"] and "CreationDate" in ssm_alias
    assert "TargetKeyId" not in listed[1]
    # A key filter never matches an alias without a target; paging covers them.
    assert [a["AliasName"] for a in k.list_aliases(KeyId=key["KeyId"])["Aliases"]] == ["alias/aa", "alias/zz"]
    first = k.list_aliases(Limit=2)
    assert first["Truncated"] and [a["AliasName"] for a in first["Aliases"]] == ["alias/aa", "alias/aws/secretsmanager"]
    rest = k.list_aliases(Limit=2, Marker=first["NextMarker"])
    assert [a["AliasName"] for a in rest["Aliases"]] == ["alias/aws/ssm", "alias/zz"] and not rest["Truncated"]
