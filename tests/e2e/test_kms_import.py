"""KMS imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial with
and without expiry, DeleteImportedKeyMaterial, re-import of the same material; through boto3
(wrapping with `cryptography`) and the aws CLI (wrapping with openssl)."""

import base64
import json
import os
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import admin
from test_kms import error_code, kms, new_key


def wrap(params, material, alg="RSAES_OAEP_SHA_256"):
    pub = serialization.load_der_public_key(params["PublicKey"])
    h = hashes.SHA256 if alg == "RSAES_OAEP_SHA_256" else hashes.SHA1
    return pub.encrypt(material, padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None))


def import_material(k, key, material, alg="RSAES_OAEP_SHA_256", **kwargs):
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm=alg, WrappingKeySpec="RSA_2048")
    if not kwargs:
        kwargs = dict(ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material, alg),
                          **kwargs)


def test_external_key_lifecycle(endpoint):
    k = kms(endpoint)
    md = new_key(k, Origin="EXTERNAL", Description="imported")
    key = md["KeyId"]
    assert md["Origin"] == "EXTERNAL" and md["KeyState"] == "PendingImport" and md["Enabled"] is False
    d = k.describe_key(KeyId=key)["KeyMetadata"]
    assert d["Origin"] == "EXTERNAL" and d["KeyState"] == "PendingImport"
    for call, code in [(lambda: k.encrypt(KeyId=key, Plaintext=b"x"), "KMSInvalidStateException"),
                       (lambda: k.enable_key(KeyId=key), "KMSInvalidStateException"),
                       (lambda: k.enable_key_rotation(KeyId=key), "UnsupportedOperationException")]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == code
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048")
    assert p["KeyId"] == md["Arn"] and p["ImportToken"]
    assert p["ParametersValidTo"] - datetime.now(timezone.utc) > timedelta(hours=23)
    material = os.urandom(32)
    valid_to = datetime.now(timezone.utc) + timedelta(days=30)
    k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material, "RSAES_OAEP_SHA_1"),
                          ValidTo=valid_to, ExpirationModel="KEY_MATERIAL_EXPIRES")
    d = k.describe_key(KeyId=key)["KeyMetadata"]
    assert d["KeyState"] == "Enabled" and d["Enabled"] is True
    assert d["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs((d["ValidTo"] - valid_to).total_seconds()) < 2
    blob = k.encrypt(KeyId=key, Plaintext=b"with imported material", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert k.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"with imported material"
    # The token is single-use.
    with pytest.raises(ClientError) as e:
        k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "InvalidImportTokenException"
    # Delete: PendingImport, ciphertexts unusable until the same material returns.
    k.delete_imported_key_material(KeyId=key)
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert error_code(e) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        import_material(k, key, os.urandom(32))
    assert error_code(e) == "IncorrectKeyMaterialException"
    import_material(k, key, material)
    d = k.describe_key(KeyId=key)["KeyMetadata"]
    assert d["KeyState"] == "Enabled" and d["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in d
    assert k.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["Plaintext"] == b"with imported material"


def test_import_errors(endpoint):
    k = kms(endpoint, validate=False)
    native = new_key(k)["KeyId"]
    ext = new_key(k, Origin="EXTERNAL")["KeyId"]
    for call, code in [
        (lambda: k.get_parameters_for_import(KeyId=native, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                             WrappingKeySpec="RSA_2048"), "UnsupportedOperationException"),
        (lambda: k.delete_imported_key_material(KeyId=native), "UnsupportedOperationException"),
        (lambda: k.get_parameters_for_import(KeyId=ext, WrappingAlgorithm="RSAES_PKCS1_V1_5",
                                             WrappingKeySpec="RSA_2048"), "UnsupportedOperationException"),
        (lambda: k.get_parameters_for_import(KeyId=ext, WrappingAlgorithm="NOPE",
                                             WrappingKeySpec="RSA_2048"), "ValidationException"),
        (lambda: k.create_key(Origin="EXTERNAL", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"),
         "UnsupportedOperationException"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == code
    p = k.get_parameters_for_import(KeyId=ext, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072")
    future = datetime.now(timezone.utc) + timedelta(days=10)
    for kwargs, code in [
        (dict(EncryptedKeyMaterial=wrap(p, os.urandom(32))), "ValidationException"),  # EXPIRES needs ValidTo
        (dict(EncryptedKeyMaterial=wrap(p, os.urandom(32)), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
              ValidTo=future), "ValidationException"),
        (dict(EncryptedKeyMaterial=wrap(p, os.urandom(16)), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"),
         "IncorrectKeyMaterialException"),
        (dict(EncryptedKeyMaterial=wrap(p, os.urandom(32), "RSAES_OAEP_SHA_1"),
              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"), "InvalidCiphertextException"),
        (dict(EncryptedKeyMaterial=wrap(p, os.urandom(32)), ValidTo=datetime.now(timezone.utc) - timedelta(days=1)),
         "ValidationException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.import_key_material(KeyId=ext, ImportToken=p["ImportToken"], **kwargs)
        assert error_code(e) == code, kwargs
    with pytest.raises(ClientError) as e:
        k.import_key_material(KeyId=ext, ImportToken=base64.b64encode(b"forged" * 8),
                              EncryptedKeyMaterial=wrap(p, os.urandom(32)),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "InvalidImportTokenException"
    assert k.describe_key(KeyId=ext)["KeyMetadata"]["KeyState"] == "PendingImport"
    # Import parameters expire after 24 hours on the business clock.
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 25 * 3600})
    assert status == 200
    with pytest.raises(ClientError) as e:
        k.import_key_material(KeyId=ext, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, os.urandom(32)),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "ExpiredImportTokenException"


def test_imported_material_expires_on_the_business_clock(endpoint):
    k = kms(endpoint)
    key = new_key(k, Origin="EXTERNAL")["KeyId"]
    status, body = admin(endpoint, "/_palisade/clock", {"advance_seconds": 0})
    now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
    import_material(k, key, os.urandom(32), ValidTo=now + timedelta(days=2), ExpirationModel="KEY_MATERIAL_EXPIRES")
    blob = k.encrypt(KeyId=key, Plaintext=b"short-lived")["CiphertextBlob"]
    admin(endpoint, "/_palisade/clock", {"advance_seconds": 86400})
    assert k.decrypt(CiphertextBlob=blob)["Plaintext"] == b"short-lived"
    admin(endpoint, "/_palisade/clock", {"advance_seconds": 2 * 86400})
    state = k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"]
    assert state == "PendingImport"
    # KMS logs the deletion as its own service event (AWS's DeleteExpiredKeyMaterial).
    [expiry] = trail(endpoint, "DeleteExpiredKeyMaterial")
    assert expiry["eventType"] == "AwsServiceEvent" and expiry["userIdentity"]["invokedBy"] == "AWS Internal"
    assert expiry["serviceEventDetails"]["keyId"] == key
    assert len(expiry["serviceEventDetails"]["keyMaterialId"]) == 64
    assert expiry["resources"][0]["ARN"].endswith(key)
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "KMSInvalidStateException"


def test_cli_import_with_openssl(endpoint, aws_cli, tmp_path):
    rc, out, err = aws_cli("kms", "create-key", "--origin", "EXTERNAL")
    assert rc == 0, err
    key = json.loads(out)["KeyMetadata"]["KeyId"]
    rc, out, err = aws_cli("kms", "get-parameters-for-import", "--key-id", key,
                           "--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
    assert rc == 0, err
    p = json.loads(out)
    (tmp_path / "pub.der").write_bytes(base64.b64decode(p["PublicKey"]))
    (tmp_path / "token.bin").write_bytes(base64.b64decode(p["ImportToken"]))
    (tmp_path / "material.bin").write_bytes(os.urandom(32))
    r = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-in", str(tmp_path / "material.bin"),
                        "-out", str(tmp_path / "wrapped.bin"), "-inkey", str(tmp_path / "pub.der"),
                        "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
                        "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"], capture_output=True)
    assert r.returncode == 0, r.stderr
    rc, out, err = aws_cli("kms", "import-key-material", "--key-id", key,
                           "--encrypted-key-material", f"fileb://{tmp_path / 'wrapped.bin'}",
                           "--import-token", f"fileb://{tmp_path / 'token.bin'}",
                           "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "describe-key", "--key-id", key)
    assert json.loads(out)["KeyMetadata"]["KeyState"] == "Enabled"
    rc, out, err = aws_cli("kms", "delete-imported-key-material", "--key-id", key)
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "describe-key", "--key-id", key)
    assert json.loads(out)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_key_material_ids(endpoint):
    """ImportKeyMaterial and DeleteImportedKeyMaterial answer the material's KeyMaterialId (64
    hex digits); a KeyMaterialId that is malformed or names no material of the key is
    refused and nothing changes; ImportType takes only its two values."""
    from conftest import client

    k = kms(endpoint)
    # boto3 would refuse some of these itself; the server must too.
    raw = client(endpoint, "kms", validate=False)
    key = new_key(k, Origin="EXTERNAL")["KeyId"]
    material = os.urandom(32)
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:
        raw.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="FOO")
    assert error_code(e) == "ValidationException"
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    out = k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="NEW_KEY_MATERIAL")
    mid = out["KeyMaterialId"]
    assert len(mid) == 64 and all(c in "0123456789abcdef" for c in mid)
    for bad, code in (("zz", "ValidationException"), ("0" * 64, "NotFoundException")):
        with pytest.raises(ClientError) as e:
            raw.delete_imported_key_material(KeyId=key, KeyMaterialId=bad)
        assert error_code(e) == code, bad
        assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert k.delete_imported_key_material(KeyId=key, KeyMaterialId=mid)["KeyMaterialId"] == mid
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    # Reimporting names the same material.
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    again = k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material),
                                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="EXISTING_KEY_MATERIAL",
                                  KeyMaterialId=mid)
    assert again["KeyMaterialId"] == mid


def test_on_demand_rotation_to_new_imported_material(endpoint):
    """Symmetric EXTERNAL keys rotate on demand to material imported as NEW_KEY_MATERIAL
    (pending rotation until then); old ciphertexts keep decrypting; every material counts,
    so deleting a non-current one makes the key PendingImport until it is reimported."""
    k = kms(endpoint)
    key = new_key(k, Origin="EXTERNAL")["KeyId"]
    first, second = os.urandom(32), os.urandom(32)
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    id1 = k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, first),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                                KeyMaterialDescription="first")["KeyMaterialId"]
    assert k.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == id1
    old_blob = k.encrypt(KeyId=key, Plaintext=b"under the first material")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        k.rotate_key_on_demand(KeyId=key)
    assert error_code(e) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        k.enable_key_rotation(KeyId=key)
    assert error_code(e) == "UnsupportedOperationException"
    # A material id names existing material only.
    p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:
        k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, second),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="NEW_KEY_MATERIAL",
                              KeyMaterialId=id1)
    assert error_code(e) == "ValidationException"
    later = datetime.now(timezone.utc) + timedelta(days=100)
    id2 = k.import_key_material(KeyId=key, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, second),
                                ValidTo=later, ExpirationModel="KEY_MATERIAL_EXPIRES",
                                ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    assert id2 != id1
    listed = k.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"], r["ImportState"]) for r in listed] == [
        (id1, "CURRENT", "IMPORTED"), (id2, "PENDING_ROTATION", "IMPORTED")]
    assert listed[0]["KeyMaterialDescription"] == "first" and "RotationDate" not in listed[0]
    assert k.list_key_rotations(KeyId=key)["Rotations"] == []
    # Still the first material until the rotation.
    assert k.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == id1
    k.rotate_key_on_demand(KeyId=key)
    md = k.describe_key(KeyId=key)["KeyMetadata"]
    assert md["CurrentKeyMaterialId"] == id2 and md["KeyState"] == "Enabled"
    assert md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and abs((md["ValidTo"] - later).total_seconds()) < 2
    [rotation] = k.list_key_rotations(KeyId=key)["Rotations"]
    assert rotation["KeyMaterialId"] == id2 and rotation["KeyMaterialState"] == "CURRENT"
    assert rotation["RotationType"] == "ON_DEMAND" and "RotationDate" in rotation
    new_blob = k.encrypt(KeyId=key, Plaintext=b"under the second material")["CiphertextBlob"]
    assert k.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"under the first material"
    assert k.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"under the second material"
    # Deleting the non-current material makes the key unusable until it comes back.
    out = k.delete_imported_key_material(KeyId=key, KeyMaterialId=id1)
    assert out["KeyMaterialId"] == id1
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    states = {r["KeyMaterialId"]: r["ImportState"]
              for r in k.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]}
    assert states == {id1: "PENDING_IMPORT", id2: "IMPORTED"}
    with pytest.raises(ClientError) as e:
        k.decrypt(CiphertextBlob=new_blob)
    assert error_code(e) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as e:
        import_material(k, key, first, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId=id2)
    assert error_code(e) == "IncorrectKeyMaterialException"
    import_material(k, key, first, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId=id1,
                    ImportType="EXISTING_KEY_MATERIAL")
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert k.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"under the first material"
    assert k.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"under the second material"
    # Material pending rotation that is deleted goes altogether.
    third = os.urandom(32)
    import_material(k, key, third, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="NEW_KEY_MATERIAL")
    with pytest.raises(ClientError) as e:
        import_material(k, key, os.urandom(32), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                        ImportType="NEW_KEY_MATERIAL")
    assert error_code(e) == "KMSInvalidStateException"
    pending = [r["KeyMaterialId"] for r in k.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")[
        "Rotations"] if r["KeyMaterialState"] == "PENDING_ROTATION"]
    assert len(pending) == 1
    k.delete_imported_key_material(KeyId=key, KeyMaterialId=pending[0])
    assert k.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert len(k.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]) == 2
    # The trail says which material each import and deletion was about.
    imports = trail(endpoint, "ImportKeyMaterial")
    staged = [r for r in imports if r["requestParameters"].get("importType") == "NEW_KEY_MATERIAL"
              and r["responseElements"]["keyMaterialId"] == id2]
    assert len(staged) == 1
    assert staged[0]["requestParameters"]["expirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert staged[0]["requestParameters"]["validTo"].endswith(("AM", "PM"))
    deleted = [(r["requestParameters"].get("keyMaterialId"), r["responseElements"]["keyMaterialId"])
               for r in trail(endpoint, "DeleteImportedKeyMaterial")]
    assert sorted(deleted) == sorted([(id1, id1), (pending[0], pending[0])])


def trail(endpoint, name):
    from conftest import client

    events = client(endpoint, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events if "errorCode" not in json.loads(e["CloudTrailEvent"])]


def test_generated_material_has_ids_in_rotations(endpoint):
    """KMS-generated symmetric keys: DescribeKey names the current material, and
    ListKeyRotations names each rotation's material (the first too with
    ALL_KEY_MATERIAL)."""
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    first = k.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert len(first) == 64
    k.rotate_key_on_demand(KeyId=key)
    current = k.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert current != first
    [rotation] = k.list_key_rotations(KeyId=key)["Rotations"]
    assert rotation["KeyMaterialId"] == current and rotation["KeyMaterialState"] == "CURRENT"
    everything = k.list_key_rotations(KeyId=key, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in everything] == [
        (first, "NON_CURRENT"), (current, "CURRENT")]
    assert "RotationDate" not in everything[0]


def test_material_ids_belong_to_their_key_and_imports_need_a_usable_key(endpoint):
    k = kms(endpoint)
    a, b = new_key(k, Origin="EXTERNAL")["KeyId"], new_key(k, Origin="EXTERNAL")["KeyId"]
    material = os.urandom(32)
    # A key's first import is NEW_KEY_MATERIAL by default, so it takes no material id.
    p = k.get_parameters_for_import(KeyId=a, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:
        k.import_key_material(KeyId=a, ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrap(p, material),
                              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId="b" * 64)
    assert error_code(e) == "ValidationException"
    ids = []
    for key in (a, b):
        p = k.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
        ids.append(k.import_key_material(KeyId=key, ImportToken=p["ImportToken"],
                                         EncryptedKeyMaterial=wrap(p, material),
                                         ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")["KeyMaterialId"])
    # The same material in two keys: two ids (an id is "based on the KMS key ID and the
    # imported key material").
    assert ids[0] != ids[1]
    # Automatic rotation stays off for imported material; the status says so.
    status = k.get_key_rotation_status(KeyId=a)
    assert status["KeyRotationEnabled"] is False
    # Imports need the key Enabled or PendingImport.
    k.disable_key(KeyId=a)
    with pytest.raises(ClientError) as e:
        import_material(k, a, os.urandom(32), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
                        ImportType="NEW_KEY_MATERIAL")
    assert error_code(e) == "KMSInvalidStateException"
    k.enable_key(KeyId=a)
    import_material(k, a, material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", KeyMaterialId=ids[0])
