"""KMS asymmetric keys, HMAC key specs, Sign/Verify, GetPublicKey, RSA-OAEP and data key pairs,
through boto3 and the aws CLI; signatures and public keys checked with openssl and `cryptography`."""

import base64
import hashlib
import json
import subprocess

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from test_kms import error_code, kms, new_key

SIGN_SPECS = {
    "RSA_2048": ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
                 "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"],
    "ECC_NIST_P256": ["ECDSA_SHA_256"],
    "ECC_NIST_P384": ["ECDSA_SHA_384"],
    "ECC_NIST_P521": ["ECDSA_SHA_512"],
    "ECC_SECG_P256K1": ["ECDSA_SHA_256"],
}

HASHES = {"256": (hashes.SHA256, hashlib.sha256), "384": (hashes.SHA384, hashlib.sha384),
          "512": (hashes.SHA512, hashlib.sha512)}


def local_verify(public_der, alg, message, signature):
    """Verifies a KMS signature with the `cryptography` package (raises on failure)."""
    pub = serialization.load_der_public_key(public_der)
    h = HASHES[alg.rsplit("_", 1)[1]][0]()
    if alg.startswith("ECDSA"):
        pub.verify(signature, message, ec.ECDSA(h))
    elif alg.startswith("RSASSA_PSS"):
        pub.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    else:
        pub.verify(signature, message, padding.PKCS1v15(), h)


