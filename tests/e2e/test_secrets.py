"""Secrets Manager: secrets, versions and staging labels, KMS-sealed values, deletion windows,
resource policies, GetRandomPassword and built-in rotation on the business clock, through
boto3 and the aws CLI."""

import base64
import json
import os
import re
import string
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, Server, admin, client, root_env

REGION = "us-east-1"
RANDOM_ROTATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:palisade-rotation-random-password"
IAM_ROTATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:palisade-rotation-iam-access-key"
ARN_RE = re.compile(r"^arn:aws:secretsmanager:us-east-1:000000000000:secret:(.+)-[A-Za-z0-9]{6}$")


def sm(endpoint, ak=ROOT_AK, sk=ROOT_SK, validate=True):
    if validate:
        return client(endpoint, "secretsmanager", ak=ak, sk=sk)
    return boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION).client(
        "secretsmanager", endpoint_url=endpoint, config=botocore.config.Config(parameter_validation=False)
    )


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def events(endpoint, name):
    ct = client(endpoint, "cloudtrail")
    return ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])["Events"]


def advance(endpoint, seconds):
    status, body = admin(endpoint, "/_palisade/clock", {"advance_seconds": seconds})
    assert status == 200, body


DB = {"username": "pettracker", "password": "initial-Passw0rd!", "host": "db.internal", "port": 5432}


def test_seed_quick_reference_get_secret_value(endpoint, aws_cli):
    rc, out, err = aws_cli(
        "secretsmanager", "create-secret", "--name", "pettracker/prod/db-credentials",
        "--description", "PetTracker production database", "--secret-string", json.dumps(DB),
    )
    assert rc == 0, err
    created = json.loads(out)
    assert ARN_RE.match(created["ARN"]).group(1) == "pettracker/prod/db-credentials"
    rc, out, err = aws_cli(
        "secretsmanager", "get-secret-value", "--secret-id", "pettracker/prod/db-credentials",
        "--query", "SecretString", "--output", "text",
    )
    assert rc == 0, err
    assert json.loads(out) == DB
    # By full ARN and by partial ARN too.
    s = sm(endpoint)
    assert json.loads(s.get_secret_value(SecretId=created["ARN"])["SecretString"]) == DB
    partial = created["ARN"][:-7]
    assert s.get_secret_value(SecretId=partial)["ARN"] == created["ARN"]


def test_create_describe_list_tags(endpoint):
    s = sm(endpoint)
    a = s.create_secret(Name="app/a", SecretString="one", Tags=[{"Key": "team", "Value": "pets"}],
                        Description="first")
    b = s.create_secret(Name="app/b", SecretBinary=b"\x00\x01binary")
    s.create_secret(Name="other/c")  # no value yet: no versions
    d = s.describe_secret(SecretId="app/a")
    assert d["ARN"] == a["ARN"] and d["Name"] == "app/a" and d["Description"] == "first"
    assert d["Tags"] == [{"Key": "team", "Value": "pets"}]
    assert d["VersionIdsToStages"] == {a["VersionId"]: ["AWSCURRENT"]}
    assert "KmsKeyId" not in d and "DeletedDate" not in d
    assert s.get_secret_value(SecretId="app/b")["SecretBinary"] == b"\x00\x01binary"
    assert s.describe_secret(SecretId="other/c")["VersionIdsToStages"] == {}
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="other/c")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="app/a", SecretString="again")
    assert code(e) == "ResourceExistsException"
    names = [x["Name"] for x in s.list_secrets()["SecretList"]]
    assert sorted(names) == ["app/a", "app/b", "other/c"]
    f = s.list_secrets(Filters=[{"Key": "name", "Values": ["app/"]}])["SecretList"]
    assert sorted(x["Name"] for x in f) == ["app/a", "app/b"]
    f = s.list_secrets(Filters=[{"Key": "tag-key", "Values": ["team"]}])["SecretList"]
    assert [x["Name"] for x in f] == ["app/a"]
    f = s.list_secrets(Filters=[{"Key": "name", "Values": ["!app/"]}])["SecretList"]
    assert [x["Name"] for x in f] == ["other/c"]
    # name and tags are case-sensitive prefixes; description and all are not
    # case-sensitive and match words.
    s.update_secret(SecretId="other/c", Description="Second database password")
    assert s.list_secrets(Filters=[{"Key": "name", "Values": ["APP/"]}])["SecretList"] == []
    for key, value in (("description", "SECOND"), ("description", "datab"), ("all", "PASSWORD second"),
                       ("all", "other/")):
        f = s.list_secrets(Filters=[{"Key": key, "Values": [value]}])["SecretList"]
        assert [x["Name"] for x in f] == ["other/c"], (key, value)
    assert s.list_secrets(Filters=[{"Key": "all", "Values": ["password third"]}])["SecretList"] == []
    page = s.list_secrets(MaxResults=2)
    assert len(page["SecretList"]) == 2 and page["NextToken"]
    rest = s.list_secrets(MaxResults=2, NextToken=page["NextToken"])
    assert len(rest["SecretList"]) == 1 and "NextToken" not in rest
    assert sum(len(p["SecretList"]) for p in s.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1})) == 3
    s.tag_resource(SecretId="app/a", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ops"}])
    s.untag_resource(SecretId=a["ARN"], TagKeys=["env"])
    assert s.describe_secret(SecretId="app/a")["Tags"] == [{"Key": "team", "Value": "ops"}]
    s.update_secret(SecretId="app/a", Description="changed")
    assert s.describe_secret(SecretId="app/a")["Description"] == "changed"
    u = s.update_secret(SecretId="app/a", SecretString="two")
    assert s.get_secret_value(SecretId="app/a")["SecretString"] == "two"
    assert s.describe_secret(SecretId="app/a")["VersionIdsToStages"] == {
        u["VersionId"]: ["AWSCURRENT"], a["VersionId"]: ["AWSPREVIOUS"]}
    with pytest.raises(ClientError) as e:
        s.describe_secret(SecretId="nope")
    assert code(e) == "ResourceNotFoundException"


def test_versions_and_staging_labels(endpoint):
    s = sm(endpoint)
    v1 = s.create_secret(Name="ver", SecretString="v1", ClientRequestToken="t" * 32)["VersionId"]
    assert v1 == "t" * 32
    # Same token, same value: idempotent; another value: ResourceExistsException.
    assert s.create_secret(Name="ver", SecretString="v1", ClientRequestToken="t" * 32)["VersionId"] == v1
    with pytest.raises(ClientError) as e:
        s.put_secret_value(SecretId="ver", SecretString="other", ClientRequestToken="t" * 32)
    assert code(e) == "ResourceExistsException"
    p2 = s.put_secret_value(SecretId="ver", SecretString="v2")
    assert p2["VersionStages"] == ["AWSCURRENT"]
    v2 = p2["VersionId"]
    v3 = s.put_secret_value(SecretId="ver", SecretString="v3", VersionStages=["staged"])["VersionId"]
    stages = s.describe_secret(SecretId="ver")["VersionIdsToStages"]
    assert stages == {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["staged"]}
    assert s.get_secret_value(SecretId="ver")["SecretString"] == "v2"
    assert s.get_secret_value(SecretId="ver", VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    assert s.get_secret_value(SecretId="ver", VersionStage="staged")["SecretString"] == "v3"
    got = s.get_secret_value(SecretId="ver", VersionId=v3)
    assert got["VersionStages"] == ["staged"] and got["VersionId"] == v3
    # Moving AWSCURRENT needs RemoveFromVersionId naming its holder.
    with pytest.raises(ClientError) as e:
        s.update_secret_version_stage(SecretId="ver", VersionStage="AWSCURRENT", MoveToVersionId=v3)
    assert code(e) == "InvalidParameterException"
    s.update_secret_version_stage(SecretId="ver", VersionStage="AWSCURRENT", MoveToVersionId=v3,
                                  RemoveFromVersionId=v2)
    stages = s.describe_secret(SecretId="ver")["VersionIdsToStages"]
    assert stages == {v2: ["AWSPREVIOUS"], v3: ["staged", "AWSCURRENT"]}
    with pytest.raises(ClientError) as e:
        s.update_secret_version_stage(SecretId="ver", VersionStage="AWSCURRENT", RemoveFromVersionId=v3)
    assert code(e) == "InvalidParameterException"
    s.update_secret_version_stage(SecretId="ver", VersionStage="staged", RemoveFromVersionId=v3)
    listed = s.list_secret_version_ids(SecretId="ver")
    assert {v["VersionId"] for v in listed["Versions"]} == {v2, v3}
    every = s.list_secret_version_ids(SecretId="ver", IncludeDeprecated=True)["Versions"]
    accessed = {v["VersionId"] for v in every if "LastAccessedDate" in v}
    assert accessed == {v1, v2, v3}
    assert "LastAccessedDate" in s.describe_secret(SecretId="ver")
    assert {v["VersionId"] for v in every} == {v1, v2, v3}
    assert all(v["KmsKeyIds"][0].startswith("arn:aws:kms:us-east-1:000000000000:key/") for v in every)
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="ver", VersionStage="NOSUCHSTAGE")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="ver", VersionId="f" * 36)
    assert code(e) == "ResourceNotFoundException"


