"""Key policies are enforced: IAM policies count only when the key policy delegates to
the account; a key policy can grant by itself, and its explicit denies win."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, client

ALL_KMS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}


def user(endpoint, name, policy=None):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client(endpoint, "kms", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])


def denied(call):
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    return e.value.response["Error"]["Message"]


def key_with_policy(endpoint, statements):
    policy = {"Version": "2012-10-17", "Statement": statements}
    return client(endpoint, "kms").create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)[
        "KeyMetadata"
    ]["Arn"]


def test_default_key_policy_delegates_to_iam(endpoint):
    key = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    allowed = user(endpoint, "app", ALL_KMS)
    assert allowed.encrypt(KeyId=key, Plaintext=b"x")["KeyId"] == key
    nobody = user(endpoint, "nobody")
    denied(lambda: nobody.encrypt(KeyId=key, Plaintext=b"x"))


def test_a_key_named_by_alias_is_authorized_against_the_key(endpoint):
    """AWS authorizes a call that names a key by alias against the key's ARN (an IAM policy
    on the alias ARN does not control the key), with kms:RequestAlias set."""
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/pettracker-data", TargetKeyId=key)
    alias_arn = key.split(":key/")[0] + ":alias/pettracker-data"
    on_key = user(endpoint, "on-key", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": key}]})
    assert on_key.encrypt(KeyId="alias/pettracker-data", Plaintext=b"x")["KeyId"] == key
    assert on_key.encrypt(KeyId=alias_arn, Plaintext=b"x")["KeyId"] == key
    assert on_key.describe_key(KeyId="alias/pettracker-data")["KeyMetadata"]["Arn"] == key
    on_alias = user(endpoint, "on-alias", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": alias_arn}]})
    message = denied(lambda: on_alias.encrypt(KeyId="alias/pettracker-data", Plaintext=b"x"))
    assert key in message
    # kms:RequestAlias: only through this alias.
    via_alias = user(endpoint, "via-alias", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:RequestAlias": "alias/pettracker-data"}}}]})
    via_alias.encrypt(KeyId="alias/pettracker-data", Plaintext=b"x")
    denied(lambda: via_alias.encrypt(KeyId=key, Plaintext=b"x"))
    # The alias operations still act on the alias as a resource.
    denied(lambda: on_key.update_alias(AliasName="alias/pettracker-data", TargetKeyId=key))


def test_key_policy_without_account_delegation_denies_what_iam_allows(endpoint):
    admin_role = f"arn:aws:iam::{ACCOUNT}:user/keyadmin"
    # Principals must exist before a key policy names them (AWS resolves them then).
    keyadmin = user(endpoint, "keyadmin")  # no IAM policy at all: the key policy grants
    key = key_with_policy(endpoint, [
        {"Sid": "KeyAdminOnly", "Effect": "Allow", "Principal": {"AWS": admin_role}, "Action": "kms:*", "Resource": "*"},
    ])
    blob = keyadmin.encrypt(KeyId=key, Plaintext=b"pet records")["CiphertextBlob"]
    app = user(endpoint, "app", ALL_KMS)  # IAM allows everything in KMS...
    message = denied(lambda: app.decrypt(CiphertextBlob=blob))  # ...but the key policy does not
    assert f"arn:aws:iam::{ACCOUNT}:user/app" in message and "kms:Decrypt" in message
    # Even the account's root is bound by a key policy that leaves it out.
    denied(lambda: client(endpoint, "kms").decrypt(CiphertextBlob=blob))


def test_explicit_deny_in_key_policy_wins(endpoint):
    app = user(endpoint, "app", ALL_KMS)
    key = key_with_policy(endpoint, [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoDecryptForApp", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/app"},
         "Action": "kms:Decrypt", "Resource": "*"},
    ])
    blob = app.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    message = denied(lambda: app.decrypt(CiphertextBlob=blob))
    assert "explicit deny in a resource-based policy" in message
    # Encrypt is still allowed (the deny names Decrypt only).
    assert app.encrypt(KeyId=key, Plaintext=b"y")["KeyId"] == key


def test_key_policy_conditions_on_encryption_context(endpoint):
    app = user(endpoint, "app")
    key = key_with_policy(endpoint, [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:Get*"], "Resource": "*"},
        {"Sid": "AppWithContext", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/app"},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "pettracker"}}},
    ])
    blob = app.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "pettracker"})["CiphertextBlob"]
    assert app.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "pettracker"})["Plaintext"] == b"x"
    denied(lambda: app.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "other"}))
    denied(lambda: app.encrypt(KeyId=key, Plaintext=b"x"))


def test_alias_operations_need_the_alias_and_every_key_involved(endpoint):
    """AWS: CreateAlias, UpdateAlias and DeleteAlias need the permission on the alias (IAM
    policies) and on each key: the target, and for Update/Delete the key the alias points
    at now (key policies, which by default delegate to IAM)."""
    kms = client(endpoint, "kms")
    old = kms.create_key()["KeyMetadata"]["Arn"]
    new = kms.create_key()["KeyMetadata"]["Arn"]
    prefix = old.split(":key/")[0]
    kms.create_alias(AliasName="alias/test-app", TargetKeyId=old)

    def on(*resources):
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"],
             "Resource": list(resources)}]}

    alias_only = user(endpoint, "alias-only", on(f"{prefix}:alias/test-*"))
    assert old in denied(lambda: alias_only.delete_alias(AliasName="alias/test-app"))
    assert new in denied(lambda: alias_only.create_alias(AliasName="alias/test-other", TargetKeyId=new))
    # The new key is allowed, the key the alias points at now is not.
    alias_and_new = user(endpoint, "alias-and-new", on(f"{prefix}:alias/test-*", new))
    message = denied(lambda: alias_and_new.update_alias(AliasName="alias/test-app", TargetKeyId=new))
    assert old in message and "kms:UpdateAlias" in message
    # Keys alone are not the alias.
    keys_only = user(endpoint, "keys-only", on(old, new))
    assert "alias/test-app" in denied(lambda: keys_only.delete_alias(AliasName="alias/test-app"))

    everything = user(endpoint, "everything", on(f"{prefix}:alias/test-*", old, new))
    everything.update_alias(AliasName="alias/test-app", TargetKeyId=new)
    assert kms.describe_key(KeyId="alias/test-app")["KeyMetadata"]["Arn"] == new
    # Now the alias points at `new`, which alias_and_new may act on.
    alias_and_new.delete_alias(AliasName="alias/test-app")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/test-app")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    # A missing alias is NotFound for whoever may delete it.
    with pytest.raises(ClientError) as e:
        everything.delete_alias(AliasName="alias/test-gone")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_key_policy_deny_on_the_aliased_key_stops_delete_alias(endpoint):
    app = user(endpoint, "app", ALL_KMS)
    key = key_with_policy(endpoint, [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "KeepAliases", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/app"},
         "Action": "kms:DeleteAlias", "Resource": "*"},
    ])
    client(endpoint, "kms").create_alias(AliasName="alias/kept", TargetKeyId=key)
    assert "explicit deny in a resource-based policy" in denied(lambda: app.delete_alias(AliasName="alias/kept"))
    client(endpoint, "kms").delete_alias(AliasName="alias/kept")


def test_create_key_with_tags_needs_tag_resource_and_deletion_window_is_a_condition(endpoint):
    kms = user(endpoint, "keymaker", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:CreateKey", "kms:ScheduleKeyDeletion"], "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
         "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}}}]})
    message = denied(lambda: kms.create_key(Tags=[{"TagKey": "team", "TagValue": "pets"}]))
    assert "kms:TagResource" in message
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert "kms:ScheduleKeyDeletion" in denied(lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7))
    # Without the parameter, the window is AWS's default of 30 days.
    assert kms.schedule_key_deletion(KeyId=key)["PendingWindowInDays"] == 30


def test_policy_lockout_safety_check(endpoint):
    """AWS refuses a key policy that would stop the caller from changing it again, unless
    BypassPolicyLockoutSafetyCheck is set; delegating to the account is enough."""
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    encrypt_only = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:Encrypt", "Resource": "*"}]})
    for call in (lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=encrypt_only),
                 lambda: kms.create_key(Policy=encrypt_only)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
        assert "will not allow you to update the key policy" in e.value.response["Error"]["Message"]
    # The key is still manageable, and its policy unchanged.
    assert "kms:*" in kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    # A user may hand the key to the account (IAM decides), but not lock itself out.
    app = user(endpoint, "app", ALL_KMS)
    mine = app.create_key()["KeyMetadata"]["KeyId"]
    client(endpoint, "iam").create_user(UserName="someone-else")
    other_admin = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"}, "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        app.put_key_policy(KeyId=mine, PolicyName="default", Policy=other_admin)
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    app.put_key_policy(KeyId=mine, PolicyName="default", Policy=other_admin, BypassPolicyLockoutSafetyCheck=True)
    denied(lambda: app.get_key_policy(KeyId=mine, PolicyName="default"))


def test_another_account_may_use_a_key_but_never_manage_it(endpoint):
    """A key policy can let another account use a key (Encrypt, DescribeKey: "Cross-account
    use: Yes"), but the management operations work only in the key's own account, whatever
    the policy grants (AWS: "Cross-account use: No")."""
    from test_organizations import assume_access_role, create_account

    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    other = create_account(orgs, "partner")
    key = key_with_policy(endpoint, [
        {"Sid": "Owner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"}, "Action": "kms:*", "Resource": "*"},
    ])
    creds = assume_access_role(endpoint, other)
    partner = client(endpoint, "kms", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert partner.describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    partner.encrypt(KeyId=key, Plaintext=b"x")
    assert partner.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    for call in (
        lambda: partner.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})),
        lambda: partner.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
        lambda: partner.disable_key(KeyId=key),
        lambda: partner.get_key_policy(KeyId=key, PolicyName="default"),
        lambda: partner.enable_key_rotation(KeyId=key),
        lambda: partner.tag_resource(KeyId=key, Tags=[{"TagKey": "owner", "TagValue": "partner"}]),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "NotFoundException", e.value.response
    assert client(endpoint, "kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


def test_lockout_check_sees_the_callers_organization(endpoint):
    """A key policy for the whole organization (Principal "*" with aws:PrincipalOrgID) keeps
    its caller able to manage the key, and passes the lockout safety check."""
    org = client(endpoint, "organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    kms = client(endpoint, "kms")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}}]})
    key = kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
    other_org = policy.replace(org, "o-aaaaaaaaaa")
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=other_org)
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"


def test_reencrypt_on_the_same_key_through_an_alias(endpoint):
    """kms:ReEncryptOnSameKey is true when the destination alias points at the source key."""
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    other = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/same", TargetKeyId=key)
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    app = user(endpoint, "rotator", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:ReEncryptFrom", "kms:ReEncryptTo"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["kms:ReEncryptFrom", "kms:ReEncryptTo"], "Resource": "*",
         "Condition": {"Bool": {"kms:ReEncryptOnSameKey": "true"}}}]})
    denied(lambda: app.re_encrypt(CiphertextBlob=blob, DestinationKeyId="alias/same"))
    denied(lambda: app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key))
    assert app.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)["KeyId"] == other
