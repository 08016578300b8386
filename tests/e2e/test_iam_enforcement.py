"""Least privilege is real: every call of every principal goes through the policy engine.

Seed 000's IAM setup: users with access keys, groups with policies, the MFAEnforcement
policy; denials carry AWS's message and land in CloudTrail."""

import base64
import hashlib
import hmac
import json
import struct
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT, admin, client

# AWS's documented "manage your own MFA; deny everything else without MFA" policy, as
# seed 000's MFAEnforcement group policy.
MFA_ENFORCEMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": ["iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "iam:ResyncMFADevice"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:GetUser",
                "iam:ListMFADevices",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}


def totp(seed_b32, at=None, step=0):
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    counter = int((at or time.time()) // 30) + step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off : off + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def make_user(endpoint, name, group=None):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    if group:
        iam.add_user_to_group(GroupName=group, UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def denied(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response


def test_user_without_policies_is_denied_with_awss_message(endpoint):
    ak, sk = make_user(endpoint, "alex")
    resp = denied(lambda: client(endpoint, "iam", ak=ak, sk=sk).list_users())
    assert resp["Error"]["Code"] == "AccessDenied"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert resp["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/alex is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action"
    )
    # GetCallerIdentity needs no permission.
    ident = client(endpoint, "sts", ak=ak, sk=sk).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alex"


def test_policy_changes_take_effect_on_the_next_request(endpoint):
    ak, sk = make_user(endpoint, "maya")
    root = client(endpoint, "iam")
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    denied(iam.list_users)
    root.attach_user_policy(UserName="maya", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["maya"]
    root.put_user_policy(
        UserName="maya",
        PolicyName="NoListing",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:List*", "Resource": "*"}]}
        ),
    )
    resp = denied(iam.list_users)
    assert "with an explicit deny in an identity-based policy" in resp["Error"]["Message"]
    # Still allowed what the deny does not cover.
    assert iam.get_user(UserName="maya")["User"]["UserName"] == "maya"
    root.delete_user_policy(UserName="maya", PolicyName="NoListing")
    assert iam.list_users()["Users"]


def test_group_policies_apply_to_members(endpoint):
    root = client(endpoint, "iam")
    root.create_group(GroupName="SecurityAudit")
    root.attach_group_policy(GroupName="SecurityAudit", PolicyArn="arn:aws:iam::aws:policy/SecurityAudit")
    ak, sk = make_user(endpoint, "jordan", group="SecurityAudit")
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    assert iam.list_users()["Users"]
    # SecurityAudit is read-only: creating is denied.
    resp = denied(lambda: iam.create_user(UserName="mallory"))
    assert resp["Error"]["Code"] == "AccessDenied"
    root.remove_user_from_group(GroupName="SecurityAudit", UserName="jordan")
    denied(iam.list_users)


def test_permissions_boundary_limits_an_admin(endpoint):
    root = client(endpoint, "iam")
    ak, sk = make_user(endpoint, "sam")
    root.attach_user_policy(UserName="sam", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    iam.create_user(UserName="temp1")
    root.put_user_permissions_boundary(
        UserName="sam", PermissionsBoundary="arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )
    resp = denied(lambda: iam.create_user(UserName="temp2"))
    assert "because no permissions boundary allows the iam:CreateUser action" in resp["Error"]["Message"]
    assert iam.list_users()["Users"]


def test_denials_are_in_cloudtrail(endpoint):
    ak, sk = make_user(endpoint, "alex")
    denied(lambda: client(endpoint, "iam", ak=ak, sk=sk).list_users())
    events = client(endpoint, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alex"}]
    )["Events"]
    listed = [e for e in events if e["EventName"] == "ListUsers"]
    assert len(listed) == 1
    record = json.loads(listed[0]["CloudTrailEvent"])
    assert record["errorCode"] == "AccessDenied"
    assert "not authorized to perform: iam:ListUsers" in record["errorMessage"]
    assert record["userIdentity"]["type"] == "IAMUser"
    assert record["userIdentity"]["userName"] == "alex"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventSource"] == "iam.amazonaws.com"


def test_entities_named_without_their_path_are_authorized_by_their_full_arn(endpoint):
    """IAM operations name users, groups and roles without their path; AWS authorizes them
    against the entity's ARN, path included, so path-scoped policies apply."""
    root = client(endpoint, "iam")
    root.create_user(UserName="lee", Path="/engineering/")
    root.create_user(UserName="sam", Path="/finance/")
    root.create_role(RoleName="deployer", Path="/engineering/", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                  "Action": "sts:AssumeRole"}]}))
    ak, sk = make_user(endpoint, "eng-lead")
    root.put_user_policy(UserName="eng-lead", PolicyName="eng", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:GetUser", "iam:GetRole", "iam:TagUser"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:user/engineering/*", f"arn:aws:iam::{ACCOUNT}:role/engineering/*"]}]}))
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    assert iam.get_user(UserName="lee")["User"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/engineering/lee"
    assert iam.get_role(RoleName="deployer")["Role"]["Path"] == "/engineering/"
    iam.tag_user(UserName="lee", Tags=[{"Key": "team", "Value": "platform"}])
    resp = denied(lambda: iam.get_user(UserName="sam"))
    assert resp["Error"]["Code"] == "AccessDenied"
    # The denial names the real ARN, as AWS's does.
    assert f"arn:aws:iam::{ACCOUNT}:user/finance/sam" in resp["Error"]["Message"]
    # A move to another path counts from the next call.
    root.update_user(UserName="lee", NewPath="/finance/")
    assert "user/finance/lee" in denied(lambda: iam.get_user(UserName="lee"))["Error"]["Message"]
    # Creating names the new entity as asked: a name taken under another path is
    # EntityAlreadyExists to a caller allowed to create it, not a denial about the other.
    root.put_user_policy(UserName="eng-lead", PolicyName="create", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateUser",
                                                "Resource": f"arn:aws:iam::{ACCOUNT}:user/sam"}]}))
    resp = denied(lambda: iam.create_user(UserName="sam"))
    assert resp["Error"]["Code"] == "EntityAlreadyExists"


