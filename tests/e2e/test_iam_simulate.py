"""IAM policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) driven by boto3 and
the aws CLI.

What is checked against AWS's published behaviour:
- the context holds only the ContextEntries given (no aws:CurrentTime unless passed);
- MatchedStatements name the deciding statements only (the deny for an explicit deny),
  with AWS's SourcePolicyId forms (`PolicyInputList.N`, the managed policy's name,
  `user_NAME_POLICY` for inline) and SourcePolicyType `IAM Policy`, as real IAM returns;
- Start/EndPosition as in the aws CLI's documented example (line 1, columns 38..167);
- with ResourceArns, one result per action and resource with its ResourceSpecificResults,
  missing context keys reported there, and an empty EvalDecisionDetails.
"""

import json

import boto3
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, client


# ---- seed 001, verbatim ------------------------------------------------------------------
import boto3
import json
from datetime import datetime, timedelta

def grant_temporary_access(user_id, resource_arn, duration_hours=4):
    """Grant temporary access to specific resources"""
    
    policy_document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": resource_arn,
                "Condition": {
                    "DateLessThan": {
                        "aws:CurrentTime": (datetime.utcnow() + 
                                          timedelta(hours=duration_hours)).isoformat()
                    }
                }
            }
        ]
    }
    
    iam = boto3.client('iam')
    
    # Create temporary policy
    policy_name = f"temp-access-{user_id}-{int(datetime.now().timestamp())}"
    response = iam.create_policy(
        PolicyName=policy_name,
        PolicyDocument=json.dumps(policy_document),
        Description=f"Temporary access for {user_id}"
    )
    
    # Attach to user
    iam.attach_user_policy(
        UserName=user_id,
        PolicyArn=response['Policy']['Arn']
    )
    
    return response['Policy']['Arn']
# ---- end of seed 001 -------------------------------------------------------------------

from datetime import timezone  # noqa: E402


