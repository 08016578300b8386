"""IAM entities: groups, roles, instance profiles, tags, account, with the aws CLI and boto3.

Builds the seed 000 PetTracker setup (users alex/maya/sam/jordan; groups Developers,
DevOps, SecurityAudit; pettracker-* service roles) with the unmodified aws CLI, and checks
AWS's shapes and errors (EntityAlreadyExists, NoSuchEntity, DeleteConflict, LimitExceeded,
MalformedPolicyDocument, ValidationError).
"""

import json

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, client, unprivileged_client

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ECS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
CROSS_ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    ],
}


def unvalidated(endpoint):
    """An IAM client that skips botocore's own parameter checks, so the server's are seen."""
    from conftest import ROOT_AK, ROOT_SK

    return boto3.session.Session(
        aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name="us-east-1"
    ).client("iam", endpoint_url=endpoint, config=botocore.config.Config(parameter_validation=False))


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def ok(aws_cli, *args):
    rc, out, errout = aws_cli(*args)
    assert rc == 0, errout
    return json.loads(out) if out.strip() else None


def fails(aws_cli, *args):
    rc, out, errout = aws_cli(*args)
    assert rc != 0, out
    return errout


def seed_users_and_groups(aws_cli):
    for u in ("alex", "maya", "sam", "jordan"):
        ok(aws_cli, "iam", "create-user", "--user-name", u)
    for g in ("Developers", "DevOps", "SecurityAudit"):
        ok(aws_cli, "iam", "create-group", "--group-name", g)
    for u, g in (("alex", "Developers"), ("maya", "Developers"), ("sam", "DevOps"), ("jordan", "SecurityAudit")):
        ok(aws_cli, "iam", "add-user-to-group", "--user-name", u, "--group-name", g)