def test_json_protocol_denial_is_access_denied_exception(endpoint):
    ak, sk = make_user(endpoint, "alex")
    resp = denied(lambda: client(endpoint, "cloudtrail", ak=ak, sk=sk).lookup_events())
    assert resp["Error"]["Code"] == "AccessDeniedException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_cli_denial_message(endpoint, aws_cli):
    ak, sk = make_user(endpoint, "alex")
    rc, _, err = aws_cli("iam", "list-users", ak=ak, sk=sk)
    assert rc != 0
    assert "AccessDenied" in err and "iam:ListUsers" in err


def test_seed_mfa_enforcement(endpoint):
    """Seed 000: Developers carry MFAEnforcement; alex without MFA is denied, with an MFA
    session (GetSessionToken + TOTP) allowed."""
    root = client(endpoint, "iam")
    root.create_group(GroupName="Developers")
    root.put_group_policy(GroupName="Developers", PolicyName="MFAEnforcement", PolicyDocument=json.dumps(MFA_ENFORCEMENT))
    root.attach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    ak, sk = make_user(endpoint, "alex", group="Developers")
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    resp = denied(iam.list_users)
    assert "with an explicit deny in an identity-based policy" in resp["Error"]["Message"]
    # alex may set up his own MFA device without MFA.
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName="alex")["VirtualMFADevice"]
    seed = dev["Base32StringSeed"].decode() if isinstance(dev["Base32StringSeed"], bytes) else dev["Base32StringSeed"]
    now = time.time()
    iam.enable_mfa_device(
        UserName="alex",
        SerialNumber=dev["SerialNumber"],
        AuthenticationCode1=totp(seed, now, -1),
        AuthenticationCode2=totp(seed, now, 0),
    )
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="alex")["MFADevices"]] == [dev["SerialNumber"]]
    # Long-term keys still carry no MFA.
    denied(iam.list_users)
    creds = client(endpoint, "sts", ak=ak, sk=sk).get_session_token(
        SerialNumber=dev["SerialNumber"], TokenCode=totp(seed, now, 1)
    )["Credentials"]
    mfa_iam = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert "alex" in [u["UserName"] for u in mfa_iam.list_users()["Users"]]
    # A session token without MFA does not help: IAM refuses it outright, as AWS does.
    plain = client(endpoint, "sts", ak=ak, sk=sk).get_session_token()["Credentials"]
    no_mfa = client(endpoint, "iam", ak=plain["AccessKeyId"], sk=plain["SecretAccessKey"], token=plain["SessionToken"])
    assert denied(no_mfa.list_users)["Error"]["Code"] == "InvalidClientTokenId"