MFA_ENFORCEMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowEverything", "Effect": "Allow", "Action": "*", "Resource": "*"},
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


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def when(t):
    return [{"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [iso(t)], "ContextKeyType": "date"}]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture()
def default_boto3(endpoint, monkeypatch, tmp_path):
    """Makes the seed's plain `boto3.client('iam')` reach the server as root."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ROOT_AK)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ROOT_SK)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return endpoint


def test_seed_001_temporary_grant_simulated_before_and_after_expiry(default_boto3, aws_cli):
    iam = client(default_boto3, "iam")
    iam.create_user(UserName="contractor")
    bucket_objects = "arn:aws:s3:::pettracker-images/*"
    arn = grant_temporary_access("contractor", bucket_objects)
    assert arn.startswith(f"arn:aws:iam::{ACCOUNT}:policy/temp-access-contractor-")
    policy_name = arn.rsplit("/", 1)[1]
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/contractor"
    photo = "arn:aws:s3:::pettracker-images/pets/rex.jpg"
    now = datetime.now(tz=timezone.utc)

    out = iam.simulate_principal_policy(
        PolicySourceArn=user_arn,
        ActionNames=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        ResourceArns=[photo],
        ContextEntries=when(now),
    )
    assert out["IsTruncated"] is False
    got = {(r["EvalActionName"], r["EvalResourceName"]): r for r in out["EvaluationResults"]}
    assert list(got) == [("s3:GetObject", photo), ("s3:PutObject", photo), ("s3:DeleteObject", photo)]
    for action in ("s3:GetObject", "s3:PutObject"):
        r = got[(action, photo)]
        assert r["EvalDecision"] == "allowed"
        (m,) = r["MatchedStatements"]
        assert m["SourcePolicyId"] == policy_name
        assert m["SourcePolicyType"] == "IAM Policy"
        # json.dumps writes `{"Version": "2012-10-17", "Statement": [` (40 characters).
        assert m["StartPosition"] == {"Line": 1, "Column": 41}
        assert m["EndPosition"]["Line"] == 1
        assert r["MissingContextValues"] == []
        assert r["EvalDecisionDetails"] == {}
        (rs,) = r["ResourceSpecificResults"]
        assert rs["EvalResourceName"] == photo
        assert rs["EvalResourceDecision"] == "allowed"
        assert rs["MatchedStatements"] == r["MatchedStatements"]
    assert got[("s3:DeleteObject", photo)]["EvalDecision"] == "implicitDeny"
    assert got[("s3:DeleteObject", photo)]["MatchedStatements"] == []

    # After the grant's expiry: denied, and no statement decided it.
    later = iam.simulate_principal_policy(
        PolicySourceArn=user_arn,
        ActionNames=["s3:GetObject"],
        ResourceArns=[photo],
        ContextEntries=when(now + timedelta(hours=5)),
    )["EvaluationResults"][0]
    assert later["EvalDecision"] == "implicitDeny"
    assert later["MatchedStatements"] == []
    assert later["ResourceSpecificResults"][0]["MissingContextValues"] == []

    # Without aws:CurrentTime the simulator has no time: denied, key reported missing.
    blind = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["s3:GetObject"], ResourceArns=[photo]
    )["EvaluationResults"][0]
    assert blind["EvalDecision"] == "implicitDeny"
    assert blind["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:CurrentTime"]

    # The same through the aws CLI.
    entries = json.dumps(when(now))
    rc, stdout, stderr = aws_cli(
        "iam", "simulate-principal-policy", "--policy-source-arn", user_arn,
        "--action-names", "s3:PutObject", "--resource-arns", photo, "--context-entries", entries,
    )
    assert rc == 0, stderr
    (r,) = json.loads(stdout)["EvaluationResults"]
    assert r["EvalDecision"] == "allowed"
    assert r["MatchedStatements"][0]["SourcePolicyId"] == policy_name
    rc, stdout, stderr = aws_cli(
        "iam", "simulate-principal-policy", "--policy-source-arn", user_arn,
        "--action-names", "s3:PutObject", "--resource-arns", photo,
        "--context-entries", json.dumps(when(now + timedelta(hours=5))),
        "--query", "EvaluationResults[0].EvalDecision", "--output", "text",
    )
    assert rc == 0, stderr
    assert stdout.strip() == "implicitDeny"


def test_group_policy_counts_and_explicit_deny_wins(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="maya")
    iam.create_group(GroupName="Developers")
    iam.add_user_to_group(GroupName="Developers", UserName="maya")
    iam.attach_group_policy(GroupName="Developers", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    maya = f"arn:aws:iam::{ACCOUNT}:user/maya"

    out = iam.simulate_principal_policy(PolicySourceArn=maya, ActionNames=["s3:GetObject", "s3:PutObject"])
    get, put = out["EvaluationResults"]
    assert (get["EvalActionName"], get["EvalResourceName"], get["EvalDecision"]) == ("s3:GetObject", "*", "allowed")
    assert [m["SourcePolicyId"] for m in get["MatchedStatements"]] == ["AmazonS3ReadOnlyAccess"]
    assert get["MatchedStatements"][0]["SourcePolicyType"] == "IAM Policy"
    assert "ResourceSpecificResults" not in get and "EvalDecisionDetails" not in get
    assert put["EvalDecision"] == "implicitDeny"

    # A policy passed in PolicyInputList joins the user's; its Deny beats the group's Allow
    # and is the only statement reported.
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoReads", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
    }
    r = iam.simulate_principal_policy(
        PolicySourceArn=maya, ActionNames=["s3:GetObject"], PolicyInputList=[json.dumps(deny)]
    )["EvaluationResults"][0]
    assert r["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyId"] for m in r["MatchedStatements"]] == ["PolicyInputList.1"]

    # The group itself can be the policy source.
    g = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/Developers", ActionNames=["s3:ListBucket"]
    )["EvaluationResults"][0]
    assert g["EvalDecision"] == "allowed"


def test_permissions_boundary_limits(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="sam", PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.attach_user_policy(UserName="sam", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    sam = f"arn:aws:iam::{ACCOUNT}:user/sam"
    out = iam.simulate_principal_policy(PolicySourceArn=sam, ActionNames=["s3:GetObject", "iam:CreateUser"])
    get, create = out["EvaluationResults"]
    assert get["EvalDecision"] == "allowed"
    assert get["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert {m["SourcePolicyId"] for m in get["MatchedStatements"]} == {"AdministratorAccess", "AmazonS3ReadOnlyAccess"}
    assert create["EvalDecision"] == "implicitDeny"
    assert create["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}

    # A boundary passed in the request replaces the attached one.
    iam_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
    out = iam.simulate_principal_policy(
        PolicySourceArn=sam,
        ActionNames=["s3:GetObject", "iam:CreateUser"],
        PermissionsBoundaryPolicyInputList=[json.dumps(iam_only)],
    )
    get, create = out["EvaluationResults"]
    assert get["EvalDecision"] == "implicitDeny"
    assert create["EvalDecision"] == "allowed"
    assert "PermissionsBoundaryPolicyInputList.1" in {m["SourcePolicyId"] for m in create["MatchedStatements"]}

    # A role's attached policies and boundary count the same way.
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(
        RoleName="pettracker-lambda-api",
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    )
    iam.attach_role_policy(RoleName="pettracker-lambda-api", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    role = f"arn:aws:iam::{ACCOUNT}:role/pettracker-lambda-api"
    out = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:ListBucket", "dynamodb:PutItem"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]


def test_custom_policy_mfa_enforcement(endpoint, aws_cli):
    iam = client(endpoint, "iam")
    doc = json.dumps(MFA_ENFORCEMENT)

    def simulate(actions, mfa=None):
        kwargs = {}
        if mfa is not None:
            kwargs["ContextEntries"] = [
                {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": [mfa], "ContextKeyType": "boolean"}
            ]
        return iam.simulate_custom_policy(PolicyInputList=[doc], ActionNames=actions, **kwargs)["EvaluationResults"]

    without = simulate(["ec2:DescribeInstances", "iam:ListMFADevices"], mfa="false")
    assert [r["EvalDecision"] for r in without] == ["explicitDeny", "allowed"]
    (deny,) = without[0]["MatchedStatements"]
    assert deny["SourcePolicyId"] == "PolicyInputList.1"
    assert without[0]["MissingContextValues"] == []

    with_mfa = simulate(["ec2:DescribeInstances", "iam:ListMFADevices"], mfa="true")
    assert [r["EvalDecision"] for r in with_mfa] == ["allowed", "allowed"]

    # No MFA key at all: BoolIfExists matches, the deny applies, the key is reported missing.
    absent = simulate(["ec2:DescribeInstances"])
    assert absent[0]["EvalDecision"] == "explicitDeny"
    assert absent[0]["MissingContextValues"] == ["aws:MultiFactorAuthPresent"]

    # The aws CLI's documented example, with its documented positions.
    rc, stdout, stderr = aws_cli(
        "iam", "simulate-custom-policy",
        "--policy-input-list",
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
        '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}',
        "--action-names", "dynamodb:CreateBackup",
        "--context-entries", "ContextKeyName='aws:CurrentTime',ContextKeyValues='2019-04-25T11:00:00Z',ContextKeyType=date",
    )
    assert rc == 0, stderr
    (r,) = json.loads(stdout)["EvaluationResults"]
    assert r["EvalDecision"] == "allowed"
    assert r["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "IAM Policy",
            "StartPosition": {"Line": 1, "Column": 38},
            "EndPosition": {"Line": 1, "Column": 167},
        }
    ]
    assert r["MissingContextValues"] == []


def test_resource_policy_and_cross_account(endpoint):
    iam = client(endpoint, "iam")
    caller = f"arn:aws:iam::{ACCOUNT}:user/alex"
    bucket_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:GetObject", "Resource": "*"}],
    }
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]}
    obj = "arn:aws:s3:::shared-bucket/report.csv"
    same = iam.simulate_custom_policy(
        PolicyInputList=[json.dumps(nothing)],
        ActionNames=["s3:GetObject"],
        ResourceArns=[obj],
        ResourcePolicy=json.dumps(bucket_policy),
        CallerArn=caller,
    )["EvaluationResults"][0]
    # Same account: the bucket policy's grant to the caller is enough.
    assert same["EvalDecision"] == "allowed"
    assert same["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    assert same["EvalDecisionDetails"] == {}

    other = iam.simulate_custom_policy(
        PolicyInputList=[json.dumps(nothing)],
        ActionNames=["s3:GetObject"],
        ResourceArns=[obj],
        ResourcePolicy=json.dumps(bucket_policy),
        CallerArn=caller,
        ResourceOwner="111122223333",
    )["EvaluationResults"][0]
    # Cross-account: the identity side must allow too.
    assert other["EvalDecision"] == "implicitDeny"
    assert other["EvalDecisionDetails"]


def test_paging(endpoint):
    iam = client(endpoint, "iam")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    actions = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
    first = iam.simulate_custom_policy(PolicyInputList=[doc], ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True
    assert [r["EvalActionName"] for r in first["EvaluationResults"]] == actions[:2]
    second = iam.simulate_custom_policy(PolicyInputList=[doc], ActionNames=actions, Marker=first["Marker"])
    assert second["IsTruncated"] is False
    assert [r["EvalActionName"] for r in second["EvaluationResults"]] == actions[2:]
    pages = iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[doc], ActionNames=actions, PaginationConfig={"PageSize": 1}
    )
    assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == actions


def test_errors(endpoint):
    iam = client(endpoint, "iam")
    ok = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:GetObject"])
    assert error_code(e) == ("NoSuchEntity", 404)
    assert e.value.response["Error"]["Message"] == "The user with name nobody cannot be found."

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/ghost", ActionNames=["s3:GetObject"])
    assert error_code(e) == ("NoSuchEntity", 404)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/session", ActionNames=["s3:GetObject"]
        )
    assert error_code(e) == ("InvalidInput", 400)
    assert "does not clearly define entity type and name" in e.value.response["Error"]["Message"]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_principal_policy(PolicySourceArn="arn:aws:iam::111122223333:user/alex", ActionNames=["s3:GetObject"])
    assert error_code(e) == ("InvalidInput", 400)

    for bad in ['{"Version": "2012-10-17", "Statement": [', '{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}']:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.simulate_custom_policy(PolicyInputList=[bad], ActionNames=["s3:GetObject"])
        assert error_code(e) == ("InvalidInput", 400)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(
            PolicyInputList=[ok],
            ActionNames=["s3:GetObject"],
            ContextEntries=[{"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["maybe"], "ContextKeyType": "boolean"}],
        )
    assert error_code(e) == ("InvalidInput", 400)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(
            PolicyInputList=[ok], ActionNames=["s3:GetObject"], CallerArn=f"arn:aws:iam::{ACCOUNT}:role/r"
        )
    assert error_code(e) == ("InvalidInput", 400)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(
            PolicyInputList=[ok],
            ActionNames=["s3:GetObject"],
            ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            CallerArn=f"arn:aws:iam::{ACCOUNT}:user/alex",
        )
    # A resource policy needs a Principal.
    assert error_code(e) == ("InvalidInput", 400)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=[ok], ActionNames=["s3:GetObject"], Marker="bm90LWEtbWFya2Vy")
    assert error_code(e) == ("InvalidInput", 400)


def test_policy_inputs_refused_in_iam_words(endpoint):
    """Every policy a simulate call takes is refused as InvalidInput in IAM's words, never in
    the JSON parser's (line/column, serde's type names) or the policy engine's."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName="alex")
    user = f"arn:aws:iam::{ACCOUNT}:user/alex"
    ok = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    bad_condition = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}}]})
    bad_principal = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "s3:GetObject", "Resource": "*"}]})
    calls = []
    for garbage, words in (("garbage", "Syntax errors in policy."), ("{bad", "Syntax errors in policy."),
                           (bad_condition, "Syntax errors in policy.")):
        calls += [
            (lambda g=garbage: iam.simulate_custom_policy(
                PolicyInputList=[ok], ResourcePolicy=g, CallerArn=user, ActionNames=["s3:GetObject"]), words),
            (lambda g=garbage: iam.simulate_custom_policy(PolicyInputList=[g], ActionNames=["s3:GetObject"]), words),
            (lambda g=garbage: iam.simulate_custom_policy(
                PolicyInputList=[ok], PermissionsBoundaryPolicyInputList=[g], ActionNames=["s3:GetObject"]), words),
            (lambda g=garbage: iam.simulate_principal_policy(
                PolicySourceArn=user, PolicyInputList=[g], ActionNames=["s3:GetObject"]), words),
            (lambda g=garbage: iam.simulate_principal_policy(
                PolicySourceArn=user, PermissionsBoundaryPolicyInputList=[g], ActionNames=["s3:GetObject"]), words),
            (lambda g=garbage: iam.simulate_principal_policy(
                PolicySourceArn=user, ResourcePolicy=g, ActionNames=["s3:GetObject"]), words),
        ]
    calls.append((lambda: iam.simulate_custom_policy(
        PolicyInputList=[ok], ResourcePolicy=bad_principal, CallerArn=user, ActionNames=["s3:GetObject"]),
        'Invalid principal in policy: "AWS":"alice"'))
    for call, words in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == ("InvalidInput", 400)
        message = e.value.response["Error"]["Message"]
        assert message.endswith(words), message
        for parser_text in ("line 1", "column", "expected", "$", "invalid JSON", "operator", "a 12-digit"):
            assert parser_text not in message, message