def test_cli_seed_groups_and_membership(aws_cli):
    seed_users_and_groups(aws_cli)
    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "SecurityAudit",
       "--policy-arn", "arn:aws:iam::aws:policy/SecurityAudit")
    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "SecurityAudit",
       "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "DevOps",
       "--policy-arn", "arn:aws:iam::aws:policy/PowerUserAccess")

    groups = ok(aws_cli, "iam", "list-groups")["Groups"]
    assert [g["GroupName"] for g in groups] == ["Developers", "DevOps", "SecurityAudit"]
    for g in groups:
        assert g["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/{g['GroupName']}"
        assert g["GroupId"].startswith("AGPA") and len(g["GroupId"]) == 21
        assert g["Path"] == "/"

    dev = ok(aws_cli, "iam", "get-group", "--group-name", "Developers")
    assert dev["Group"]["GroupName"] == "Developers"
    assert sorted(u["UserName"] for u in dev["Users"]) == ["alex", "maya"]

    mine = ok(aws_cli, "iam", "list-groups-for-user", "--user-name", "alex")["Groups"]
    assert [g["GroupName"] for g in mine] == ["Developers"]

    attached = ok(aws_cli, "iam", "list-attached-group-policies", "--group-name", "SecurityAudit")
    assert attached["AttachedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        {"PolicyName": "SecurityAudit", "PolicyArn": "arn:aws:iam::aws:policy/SecurityAudit"},
    ]
    ents = ok(aws_cli, "iam", "list-entities-for-policy", "--policy-arn", "arn:aws:iam::aws:policy/SecurityAudit")
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == ["SecurityAudit"]
    assert ents["PolicyUsers"] == [] and ents["PolicyRoles"] == []

    # The seed's MFA quick-reference loop starts from this listing.
    rc, out, errout = aws_cli("iam", "list-users", "--query", "Users[*].UserName", "--output", "text")
    assert rc == 0, errout
    assert sorted(out.split()) == ["alex", "jordan", "maya", "sam"]


def test_group_errors(endpoint):
    iam = client(endpoint, "iam")
    iam.create_group(GroupName="Developers")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_group(GroupName="developers")
    assert err(e) == ("EntityAlreadyExists", "Group with name developers already exists.", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_group(GroupName="Nope")
    assert err(e) == ("NoSuchEntity", "The group with name Nope cannot be found.", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_group(GroupName="bad name!")
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.add_user_to_group(GroupName="Developers", UserName="ghost")
    assert err(e) == ("NoSuchEntity", "The user with name ghost cannot be found.", 404)

    iam.create_user(UserName="alex")
    iam.add_user_to_group(GroupName="Developers", UserName="alex")
    iam.add_user_to_group(GroupName="Developers", UserName="alex")  # idempotent
    assert len(iam.get_group(GroupName="Developers")["Users"]) == 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_group(GroupName="Developers")
    assert err(e) == ("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="alex")
    assert err(e)[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName="Developers", UserName="alex")
    iam.attach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_group(GroupName="Developers")
    assert err(e) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.detach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert err(e)[0] == "NoSuchEntity"
    iam.delete_group(GroupName="Developers")
    assert iam.list_groups()["Groups"] == []
    iam.delete_user(UserName="alex")


def test_update_group_rename_moves_members_and_policies(endpoint):
    iam = client(endpoint, "iam")
    iam.create_group(GroupName="Devs")
    iam.create_user(UserName="maya")
    iam.add_user_to_group(GroupName="Devs", UserName="maya")
    iam.attach_group_policy(GroupName="Devs", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.update_group(GroupName="Devs", NewGroupName="Developers", NewPath="/eng/")
    g = iam.get_group(GroupName="Developers")
    assert g["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/eng/Developers"
    assert [u["UserName"] for u in g["Users"]] == ["maya"]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="maya")["Groups"]] == ["Developers"]
    assert iam.list_attached_group_policies(GroupName="Developers")["AttachedPolicies"][0]["PolicyName"] == "ReadOnlyAccess"
    ents = iam.list_entities_for_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert [x["GroupName"] for x in ents["PolicyGroups"]] == ["Developers"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_group(GroupName="Devs")
    assert err(e)[0] == "NoSuchEntity"
    assert [x["GroupName"] for x in iam.list_groups(PathPrefix="/eng/")["Groups"]] == ["Developers"]
    assert iam.list_groups(PathPrefix="/ops/")["Groups"] == []


def test_groups_paging(endpoint):
    iam = client(endpoint, "iam")
    for n in range(7):
        iam.create_group(GroupName=f"g{n}")
    seen = []
    page = iam.list_groups(MaxItems=3)
    while True:
        seen += [g["GroupName"] for g in page["Groups"]]
        if not page["IsTruncated"]:
            break
        page = iam.list_groups(MaxItems=3, Marker=page["Marker"])
    assert seen == [f"g{n}" for n in range(7)]
    pages = iam.get_paginator("list_groups").paginate(PaginationConfig={"PageSize": 2})
    assert sum(len(p["Groups"]) for p in pages) == 7


def seed_roles(aws_cli, tmp_path):
    (tmp_path / "lambda-trust.json").write_text(json.dumps(LAMBDA_TRUST, indent=2))
    (tmp_path / "ecs-trust.json").write_text(json.dumps(ECS_TRUST))
    for r in ("pettracker-lambda-api", "pettracker-lambda-processor"):
        ok(aws_cli, "iam", "create-role", "--role-name", r,
           "--assume-role-policy-document", f"file://{tmp_path / 'lambda-trust.json'}")
        ok(aws_cli, "iam", "attach-role-policy", "--role-name", r, "--policy-arn",
           "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    for r in ("pettracker-ecs-execution", "pettracker-ecs-task"):
        ok(aws_cli, "iam", "create-role", "--role-name", r,
           "--assume-role-policy-document", f"file://{tmp_path / 'ecs-trust.json'}")
    ok(aws_cli, "iam", "attach-role-policy", "--role-name", "pettracker-ecs-execution", "--policy-arn",
       "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy")


def test_cli_seed_list_roles_query_as_printed(aws_cli, tmp_path):
    """The seed's quick reference, verbatim. The query is evaluated by the CLI (JMESPath) on
    the decoded trust policies, so it behaves exactly as against AWS: it runs when each
    role's first statement names its AWS principals as a list (JMESPath's contains() rejects
    null, and `123456789012` is a number literal that Python cannot look for in a string),
    and, contains() comparing list items whole, it selects no role."""
    for name, principals in (("pettracker-partner-readonly", ["arn:aws:iam::210987654321:root"]),
                             ("pettracker-dev-admin", ["arn:aws:iam::123456789012:root"])):
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}]}
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
        ok(aws_cli, "iam", "create-role", "--role-name", name,
           "--assume-role-policy-document", f"file://{tmp_path / (name + '.json')}")
    q = ("Roles[?contains(AssumeRolePolicyDocument.Statement[0].Principal.AWS, `arn:aws:iam::`) && "
         "!contains(AssumeRolePolicyDocument.Statement[0].Principal.AWS, `123456789012`)].RoleName")
    assert ok(aws_cli, "iam", "list-roles", "--query", q) == []
    # The same documents, decoded, are what the query ran on.
    q2 = "Roles[*].AssumeRolePolicyDocument.Statement[0].Principal.AWS[0]"
    assert ok(aws_cli, "iam", "list-roles", "--query", q2) == [
        "arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"]


def test_cli_seed_roles(aws_cli, tmp_path):
    seed_roles(aws_cli, tmp_path)
    (tmp_path / "xacct.json").write_text(json.dumps(CROSS_ACCOUNT_TRUST))
    ok(aws_cli, "iam", "create-role", "--role-name", "pettracker-partner-readonly",
       "--assume-role-policy-document", f"file://{tmp_path / 'xacct.json'}",
       "--description", "Partner read-only access", "--max-session-duration", "7200")

    role = ok(aws_cli, "iam", "get-role", "--role-name", "pettracker-lambda-api")["Role"]
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST  # decoded back to a JSON object
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/pettracker-lambda-api"
    assert role["RoleId"].startswith("AROA")
    assert role["MaxSessionDuration"] == 3600
    assert role["RoleLastUsed"] == {}

    roles = ok(aws_cli, "iam", "list-roles")["Roles"]
    assert [r["RoleName"] for r in roles] == [
        "pettracker-ecs-execution", "pettracker-ecs-task", "pettracker-lambda-api",
        "pettracker-lambda-processor", "pettracker-partner-readonly",
    ]
    assert roles[-1]["MaxSessionDuration"] == 7200
    assert roles[-1]["Description"] == "Partner read-only access"

    attached = ok(aws_cli, "iam", "list-attached-role-policies", "--role-name", "pettracker-lambda-api")
    assert attached["AttachedPolicies"] == [{
        "PolicyName": "AWSLambdaBasicExecutionRole",
        "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    }]
    ents = ok(aws_cli, "iam", "list-entities-for-policy", "--policy-arn",
              "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "--entity-filter", "Role")
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == ["pettracker-lambda-api", "pettracker-lambda-processor"]


def test_role_errors(endpoint):
    iam = client(endpoint, "iam")
    doc = json.dumps(LAMBDA_TRUST)
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=doc)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="R1", AssumeRolePolicyDocument=doc)
    assert err(e) == ("EntityAlreadyExists", "Role with name R1 already exists.", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName="nope")
    assert err(e) == ("NoSuchEntity", "The role with name nope cannot be found.", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument="{not json")
    # Trust policies word it so (CreateRole callers report it for a file name sent as text).
    assert err(e) == ("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument="assume-role-policy.json")
    assert err(e) == ("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    no_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument=json.dumps(no_principal))
    code, msg, status = err(e)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert "no principals" in msg
    raw = unvalidated(endpoint)
    for bad in (3599, 43201):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            raw.create_role(RoleName="r2", AssumeRolePolicyDocument=doc, MaxSessionDuration=bad)
        assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="bad/name", AssumeRolePolicyDocument=doc)
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument=doc, Path="no-slashes")
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r2", AssumeRolePolicyDocument=doc,
                        PermissionsBoundary="arn:aws:iam::aws:policy/NoSuchPolicyHere")
    assert err(e)[0] == "NoSuchEntity"
    # Nothing half-created by any failure above.
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["r1"]

    iam.attach_role_policy(RoleName="r1", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_role(RoleName="r1")
    assert err(e) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_role_policy(RoleName="r1", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.delete_role(RoleName="r1")
    assert iam.list_roles()["Roles"] == []


def test_trust_policy_may_only_name_sts_actions(endpoint):
    iam = client(endpoint, "iam")
    bad = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "s3:GetObject"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="rt-bad", AssumeRolePolicyDocument=json.dumps(bad))
    assert err(e) == ("MalformedPolicyDocument", "AssumeRole policy may only specify STS AssumeRole actions.", 400)
    assert iam.list_roles()["Roles"] == []
    ok = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    iam.create_role(RoleName="rt-ok", AssumeRolePolicyDocument=json.dumps(ok))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="rt-ok", PolicyDocument=json.dumps(bad))
    assert err(e)[0] == "MalformedPolicyDocument"
    assert iam.get_role(RoleName="rt-ok")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]


def test_role_update_trust_boundary_and_tags(endpoint):
    iam = client(endpoint, "iam")
    iam.create_role(
        RoleName="pettracker-ecs-task", Path="/service/", AssumeRolePolicyDocument=json.dumps(ECS_TRUST),
        Description="ECS task", MaxSessionDuration=43200,
        PermissionsBoundary="arn:aws:iam::aws:policy/PowerUserAccess",
        Tags=[{"Key": "app", "Value": "pettracker"}],
    )
    r = iam.get_role(RoleName="pettracker-ecs-task")["Role"]
    assert r["Path"] == "/service/" and r["Arn"].endswith(":role/service/pettracker-ecs-task")
    assert r["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess",
    }
    assert r["Tags"] == [{"Key": "app", "Value": "pettracker"}]
    assert r["MaxSessionDuration"] == 43200

    iam.update_role(RoleName="pettracker-ecs-task", Description="new", MaxSessionDuration=7200)
    r = iam.get_role(RoleName="pettracker-ecs-task")["Role"]
    assert (r["Description"], r["MaxSessionDuration"]) == ("new", 7200)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(endpoint).update_role(RoleName="pettracker-ecs-task", MaxSessionDuration=60)
    assert err(e)[0] == "ValidationError"

    iam.update_assume_role_policy(RoleName="pettracker-ecs-task", PolicyDocument=json.dumps(LAMBDA_TRUST))
    assert iam.get_role(RoleName="pettracker-ecs-task")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="pettracker-ecs-task", PolicyDocument="[]")
    assert err(e)[0] == "MalformedPolicyDocument"

    iam.delete_role_permissions_boundary(RoleName="pettracker-ecs-task")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="pettracker-ecs-task")["Role"]
    iam.put_role_permissions_boundary(RoleName="pettracker-ecs-task",
                                      PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert iam.get_role(RoleName="pettracker-ecs-task")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] \
        == "arn:aws:iam::aws:policy/ReadOnlyAccess"

    iam.create_user(UserName="sam")
    iam.put_user_permissions_boundary(UserName="sam", PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert iam.get_user(UserName="sam")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] \
        == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.delete_user_permissions_boundary(UserName="sam")
    assert "PermissionsBoundary" not in iam.get_user(UserName="sam")["User"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unvalidated(endpoint).put_user_permissions_boundary(UserName="sam", PermissionsBoundary="not-an-arn")
    assert err(e)[0] in ("InvalidInput", "ValidationError")
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]] == ["pettracker-ecs-task"]
    assert iam.list_roles(PathPrefix="/other/")["Roles"] == []