def allow(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_get_user_without_a_name_needs_iam_get_user_on_oneself(endpoint):
    ak, sk = make_user(endpoint, "alex")
    resp = denied(lambda: client(endpoint, "iam", ak=ak, sk=sk).get_user())
    assert f"iam:GetUser on resource: arn:aws:iam::{ACCOUNT}:user/alex" in resp["Error"]["Message"]
    client(endpoint, "iam").put_user_policy(UserName="alex", PolicyName="self", PolicyDocument=allow(
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::*:user/${aws:username}"}))
    assert client(endpoint, "iam", ak=ak, sk=sk).get_user()["User"]["UserName"] == "alex"


def test_delegated_user_admin_is_bound_to_the_boundary_and_tags(endpoint):
    """The IAM User Guide's delegation pattern: create users only with a given permissions
    boundary and only tagged with one's team; a move needs the permission on the new path."""
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    ak, sk = make_user(endpoint, "delegate")
    client(endpoint, "iam").put_user_policy(UserName="delegate", PolicyName="p", PolicyDocument=allow(
        {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:TagUser"], "Resource": "*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}},
        {"Effect": "Allow", "Action": "iam:TagUser", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "pets"}}},
        {"Effect": "Allow", "Action": "iam:UpdateUser",
         "Resource": [f"arn:aws:iam::{ACCOUNT}:user/pets-*", f"arn:aws:iam::{ACCOUNT}:user/team/pets-*"]},
    ))
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    assert denied(lambda: iam.create_user(UserName="pets-a"))["Error"]["Code"] == "AccessDenied"
    iam.create_user(UserName="pets-a", PermissionsBoundary=boundary)
    # Tags at creation also need iam:TagUser, which this policy ties to team=pets.
    message = denied(lambda: iam.create_user(UserName="pets-b", PermissionsBoundary=boundary,
                                             Tags=[{"Key": "team", "Value": "billing"}]))["Error"]["Message"]
    assert "iam:TagUser" in message
    iam.create_user(UserName="pets-b", PermissionsBoundary=boundary, Tags=[{"Key": "team", "Value": "pets"}])
    # Moves: allowed to /team/, not to /admins/ (the permission is needed on both ARNs).
    iam.update_user(UserName="pets-a", NewPath="/team/")
    message = denied(lambda: iam.update_user(UserName="pets-a", NewPath="/admins/"))["Error"]["Message"]
    assert f"arn:aws:iam::{ACCOUNT}:user/admins/pets-a" in message


def test_role_sessions_are_matched_by_aws_principal_arn_as_the_role(endpoint):
    """aws:PrincipalArn is the role's ARN in a role session (not the session's ARN), as
    SCP and data-perimeter guardrails rely on; aws:PrincipalIsAWSService is false."""
    iam = client(endpoint, "iam")
    trust = allow({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="ops", Path="/team/", AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName="ops", PolicyName="p", PolicyDocument=allow(
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": role["Arn"]},
                       "Bool": {"aws:PrincipalIsAWSService": "false"}}}))
    ak, sk = make_user(endpoint, "alex")
    iam.put_user_policy(UserName="alex", PolicyName="p", PolicyDocument=allow(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}))
    creds = client(endpoint, "sts", ak=ak, sk=sk).assume_role(RoleArn=role["Arn"], RoleSessionName="ops-session")["Credentials"]
    session = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert any(r["RoleName"] == "ops" for r in session.list_roles()["Roles"])