def test_inline_policies_named_as_aws_names_them(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="alex")
    iam.create_group(GroupName="DevOps")
    iam.add_user_to_group(GroupName="DevOps", UserName="alex")
    pretty = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
            ],
        },
        indent=2,
    )
    iam.put_user_policy(UserName="alex", PolicyName="S3Work", PolicyDocument=pretty)
    iam.put_group_policy(
        GroupName="DevOps",
        PolicyName="Logs",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}}
        ),
    )
    alex = f"arn:aws:iam::{ACCOUNT}:user/alex"
    out = iam.simulate_principal_policy(
        PolicySourceArn=alex, ActionNames=["s3:GetObject", "s3:DeleteBucket", "logs:PutLogEvents"]
    )["EvaluationResults"]
    get, delete, logs = out
    assert get["EvalDecision"] == "allowed"
    # Real IAM names inline policies `<entity type>_<entity name>_<policy name>`.
    assert get["MatchedStatements"] == [
        {
            "SourcePolicyId": "user_alex_S3Work",
            "SourcePolicyType": "IAM Policy",
            # indent=2: `  "Statement": [` on line 3, the first statement closes on line 8.
            "StartPosition": {"Line": 3, "Column": 17},
            "EndPosition": {"Line": 8, "Column": 6},
        }
    ]
    assert delete["EvalDecision"] == "explicitDeny"
    (d,) = delete["MatchedStatements"]
    assert (d["SourcePolicyId"], d["StartPosition"], d["EndPosition"]) == (
        "user_alex_S3Work",
        {"Line": 8, "Column": 6},
        {"Line": 13, "Column": 6},
    )
    assert logs["EvalDecision"] == "allowed"
    assert [m["SourcePolicyId"] for m in logs["MatchedStatements"]] == ["group_DevOps_Logs"]
