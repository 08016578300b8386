"""KMS grants: CreateGrant (constraints, names, tokens), ListGrants, ListRetirableGrants,
RetireGrant, RevokeGrant through boto3 and the aws CLI; a grant lets a user decrypt only with
the constrained encryption context (enforced through kms::grants_allow by the authorizer)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, client
from test_kms import error_code, kms, new_key

USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/grantee"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Worker"


def make_user(endpoint, name="grantee"):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_grant_lifecycle(endpoint):
    k = kms(endpoint)
    md = new_key(k)
    key = md["KeyId"]
    g = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, RetiringPrincipal=ROLE_ARN,
                       Operations=["Decrypt", "Encrypt"], Name="app-grant",
                       Constraints={"EncryptionContextSubset": {"app": "pettracker"}})
    assert len(g["GrantId"]) == 64 and g["GrantToken"]
    # Same name and parameters: the same grant (AWS's idempotent retry).
    again = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, RetiringPrincipal=ROLE_ARN,
                           Operations=["Encrypt", "Decrypt"], Name="app-grant",
                           Constraints={"EncryptionContextSubset": {"app": "pettracker"}})
    assert again["GrantId"] == g["GrantId"]
    other = k.create_grant(KeyId=key, GranteePrincipal=ROLE_ARN, Operations=["DescribeKey", "RetireGrant"])
    grants = k.list_grants(KeyId=key)
    assert grants["Truncated"] is False and len(grants["Grants"]) == 2
    entry = next(x for x in grants["Grants"] if x["GrantId"] == g["GrantId"])
    assert entry["KeyId"] == md["Arn"] and entry["Name"] == "app-grant"
    assert entry["GranteePrincipal"] == USER_ARN and entry["RetiringPrincipal"] == ROLE_ARN
    assert entry["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert sorted(entry["Operations"]) == ["Decrypt", "Encrypt"]
    assert entry["Constraints"] == {"EncryptionContextSubset": {"app": "pettracker"}}
    assert "CreationDate" in entry
    assert [x["GrantId"] for x in k.list_grants(KeyId=key, GrantId=other["GrantId"])["Grants"]] == [other["GrantId"]]
    assert [x["GrantId"] for x in k.list_grants(KeyId=key, GranteePrincipal=USER_ARN)["Grants"]] == [g["GrantId"]]
    page = k.list_grants(KeyId=key, Limit=1)
    assert page["Truncated"] is True and len(page["Grants"]) == 1
    assert len(k.list_grants(KeyId=key, Limit=1, Marker=page["NextMarker"])["Grants"]) == 1
    retirable = k.list_retirable_grants(RetiringPrincipal=ROLE_ARN)["Grants"]
    assert [x["GrantId"] for x in retirable] == [g["GrantId"]]
    # Retire by token (the issuing account may), revoke by id.
    k.retire_grant(GrantToken=g["GrantToken"])
    with pytest.raises(ClientError) as e:
        k.retire_grant(GrantToken=g["GrantToken"])
    assert error_code(e) == "NotFoundException"
    k.revoke_grant(KeyId=key, GrantId=other["GrantId"])
    assert k.list_grants(KeyId=key)["Grants"] == []
    with pytest.raises(ClientError) as e:
        k.revoke_grant(KeyId=key, GrantId=other["GrantId"])
    assert error_code(e) == "NotFoundException"
    with pytest.raises(ClientError) as e:
        k.retire_grant(GrantToken="not-a-token!")
    assert error_code(e) == "InvalidGrantTokenException"
    # RetireGrant by key id and grant id.
    g3 = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, Operations=["Decrypt"])
    k.retire_grant(KeyId=md["Arn"], GrantId=g3["GrantId"])
    assert k.list_grants(KeyId=key)["Grants"] == []


def test_create_grant_errors(endpoint):
    k = kms(endpoint, validate=False)
    sym = new_key(k)["KeyId"]
    sig = new_key(k, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    for kwargs, code in [
        (dict(KeyId=sym, GranteePrincipal=USER_ARN, Operations=[]), "ValidationException"),
        (dict(KeyId=sym, GranteePrincipal=USER_ARN, Operations=["Fly"]), "ValidationException"),
        (dict(KeyId=sym, GranteePrincipal=USER_ARN, Operations=["Sign"]), "ValidationException"),
        (dict(KeyId=sig, GranteePrincipal=USER_ARN, Operations=["Decrypt"]), "ValidationException"),
        (dict(KeyId=sym, GranteePrincipal="not a principal!", Operations=["Decrypt"]), "ValidationException"),
        (dict(KeyId=sym, GranteePrincipal=USER_ARN, Operations=["Decrypt"], Name="bad name"), "ValidationException"),
        (dict(KeyId="alias/missing", GranteePrincipal=USER_ARN, Operations=["Decrypt"]), "NotFoundException"),
    ]:
        with pytest.raises(ClientError) as e:
            k.create_grant(**kwargs)
        assert error_code(e) == code, kwargs
    assert k.list_grants(KeyId=sym)["Grants"] == []
    k.disable_key(KeyId=sym)
    with pytest.raises(ClientError) as e:
        k.create_grant(KeyId=sym, GranteePrincipal=USER_ARN, Operations=["Decrypt"])
    assert error_code(e) == "DisabledException"
    assert k.create_grant(KeyId=sig, GranteePrincipal=USER_ARN, Operations=["Sign", "GetPublicKey"])["GrantId"]
    with pytest.raises(ClientError) as e:
        k.retire_grant()
    assert error_code(e) == "ValidationException"


def test_grant_lets_user_decrypt_only_with_constrained_context(endpoint):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    ok_ctx = {"tenant": "pettracker"}
    bad_ctx = {"tenant": "other"}
    blob_ok = k.encrypt(KeyId=key, Plaintext=b"pet data", EncryptionContext=ok_ctx)["CiphertextBlob"]
    blob_bad = k.encrypt(KeyId=key, Plaintext=b"other data", EncryptionContext=bad_ctx)["CiphertextBlob"]
    ak, sk = make_user(endpoint)
    user = client(endpoint, "kms", ak=ak, sk=sk)
    with pytest.raises(ClientError) as e:
        user.decrypt(CiphertextBlob=blob_ok, EncryptionContext=ok_ctx)
    assert error_code(e) == "AccessDeniedException"
    g = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, RetiringPrincipal=USER_ARN,
                       Operations=["Decrypt"], Constraints={"EncryptionContextEquals": ok_ctx})
    # Outside the constraint: still denied.
    with pytest.raises(ClientError) as e:
        user.decrypt(CiphertextBlob=blob_bad, EncryptionContext=bad_ctx)
    assert error_code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        user.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=ok_ctx)
    assert error_code(e) == "AccessDeniedException"
    # Within the constraint, the grant lets the user decrypt.
    out = user.decrypt(CiphertextBlob=blob_ok, EncryptionContext=ok_ctx)
    assert out["Plaintext"] == b"pet data"
    # The retiring principal retires the grant without any IAM permission.
    user.retire_grant(GrantToken=g["GrantToken"])
    assert k.list_grants(KeyId=key)["Grants"] == []
    with pytest.raises(ClientError) as e:
        user.decrypt(CiphertextBlob=blob_ok, EncryptionContext=ok_ctx)
    assert error_code(e) == "AccessDeniedException"


def test_only_retiring_principal_or_issuer_retires(endpoint):
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    ak, sk = make_user(endpoint)
    user = client(endpoint, "kms", ak=ak, sk=sk)
    g = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, RetiringPrincipal=ROLE_ARN, Operations=["Decrypt"])
    with pytest.raises(ClientError) as e:
        user.retire_grant(GrantToken=g["GrantToken"])
    assert error_code(e) == "AccessDeniedException"
    assert len(k.list_grants(KeyId=key)["Grants"]) == 1
    # A grant that includes RetireGrant lets its grantee retire it.
    g2 = k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, Operations=["Decrypt", "RetireGrant"])
    user.retire_grant(GrantToken=g2["GrantToken"])
    assert [x["GrantId"] for x in k.list_grants(KeyId=key)["Grants"]] == [g["GrantId"]]


def test_cli_grants(endpoint, aws_cli):
    rc, out, err = aws_cli("kms", "create-key")
    assert rc == 0, err
    key = json.loads(out)["KeyMetadata"]["KeyId"]
    rc, out, err = aws_cli("kms", "create-grant", "--key-id", key, "--grantee-principal", ROLE_ARN,
                           "--operations", "Decrypt", "GenerateDataKey",
                           "--constraints", "EncryptionContextSubset={Department=IT}")
    assert rc == 0, err
    gid = json.loads(out)["GrantId"]
    rc, out, err = aws_cli("kms", "list-grants", "--key-id", key)
    assert rc == 0, err
    grants = json.loads(out)["Grants"]
    assert [x["GrantId"] for x in grants] == [gid]
    assert grants[0]["Constraints"] == {"EncryptionContextSubset": {"Department": "IT"}}
    rc, out, err = aws_cli("kms", "revoke-grant", "--key-id", key, "--grant-id", gid)
    assert rc == 0, err
    rc, out, err = aws_cli("kms", "list-grants", "--key-id", key)
    assert json.loads(out)["Grants"] == []


def test_retire_grant_is_decided_by_the_grant_and_iam_policies_never_the_key_policy(endpoint):
    """AWS KMS guide, "Retiring and revoking grants": principals the grant names retire it
    without kms:RetireGrant, but an IAM Deny of kms:RetireGrant stops them; the key's
    account can delegate kms:RetireGrant to its IAM principals in IAM policies, and so can a
    retiring principal that is another account; kms:RetireGrant in a key policy has no
    effect."""
    from test_organizations import assume_access_role, create_account

    iam = client(endpoint, "iam")
    k = kms(endpoint)
    me = f"arn:aws:iam::{ACCOUNT}:root"

    def user(name, policy=None):
        ak, sk = make_user(endpoint, name)
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        return client(endpoint, "kms", ak=ak, sk=sk)

    # A key policy's principals must exist when it is set.
    keypolicy_only = user("keypolicy-only")
    key = k.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/keypolicy-only"},
         "Action": "kms:RetireGrant", "Resource": "*"}]}))["KeyMetadata"]["Arn"]

    def grant(**kw):
        return k.create_grant(KeyId=key, GranteePrincipal=ROLE_ARN, Operations=["Decrypt"], **kw)["GrantToken"]

    def live():
        return len(k.list_grants(KeyId=key)["Grants"])

    # Named as retiring principal, but an IAM policy denies kms:RetireGrant.
    named = f"arn:aws:iam::{ACCOUNT}:user/named-but-denied"
    denied_user = user("named-but-denied", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "kms:RetireGrant", "Resource": "*"}]})
    token = grant(RetiringPrincipal=named)
    with pytest.raises(ClientError) as e:
        denied_user.retire_grant(GrantToken=token)
    assert error_code(e) == "AccessDeniedException"
    assert "explicit deny" in e.value.response["Error"]["Message"]
    assert live() == 1
    # Delegated by the key's account in an IAM policy, without being named.
    user("delegated", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:RetireGrant", "Resource": key}]}).retire_grant(GrantToken=token)
    assert live() == 0
    # The key policy naming a user for kms:RetireGrant does not let it retire.
    token = grant()
    with pytest.raises(ClientError) as e:
        keypolicy_only.retire_grant(GrantToken=token)
    assert error_code(e) == "AccessDeniedException"
    assert live() == 1
    k.retire_grant(GrantToken=token)  # the key's account root may

    # A grantee allowed to retire its own grant cannot retire another grant on the key.
    own_arn = f"arn:aws:iam::{ACCOUNT}:user/own-grantee"
    own = user("own-grantee")
    mine = k.create_grant(KeyId=key, GranteePrincipal=own_arn, Operations=["Decrypt", "RetireGrant"])["GrantToken"]
    theirs = grant()
    with pytest.raises(ClientError) as e:
        own.retire_grant(GrantToken=theirs)
    assert error_code(e) == "AccessDeniedException"
    own.retire_grant(GrantToken=mine)
    assert live() == 1
    k.retire_grant(GrantToken=theirs)

    # A retiring principal that is another account: its administrators may retire.
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    partner, third = create_account(orgs, "partner"), create_account(orgs, "third")
    token = grant(RetiringPrincipal=f"arn:aws:iam::{partner}:root")

    def admin_of(account):
        c = assume_access_role(endpoint, account)
        return client(endpoint, "kms", ak=c["AccessKeyId"], sk=c["SecretAccessKey"], token=c["SessionToken"])

    with pytest.raises(ClientError) as e:
        admin_of(third).retire_grant(GrantToken=token)
    assert error_code(e) == "AccessDeniedException"
    assert live() == 1
    admin_of(partner).retire_grant(GrantToken=token)
    assert live() == 0


def test_grant_tokens_and_constraints_are_checked(endpoint):
    """GrantTokens on every operation that takes them: at most 10, non-empty, and tokens KMS
    issued (InvalidGrantTokenException). Constraints: at most 8 pairs, values up to 384
    characters, symmetric encryption keys only; their keys match case-insensitively."""
    k = kms(endpoint)
    raw = client(endpoint, "kms", validate=False)
    key = new_key(k)["KeyId"]
    real = k.create_grant(KeyId=key, GranteePrincipal=ROLE_ARN, Operations=["Encrypt"])["GrantToken"]
    k.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=[real])
    k.describe_key(KeyId=key, GrantTokens=[real])
    for tokens, code in (([real] * 11, "ValidationException"), ([""], "ValidationException"),
                         (["x"], "InvalidGrantTokenException")):
        for call in (lambda: raw.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=tokens),
                     lambda: raw.describe_key(KeyId=key, GrantTokens=tokens),
                     lambda: raw.create_grant(KeyId=key, GranteePrincipal=ROLE_ARN, Operations=["Decrypt"],
                                              GrantTokens=tokens)):
            with pytest.raises(ClientError) as e:
                call()
            assert error_code(e) == code, (tokens[:1], code)
    assert len(k.list_grants(KeyId=key)["Grants"]) == 1

    nine = {f"k{i}": "v" for i in range(9)}
    for constraints in ({"EncryptionContextSubset": nine}, {"EncryptionContextEquals": {"a": "v" * 385}}):
        with pytest.raises(ClientError) as e:
            k.create_grant(KeyId=key, GranteePrincipal=ROLE_ARN, Operations=["Decrypt"], Constraints=constraints)
        assert error_code(e) == "ValidationException"
    rsa = new_key(k, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyId"]
    with pytest.raises(ClientError) as e:
        k.create_grant(KeyId=rsa, GranteePrincipal=ROLE_ARN, Operations=["Decrypt"],
                       Constraints={"EncryptionContextSubset": {"a": "b"}})
    assert error_code(e) == "ValidationException"

    # A constraint's keys are not case sensitive; its values are.
    ak, sk = make_user(endpoint, "ctx-user")
    user = client(endpoint, "kms", ak=ak, sk=sk)
    k.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:user/ctx-user", Operations=["Decrypt"],
                   Constraints={"EncryptionContextSubset": {"Department": "IT"}})
    ok = k.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"department": "IT"})["CiphertextBlob"]
    bad = k.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"Department": "it"})["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=ok, EncryptionContext={"department": "IT"})["Plaintext"] == b"x"
    with pytest.raises(ClientError) as e:
        user.decrypt(CiphertextBlob=bad, EncryptionContext={"Department": "it"})
    assert error_code(e) == "AccessDeniedException"


def test_constraints_do_not_bind_describe_key(endpoint):
    """AWS's GrantConstraints: constraints apply to the operations that take an encryption
    context; DescribeKey in a constrained grant works without one (the seed's grant of
    Decrypt + DescribeKey with EncryptionContextEquals)."""
    k = kms(endpoint)
    key = new_key(k)["KeyId"]
    ctx = {"app": "pettracker"}
    blob = k.encrypt(KeyId=key, Plaintext=b"pet", EncryptionContext=ctx)["CiphertextBlob"]
    ak, sk = make_user(endpoint)
    user = client(endpoint, "kms", ak=ak, sk=sk)
    with pytest.raises(ClientError) as e:
        user.describe_key(KeyId=key)
    assert error_code(e) == "AccessDeniedException"
    k.create_grant(KeyId=key, GranteePrincipal=USER_ARN, Operations=["Decrypt", "DescribeKey"],
                   Constraints={"EncryptionContextEquals": ctx})
    assert user.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
    assert user.decrypt(CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == b"pet"
    with pytest.raises(ClientError) as e:
        user.decrypt(CiphertextBlob=blob)
    assert error_code(e) in ("AccessDeniedException", "InvalidCiphertextException")
