"""IAM policies: customer managed policies and versions, AWS managed policies, inline
policies of users/groups/roles, attachments and their counts, with the aws CLI and boto3.

Builds the seed 000 policies (DeveloperAccess, MFAEnforcement, the pettracker-* roles'
inline grants) and checks AWS's limits and errors.
"""

import json

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, client

MFA_ENFORCEMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser",
                          "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice",
                          "sts:GetSessionToken"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}
DEVELOPER_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "arn:aws:dynamodb:*:*:table/pettracker-*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::pettracker-images/*"},
    ],
}
DYNAMO_RW = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                                                  "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                   "Resource": "arn:aws:dynamodb:*:*:table/pettracker-*"}],
}
SECRETS_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                   "Resource": "arn:aws:secretsmanager:*:*:secret:pettracker/*"}],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def ok(aws_cli, *args):
    rc, out, errout = aws_cli(*args)
    assert rc == 0, errout
    return json.loads(out) if out.strip() else None


def doc(n):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{n}/*"}]})


def test_cli_seed_group_policies(aws_cli, tmp_path):
    (tmp_path / "mfa.json").write_text(json.dumps(MFA_ENFORCEMENT, indent=2))
    (tmp_path / "dev.json").write_text(json.dumps(DEVELOPER_ACCESS, indent=2))
    mfa = ok(aws_cli, "iam", "create-policy", "--policy-name", "MFAEnforcement",
             "--policy-document", f"file://{tmp_path / 'mfa.json'}")["Policy"]
    assert mfa["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/MFAEnforcement"
    assert mfa["DefaultVersionId"] == "v1" and mfa["AttachmentCount"] == 0 and mfa["IsAttachable"] is True
    assert mfa["PolicyId"].startswith("ANPA")
    ok(aws_cli, "iam", "create-policy", "--policy-name", "DeveloperAccess",
       "--policy-document", f"file://{tmp_path / 'dev.json'}", "--description", "PetTracker developers")
    for g in ("Developers", "DevOps", "SecurityAudit"):
        ok(aws_cli, "iam", "create-group", "--group-name", g)
        ok(aws_cli, "iam", "attach-group-policy", "--group-name", g, "--policy-arn", mfa["Arn"])
    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "Developers",
       "--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/DeveloperAccess")
    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "SecurityAudit",
       "--policy-arn", "arn:aws:iam::aws:policy/SecurityAudit")
    ok(aws_cli, "iam", "put-group-policy", "--group-name", "DevOps", "--policy-name", "DevOpsAccess",
       "--policy-document", json.dumps(DYNAMO_RW))

    got = ok(aws_cli, "iam", "get-policy", "--policy-arn", mfa["Arn"])["Policy"]
    assert got["AttachmentCount"] == 3
    dev = ok(aws_cli, "iam", "get-policy", "--policy-arn", f"arn:aws:iam::{ACCOUNT}:policy/DeveloperAccess")["Policy"]
    assert dev["Description"] == "PetTracker developers" and dev["AttachmentCount"] == 1
    v = ok(aws_cli, "iam", "get-policy-version", "--policy-arn", mfa["Arn"], "--version-id", "v1")["PolicyVersion"]
    assert v["Document"] == MFA_ENFORCEMENT and v["IsDefaultVersion"] is True

    local = ok(aws_cli, "iam", "list-policies", "--scope", "Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["DeveloperAccess", "MFAEnforcement"]
    assert "Description" not in local[0]
    attached = ok(aws_cli, "iam", "list-policies", "--only-attached", "--scope", "All")["Policies"]
    assert sorted(p["PolicyName"] for p in attached) == ["DeveloperAccess", "MFAEnforcement", "SecurityAudit"]
    sa = [p for p in attached if p["PolicyName"] == "SecurityAudit"][0]
    assert sa["AttachmentCount"] == 1 and sa["Arn"] == "arn:aws:iam::aws:policy/SecurityAudit"

    ents = ok(aws_cli, "iam", "list-entities-for-policy", "--policy-arn", mfa["Arn"])
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == ["Developers", "DevOps", "SecurityAudit"]
    assert ok(aws_cli, "iam", "list-group-policies", "--group-name", "DevOps")["PolicyNames"] == ["DevOpsAccess"]
    gp = ok(aws_cli, "iam", "get-group-policy", "--group-name", "DevOps", "--policy-name", "DevOpsAccess")
    assert gp["GroupName"] == "DevOps" and gp["PolicyDocument"] == DYNAMO_RW


def test_cli_seed_role_policies(aws_cli, tmp_path):
    (tmp_path / "trust.json").write_text(json.dumps(LAMBDA_TRUST))
    ok(aws_cli, "iam", "create-role", "--role-name", "pettracker-lambda-api",
       "--assume-role-policy-document", f"file://{tmp_path / 'trust.json'}")
    ok(aws_cli, "iam", "attach-role-policy", "--role-name", "pettracker-lambda-api",
       "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    for name, body in (("DynamoDBReadWrite", DYNAMO_RW), ("SecretsManagerRead", SECRETS_READ)):
        (tmp_path / f"{name}.json").write_text(json.dumps(body, indent=4))
        ok(aws_cli, "iam", "put-role-policy", "--role-name", "pettracker-lambda-api",
           "--policy-name", name, "--policy-document", f"file://{tmp_path / (name + '.json')}")
    names = ok(aws_cli, "iam", "list-role-policies", "--role-name", "pettracker-lambda-api")["PolicyNames"]
    assert names == ["DynamoDBReadWrite", "SecretsManagerRead"]
    rp = ok(aws_cli, "iam", "get-role-policy", "--role-name", "pettracker-lambda-api",
            "--policy-name", "SecretsManagerRead")
    assert rp == {"RoleName": "pettracker-lambda-api", "PolicyName": "SecretsManagerRead",
                  "PolicyDocument": SECRETS_READ}
    # A role with inline policies cannot be deleted until they are gone.
    rc, _, errout = aws_cli("iam", "delete-role", "--role-name", "pettracker-lambda-api")
    assert rc != 0 and "DeleteConflict" in errout
    for n in names:
        ok(aws_cli, "iam", "delete-role-policy", "--role-name", "pettracker-lambda-api", "--policy-name", n)
    ok(aws_cli, "iam", "detach-role-policy", "--role-name", "pettracker-lambda-api",
       "--policy-arn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    ok(aws_cli, "iam", "delete-role", "--role-name", "pettracker-lambda-api")


def test_aws_managed_policies_visible(endpoint):
    iam = client(endpoint, "iam")
    p = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")["Policy"]
    assert p["PolicyName"] == "ReadOnlyAccess" and p["Path"] == "/" and p["IsAttachable"]
    v = iam.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])["PolicyVersion"]
    assert v["IsDefaultVersion"] and isinstance(v["Document"], dict)
    assert v["Document"]["Statement"]
    svc = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")["Policy"]
    assert svc["Path"] == "/service-role/"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchThing")
    assert err(e)[0] == "NoSuchEntity"

    first = iam.list_policies(Scope="AWS", MaxItems=50)
    assert len(first["Policies"]) == 50 and first["IsTruncated"]
    names = []
    for page in iam.get_paginator("list_policies").paginate(Scope="AWS", PaginationConfig={"PageSize": 500}):
        names += [x["PolicyName"] for x in page["Policies"]]
    assert len(names) > 1000 and len(set(names)) == len(names)
    assert {"AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "SecurityAudit", "IAMReadOnlyAccess"} <= set(names)
    assert iam.list_policies(Scope="Local")["Policies"] == []
    roles = iam.list_policies(Scope="AWS", PathPrefix="/service-role/")["Policies"]
    assert roles and all(x["Path"] == "/service-role/" for x in roles)

    # Scope=All pages through AWS policies and then the account's own.
    iam.create_policy(PolicyName="zz-mine", PolicyDocument=doc(1))
    all_names = []
    for page in iam.get_paginator("list_policies").paginate(PaginationConfig={"PageSize": 700}):
        all_names += [x["PolicyName"] for x in page["Policies"]]
    assert all_names[-1] == "zz-mine" and len(all_names) == len(names) + 1


def test_policy_versions_and_limits(endpoint):
    iam = client(endpoint, "iam")
    arn = iam.create_policy(PolicyName="S3Read", Path="/app/", PolicyDocument=doc(1),
                            Tags=[{"Key": "team", "Value": "pets"}])["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/app/S3Read"
    for n in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(n), SetAsDefault=(n == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{n}" and "Document" not in v
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(6))
    code, msg, status = err(e)
    assert (code, status) == ("LimitExceeded", 409) and "up to 5 versions" in msg

    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["Document"] == json.loads(doc(3))

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert err(e) == ("DeleteConflict", "Cannot delete the default version of a policy.", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert err(e)[0] == "NoSuchEntity"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    v6 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(6))["PolicyVersion"]
    assert v6["VersionId"] == "v6"  # ids are never reused
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v6")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v6"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert err(e)[0] == "DeleteConflict"
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)

    iam.create_user(UserName="alex")
    iam.attach_user_policy(UserName="alex", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert err(e) == ("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    assert iam.list_attached_user_policies(UserName="alex")["AttachedPolicies"] == [
        {"PolicyName": "S3Read", "PolicyArn": arn}]
    iam.detach_user_policy(UserName="alex", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0

    # Tags on policies.
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "team", "Value": "pets"}]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "TEAM", "Value": "cats"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "TEAM", "Value": "cats"},
                                                           {"Key": "env", "Value": "prod"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["team"])
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "env", "Value": "prod"}]

    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert err(e)[0] == "NoSuchEntity"


def test_policy_document_errors(endpoint):
    iam = client(endpoint, "iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="bad", PolicyDocument='{"Version": "2012-10-17", "Statement": [')
    assert err(e) == ("MalformedPolicyDocument", "Syntax errors in policy.", 400)
    with_principal = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="bad", PolicyDocument=json.dumps(with_principal))
    assert err(e)[0] == "MalformedPolicyDocument"
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="bad", PolicyDocument=json.dumps(no_resource))
    assert err(e) == ("MalformedPolicyDocument", "Policy statement must contain resources.", 400)
    # 6,144 characters, whitespace not counted.
    def sized(n):
        base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                          "Resource": "arn:aws:s3:::x"}]}
        pad = n - len(json.dumps(base, separators=(",", ":")))
        base["Statement"][0]["Resource"] = "arn:aws:s3:::x" + "a" * pad
        return json.dumps(base, separators=(",", ":"))
    assert len(sized(6144)) == 6144
    iam.create_policy(PolicyName="exact", PolicyDocument=sized(6144).replace(",", ",   \n"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="big", PolicyDocument=sized(6145))
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="exact", PolicyDocument=doc(1))
    assert err(e)[0] == "EntityAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName="has space", PolicyDocument=doc(1))
    assert err(e)[0] == "ValidationError"
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == ["exact"]


def test_inline_policies_and_size_limits(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="maya")
    iam.create_group(GroupName="Developers")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.put_user_policy(UserName="maya", PolicyName="s3", PolicyDocument=doc(1))
    assert iam.get_user_policy(UserName="maya", PolicyName="s3")["PolicyDocument"] == json.loads(doc(1))
    iam.put_user_policy(UserName="maya", PolicyName="s3", PolicyDocument=doc(2))  # replaces
    assert iam.list_user_policies(UserName="maya")["PolicyNames"] == ["s3"]
    assert iam.get_user_policy(UserName="maya", PolicyName="s3")["PolicyDocument"] == json.loads(doc(2))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user_policy(UserName="maya", PolicyName="nope")
    assert err(e) == ("NoSuchEntity", "The user policy with name nope cannot be found.", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName="ghost", PolicyName="s3", PolicyDocument=doc(1))
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName="maya", PolicyName="bad", PolicyDocument="not json")
    assert err(e)[0] == "MalformedPolicyDocument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="maya")
    assert err(e)[0] == "DeleteConflict"

    def big(n):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * n}]})
    # user: 2,048 in all; the existing policy counts.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_user_policy(UserName="maya", PolicyName="big", PolicyDocument=big(1950))
    assert err(e) == ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user maya", 409)
    iam.put_group_policy(GroupName="Developers", PolicyName="big", PolicyDocument=big(1950))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_group_policy(GroupName="Developers", PolicyName="big2", PolicyDocument=big(3200))
    assert err(e)[0] == "LimitExceeded"
    iam.put_role_policy(RoleName="app", PolicyName="big", PolicyDocument=big(5000))
    iam.put_role_policy(RoleName="app", PolicyName="big2", PolicyDocument=big(5000))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.put_role_policy(RoleName="app", PolicyName="big3", PolicyDocument=big(100))
    assert err(e) == ("LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role app", 409)

    iam.delete_user_policy(UserName="maya", PolicyName="s3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user_policy(UserName="maya", PolicyName="s3")
    assert err(e)[0] == "NoSuchEntity"
    assert iam.list_user_policies(UserName="maya")["PolicyNames"] == []
    iam.delete_user(UserName="maya")


def test_user_attach_limit_eleventh(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="jordan")
    arns = [iam.create_policy(PolicyName=f"p{n:02}", PolicyDocument=doc(n))["Policy"]["Arn"] for n in range(11)]
    for a in arns[:10]:
        iam.attach_user_policy(UserName="jordan", PolicyArn=a)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.attach_user_policy(UserName="jordan", PolicyArn=arns[10])
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10", 409)
    assert iam.get_policy(PolicyArn=arns[10])["Policy"]["AttachmentCount"] == 0
    page = iam.list_attached_user_policies(UserName="jordan", MaxItems=4)
    assert len(page["AttachedPolicies"]) == 4 and page["IsTruncated"]
    only = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert len(only) == 10


def test_url_encoded_document_is_stored_decoded(endpoint):
    """IAM accepts URL-encoded documents; they are stored (and answered) as JSON."""
    import urllib.parse

    iam = client(endpoint, "iam")
    iam.create_user(UserName="sam")
    iam.put_user_policy(UserName="sam", PolicyName="enc", PolicyDocument=urllib.parse.quote(doc(7)))
    assert iam.get_user_policy(UserName="sam", PolicyName="enc")["PolicyDocument"] == json.loads(doc(7))


def _stmt_policy(**stmt):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **stmt}]})


# AWS's answers, as moto records them from AWS (tests/test_iam/test_iam_policies.py).
BAD_RESOURCES = [
    ("foo", 'Resource foo must be in ARN format or "*".'),
    ("", 'Resource  must be in ARN format or "*".'),
    ("arn:aws", "Resource vendor must be fully qualified and cannot contain regexes."),
    ("arn:foo:s3:::x", 'Partition "foo" is not valid for resource "arn:foo:s3:::x".'),
]


def test_resource_must_be_an_arn_or_star(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="maya")
    iam.create_group(GroupName="Developers")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    arn = iam.create_policy(PolicyName="base", PolicyDocument=doc(1))["Policy"]["Arn"]
    calls = [
        lambda d: iam.create_policy(PolicyName="bad", PolicyDocument=d),
        lambda d: iam.create_policy_version(PolicyArn=arn, PolicyDocument=d),
        lambda d: iam.put_user_policy(UserName="maya", PolicyName="bad", PolicyDocument=d),
        lambda d: iam.put_group_policy(GroupName="Developers", PolicyName="bad", PolicyDocument=d),
        lambda d: iam.put_role_policy(RoleName="app", PolicyName="bad", PolicyDocument=d),
    ]
    for resource, message in BAD_RESOURCES:
        for element in ("Resource", "NotResource"):
            d = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "s3:GetObject", element: ["arn:aws:s3:::ok", resource]}]})
            for call in calls:
                with pytest.raises(botocore.exceptions.ClientError) as e:
                    call(d)
                assert err(e) == ("MalformedPolicyDocument", message, 400), (resource, element)
    # Nothing was stored by any refusal.
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == ["base"]
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 1
    assert iam.list_user_policies(UserName="maya")["PolicyNames"] == []
    assert iam.list_group_policies(GroupName="Developers")["PolicyNames"] == []
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == []
    # "*", ARNs, and a wildcard partition (as AWS managed policies use) are fine.
    good = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": ["*", "arn:aws:s3:::b/*", "arn:*:s3:::b", "arn:aws:s3:::${aws:username}/*"]}]})
    for call in calls:
        call(good)


def test_sid_must_be_alphanumeric(endpoint, aws_cli):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="maya")
    message = ("Statement IDs (SID) must be alpha-numeric. "
               "Check that your input satisfies the regular expression [0-9A-Za-z]*")
    for sid in ("read only", "read-only", "Stmt_1", "ok.1"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_policy(PolicyName="bad", PolicyDocument=_stmt_policy(Sid=sid))
        assert err(e) == ("MalformedPolicyDocument", message, 400), sid
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.put_user_policy(UserName="maya", PolicyName="bad", PolicyDocument=_stmt_policy(Sid=sid))
        assert err(e) == ("MalformedPolicyDocument", message, 400), sid
    trust = {"Version": "2012-10-17", "Statement": [dict(LAMBDA_TRUST["Statement"][0], Sid="lambda-assume")]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    assert err(e) == ("MalformedPolicyDocument", message, 400)
    # The aws CLI shows the same words.
    rc, _, errout = aws_cli("iam", "create-policy", "--policy-name", "bad",
                            "--policy-document", _stmt_policy(Sid="My Sid"))
    assert rc != 0 and "MalformedPolicyDocument" in errout and message in errout
    assert iam.list_policies(Scope="Local")["Policies"] == []
    # Letters and digits, or an empty Sid, are accepted.
    iam.create_policy(PolicyName="ok", PolicyDocument=_stmt_policy(Sid="Stmt1A"))
    iam.put_user_policy(UserName="maya", PolicyName="ok", PolicyDocument=_stmt_policy(Sid=""))
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [dict(LAMBDA_TRUST["Statement"][0], Sid="LambdaAssume")]}))


def test_trust_policy_has_no_resource(endpoint):
    iam = client(endpoint, "iam")
    for element in ("Resource", "NotResource"):
        trust = {"Version": "2012-10-17", "Statement": [dict(LAMBDA_TRUST["Statement"][0], **{element: "*"})]}
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
        assert err(e) == ("MalformedPolicyDocument", f"Has prohibited field {element}", 400)
    assert iam.list_roles()["Roles"] == []
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    with_resource = {"Version": "2012-10-17", "Statement": [
        dict(LAMBDA_TRUST["Statement"][0], Resource=f"arn:aws:iam::{ACCOUNT}:role/app")]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(with_resource))
    assert err(e) == ("MalformedPolicyDocument", "Has prohibited field Resource", 400)
    assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    # A trust policy still needs a Principal.
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(no_principal))
    assert err(e)[0] == "MalformedPolicyDocument" and "no principals" in err(e)[1]


def test_markers_stay_within_320_characters_with_long_paths(endpoint):
    # IAM's markerType is 1..320 characters; a marker naming a policy under a 500-character
    # path must still be one the next call accepts, and paging must return every item once.
    iam = client(endpoint, "iam")
    path = "/" + "/".join(["segment" + "x" * 40] * 10) + "/"
    assert 450 < len(path) <= 512
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    arns = [
        iam.create_policy(PolicyName=f"{c}" * 120 + f"{i}", Path=path, PolicyDocument=doc)["Policy"]["Arn"]
        for i, c in enumerate("abcde")
    ]
    iam.create_role(RoleName="long", Path=path, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    for arn in arns:
        iam.attach_role_policy(RoleName="long", PolicyArn=arn)

    def walk(call, key, **kw):
        seen, markers = [], []
        r = call(MaxItems=1, **kw)
        while True:
            seen += r[key]
            if not r["IsTruncated"]:
                return seen, markers
            markers.append(r["Marker"])
            r = call(MaxItems=1, Marker=r["Marker"], **kw)

    attached, markers = walk(iam.list_attached_role_policies, "AttachedPolicies", RoleName="long")
    assert [a["PolicyArn"] for a in attached] == sorted(arns)
    assert markers and all(len(m) <= 320 for m in markers), [len(m) for m in markers]
    local, markers = walk(iam.list_policies, "Policies", Scope="Local", PathPrefix=path)
    assert [p["Arn"] for p in local] == sorted(arns)
    assert all(len(m) <= 320 for m in markers), [len(m) for m in markers]
    entities, _ = walk(iam.list_entities_for_policy, "PolicyRoles", PolicyArn=arns[0])
    assert [r["RoleName"] for r in entities] == ["long"]
    # The item a marker points at is deleted before the next page: nothing is skipped.
    r = iam.list_attached_role_policies(RoleName="long", MaxItems=2)
    iam.detach_role_policy(RoleName="long", PolicyArn=sorted(arns)[2])
    rest = iam.list_attached_role_policies(RoleName="long", Marker=r["Marker"])["AttachedPolicies"]
    assert set(sorted(arns)[3:]) <= {a["PolicyArn"] for a in rest}


def test_policy_versions_page_by_max_items(endpoint):
    iam = client(endpoint, "iam")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})
    arn = iam.create_policy(PolicyName="paged", PolicyDocument=doc)["Policy"]["Arn"]
    for _ in range(2):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc)
    seen = []
    page = iam.list_policy_versions(PolicyArn=arn, MaxItems=2)
    assert page["IsTruncated"] is True and len(page["Versions"]) == 2
    seen += [v["VersionId"] for v in page["Versions"]]
    page = iam.list_policy_versions(PolicyArn=arn, MaxItems=2, Marker=page["Marker"])
    assert page["IsTruncated"] is False and "Marker" not in page
    seen += [v["VersionId"] for v in page["Versions"]]
    assert sorted(seen) == ["v1", "v2", "v3"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_policy_versions(PolicyArn=arn, Marker="not-a-marker")
    assert e.value.response["Error"]["Code"] == "InvalidInput"
    every = [v["VersionId"] for p in iam.get_paginator("list_policy_versions").paginate(PolicyArn=arn, PaginationConfig={"PageSize": 1}) for v in p["Versions"]]
    assert sorted(every) == ["v1", "v2", "v3"]
    # The version a marker names deleted meanwhile: the page begins with the next older.
    first = iam.list_policy_versions(PolicyArn=arn, MaxItems=1)
    gone = first["Marker"]
    iam.delete_policy_version(PolicyArn=arn, VersionId=gone)
    rest = iam.list_policy_versions(PolicyArn=arn, Marker=gone)["Versions"]
    assert [v["VersionId"] for v in first["Versions"] + rest] == [v for v in ["v3", "v2", "v1"] if v != gone]


def test_service_role_policies_attach_only_to_service_linked_roles(endpoint):
    # "service role policies can only be attached to the service-linked role for that
    # service" (PolicyNotAttachable, AttachRolePolicy and the boundary operations).
    iam = client(endpoint, "iam")
    slr_policy = "arn:aws:iam::aws:policy/aws-service-role/APIGatewayServiceRolePolicy"
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)
    iam.create_user(UserName="dev")
    calls = [
        lambda: iam.attach_role_policy(RoleName="app", PolicyArn=slr_policy),
        lambda: iam.attach_user_policy(UserName="dev", PolicyArn=slr_policy),
        lambda: iam.put_role_permissions_boundary(RoleName="app", PermissionsBoundary=slr_policy),
        lambda: iam.put_user_permissions_boundary(UserName="dev", PermissionsBoundary=slr_policy),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "PolicyNotAttachable"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"] == []
    assert "PermissionsBoundary" not in iam.get_user(UserName="dev")["User"]
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")


def test_get_user_as_root_has_no_user_name(endpoint):
    me = client(endpoint, "iam").get_user()["User"]
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and me["UserId"] == ACCOUNT
    assert "UserName" not in me and "Path" not in me


def test_entities_for_policy_by_usage(endpoint):
    # PolicyUsageFilter: "To list only the policies used to set permissions boundaries,
    # set the value to PermissionsBoundary"; without it, every use.
    iam = client(endpoint, "iam")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    arn = iam.create_policy(PolicyName="guard", PolicyDocument=doc)["Policy"]["Arn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust, PermissionsBoundary=arn)
    iam.create_role(RoleName="both", AssumeRolePolicyDocument=trust)
    iam.put_role_permissions_boundary(RoleName="both", PermissionsBoundary=arn)
    iam.attach_role_policy(RoleName="both", PolicyArn=arn)
    iam.create_user(UserName="dev", PermissionsBoundary=arn)
    iam.create_group(GroupName="ops")
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn)

    def names(**kw):
        out = iam.list_entities_for_policy(PolicyArn=arn, **kw)
        return (
            sorted(r["RoleName"] for r in out["PolicyRoles"]),
            sorted(u["UserName"] for u in out["PolicyUsers"]),
            sorted(g["GroupName"] for g in out["PolicyGroups"]),
        )

    assert names(PolicyUsageFilter="PermissionsBoundary") == (["both", "bounded"], ["dev"], [])
    assert names(PolicyUsageFilter="PermissionsPolicy") == (["both"], [], ["ops"])
    assert names() == (["both", "bounded"], ["dev"], ["ops"])
    assert names(PolicyUsageFilter="PermissionsBoundary", EntityFilter="User") == ([], ["dev"], [])
    # Paged one at a time: "both" is listed once, with the entities it is attached to.
    seen = []
    for page in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn, PaginationConfig={"PageSize": 1}):
        seen += [r["RoleName"] for r in page["PolicyRoles"]] + [u["UserName"] for u in page["PolicyUsers"]] + [g["GroupName"] for g in page["PolicyGroups"]]
    assert sorted(seen) == ["both", "bounded", "dev", "ops"]
    p = iam.get_policy(PolicyArn=arn)["Policy"]
    assert (p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]) == (2, 3)
    # Removing a boundary, deleting its entity, or renaming it keeps the index right.
    iam.delete_role_permissions_boundary(RoleName="both")
    iam.delete_role(RoleName="bounded")
    iam.update_user(UserName="dev", NewUserName="dev2")
    assert names(PolicyUsageFilter="PermissionsBoundary") == ([], ["dev2"], [])
    # An AWS managed policy's boundary use is counted from the index too.
    ro = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.put_user_permissions_boundary(UserName="dev2", PermissionsBoundary=ro)
    assert iam.get_policy(PolicyArn=ro)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert [u["UserName"] for u in iam.list_entities_for_policy(PolicyArn=ro, PolicyUsageFilter="PermissionsBoundary")["PolicyUsers"]] == ["dev2"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_entities_for_policy(PolicyArn=arn, Marker="Znope")
    assert e.value.response["Error"]["Code"] == "InvalidInput"