def test_last_accessed_date_moves_once_a_day(endpoint):
    # GetSecretValue is answered from a snapshot unless LastAccessedDate has to move (once
    # a day); both ways answer the same and are recorded as read-only GetSecretValue.
    s = client(endpoint, "secretsmanager")
    ct = client(endpoint, "cloudtrail")
    s.create_secret(Name="daily", SecretString="v1")
    assert "LastAccessedDate" not in s.describe_secret(SecretId="daily")
    for _ in range(3):
        assert s.get_secret_value(SecretId="daily")["SecretString"] == "v1"
    first = s.describe_secret(SecretId="daily")["LastAccessedDate"]
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 2 * 86400})
    assert status == 200
    assert s.get_secret_value(SecretId="daily")["SecretString"] == "v1"
    later = s.describe_secret(SecretId="daily")["LastAccessedDate"]
    assert (later - first).days == 2
    listed = s.list_secret_version_ids(SecretId="daily")["Versions"]
    assert [v["LastAccessedDate"] for v in listed] == [later]
    # Errors from the snapshot path are AWS's, as from the write path.
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="no-such-secret")
    assert code(e) == "ResourceNotFoundException"
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}]
    )["Events"]
    assert len(events) == 5
    for ev in events:
        record = json.loads(ev["CloudTrailEvent"])
        assert record["readOnly"] is True and record["eventSource"] == "secretsmanager.amazonaws.com"
    assert sum("errorCode" in json.loads(ev["CloudTrailEvent"]) for ev in events) == 1


def test_batch_get_secret_value(endpoint):
    s = sm(endpoint)
    for n in ("batch/a", "batch/b"):
        s.create_secret(Name=n, SecretString=n.upper())
    r = s.batch_get_secret_value(SecretIdList=["batch/a", "batch/b", "batch/none"])
    assert sorted(v["SecretString"] for v in r["SecretValues"]) == ["BATCH/A", "BATCH/B"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in r["Errors"]] == [("batch/none", "ResourceNotFoundException")]
    r = s.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["batch/"]}], MaxResults=1)
    assert len(r["SecretValues"]) == 1 and r["NextToken"]
    # A user allowed the batch call but GetSecretValue on one secret only.
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:batch/a-??????"}]}
    ak, sk = make_user(endpoint, "batcher", policy)
    r = sm(endpoint, ak=ak, sk=sk).batch_get_secret_value(SecretIdList=["batch/a", "batch/b"])
    assert [v["Name"] for v in r["SecretValues"]] == ["batch/a"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in r["Errors"]] == [("batch/b", "AccessDeniedException")]