def test_attach_limit_is_ten(endpoint):
    iam = client(endpoint, "iam")
    iam.create_role(RoleName="busy", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    names = ["ReadOnlyAccess", "SecurityAudit", "PowerUserAccess", "IAMReadOnlyAccess",
             "AWSBillingReadOnlyAccess", "AWSBudgetsReadOnlyAccess", "AWSCloudFormationReadOnlyAccess",
             "AWSCloudTrail_ReadOnlyAccess", "AWSCodeBuildReadOnlyAccess", "AWSDataSyncReadOnlyAccess",
             "AWSCodeDeployReadOnlyAccess"]
    for n in names[:10]:
        iam.attach_role_policy(RoleName="busy", PolicyArn=f"arn:aws:iam::aws:policy/{n}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.attach_role_policy(RoleName="busy", PolicyArn=f"arn:aws:iam::aws:policy/{names[10]}")
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10", 409)
    assert len(iam.list_attached_role_policies(RoleName="busy")["AttachedPolicies"]) == 10
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.attach_role_policy(RoleName="busy", PolicyArn="arn:aws:iam::aws:policy/NotARealPolicy")
    assert err(e)[0] == "NoSuchEntity"


EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_cli_instance_profiles(aws_cli, tmp_path):
    (tmp_path / "ec2.json").write_text(json.dumps(EC2_TRUST))
    ok(aws_cli, "iam", "create-role", "--role-name", "pettracker-ec2-worker",
       "--assume-role-policy-document", f"file://{tmp_path / 'ec2.json'}")
    ip = ok(aws_cli, "iam", "create-instance-profile", "--instance-profile-name", "pettracker-worker",
            "--path", "/app/")["InstanceProfile"]
    assert ip["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/app/pettracker-worker"
    assert ip["InstanceProfileId"].startswith("AIPA") and ip["Roles"] == []
    ok(aws_cli, "iam", "add-role-to-instance-profile", "--instance-profile-name", "pettracker-worker",
       "--role-name", "pettracker-ec2-worker")
    got = ok(aws_cli, "iam", "get-instance-profile", "--instance-profile-name", "pettracker-worker")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["pettracker-ec2-worker"]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == EC2_TRUST
    for_role = ok(aws_cli, "iam", "list-instance-profiles-for-role", "--role-name", "pettracker-ec2-worker")
    assert [p["InstanceProfileName"] for p in for_role["InstanceProfiles"]] == ["pettracker-worker"]
    assert [p["InstanceProfileName"] for p in ok(aws_cli, "iam", "list-instance-profiles")["InstanceProfiles"]] \
        == ["pettracker-worker"]

    rc, _, errout = aws_cli("iam", "add-role-to-instance-profile", "--instance-profile-name",
                            "pettracker-worker", "--role-name", "pettracker-ec2-worker")
    assert rc != 0 and "LimitExceeded" in errout
    rc, _, errout = aws_cli("iam", "delete-role", "--role-name", "pettracker-ec2-worker")
    assert rc != 0 and "DeleteConflict" in errout and "instance profile" in errout
    rc, _, errout = aws_cli("iam", "delete-instance-profile", "--instance-profile-name", "pettracker-worker")
    assert rc != 0 and "DeleteConflict" in errout
    rc, _, errout = aws_cli("iam", "create-instance-profile", "--instance-profile-name", "pettracker-worker")
    assert rc != 0 and "EntityAlreadyExists" in errout
    rc, _, errout = aws_cli("iam", "get-instance-profile", "--instance-profile-name", "nope")
    assert rc != 0 and "NoSuchEntity" in errout

    ok(aws_cli, "iam", "remove-role-from-instance-profile", "--instance-profile-name", "pettracker-worker",
       "--role-name", "pettracker-ec2-worker")
    rc, _, errout = aws_cli("iam", "remove-role-from-instance-profile", "--instance-profile-name",
                            "pettracker-worker", "--role-name", "pettracker-ec2-worker")
    assert rc != 0 and "NoSuchEntity" in errout
    ok(aws_cli, "iam", "delete-instance-profile", "--instance-profile-name", "pettracker-worker")
    ok(aws_cli, "iam", "delete-role", "--role-name", "pettracker-ec2-worker")
    assert ok(aws_cli, "iam", "list-instance-profiles")["InstanceProfiles"] == []


def test_tags_on_users_roles_and_instance_profiles(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="alex", Tags=[{"Key": "team", "Value": "dev"}])
    iam.tag_user(UserName="alex", Tags=[{"Key": "cost-center", "Value": "42"}, {"Key": "Team", "Value": "ops"}])
    assert iam.list_user_tags(UserName="alex")["Tags"] == [
        {"Key": "Team", "Value": "ops"}, {"Key": "cost-center", "Value": "42"}]
    iam.untag_user(UserName="alex", TagKeys=["COST-CENTER"])
    assert iam.get_user(UserName="alex")["User"]["Tags"] == [{"Key": "Team", "Value": "ops"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="ghost", Tags=[{"Key": "a", "Value": "b"}])
    assert err(e) == ("NoSuchEntity", "The user with name ghost cannot be found.", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="alex", Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    assert err(e)[0] == "LimitExceeded"

    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.tag_role(RoleName="r", Tags=[{"Key": "app", "Value": "pettracker"}])
    assert iam.list_role_tags(RoleName="r")["Tags"] == [{"Key": "app", "Value": "pettracker"}]
    assert iam.get_role(RoleName="r")["Role"]["Tags"] == [{"Key": "app", "Value": "pettracker"}]
    iam.untag_role(RoleName="r", TagKeys=["app"])
    assert iam.list_role_tags(RoleName="r")["Tags"] == []

    iam.create_instance_profile(InstanceProfileName="ip", Tags=[{"Key": "a", "Value": "1"}])
    iam.tag_instance_profile(InstanceProfileName="ip", Tags=[{"Key": "b", "Value": "2"}])
    assert iam.list_instance_profile_tags(InstanceProfileName="ip")["Tags"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    page = iam.list_instance_profile_tags(InstanceProfileName="ip", MaxItems=1)
    assert page["IsTruncated"] and len(page["Tags"]) == 1
    rest = iam.list_instance_profile_tags(InstanceProfileName="ip", Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "b", "Value": "2"}]


def test_account_alias_and_summary(aws_cli):
    seed_users_and_groups(aws_cli)
    assert ok(aws_cli, "iam", "list-account-aliases")["AccountAliases"] == []
    ok(aws_cli, "iam", "create-account-alias", "--account-alias", "pettracker-prod")
    assert ok(aws_cli, "iam", "list-account-aliases")["AccountAliases"] == ["pettracker-prod"]
    rc, _, errout = aws_cli("iam", "create-account-alias", "--account-alias", "Bad_Alias")
    assert rc != 0 and "ValidationError" in errout
    rc, _, errout = aws_cli("iam", "delete-account-alias", "--account-alias", "other")
    assert rc != 0 and "NoSuchEntity" in errout
    ok(aws_cli, "iam", "delete-account-alias", "--account-alias", "pettracker-prod")
    assert ok(aws_cli, "iam", "list-account-aliases")["AccountAliases"] == []

    ok(aws_cli, "iam", "attach-group-policy", "--group-name", "SecurityAudit",
       "--policy-arn", "arn:aws:iam::aws:policy/SecurityAudit")
    s = ok(aws_cli, "iam", "get-account-summary")["SummaryMap"]
    assert s["Users"] == 4 and s["Groups"] == 3 and s["Roles"] == 0 and s["Policies"] == 0
    assert s["UsersQuota"] == 5000 and s["GroupsQuota"] == 300 and s["RolesQuota"] == 1000
    assert s["PolicySizeQuota"] == 6144 and s["UserPolicySizeQuota"] == 2048
    assert s["GroupPolicySizeQuota"] == 5120 and s["RolePolicySizeQuota"] == 10240
    assert s["AssumeRolePolicySizeQuota"] == 2048 and s["VersionsPerPolicyQuota"] == 5
    assert s["AttachedPoliciesPerUserQuota"] == 10 and s["AccessKeysPerUserQuota"] == 2
    assert s["GroupsPerUserQuota"] == 10 and s["InstanceProfilesQuota"] == 1000


def test_account_authorization_details(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="alex")
    iam.create_group(GroupName="Developers")
    iam.add_user_to_group(GroupName="Developers", UserName="alex")
    pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                    "Resource": "arn:aws:s3:::pettracker-images"}]}
    iam.put_user_policy(UserName="alex", PolicyName="own", PolicyDocument=json.dumps(pol))
    iam.put_group_policy(GroupName="Developers", PolicyName="grp", PolicyDocument=json.dumps(pol))
    arn = iam.create_policy(PolicyName="DeveloperAccess", PolicyDocument=json.dumps(pol))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(pol), SetAsDefault=True)
    iam.attach_group_policy(GroupName="Developers", PolicyArn=arn)
    iam.create_role(RoleName="pettracker-lambda-api", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.attach_role_policy(RoleName="pettracker-lambda-api",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    iam.put_role_policy(RoleName="pettracker-lambda-api", PolicyName="ddb", PolicyDocument=json.dumps(pol))

    d = iam.get_account_authorization_details()
    assert not d["IsTruncated"]
    [u] = d["UserDetailList"]
    assert u["UserName"] == "alex" and u["GroupList"] == ["Developers"]
    assert u["UserPolicyList"] == [{"PolicyName": "own", "PolicyDocument": pol}]
    [g] = d["GroupDetailList"]
    assert g["GroupPolicyList"] == [{"PolicyName": "grp", "PolicyDocument": pol}]
    assert g["AttachedManagedPolicies"] == [{"PolicyName": "DeveloperAccess", "PolicyArn": arn}]
    [r] = d["RoleDetailList"]
    assert r["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert r["RolePolicyList"] == [{"PolicyName": "ddb", "PolicyDocument": pol}]
    assert r["AttachedManagedPolicies"][0]["PolicyName"] == "AWSLambdaBasicExecutionRole"
    by_name = {p["PolicyName"]: p for p in d["Policies"]}
    assert set(by_name) == {"DeveloperAccess", "AWSLambdaBasicExecutionRole"}
    mine = by_name["DeveloperAccess"]
    assert mine["DefaultVersionId"] == "v2" and mine["AttachmentCount"] == 1
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in mine["PolicyVersionList"]] == [("v2", True), ("v1", False)]
    assert mine["PolicyVersionList"][0]["Document"] == pol
    assert by_name["AWSLambdaBasicExecutionRole"]["PolicyVersionList"][0]["Document"]["Statement"]

    only = iam.get_account_authorization_details(Filter=["Role"])
    assert [x["RoleName"] for x in only["RoleDetailList"]] == ["pettracker-lambda-api"]
    assert only["UserDetailList"] == [] and only["Policies"] == []
    page = iam.get_account_authorization_details(MaxItems=2)
    assert page["IsTruncated"]
    total = 0
    for p in iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1}):
        total += len(p["UserDetailList"]) + len(p["GroupDetailList"]) + len(p["RoleDetailList"]) + len(p["Policies"])
    assert total == 5


def test_user_permissions_boundary_counts(endpoint):
    iam = client(endpoint, "iam")
    pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="Boundary", PolicyDocument=json.dumps(pol))["Policy"]["Arn"]
    iam.create_user(UserName="sam", PermissionsBoundary=arn)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(EC2_TRUST), PermissionsBoundary=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="x", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/Missing")
    assert err(e)[0] == "NoSuchEntity"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["sam"]
    iam.delete_user(UserName="sam")
    iam.delete_role_permissions_boundary(RoleName="r")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 0