def test_tags_at_creation_need_the_resources_tag_permission(endpoint):
    ak, sk = make_user(endpoint, "maker")
    client(endpoint, "iam").put_user_policy(UserName="maker", PolicyName="p", PolicyDocument=allow(
        {"Effect": "Allow", "Action": ["iam:CreateVirtualMFADevice", "iam:CreateSAMLProvider",
                                       "iam:CreateOpenIDConnectProvider"], "Resource": "*"}))
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    tags = [{"Key": "team", "Value": "pets"}]
    assert "iam:TagMFADevice" in denied(lambda: iam.create_virtual_mfa_device(
        VirtualMFADeviceName="tagged", Tags=tags))["Error"]["Message"]
    iam.create_virtual_mfa_device(VirtualMFADeviceName="plain")
    assert "iam:TagOpenIDConnectProvider" in denied(lambda: iam.create_open_id_connect_provider(
        Url="https://idp.example.com", ClientIDList=["app"], ThumbprintList=["a" * 40], Tags=tags))["Error"]["Message"]


def test_get_access_key_last_used_is_checked_on_the_keys_owner(endpoint):
    """AWS's "manage your own credentials" policy grants iam:GetAccessKeyLastUsed on
    user/${aws:username}: it covers one's own keys and no one else's."""
    ak, sk = make_user(endpoint, "alex")
    other_ak, _ = make_user(endpoint, "sam")
    client(endpoint, "iam").put_user_policy(UserName="alex", PolicyName="own", PolicyDocument=allow(
        {"Effect": "Allow", "Action": "iam:GetAccessKeyLastUsed", "Resource": "arn:aws:iam::*:user/${aws:username}"}))
    iam = client(endpoint, "iam", ak=ak, sk=sk)
    assert iam.get_access_key_last_used(AccessKeyId=ak)["UserName"] == "alex"
    message = denied(lambda: iam.get_access_key_last_used(AccessKeyId=other_ak))["Error"]["Message"]
    assert f"arn:aws:iam::{ACCOUNT}:user/sam" in message