def test_delete_restore_and_recovery_window(endpoint):
    s = sm(endpoint)
    arn = s.create_secret(Name="gone", SecretString="x")["ARN"]
    with pytest.raises(ClientError) as e:
        s.delete_secret(SecretId="gone", RecoveryWindowInDays=6)
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        s.delete_secret(SecretId="gone", RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert code(e) == "InvalidParameterException"
    d = s.delete_secret(SecretId="gone")
    assert d["ARN"] == arn
    desc = s.describe_secret(SecretId="gone")
    assert (desc["DeletedDate"] - d["DeletionDate"]).total_seconds() == 0
    with pytest.raises(ClientError) as e:
        s.delete_secret(SecretId="gone")
    assert code(e) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="gone")
    assert code(e) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="gone", SecretString="y")
    assert code(e) == "InvalidRequestException"
    assert [x["Name"] for x in s.list_secrets()["SecretList"]] == []
    assert [x["Name"] for x in s.list_secrets(IncludePlannedDeletion=True)["SecretList"]] == ["gone"]
    s.restore_secret(SecretId="gone")
    assert s.get_secret_value(SecretId="gone")["SecretString"] == "x"
    # A 7-day window passes on the business clock: the secret is gone, the name free.
    s.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
    advance(endpoint, 8 * 86400)
    with pytest.raises(ClientError) as e:
        s.describe_secret(SecretId="gone")
    assert code(e) == "ResourceNotFoundException"
    new_arn = s.create_secret(Name="gone", SecretString="z")["ARN"]
    assert new_arn != arn
    # Forcing the deletion of a secret already scheduled frees its name at once.
    s.delete_secret(SecretId="gone")
    s.delete_secret(SecretId="gone", ForceDeleteWithoutRecovery=True)
    new_arn = s.create_secret(Name="gone", SecretString="z")["ARN"]
    s.delete_secret(SecretId="gone", ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as e:
        s.describe_secret(SecretId="gone")
    assert code(e) == "ResourceNotFoundException"
    # Forcing the deletion of a secret that is already gone, or never was, is no error
    # (DeleteSecret's documentation); without force it is.
    again = s.delete_secret(SecretId="gone", ForceDeleteWithoutRecovery=True)
    assert again["Name"] == "gone" and re.fullmatch(
        rf"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:gone-[A-Za-z0-9]{{6}}", again["ARN"]
    ), again
    by_arn = s.delete_secret(SecretId=new_arn, ForceDeleteWithoutRecovery=True)
    assert (by_arn["ARN"], by_arn["Name"]) == (new_arn, "gone")
    with pytest.raises(ClientError) as e:
        s.delete_secret(SecretId="never-was")
    assert code(e) == "ResourceNotFoundException"


def test_get_random_password(endpoint, aws_cli):
    s = sm(endpoint)
    p = s.get_random_password()["RandomPassword"]
    assert len(p) == 32
    for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation):
        assert any(c in cls for c in p)
    p = s.get_random_password(PasswordLength=60, ExcludePunctuation=True, ExcludeCharacters="aeiou",
                              IncludeSpace=True)["RandomPassword"]
    assert len(p) == 60 and " " in p
    assert not any(c in string.punctuation or c in "aeiou" for c in p)
    p = s.get_random_password(PasswordLength=20, ExcludeNumbers=True, ExcludeUppercase=True,
                              ExcludeLowercase=True)["RandomPassword"]
    assert all(c in string.punctuation for c in p)
    with pytest.raises(ClientError) as e:
        s.get_random_password(ExcludeNumbers=True, ExcludeUppercase=True, ExcludeLowercase=True,
                              ExcludePunctuation=True)
    assert code(e) == "InvalidParameterException"
    rc, out, err = aws_cli("secretsmanager", "get-random-password", "--password-length", "12",
                           "--require-each-included-type")
    assert rc == 0, err
    assert len(json.loads(out)["RandomPassword"]) == 12