def test_tag_limits_and_messages_follow_the_model(endpoint):
    iam = unvalidated(endpoint)
    iam.create_user(UserName="tagged")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="tagged", Tags=[{"Key": "ok", "Value": "v"}, {"Key": "vv", "Value": "v" * 257}])
    # AWS shows a string member's value (CloudFormation, also awsQuery: "Value '...' at
    # 'tags.1.member.value'").
    assert err(e) == ("ValidationError", f"1 validation error detected: Value '{'v' * 257}' at 'tags.2.member.value' failed to satisfy constraint: Member must have length less than or equal to 256", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="tagged", Tags=[{"Key": "k" * 129, "Value": "v"}])
    assert "'tags.1.member.key'" in err(e)[1] and "less than or equal to 128" in err(e)[1]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="tagged", Tags=[{"Key": "bad!", "Value": "v"}])
    assert err(e)[1].endswith("'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+")
    # More than 50 in one request: the model's list bound, before the user is looked up.
    fifty_one = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="nobody-here", Tags=fifty_one)
    assert err(e) == ("ValidationError", "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50", 400)
    # More than 50 once merged with the user's own: the operation's LimitExceeded.
    iam.tag_user(UserName="tagged", Tags=fifty_one[:50])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName="tagged", Tags=[{"Key": "one-more", "Value": "v"}])
    assert err(e)[0] == "LimitExceeded"