@pytest.mark.parametrize("spec", list(SIGN_SPECS))
def test_sign_verify_every_spec_and_algorithm(endpoint, spec):
    k = kms(endpoint)
    md = new_key(k, KeySpec=spec, KeyUsage="SIGN_VERIFY")
    assert md["KeySpec"] == spec and md["KeyUsage"] == "SIGN_VERIFY"
    assert md["SigningAlgorithms"] == SIGN_SPECS[spec]
    assert "EncryptionAlgorithms" not in md
    pub = k.get_public_key(KeyId=md["KeyId"])
    assert pub["KeySpec"] == spec and pub["KeyUsage"] == "SIGN_VERIFY"
    assert pub["SigningAlgorithms"] == SIGN_SPECS[spec]
    assert "EncryptionAlgorithms" not in pub
    message = b"PetTracker release manifest v1"
    for alg in SIGN_SPECS[spec]:
        s = k.sign(KeyId=md["KeyId"], Message=message, SigningAlgorithm=alg)
        assert s["SigningAlgorithm"] == alg and s["KeyId"] == md["Arn"]
        local_verify(pub["PublicKey"], alg, message, s["Signature"])
        v = k.verify(KeyId=md["KeyId"], Message=message, Signature=s["Signature"], SigningAlgorithm=alg)
        assert v["SignatureValid"] is True
        # DIGEST: a signature over the precomputed digest verifies as the message's.
        digest = HASHES[alg.rsplit("_", 1)[1]][1](message).digest()
        d = k.sign(KeyId=md["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=alg)
        local_verify(pub["PublicKey"], alg, message, d["Signature"])
        assert k.verify(KeyId=md["KeyId"], Message=message, Signature=d["Signature"],
                        SigningAlgorithm=alg)["SignatureValid"]
        assert k.verify(KeyId=md["KeyId"], Message=digest, MessageType="DIGEST", Signature=s["Signature"],
                        SigningAlgorithm=alg)["SignatureValid"]
        with pytest.raises(ClientError) as e:
            k.verify(KeyId=md["KeyId"], Message=message + b"!", Signature=s["Signature"], SigningAlgorithm=alg)
        assert error_code(e) == "KMSInvalidSignatureException"


def test_sign_errors(endpoint):
    k = kms(endpoint)
    ecc = new_key(k, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    sym = new_key(k)["KeyId"]
    for kwargs, code in [
        (dict(KeyId=ecc, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256"), "InvalidKeyUsageException"),
        (dict(KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_384"), "InvalidKeyUsageException"),
        (dict(KeyId=sym, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"), "InvalidKeyUsageException"),
        (dict(KeyId=ecc, Message=b"short", MessageType="DIGEST", SigningAlgorithm="ECDSA_SHA_256"),
         "ValidationException"),
        (dict(KeyId=ecc, Message=b"m", SigningAlgorithm="NOPE"), "ValidationException"),
        (dict(KeyId=ecc, Message=b"x" * 4097, SigningAlgorithm="ECDSA_SHA_256"), "ValidationException"),
    ]:
        with pytest.raises(ClientError) as e:
            kms(endpoint, validate=False).sign(**kwargs)
        assert error_code(e) == code, kwargs
    # Symmetric and signing keys cannot do each other's work.
    for call in [lambda: k.encrypt(KeyId=ecc, Plaintext=b"x"),
                 lambda: k.generate_data_key(KeyId=ecc, KeySpec="AES_256"),
                 lambda: k.generate_mac(KeyId=ecc, Message=b"x", MacAlgorithm="HMAC_SHA_256")]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        k.get_public_key(KeyId=sym)
    assert error_code(e) == "UnsupportedOperationException"
    k.disable_key(KeyId=ecc)
    with pytest.raises(ClientError) as e:
        k.sign(KeyId=ecc, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error_code(e) == "DisabledException"


def test_create_key_spec_usage_combinations(endpoint):
    k = kms(endpoint, validate=False)
    for kwargs, code in [
        (dict(KeySpec="ECC_NIST_P256"), "ValidationException"),  # default usage ENCRYPT_DECRYPT
        (dict(KeySpec="ECC_NIST_P256", KeyUsage="ENCRYPT_DECRYPT"), "ValidationException"),
        (dict(KeySpec="RSA_2048", KeyUsage="GENERATE_VERIFY_MAC"), "ValidationException"),
        (dict(KeySpec="HMAC_384", KeyUsage="SIGN_VERIFY"), "ValidationException"),
        (dict(KeySpec="RSA_1024", KeyUsage="SIGN_VERIFY"), "ValidationException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.create_key(**kwargs)
        assert error_code(e) == code, kwargs
    assert len(k.list_keys()["Keys"]) == 0


@pytest.mark.parametrize("spec,max_sha1,max_sha256", [("RSA_2048", 214, 190), ("RSA_3072", 342, 318)])
def test_rsa_oaep_encrypt_decrypt(endpoint, spec, max_sha1, max_sha256):
    k = kms(endpoint)
    md = new_key(k, KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")
    assert md["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    pub = k.get_public_key(KeyId=md["KeyId"])
    assert pub["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    public = serialization.load_der_public_key(pub["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    for alg, limit, h in [("RSAES_OAEP_SHA_1", max_sha1, hashes.SHA1),
                          ("RSAES_OAEP_SHA_256", max_sha256, hashes.SHA256)]:
        pt = b"p" * limit
        c = k.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionAlgorithm=alg)
        assert c["EncryptionAlgorithm"] == alg
        d = k.decrypt(KeyId=md["KeyId"], CiphertextBlob=c["CiphertextBlob"], EncryptionAlgorithm=alg)
        assert d["Plaintext"] == pt and d["EncryptionAlgorithm"] == alg
        # Encrypted locally with the public key, decrypted by KMS.
        local = public.encrypt(b"local secret", padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None))
        assert k.decrypt(KeyId=md["KeyId"], CiphertextBlob=local, EncryptionAlgorithm=alg)["Plaintext"] == b"local secret"
        with pytest.raises(ClientError) as e:
            k.encrypt(KeyId=md["KeyId"], Plaintext=b"p" * (limit + 1), EncryptionAlgorithm=alg)
        assert error_code(e) == "ValidationException"
    c = k.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    for kwargs, code in [
        (dict(CiphertextBlob=c, KeyId=md["KeyId"], EncryptionAlgorithm="RSAES_OAEP_SHA_1"), "InvalidCiphertextException"),
        (dict(CiphertextBlob=c, EncryptionAlgorithm="RSAES_OAEP_SHA_256"), "InvalidCiphertextException"),
        (dict(CiphertextBlob=c[:-1] + bytes([c[-1] ^ 1]), KeyId=md["KeyId"],
              EncryptionAlgorithm="RSAES_OAEP_SHA_256"), "InvalidCiphertextException"),
        (dict(CiphertextBlob=c, KeyId=md["KeyId"]), "InvalidCiphertextException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.decrypt(**kwargs)
        assert error_code(e) == code, kwargs
    for kwargs in [dict(), dict(EncryptionAlgorithm="SYMMETRIC_DEFAULT")]:
        with pytest.raises(ClientError) as e:
            k.encrypt(KeyId=md["KeyId"], Plaintext=b"x", **kwargs)
        assert error_code(e) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        k.encrypt(KeyId=md["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256",
                  EncryptionContext={"a": "b"})
    assert error_code(e) == "InvalidKeyUsageException"
    sym = new_key(k)["KeyId"]
    with pytest.raises(ClientError) as e:
        k.encrypt(KeyId=sym, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_code(e) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        k.sign(KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert error_code(e) == "InvalidKeyUsageException"


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_SECG_P256K1"])
def test_generate_data_key_pair(endpoint, spec):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    ctx = {"app": "pettracker"}
    r = k.generate_data_key_pair(KeyId=key, KeyPairSpec=spec, EncryptionContext=ctx)
    assert r["KeyPairSpec"] == spec
    private = serialization.load_der_private_key(r["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(r["PublicKey"])
    assert private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == r["PublicKey"]
    assert isinstance(public, rsa.RSAPublicKey if spec.startswith("RSA") else ec.EllipticCurvePublicKey)
    # The encrypted private key decrypts (with the context) to the same PKCS#8.
    d = k.decrypt(CiphertextBlob=r["PrivateKeyCiphertextBlob"], EncryptionContext=ctx)
    assert d["Plaintext"] == r["PrivateKeyPlaintext"]
    w = k.generate_data_key_pair_without_plaintext(KeyId=key, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in w
    private2 = serialization.load_der_private_key(
        k.decrypt(CiphertextBlob=w["PrivateKeyCiphertextBlob"])["Plaintext"], password=None)
    assert private2.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == w["PublicKey"]


def test_generate_data_key_pair_errors(endpoint):
    k = kms(endpoint, validate=False)
    sym = new_key(k)["KeyId"]
    rsa_key = new_key(k, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyId"]
    for kwargs, code in [
        (dict(KeyId=sym, KeyPairSpec="RSA_1024"), "ValidationException"),
        (dict(KeyId=sym, KeyPairSpec="SM2"), "UnsupportedOperationException"),
        (dict(KeyId=rsa_key, KeyPairSpec="RSA_2048"), "InvalidKeyUsageException"),
        (dict(KeyId="alias/none", KeyPairSpec="RSA_2048"), "NotFoundException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.generate_data_key_pair(**kwargs)
        assert error_code(e) == code, kwargs


@pytest.mark.parametrize("spec,bits", [("HMAC_224", 224), ("HMAC_256", 256), ("HMAC_384", 384), ("HMAC_512", 512)])
def test_hmac_key_specs(endpoint, spec, bits):
    k = kms(endpoint)
    md = new_key(k, KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
    alg = f"HMAC_SHA_{bits}"
    assert md["MacAlgorithms"] == [alg]
    m = k.generate_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm=alg)
    assert len(m["Mac"]) == bits // 8
    assert k.verify_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm=alg, Mac=m["Mac"])["MacValid"]
    with pytest.raises(ClientError) as e:
        k.verify_mac(KeyId=md["KeyId"], Message=b"msg!", MacAlgorithm=alg, Mac=m["Mac"])
    assert error_code(e) == "KMSInvalidMacException"
    other = "HMAC_SHA_256" if bits != 256 else "HMAC_SHA_512"
    with pytest.raises(ClientError) as e:
        k.generate_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm=other)
    assert error_code(e) == "InvalidKeyUsageException"


def test_cli_sign_then_openssl_verify(endpoint, aws_cli, tmp_path):
    """`aws kms sign`, then verify with openssl using the key from `aws kms get-public-key`."""
    rc, out, err = aws_cli("kms", "create-key", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")
    assert rc == 0, err
    key_id = json.loads(out)["KeyMetadata"]["KeyId"]
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"deploy pettracker 1.2.3\n")
    rc, out, err = aws_cli("kms", "sign", "--key-id", key_id, "--message", f"fileb://{msg}",
                           "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256",
                           "--output", "text", "--query", "Signature")
    assert rc == 0, err
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(out.strip()))
    rc, out, err = aws_cli("kms", "get-public-key", "--key-id", key_id, "--output", "text", "--query", "PublicKey")
    assert rc == 0, err
    (tmp_path / "pub.der").write_bytes(base64.b64decode(out.strip()))
    p = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(tmp_path / "pub.der"),
                        "-out", str(tmp_path / "pub.pem")], capture_output=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                        str(tmp_path / "sig.bin"), str(msg)], capture_output=True)
    assert p.returncode == 0 and b"Verified OK" in p.stdout, (p.stdout, p.stderr)
    # A changed message fails openssl's check.
    msg.write_bytes(b"deploy pettracker 6.6.6\n")
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                        str(tmp_path / "sig.bin"), str(msg)], capture_output=True)
    assert p.returncode != 0


def test_cli_rsa_pss_openssl_and_data_key_pair(endpoint, aws_cli, tmp_path):
    rc, out, err = aws_cli("kms", "create-key", "--key-spec", "RSA_3072", "--key-usage", "SIGN_VERIFY")
    assert rc == 0, err
    key_id = json.loads(out)["KeyMetadata"]["KeyId"]
    msg = tmp_path / "m"
    msg.write_bytes(b"hello")
    rc, out, err = aws_cli("kms", "sign", "--key-id", key_id, "--message", f"fileb://{msg}",
                           "--signing-algorithm", "RSASSA_PSS_SHA_384", "--output", "text", "--query", "Signature")
    assert rc == 0, err
    (tmp_path / "sig").write_bytes(base64.b64decode(out.strip()))
    rc, out, err = aws_cli("kms", "get-public-key", "--key-id", key_id, "--output", "text", "--query", "PublicKey")
    (tmp_path / "pub.der").write_bytes(base64.b64decode(out.strip()))
    p = subprocess.run(["openssl", "dgst", "-sha384", "-keyform", "DER", "-verify", str(tmp_path / "pub.der"),
                        "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1",
                        "-signature", str(tmp_path / "sig"), str(msg)], capture_output=True)
    assert p.returncode == 0 and b"Verified OK" in p.stdout, (p.stdout, p.stderr)
    # GenerateDataKeyPair: the private key parses with openssl and matches the public key.
    rc, out, err = aws_cli("kms", "create-key")
    sym = json.loads(out)["KeyMetadata"]["KeyId"]
    rc, out, err = aws_cli("kms", "generate-data-key-pair", "--key-id", sym, "--key-pair-spec", "ECC_NIST_P384")
    assert rc == 0, err
    r = json.loads(out)
    (tmp_path / "priv.der").write_bytes(base64.b64decode(r["PrivateKeyPlaintext"]))
    p = subprocess.run(["openssl", "pkey", "-inform", "DER", "-in", str(tmp_path / "priv.der"), "-pubout",
                        "-outform", "DER"], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == base64.b64decode(r["PublicKey"])


def test_re_encrypt_between_rsa_and_symmetric_keys(endpoint):
    k = kms(endpoint)
    rsa_key = new_key(k, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyId"]
    sym = new_key(k)
    ctx = {"app": "pettracker"}
    c = k.encrypt(KeyId=rsa_key, Plaintext=b"move me", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    r = k.re_encrypt(CiphertextBlob=c, SourceKeyId=rsa_key, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                     DestinationKeyId=sym["KeyId"], DestinationEncryptionContext=ctx)
    assert r["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert r["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT" and r["KeyId"] == sym["Arn"]
    assert k.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == b"move me"
    back = k.re_encrypt(CiphertextBlob=r["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=rsa_key,
                        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert back["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert k.decrypt(CiphertextBlob=back["CiphertextBlob"], KeyId=rsa_key,
                     EncryptionAlgorithm="RSAES_OAEP_SHA_1")["Plaintext"] == b"move me"
    for kwargs, code in [
        (dict(CiphertextBlob=c, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationKeyId=sym["KeyId"]),
         "InvalidCiphertextException"),  # asymmetric source needs SourceKeyId
        (dict(CiphertextBlob=r["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=rsa_key),
         "InvalidKeyUsageException"),  # RSA destination needs an RSAES algorithm
        (dict(CiphertextBlob=r["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=rsa_key,
              DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationEncryptionContext=ctx),
         "InvalidKeyUsageException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.re_encrypt(**kwargs)
        assert error_code(e) == code, kwargs