def test_thirty_day_rotation_with_the_random_password_rotator(endpoint):
    s = sm(endpoint)
    v1 = s.create_secret(Name="pettracker/prod/db-credentials", SecretString=json.dumps(DB))["VersionId"]
    r = s.rotate_secret(SecretId="pettracker/prod/db-credentials", RotationLambdaARN=RANDOM_ROTATOR,
                        RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    assert "VersionId" not in r
    d = s.describe_secret(SecretId="pettracker/prod/db-credentials")
    assert d["RotationEnabled"] is True and d["RotationLambdaARN"] == RANDOM_ROTATOR
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert "NextRotationDate" in d and "LastRotatedDate" not in d
    advance(endpoint, 29 * 86400)
    assert json.loads(s.get_secret_value(SecretId="pettracker/prod/db-credentials")["SecretString"]) == DB
    advance(endpoint, 2 * 86400)
    cur = s.get_secret_value(SecretId="pettracker/prod/db-credentials")
    new = json.loads(cur["SecretString"])
    assert cur["VersionId"] != v1
    assert new["password"] != DB["password"] and len(new["password"]) == 32
    assert {k: v for k, v in new.items() if k != "password"} == {k: v for k, v in DB.items() if k != "password"}
    prev = s.get_secret_value(SecretId="pettracker/prod/db-credentials", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == v1 and json.loads(prev["SecretString"]) == DB
    d = s.describe_secret(SecretId="pettracker/prod/db-credentials")
    assert "LastRotatedDate" in d
    assert d["VersionIdsToStages"] == {cur["VersionId"]: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    assert len(events(endpoint, "RotationStarted")) == 1
    ev = events(endpoint, "RotationSucceeded")
    assert len(ev) == 1
    record = json.loads(ev[0]["CloudTrailEvent"])
    assert record["eventType"] == "AwsServiceEvent" and record["eventSource"] == "secretsmanager.amazonaws.com"
    assert record["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert record["resources"][0]["ARN"] == d["ARN"]
    assert new["password"] not in ev[0]["CloudTrailEvent"]
    # The next rotation is 30 days on; CancelRotateSecret stops the schedule.
    s.cancel_rotate_secret(SecretId="pettracker/prod/db-credentials")
    advance(endpoint, 31 * 86400)
    assert s.get_secret_value(SecretId="pettracker/prod/db-credentials")["VersionId"] == cur["VersionId"]
    assert s.describe_secret(SecretId="pettracker/prod/db-credentials")["RotationEnabled"] is False


def test_rotate_immediately_and_unknown_lambda_fails_visibly(endpoint):
    s = sm(endpoint)
    s.create_secret(Name="plain", SecretString="not-json")
    r = s.rotate_secret(SecretId="plain", RotationLambdaARN=RANDOM_ROTATOR,
                        RotationRules={"ScheduleExpression": "rate(10 days)", "Duration": "2h"})
    cur = s.get_secret_value(SecretId="plain")
    assert cur["VersionId"] == r["VersionId"] and len(cur["SecretString"]) == 32
    assert s.get_secret_value(SecretId="plain", VersionStage="AWSPREVIOUS")["SecretString"] == "not-json"
    with pytest.raises(ClientError) as e:
        s.rotate_secret(SecretId="plain", RotationRules={"AutomaticallyAfterDays": 1,
                                                           "ScheduleExpression": "rate(1 days)"})
    assert code(e) == "InvalidParameterException"
    s.create_secret(Name="nolambda", SecretString="v")
    with pytest.raises(ClientError) as e:
        s.rotate_secret(SecretId="nolambda")
    assert code(e) == "InvalidRequestException"
    # A function Secrets Manager cannot invoke (neither a built-in rotator nor a registered
    # hook) fails the call, as on AWS, and configures nothing: with or without rotating now.
    before = s.get_secret_value(SecretId="nolambda")["VersionId"]
    for other in (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-own-rotator",
                  f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:palisade-rotation-no-such-rotator"):
        for now in (True, False):
            with pytest.raises(ClientError) as e:
                s.rotate_secret(SecretId="nolambda", RotationLambdaARN=other, RotateImmediately=now,
                                RotationRules={"AutomaticallyAfterDays": 1})
            assert code(e) == "AccessDeniedException"
            assert "cannot invoke the specified Lambda function" in e.value.response["Error"]["Message"]
    assert s.get_secret_value(SecretId="nolambda")["VersionId"] == before
    d = s.describe_secret(SecretId="nolambda")
    assert "RotationLambdaARN" not in d and not d.get("RotationEnabled")
    assert list(d["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
    assert events(endpoint, "RotationFailed") == []
    # AWSPENDING left on another version means a rotation in progress: RotateSecret refuses.
    s.create_secret(Name="pending", SecretString="a")
    s.put_secret_value(SecretId="pending", SecretString="b", VersionStages=["AWSPENDING"])
    with pytest.raises(ClientError) as e:
        s.rotate_secret(SecretId="pending", RotationLambdaARN=RANDOM_ROTATOR,
                        RotationRules={"AutomaticallyAfterDays": 1})
    assert code(e) == "InvalidRequestException"
    # The rotation calls are in CloudTrail too.
    assert events(endpoint, "RotateSecret")


def test_iam_access_key_rotator(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="ci-deployer")
    key = iam.create_access_key(UserName="ci-deployer")["AccessKey"]
    s = sm(endpoint)
    value = {"UserName": "ci-deployer", "AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    s.create_secret(Name="ci/deployer-key", SecretString=json.dumps(value))
    s.rotate_secret(SecretId="ci/deployer-key", RotationLambdaARN=IAM_ROTATOR,
                    RotationRules={"AutomaticallyAfterDays": 90})
    new = json.loads(s.get_secret_value(SecretId="ci/deployer-key")["SecretString"])
    assert new["UserName"] == "ci-deployer" and new["AccessKeyId"] != key["AccessKeyId"]
    keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="ci-deployer")["AccessKeyMetadata"]}
    assert keys == {key["AccessKeyId"]: "Inactive", new["AccessKeyId"]: "Active"}
    sts = client(endpoint, "sts", ak=new["AccessKeyId"], sk=new["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(":user/ci-deployer")
    with pytest.raises(ClientError):
        client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"]).get_caller_identity()
    # 90 days later it rotates again: the retired key is deleted to make room.
    advance(endpoint, 91 * 86400)
    newer = json.loads(s.get_secret_value(SecretId="ci/deployer-key")["SecretString"])
    assert newer["AccessKeyId"] not in (key["AccessKeyId"], new["AccessKeyId"])
    keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="ci-deployer")["AccessKeyMetadata"]}
    assert keys == {new["AccessKeyId"]: "Inactive", newer["AccessKeyId"]: "Active"}
    # A user that does not exist: the rotation fails and AWSCURRENT stays.
    s.create_secret(Name="ci/ghost", SecretString=json.dumps({**value, "UserName": "ghost"}))
    v = s.get_secret_value(SecretId="ci/ghost")["VersionId"]
    s.rotate_secret(SecretId="ci/ghost", RotationLambdaARN=IAM_ROTATOR, RotationRules={"AutomaticallyAfterDays": 30})
    assert s.get_secret_value(SecretId="ci/ghost")["VersionId"] == v
    assert len(events(endpoint, "RotationFailed")) == 1


def make_user(endpoint, name, policy):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_a_secret_named_without_its_suffix_is_authorized_against_its_full_arn(endpoint):
    """AWS resolves a secret's name to its ARN before evaluating policies, so a policy naming
    the full ARN (random suffix included) applies however the caller names the secret."""
    s = sm(endpoint)
    db = s.create_secret(Name="pettracker/prod/db", SecretString="db-pass")["ARN"]
    other = s.create_secret(Name="pettracker/prod/api", SecretString="api-key")["ARN"]
    assert re.fullmatch(r".*:secret:pettracker/prod/db-[A-Za-z0-9]{6}", db)
    exact = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": db}]}
    ak, sk = make_user(endpoint, "db-reader", exact)
    user = sm(endpoint, ak=ak, sk=sk)
    assert user.get_secret_value(SecretId="pettracker/prod/db")["SecretString"] == "db-pass"
    assert user.get_secret_value(SecretId=db)["SecretString"] == "db-pass"
    assert user.describe_secret(SecretId="pettracker/prod/db")["ARN"] == db
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/api")
    assert code(e) == "AccessDeniedException"
    # The denial names the secret's real ARN, as AWS's does.
    assert other in e.value.response["Error"]["Message"]
    # AWS's documented pattern for "this secret, whatever its suffix" matches too.
    pattern = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pettracker/prod/api-??????"}]}
    ak, sk = make_user(endpoint, "api-reader", pattern)
    assert sm(endpoint, ak=ak, sk=sk).get_secret_value(SecretId="pettracker/prod/api")["SecretString"] == "api-key"
    # A secret that does not exist is still refused before anything is read.
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/none")
    assert code(e) == "AccessDeniedException"
    # A Deny on the full ARN holds however the secret is named: by name, partial ARN, ARN.
    deny_db = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": db}]}
    ak, sk = make_user(endpoint, "not-db", deny_db)
    not_db = sm(endpoint, ak=ak, sk=sk)
    for secret_id in ("pettracker/prod/db", db[: -len("-abcdef")], db):
        with pytest.raises(ClientError) as e:
            not_db.get_secret_value(SecretId=secret_id)
        assert code(e) == "AccessDeniedException", secret_id
    assert not_db.get_secret_value(SecretId=other)["SecretString"] == "api-key"


def test_kms_decrypt_is_enforced_for_customer_keys(endpoint):
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]
    s = sm(endpoint)
    s.create_secret(Name="pettracker/prod/api-key", SecretString="cmk-protected", KmsKeyId=key["KeyId"])
    s.create_secret(Name="pettracker/prod/default-key", SecretString="managed-key-protected")
    assert s.describe_secret(SecretId="pettracker/prod/api-key")["KmsKeyId"] == key["KeyId"]
    read_only = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:pettracker/*"}]}
    ak, sk = make_user(endpoint, "app", read_only)
    user = sm(endpoint, ak=ak, sk=sk)
    # The AWS managed key's policy lets the account's principals use it via Secrets Manager.
    assert user.get_secret_value(SecretId="pettracker/prod/default-key")["SecretString"] == "managed-key-protected"
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/api-key")
    assert code(e) == "AccessDeniedException"
    assert "kms:Decrypt" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        user.describe_secret(SecretId="pettracker/prod/api-key")
    assert code(e) == "AccessDeniedException"
    # Granting kms:Decrypt on the key (via Secrets Manager only) opens it.
    with_kms = {"Version": "2012-10-17", "Statement": read_only["Statement"] + [{
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"],
        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}}}]}
    client(endpoint, "iam").put_user_policy(UserName="app", PolicyName="p", PolicyDocument=json.dumps(with_kms))
    assert user.get_secret_value(SecretId="pettracker/prod/api-key")["SecretString"] == "cmk-protected"
    # The same user cannot call kms:Decrypt directly (not via the service).
    kms_user = client(endpoint, "kms", ak=ak, sk=sk)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms_user.decrypt(CiphertextBlob=blob)
    assert code(e) == "AccessDeniedException"
    # Disabled key: DecryptionFailure-class error, not the value.
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        s.get_secret_value(SecretId="pettracker/prod/api-key")
    assert code(e) == "DecryptionFailure"


def test_resource_policies(endpoint):
    s = sm(endpoint)
    arn = s.create_secret(Name="shared", SecretString="v")["ARN"]
    assert "ResourcePolicy" not in s.get_resource_policy(SecretId="shared")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    s.put_resource_policy(SecretId="shared", ResourcePolicy=json.dumps(policy), BlockPublicPolicy=True)
    got = s.get_resource_policy(SecretId="shared")
    assert got["ARN"] == arn and json.loads(got["ResourcePolicy"]) == policy
    public = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    with pytest.raises(ClientError) as e:
        s.put_resource_policy(SecretId="shared", ResourcePolicy=json.dumps(public), BlockPublicPolicy=True)
    assert code(e) == "PublicPolicyException"
    with pytest.raises(ClientError) as e:
        s.put_resource_policy(SecretId="shared", ResourcePolicy="{not json")
    assert code(e) == "MalformedPolicyDocumentException"
    ok = s.validate_resource_policy(ResourcePolicy=json.dumps(policy))
    assert ok["PolicyValidationPassed"] is True and ok["ValidationErrors"] == []
    bad = s.validate_resource_policy(SecretId="shared", ResourcePolicy="{not json")
    assert bad["PolicyValidationPassed"] is False and bad["ValidationErrors"]
    s.delete_resource_policy(SecretId="shared")
    assert "ResourcePolicy" not in s.get_resource_policy(SecretId="shared")


def test_bad_input(endpoint):
    raw = sm(endpoint, validate=False)
    s = sm(endpoint)
    with pytest.raises(ClientError) as e:
        raw.create_secret(Name="big", SecretString="x" * 65537)
    assert code(e) == "ValidationException"
    s.create_secret(Name="big", SecretString="x" * 65536)
    assert len(s.get_secret_value(SecretId="big")["SecretString"]) == 65536
    with pytest.raises(ClientError) as e:
        raw.put_secret_value(SecretId="big", SecretString="y" * 65537)
    assert code(e) == "ValidationException"
    assert len(s.list_secret_version_ids(SecretId="big")["Versions"]) == 1
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="k", SecretString="v", KmsKeyId="alias/no-such-key")
    assert code(e) == "InvalidParameterException"
    assert "invalid KMS key" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="k", KmsKeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        s.describe_secret(SecretId="k")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="bad name!", SecretString="v")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        raw.create_secret(Name="both", SecretString="v", SecretBinary=b"v")
    assert code(e) == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        raw.create_secret(Name="empty", SecretString="")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        raw.list_secrets(SortBy="size")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        raw.get_secret_value(SecretId="big", VersionStage="")
    assert code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        s.put_secret_value(SecretId="big", SecretString="v", VersionStages=["x" * 257])
    assert code(e) in ("ValidationException", "ParamValidationError")


def test_cloudtrail_never_records_secret_values(endpoint):
    s = sm(endpoint)
    s.create_secret(Name="audited", SecretString="TOP-SECRET-VALUE-1")
    s.put_secret_value(SecretId="audited", SecretString="TOP-SECRET-VALUE-2")
    s.get_secret_value(SecretId="audited")
    for name in ("CreateSecret", "PutSecretValue", "GetSecretValue"):
        ev = events(endpoint, name)
        assert ev, name
        text = ev[0]["CloudTrailEvent"]
        assert "TOP-SECRET-VALUE" not in text and "secretString" not in text
        record = json.loads(text)
        assert record["eventSource"] == "secretsmanager.amazonaws.com"
        assert record["readOnly"] is (name == "GetSecretValue")
    create = json.loads(events(endpoint, "CreateSecret")[0]["CloudTrailEvent"])
    assert create["requestParameters"]["name"] == "audited"
    assert create["responseElements"]["arn"].startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:audited-")


def test_scheduler_rotates_on_wall_time_too(endpoint):
    """A rotation that falls due while the business clock just runs (no admin change) is
    picked up by the server's ~1 s scheduler tick."""
    s = sm(endpoint)
    status, _ = admin(endpoint, "/_palisade/clock", {"set": "2030-05-01T12:00:00Z"})
    assert status == 200
    v1 = s.create_secret(Name="ticking", SecretString="old")["VersionId"]
    s.rotate_secret(SecretId="ticking", RotationLambdaARN=RANDOM_ROTATOR,
                    RotationRules={"AutomaticallyAfterDays": 1}, RotateImmediately=False)
    # The window opens at midnight UTC: due two seconds from now.
    status, _ = admin(endpoint, "/_palisade/clock", {"set": "2030-05-01T23:59:58Z"})
    assert status == 200
    assert s.get_secret_value(SecretId="ticking")["VersionId"] == v1
    deadline = time.time() + 15
    while time.time() < deadline:
        if s.get_secret_value(SecretId="ticking")["VersionId"] != v1:
            break
        time.sleep(0.2)
    cur = s.get_secret_value(SecretId="ticking")
    assert cur["VersionId"] != v1 and cur["SecretString"] != "old"


def test_data_dir_holds_no_plaintext_secret(tmp_path):
    server = Server(tmp_path / "data", env_extra=root_env())
    plain = "PLAINTEXT-CANARY-7f3a9c"
    try:
        s = sm(server.endpoint)
        s.create_secret(Name="canary", SecretString=json.dumps({"password": plain}))
        s.put_secret_value(SecretId="canary", SecretBinary=(plain + "-bin").encode())
        kms = client(server.endpoint, "kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        s.create_secret(Name="canary-cmk", SecretString=plain + "-cmk", KmsKeyId=key)
        assert s.get_secret_value(SecretId="canary-cmk")["SecretString"] == plain + "-cmk"
    finally:
        assert server.stop() == 0
    needles = [plain.encode(), base64.b64encode(plain.encode())[:16]]
    scanned = 0
    for root, _, files in os.walk(tmp_path / "data"):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            scanned += len(data)
            for n in needles:
                assert n not in data, f"{n!r} found in {f}"
    assert scanned > 0


def test_hundred_versions_limit_and_pruning(endpoint):
    s = sm(endpoint)
    first = s.create_secret(Name="many", SecretString="0")["VersionId"]
    for i in range(1, 100):
        s.put_secret_value(SecretId="many", SecretString=str(i))
    assert len(s.list_secret_version_ids(SecretId="many", IncludeDeprecated=True)["Versions"]) == 100
    # Unlabelled versions younger than 24 hours are kept: the 101st is refused, nothing added.
    with pytest.raises(ClientError) as e:
        s.put_secret_value(SecretId="many", SecretString="100")
    assert code(e) == "LimitExceededException"
    assert s.get_secret_value(SecretId="many")["SecretString"] == "99"
    advance(endpoint, 25 * 3600)
    s.put_secret_value(SecretId="many", SecretString="100")
    versions = s.list_secret_version_ids(SecretId="many", IncludeDeprecated=True)["Versions"]
    assert len(versions) == 100
    assert first not in {v["VersionId"] for v in versions}
    assert s.get_secret_value(SecretId="many", VersionStage="AWSPREVIOUS")["SecretString"] == "99"


def test_resource_policy_is_enforced(endpoint):
    """A secret's own policy grants and denies, together with IAM (same account: the
    resource policy alone may grant; an explicit deny there beats an IAM allow)."""
    s = sm(endpoint)
    s.create_secret(Name="pettracker/prod/db-credentials", SecretString='{"password":"p"}')
    s.create_secret(Name="pettracker/prod/other", SecretString="o")
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}
    ak, sk = make_user(endpoint, "reader", nothing)
    user = sm(endpoint, ak=ak, sk=sk)
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/db-credentials")
    assert code(e) == "AccessDeniedException"
    grant = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/reader"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    s.put_resource_policy(SecretId="pettracker/prod/db-credentials", ResourcePolicy=json.dumps(grant))
    assert json.loads(user.get_secret_value(SecretId="pettracker/prod/db-credentials")["SecretString"]) == {"password": "p"}
    # The grant is this secret's only.
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/other")
    assert code(e) == "AccessDeniedException"
    # An explicit deny in the secret's policy beats an IAM allow.
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}
    client(endpoint, "iam").put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps(allow_all))
    deny = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/reader"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    s.put_resource_policy(SecretId="pettracker/prod/db-credentials", ResourcePolicy=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        user.get_secret_value(SecretId="pettracker/prod/db-credentials")
    assert code(e) == "AccessDeniedException"
    assert "explicit deny in a resource-based policy" in e.value.response["Error"]["Message"]
    assert user.get_secret_value(SecretId="pettracker/prod/other")["SecretString"] == "o"


def test_create_with_tags_needs_tag_resource_and_delete_options_are_conditions(endpoint):
    """AWS: CreateSecret with Tags also needs secretsmanager:TagResource; DeleteSecret's
    ForceDeleteWithoutRecovery and RecoveryWindowInDays are condition keys, so a guardrail
    can forbid deletions without a recovery window."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret"], "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
         "Condition": {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}},
        {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
         "Condition": {"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": "14"}}}]}
    ak, sk = make_user(endpoint, "secret-maker", policy)
    user = sm(endpoint, ak=ak, sk=sk)
    with pytest.raises(ClientError) as e:
        user.create_secret(Name="tagged", SecretString="x", Tags=[{"Key": "team", "Value": "pets"}])
    assert code(e) == "AccessDeniedException" and "secretsmanager:TagResource" in e.value.response["Error"]["Message"]
    user.create_secret(Name="plain", SecretString="x")
    for kwargs in ({"ForceDeleteWithoutRecovery": True}, {"RecoveryWindowInDays": 7}):
        with pytest.raises(ClientError) as e:
            user.delete_secret(SecretId="plain", **kwargs)
        assert code(e) == "AccessDeniedException", kwargs
    assert user.delete_secret(SecretId="plain", RecoveryWindowInDays=30)["Name"] == "plain"


def test_a_customer_key_needs_generate_data_key_and_decrypt_and_batch_filters_need_list(endpoint):
    """AWS: storing a value under a customer managed key needs kms:GenerateDataKey and
    kms:Decrypt on it; BatchGetSecretValue with Filters also needs ListSecrets;
    ValidateResourcePolicy also needs PutResourcePolicy."""
    key = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    base = [{"Effect": "Allow", "Action": ["secretsmanager:CreateSecret", "secretsmanager:BatchGetSecretValue",
                                           "secretsmanager:GetSecretValue", "secretsmanager:ValidateResourcePolicy"],
             "Resource": "*"}]
    ak, sk = make_user(endpoint, "gdk-only", {"Version": "2012-10-17", "Statement": base + [
        {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}]})
    user = sm(endpoint, ak=ak, sk=sk)
    with pytest.raises(ClientError) as e:
        user.create_secret(Name="cmk", SecretString="x", KmsKeyId=key)
    assert code(e) == "AccessDeniedException" and "kms:Decrypt" in e.value.response["Error"]["Message"]
    sm(endpoint).create_secret(Name="plain", SecretString="x")
    with pytest.raises(ClientError) as e:
        user.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["plain"]}])
    assert "secretsmanager:ListSecrets" in e.value.response["Error"]["Message"]
    assert user.batch_get_secret_value(SecretIdList=["plain"])["SecretValues"][0]["SecretString"] == "x"
    with pytest.raises(ClientError) as e:
        user.validate_resource_policy(ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": []}))
    assert "secretsmanager:PutResourcePolicy" in e.value.response["Error"]["Message"]


def test_changing_the_kms_key_reseals_labelled_versions_and_keeps_the_old_ciphertext(endpoint):
    """AWS: UpdateSecret with a new KmsKeyId re-encrypts AWSCURRENT, AWSPENDING and AWSPREVIOUS
    under the new key and keeps them encrypted under the previous one too, so either key
    decrypts them; other versions keep their key. Without kms:Decrypt on the old key or
    kms:Encrypt on the new one, nothing is re-encrypted and the update still succeeds."""
    kms = client(endpoint, "kms")
    old = kms.create_key()["KeyMetadata"]["Arn"]
    new = kms.create_key()["KeyMetadata"]["Arn"]
    s = sm(endpoint)
    s.create_secret(Name="rekey", SecretString="v1", KmsKeyId=old)
    s.put_secret_value(SecretId="rekey", SecretString="v2")
    v3 = s.put_secret_value(SecretId="rekey", SecretString="v3")["VersionId"]  # v1 loses its labels
    s.update_secret(SecretId="rekey", KmsKeyId=new)
    assert s.describe_secret(SecretId="rekey")["KmsKeyId"] == new
    versions = {v["VersionId"]: v for v in s.list_secret_version_ids(SecretId="rekey", IncludeDeprecated=True)["Versions"]}
    labelled = [v for v in versions.values() if v.get("VersionStages")]
    assert len(labelled) == 2 and all(v["KmsKeyIds"] == [new, old] for v in labelled)
    assert [v["KmsKeyIds"] for v in versions.values() if not v.get("VersionStages")] == [[old]]

    # A reader with kms:Decrypt on either key alone reads the labelled versions.
    read = [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]
    for name, key in (("reads-with-new", new), ("reads-with-old", old)):
        ak, sk = make_user(endpoint, name, {"Version": "2012-10-17", "Statement": read + [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]})
        reader = sm(endpoint, ak=ak, sk=sk)
        assert reader.get_secret_value(SecretId="rekey")["VersionId"] == v3
        assert reader.get_secret_value(SecretId="rekey", VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    # Neither key: the current key's refusal.
    ak, sk = make_user(endpoint, "reads-with-none", {"Version": "2012-10-17", "Statement": read})
    with pytest.raises(ClientError) as e:
        sm(endpoint, ak=ak, sk=sk).get_secret_value(SecretId="rekey")
    assert code(e) == "AccessDeniedException" and new in e.value.response["Error"]["Message"]

    # A caller who may not encrypt with the third key changes the key but reseals nothing.
    third = kms.create_key()["KeyMetadata"]["Arn"]
    ak, sk = make_user(endpoint, "rekeyer", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:UpdateSecret", "secretsmanager:ListSecretVersionIds"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": [new, old]}]})
    rekeyer = sm(endpoint, ak=ak, sk=sk)
    rekeyer.update_secret(SecretId="rekey", KmsKeyId=third)
    after = rekeyer.list_secret_version_ids(SecretId="rekey")["Versions"]
    assert all(v["KmsKeyIds"] == [new, old] for v in after)
    assert s.get_secret_value(SecretId="rekey")["SecretString"] == "v3"
    # The next value is sealed under the third key.
    s.put_secret_value(SecretId="rekey", SecretString="v4")
    current = [v for v in s.list_secret_version_ids(SecretId="rekey")["Versions"] if "AWSCURRENT" in v["VersionStages"]]
    assert current[0]["KmsKeyIds"] == [third]


def test_kms_use_by_secrets_manager_and_ssm_is_in_cloudtrail(endpoint):
    """KMS logs the requests Secrets Manager and SSM make for a caller: the caller's
    identity with invokedBy the service, which is also the source address and user agent
    (the seed's CloudTrail filters rely on invokedBy)."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
            "secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader_sm = sm(endpoint, ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    reader_ssm = client(endpoint, "ssm", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    s = sm(endpoint)
    arn = s.create_secret(Name="pettracker/db", SecretString="pw")["ARN"]
    client(endpoint, "ssm").put_parameter(Name="/pettracker/db", Value="pw", Type="SecureString")
    assert reader_sm.get_secret_value(SecretId="pettracker/db")["SecretString"] == "pw"
    assert reader_ssm.get_parameter(Name="/pettracker/db", WithDecryption=True)["Parameter"]["Value"] == "pw"

    def kms_events(name):
        out = []
        for e in events(endpoint, name):
            ev = json.loads(e["CloudTrailEvent"])
            if ev["eventSource"] == "kms.amazonaws.com":
                out.append(ev)
        return out

    created = [e for e in kms_events("GenerateDataKey")
               if e["userIdentity"].get("invokedBy") == "secretsmanager.amazonaws.com"]
    assert created and created[0]["userIdentity"]["arn"].endswith(":root")
    assert created[0]["requestParameters"]["encryptionContext"]["SecretARN"] == arn
    assert len(created) == 1
    reads = [e for e in kms_events("Decrypt") if e["userIdentity"]["arn"].endswith(":user/reader")]
    # Exactly one each: the first read of the day moves LastAccessedDate (a write after a
    # snapshot try) and is still one KMS request.
    assert sorted(e["userIdentity"]["invokedBy"] for e in reads) == [
        "secretsmanager.amazonaws.com", "ssm.amazonaws.com"]
    decrypts = {e["userIdentity"]["invokedBy"]: e for e in reads}
    for by, ev in decrypts.items():
        assert ev["sourceIPAddress"] == by and ev["userAgent"] == by
        assert ev["readOnly"] is True and "errorCode" not in ev
        assert ev["resources"][0]["type"] == "AWS::KMS::Key"
        assert ev["resources"][0]["ARN"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert decrypts["secretsmanager.amazonaws.com"]["requestParameters"]["encryptionContext"]["SecretARN"] == arn
    # The caller's own events stay the service's, without invokedBy.
    own = [json.loads(e["CloudTrailEvent"]) for e in events(endpoint, "GetSecretValue")]
    assert own and all("invokedBy" not in ev["userIdentity"] for ev in own)
    # A denied use is logged too, with its error: a customer managed key whose default
    # policy leaves it to IAM, and a reader without kms:Decrypt.
    cmk = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    s.create_secret(Name="pettracker/api", SecretString="k", KmsKeyId=cmk)
    iam.delete_user_policy(UserName="reader", PolicyName="p")
    iam.put_user_policy(UserName="reader", PolicyName="q", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                "Resource": "*"}]}))
    with pytest.raises(ClientError):
        reader_sm.get_secret_value(SecretId="pettracker/api")
    denied = [e for e in kms_events("Decrypt") if "errorCode" in e]
    assert denied and denied[0]["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    # A key KMS refuses to use (disabled) fails the read, and KMS's request is logged too.
    client(endpoint, "kms").disable_key(KeyId=cmk)
    with pytest.raises(ClientError):
        s.get_secret_value(SecretId="pettracker/api")
    disabled = [e for e in kms_events("Decrypt") if e.get("errorCode") and e["userIdentity"]["arn"].endswith(":root")]
    assert len(disabled) == 1 and disabled[0]["resources"][0]["ARN"] == cmk
    # So is a request on a key KMS cannot find: deleted once its waiting period passed on
    # the business clock, or never created.
    client(endpoint, "kms").schedule_key_deletion(KeyId=cmk, PendingWindowInDays=7)
    advance(endpoint, 8 * 86400)
    with pytest.raises(ClientError):
        s.get_secret_value(SecretId="pettracker/api")
    gone = [e for e in kms_events("Decrypt") if e.get("errorCode") == "NotFoundException"]
    assert len(gone) == 1, gone
    assert gone[0]["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
    assert [r["ARN"] for r in gone[0]["resources"]] == [cmk]
    missing = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientError):
        s.create_secret(Name="pettracker/none", SecretString="x", KmsKeyId=missing)
    nokey = [e for e in kms_events("GenerateDataKey") if e.get("errorCode") == "NotFoundException"]
    assert len(nokey) == 1 and nokey[0]["requestParameters"]["keyId"] == missing
    assert [r["ARN"] for r in nokey[0]["resources"]] == [missing]
    assert nokey[0]["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"


def test_lengths_count_utf16_units_as_the_model_does(endpoint):
    # 20 characters outside the Basic Multilingual Plane are 40 UTF-16 units: within
    # ClientRequestToken's 32..64, as AWS (Java) counts.
    sm = client(endpoint, "secretsmanager", validate=False)
    token = "\U0001F511" * 20
    made = sm.create_secret(Name="emoji-token", SecretString="v", ClientRequestToken=token)
    assert made["VersionId"] == token
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name="emoji-token-2", SecretString="v", ClientRequestToken="\U0001F511" * 15)
    assert e.value.response["Error"]["Code"] == "ValidationException"