def test_validation_messages_name_the_bound_violated(endpoint):
    iam = unvalidated(endpoint)
    iam.create_user(UserName="bounds")
    for call, kw, field, rule in [
        (iam.update_access_key, dict(UserName="bounds", AccessKeyId="AKIA", Status="Inactive"),
         "accessKeyId", "Member must have length greater than or equal to 16"),
        (iam.enable_mfa_device, dict(UserName="bounds", SerialNumber="abc", AuthenticationCode1="123456", AuthenticationCode2="654321"),
         "serialNumber", "Member must have length greater than or equal to 9"),
        (iam.create_login_profile, dict(UserName="bounds", Password=""),
         "password", "Member must have length greater than or equal to 1"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        code, message, status = err(e)
        assert (code, status) == ("ValidationError", 400), kw
        assert f"at '{field}' failed to satisfy constraint: {rule}" in message, message


def test_list_marker_is_checked_against_the_model(endpoint):
    iam = unvalidated(endpoint)
    for marker, rule in [("", "greater than or equal to 1"), ("m" * 321, "less than or equal to 320")]:
        for call in (iam.list_roles, iam.list_users, iam.list_policies):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(Marker=marker)
            code, message, status = err(e)
            assert (code, status) == ("ValidationError", 400)
            assert f"at 'marker' failed to satisfy constraint: Member must have length {rule}" in message
    # A well-formed marker Palisade never issued is the operation's own error.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_roles(Marker="not-a-marker")
    assert err(e)[:2] == ("InvalidInput", "Invalid Marker.")


def test_paths_and_max_items_are_checked_before_authorization(endpoint):
    nobody = unprivileged_client(endpoint, "iam", "iam-nobody")
    for call, kw, field in [
        (nobody.create_user, dict(UserName="x", Path="bad"), "'path'"),
        (nobody.update_user, dict(UserName="x", NewPath="bad"), "'newPath'"),
        (nobody.list_users, dict(PathPrefix="x"), "'pathPrefix'"),
        (nobody.list_roles, dict(MaxItems=0), "'maxItems'"),
        (nobody.list_users, dict(MaxItems=1001), "'maxItems'"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        code, message, status = err(e)
        assert (code, status) == ("ValidationError", 400), (kw, message)
        assert field in message, message
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nobody.list_users(MaxItems=10)
    assert err(e)[0] == "AccessDenied"


def test_update_user_rename_moves_everything_under_the_name(endpoint, aws_cli):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="maya", Tags=[{"Key": "team", "Value": "pets"}])
    uid = iam.get_user(UserName="maya")["User"]["UserId"]
    key = iam.create_access_key(UserName="maya")["AccessKey"]
    iam.create_group(GroupName="Devs")
    iam.add_user_to_group(GroupName="Devs", UserName="maya")
    iam.attach_user_policy(UserName="maya", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]})
    iam.put_user_policy(UserName="maya", PolicyName="list", PolicyDocument=doc)
    iam.create_login_profile(UserName="maya", Password="Pettracker-2026!")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/maya"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="maya-admin", AssumeRolePolicyDocument=json.dumps(trust))
    session = client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"]).get_session_token()["Credentials"]
    iam.create_user(UserName="other")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_user(UserName="maya", NewUserName="OTHER")
    assert err(e)[0] == "EntityAlreadyExists"

    rc, out, errout = aws_cli("iam", "update-user", "--user-name", "maya", "--new-user-name", "maya.lopez")
    assert rc == 0, errout
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName="maya")
    assert err(e)[0] == "NoSuchEntity"
    user = iam.get_user(UserName="maya.lopez")["User"]
    assert user["UserId"] == uid and user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/maya.lopez"
    assert user["Tags"] == [{"Key": "team", "Value": "pets"}]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="maya.lopez")["Groups"]] == ["Devs"]
    assert [u["UserName"] for u in iam.get_group(GroupName="Devs")["Users"]] == ["maya.lopez"]
    assert [p["PolicyName"] for p in iam.list_attached_user_policies(UserName="maya.lopez")["AttachedPolicies"]] == ["ReadOnlyAccess"]
    ents = iam.list_entities_for_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert [u["UserName"] for u in ents["PolicyUsers"]] == ["maya.lopez"]
    assert iam.list_user_policies(UserName="maya.lopez")["PolicyNames"] == ["list"]
    assert iam.get_login_profile(UserName="maya.lopez")["LoginProfile"]["UserName"] == "maya.lopez"
    keys = iam.list_access_keys(UserName="maya.lopez")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["UserName"]) for k in keys] == [(key["AccessKeyId"], "maya.lopez")]
    assert iam.list_access_keys(UserName="other")["AccessKeyMetadata"] == []
    # Its key acts as the renamed user, with the policies it kept.
    me = client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    assert me.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/maya.lopez"
    as_maya = client(endpoint, "iam", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    assert "maya.lopez" in [u["UserName"] for u in as_maya.list_users()["Users"]]
    # A session issued before the rename belongs to the same user, and keeps its rights; a
    # new user of the old name gets nothing from it.
    iam.create_user(UserName="maya")
    before = client(endpoint, "iam", ak=session["AccessKeyId"], sk=session["SecretAccessKey"], token=session["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        before.list_users()  # GetSessionToken credentials need MFA for IAM
    assert err(e)[0] == "InvalidClientTokenId"
    kms = client(endpoint, "kms", ak=session["AccessKeyId"], sk=session["SecretAccessKey"], token=session["SessionToken"])
    kms.list_keys()
    iam.delete_user(UserName="maya")
    # A policy naming it as a principal follows it.
    stmt = iam.get_role(RoleName="maya-admin")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert stmt["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:user/maya.lopez"
    me.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/maya-admin", RoleSessionName="maya")
    # Gone with its dependents: the new name is deletable once they are removed.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="maya.lopez")
    assert err(e)[0] == "DeleteConflict"


def test_service_linked_roles(endpoint, aws_cli):
    iam = client(endpoint, "iam")
    rc, out, errout = aws_cli("iam", "create-service-linked-role", "--aws-service-name", "guardduty.amazonaws.com")
    assert rc == 0, errout
    role = json.loads(out)["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAmazonGuardDuty"
    assert role["Path"] == "/aws-service-role/guardduty.amazonaws.com/"
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"
    stmt = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert (stmt["Principal"], stmt["Action"]) == ({"Service": "guardduty.amazonaws.com"}, "sts:AssumeRole")
    attached = iam.list_attached_role_policies(RoleName="AWSServiceRoleForAmazonGuardDuty")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy"]
    # AWS's answer to a second one.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="guardduty.amazonaws.com")
    assert err(e)[:2] == ("InvalidInput", "Service role name AWSServiceRoleForAmazonGuardDuty has been taken in this account, please try a different suffix.")
    # Suffixes only where the service takes them.
    asg = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="batch", Description="batch fleet")["Role"]
    assert asg["RoleName"] == "AWSServiceRoleForAutoScaling_batch" and asg["Description"] == "batch fleet"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="config.amazonaws.com", CustomSuffix="x")
    assert err(e)[0] == "InvalidInput"
    # Protected: only the service changes it.
    name = "AWSServiceRoleForAmazonGuardDuty"
    iam.create_instance_profile(InstanceProfileName="ip")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    protected = f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    for call in (
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"),
        lambda: iam.detach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/aws-service-role/AmazonGuardDutyServiceRolePolicy"),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="x", PolicyDocument=doc),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(LAMBDA_TRUST)),
        lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary="arn:aws:iam::aws:policy/ReadOnlyAccess"),
        lambda: iam.update_role(RoleName=name, MaxSessionDuration=7200),
        lambda: iam.add_role_to_instance_profile(InstanceProfileName="ip", RoleName=name),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e) == ("UnmodifiableEntity", protected, 400)
    iam.update_role_description(RoleName=name, Description="findings")
    # Nobody else may make a role that passes for one.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="fake", Path="/aws-service-role/guardduty.amazonaws.com/", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    assert err(e)[:2] == ("InvalidInput", "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles")
    # Deletion is a task that succeeds.
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert task.startswith(f"task/aws-service-role/guardduty.amazonaws.com/{name}/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName=name)
    assert err(e)[0] == "NoSuchEntity"
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_service_linked_role(RoleName="plain")
    assert err(e)[0] == "InvalidInput"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_service_linked_role(AWSServiceName="nothing.example.com")
    assert err(e)[0] == "InvalidInput"


def test_sessions_follow_a_renamed_user_whoever_takes_its_name(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="a")
    iam.attach_user_policy(UserName="a", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    key = iam.create_access_key(UserName="a")["AccessKey"]
    session = client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"]).get_session_token()["Credentials"]
    kms = client(endpoint, "kms", ak=session["AccessKeyId"], sk=session["SecretAccessKey"], token=session["SessionToken"])
    iam.update_user(UserName="a", NewUserName="b")
    iam.create_user(UserName="a")  # another user, with another unique id
    iam.update_user(UserName="a", NewUserName="c")
    kms.list_keys()
    iam.detach_user_policy(UserName="b", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.list_keys()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