def test_a_moved_user_acts_at_its_new_path(endpoint):
    """After UpdateUser NewPath, the user's keys act as the user at its new ARN (identity,
    aws:PrincipalArn, the owner GetAccessKeyLastUsed is checked on)."""
    ak, sk = make_user(endpoint, "mover")
    iam = client(endpoint, "iam")
    iam.put_user_policy(UserName="mover", PolicyName="p", PolicyDocument=allow(
        {"Effect": "Allow", "Action": "iam:GetAccessKeyLastUsed", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:GetAccessKeyLastUsed", "Resource": f"arn:aws:iam::{ACCOUNT}:user/restricted/*"}))
    mover = client(endpoint, "iam", ak=ak, sk=sk)
    mover.get_access_key_last_used(AccessKeyId=ak)
    iam.update_user(UserName="mover", NewPath="/restricted/")
    ident = client(endpoint, "sts", ak=ak, sk=sk).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/restricted/mover"
    assert f"user/restricted/mover" in denied(lambda: mover.get_access_key_last_used(AccessKeyId=ak))["Error"]["Message"]


def test_a_deny_listing_an_arn_whose_variable_has_no_value_holds_in_any_order(endpoint):
    # A role session has no aws:username: that ARN of the Deny's Resource list matches
    # nothing, and the list's other ARN still denies, whichever comes first.
    iam, sm = client(endpoint, "iam"), client(endpoint, "secretsmanager")
    arn = sm.create_secret(Name="db", SecretString="x")["ARN"]
    iam.create_role(
        RoleName="reader",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}),
    )
    ak, sk = make_user(endpoint, "assumer")
    iam.put_user_policy(UserName="assumer", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    var = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:${{aws:username}}-*"
    for resources in ([arn, var], [var, arn]):
        iam.put_role_policy(RoleName="reader", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": resources}]}))
        creds = client(endpoint, "sts", ak, sk).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/reader", RoleSessionName="s1")["Credentials"]
        session = client(endpoint, "secretsmanager", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        r = denied(lambda: session.get_secret_value(SecretId="db"))
        assert r["Error"]["Code"] == "AccessDeniedException", resources
        assert "explicit deny" in r["Error"]["Message"], resources
        session.describe_secret(SecretId="db")


def test_a_recreated_user_or_role_does_not_inherit_what_policies_granted_the_old_one(endpoint):
    # IAM User Guide, Principal element: the ARN of a user or role in a trust or resource
    # policy stands for its unique id; once it is deleted the policy shows that id and no
    # longer applies, "even if you recreate the user".
    iam, kms = client(endpoint, "iam"), client(endpoint, "kms")
    wen = f"arn:aws:iam::{ACCOUNT}:user/wen"
    make_user(endpoint, "wen")
    iam.put_user_policy(UserName="wen", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    old_id = iam.get_user(UserName="wen")["User"]["UserId"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": [wen, f"arn:aws:iam::{ACCOUNT}:user/lee"]}, "Action": "sts:AssumeRole"}]}
    make_user(endpoint, "lee")
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(trust))
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": wen}, "Action": "kms:DescribeKey", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": wen}}}]}
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["KeyId"]
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="shared", SecretString="x")
    sm.put_resource_policy(SecretId="shared", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": wen}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    sm.replicate_secret_to_regions(SecretId="shared", AddReplicaRegions=[{"Region": "us-west-2"}])
    # A replica promoted to a secret of its own keeps its policy, and its binding.
    sm.create_secret(Name="solo", SecretString="x", AddReplicaRegions=[{"Region": "eu-west-1"}])
    sm.put_resource_policy(SecretId="solo", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": wen}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    eu = client(endpoint, "secretsmanager", region="eu-west-1")
    eu.stop_replication_to_replica(SecretId="solo")

    # Moving the user to another path: the policies follow it and it keeps its access.
    iam.update_user(UserName="wen", NewPath="/ops/")
    moved = f"arn:aws:iam::{ACCOUNT}:user/ops/wen"
    role = iam.get_role(RoleName="deploy")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"][0] == moved
    for k in iam.list_access_keys(UserName="wen")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="wen", AccessKeyId=k["AccessKeyId"])
    fresh = iam.create_access_key(UserName="wen")["AccessKey"]
    client(endpoint, "sts", fresh["AccessKeyId"], fresh["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/deploy", RoleSessionName="s1")
    client(endpoint, "kms", fresh["AccessKeyId"], fresh["SecretAccessKey"]).describe_key(KeyId=key)
    client(endpoint, "secretsmanager", fresh["AccessKeyId"], fresh["SecretAccessKey"]).get_secret_value(SecretId="shared")

    # Deleted, then created again with the same name and path.
    iam.delete_access_key(UserName="wen", AccessKeyId=fresh["AccessKeyId"])
    iam.delete_user_policy(UserName="wen", PolicyName="p")
    iam.delete_user(UserName="wen")
    trust_now = iam.get_role(RoleName="deploy")["Role"]["AssumeRolePolicyDocument"]
    assert trust_now["Statement"][0]["Principal"]["AWS"][0] == old_id, trust_now
    policy_now = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert policy_now["Statement"][1]["Principal"]["AWS"] == old_id
    # A condition naming the ARN is not a principal: it stays as written.
    assert policy_now["Statement"][2]["Condition"]["ArnEquals"]["aws:PrincipalArn"] == wen
    iam.create_user(UserName="wen", Path="/ops/")
    iam.put_user_policy(UserName="wen", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    again = iam.create_access_key(UserName="wen")["AccessKey"]
    r = denied(lambda: client(endpoint, "sts", again["AccessKeyId"], again["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/deploy", RoleSessionName="s2"))
    assert r["Error"]["Code"] == "AccessDenied"
    r = denied(lambda: client(endpoint, "kms", again["AccessKeyId"], again["SecretAccessKey"]).describe_key(KeyId=key))
    assert r["Error"]["Code"] == "AccessDeniedException"
    secret_policy = json.loads(sm.get_resource_policy(SecretId="shared")["ResourcePolicy"])
    assert secret_policy["Statement"][0]["Principal"]["AWS"] == old_id
    replica = client(endpoint, "secretsmanager", region="us-west-2").get_resource_policy(SecretId="shared")
    assert json.loads(replica["ResourcePolicy"])["Statement"][0]["Principal"]["AWS"] == old_id
    for c in (sm, eu):
        promoted = json.loads(c.get_resource_policy(SecretId="solo")["ResourcePolicy"])
        assert promoted["Statement"][0]["Principal"]["AWS"] == old_id
    r = denied(lambda: client(endpoint, "secretsmanager", again["AccessKeyId"], again["SecretAccessKey"])
               .get_secret_value(SecretId="shared"))
    assert r["Error"]["Code"] == "AccessDeniedException"
    # The policy as shown can be saved again, and still names the other user.
    iam.update_assume_role_policy(RoleName="deploy", PolicyDocument=json.dumps(trust_now))
    shown = iam.get_role(RoleName="deploy")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert shown == [old_id, f"arn:aws:iam::{ACCOUNT}:user/lee"]


def test_credentials_of_a_deleted_principal_do_not_act_as_its_namesake(endpoint):
    # Temporary credentials belong to the unique id they were issued to: after the role
    # or user is deleted and created again, they carry no permissions at all.
    iam = client(endpoint, "iam")
    admin_policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
    ak, sk = make_user(endpoint, "ops")
    iam.put_user_policy(UserName="ops", PolicyName="p", PolicyDocument=admin_policy)
    iam.create_role(RoleName="r3", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="r3", PolicyName="p", PolicyDocument=admin_policy)
    old = client(endpoint, "sts", ak, sk).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r3",
                                                     RoleSessionName="old")["Credentials"]
    session = client(endpoint, "iam", old["AccessKeyId"], old["SecretAccessKey"], old["SessionToken"])
    session.list_roles()
    iam.delete_role_policy(RoleName="r3", PolicyName="p")
    iam.delete_role(RoleName="r3")
    iam.create_role(RoleName="r3", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="r3", PolicyName="p", PolicyDocument=admin_policy)
    r = denied(session.list_roles)
    assert r["Error"]["Code"] == "AccessDenied"
    # A session of the new role works.
    new = client(endpoint, "sts", ak, sk).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/r3",
                                                     RoleSessionName="new")["Credentials"]
    client(endpoint, "iam", new["AccessKeyId"], new["SecretAccessKey"], new["SessionToken"]).list_roles()
    # GetSessionToken credentials of a user deleted and created again.
    token = client(endpoint, "sts", ak, sk).get_session_token()["Credentials"]
    # (IAM refuses GetSessionToken credentials without MFA: KMS is asked instead.)
    user_session = client(endpoint, "kms", token["AccessKeyId"], token["SecretAccessKey"], token["SessionToken"])
    user_session.list_keys()
    for k in iam.list_access_keys(UserName="ops")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="ops", AccessKeyId=k["AccessKeyId"])
    iam.delete_user_policy(UserName="ops", PolicyName="p")
    iam.delete_user(UserName="ops")
    iam.create_user(UserName="ops")
    iam.put_user_policy(UserName="ops", PolicyName="p", PolicyDocument=admin_policy)
    r = denied(user_session.list_keys)
    assert r["Error"]["Code"] == "AccessDeniedException"


def test_a_moved_users_sessions_keep_what_policies_grant_the_user(endpoint):
    # Policies follow a user to its new path; so do the sessions it already holds.
    iam = client(endpoint, "iam")
    iam.create_user(UserName="mover", Path="/p/")
    key = iam.create_access_key(UserName="mover")["AccessKey"]
    iam.create_role(RoleName="target", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/p/mover"}, "Action": "sts:AssumeRole"}]}))
    gst = client(endpoint, "sts", key["AccessKeyId"], key["SecretAccessKey"]).get_session_token()["Credentials"]
    session = client(endpoint, "sts", gst["AccessKeyId"], gst["SecretAccessKey"], gst["SessionToken"])
    session.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/target", RoleSessionName="before")
    iam.update_user(UserName="mover", NewPath="/q/")
    session.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/target", RoleSessionName="after")
    client(endpoint, "sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/target", RoleSessionName="longterm")
