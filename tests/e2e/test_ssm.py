"""SSM Parameter Store with boto3 and the aws CLI: hierarchy, versions and labels,
SecureString through KMS (and its denial), tiers, policies on the business clock, tags,
filters and paging, AWS's errors for bad input, CloudTrail without secret values."""

import base64
import datetime
import json
import os
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, admin, client

REGION = "us-east-1"


def arn(name):
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def put(ssm, name, value, type_="String", **kw):
    return ssm.put_parameter(Name=name, Value=value, Type=type_, **kw)


def iam_user(endpoint, name, policy):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


# ---------------------------------------------------------------- the seed


def test_seed_quick_reference_get_parameter_verbatim(endpoint, aws_cli):
    # (aws CLI v1 would fetch a URL given as --value, so boto3 stores it.)
    ssm = client(endpoint, "ssm")
    r = ssm.put_parameter(Name="/pettracker/prod/api-url", Value="https://api.pettracker.example.com/v1",
                          Type="SecureString")
    assert (r["Version"], r["Tier"]) == (1, "Standard")
    # Seed 000, as printed.
    rc, out, err = aws_cli(
        "ssm", "get-parameter", "--name", "/pettracker/prod/api-url", "--with-decryption",
        "--query", "Parameter.Value", "--output", "text",
    )
    assert rc == 0, err
    assert out == "https://api.pettracker.example.com/v1\n"


# ---------------------------------------------------------------- String / StringList


def test_put_get_string_and_stringlist(endpoint):
    ssm = client(endpoint, "ssm")
    before = time.time()
    r = put(ssm, "/app/dev/url", "http://x")
    assert (r["Version"], r["Tier"]) == (1, "Standard")
    p = ssm.get_parameter(Name="/app/dev/url")["Parameter"]
    assert p["Name"] == "/app/dev/url"
    assert p["Type"] == "String"
    assert p["Value"] == "http://x"
    assert p["Version"] == 1
    assert p["ARN"] == arn("/app/dev/url")
    assert p["DataType"] == "text"
    assert abs(p["LastModifiedDate"].timestamp() - before) < 120
    assert "Selector" not in p

    put(ssm, "plain-name", "a,b,c", "StringList")
    p = ssm.get_parameter(Name="plain-name")["Parameter"]
    assert (p["Type"], p["Value"], p["ARN"]) == ("StringList", "a,b,c", arn("plain-name"))

    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, "/app/dev/url", "again")
    assert code_of(e) == "ParameterAlreadyExists"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Overwrite without Type keeps the type; the version goes up.
    r = ssm.put_parameter(Name="/app/dev/url", Value="http://y", Overwrite=True)
    assert r["Version"] == 2 and r["Tier"] == "Standard"
    p = ssm.get_parameter(Name="/app/dev/url")["Parameter"]
    assert (p["Type"], p["Value"], p["Version"]) == ("String", "http://y", 2)

    # Tags and Overwrite together are refused, as AWS.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/app/dev/url", Value="z", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}])
    assert code_of(e) == "ValidationException"
    assert "tags and overwrite can't be used together" in str(e.value)

    # A type change is a hierarchy type mismatch.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/app/dev/url", Value="z", Type="StringList", Overwrite=True)
    assert code_of(e) == "HierarchyTypeMismatchException"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name="/app/dev/nope")
    assert code_of(e) == "ParameterNotFound"
    assert e.value.response["Error"]["Message"] == ""

    # Parameters are regional.
    west = client(endpoint, "ssm", region="eu-west-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        west.get_parameter(Name="/app/dev/url")
    assert code_of(e) == "ParameterNotFound"
    west.put_parameter(Name="/app/dev/url", Value="west", Type="String")
    p = west.get_parameter(Name="/app/dev/url")["Parameter"]
    assert (p["Value"], p["ARN"]) == ("west", f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/app/dev/url")
    assert ssm.get_parameter(Name="/app/dev/url")["Parameter"]["Value"] == "http://y"


def test_get_parameters_reports_invalid_names(endpoint):
    ssm = client(endpoint, "ssm")
    put(ssm, "/a/one", "1")
    put(ssm, "/a/two", "2")
    ssm.put_parameter(Name="/a/two", Value="2b", Overwrite=True)
    r = ssm.get_parameters(Names=["/a/one", "/a/missing", "/a/two:1", "/a/two:9"])
    got = {p["Name"] + p.get("Selector", ""): p["Value"] for p in r["Parameters"]}
    assert got == {"/a/one": "1", "/a/two:1": "2"}
    assert sorted(r["InvalidParameters"]) == ["/a/missing", "/a/two:9"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters(Names=[f"/a/{i}" for i in range(11)])
    assert code_of(e) == "ValidationException"


# ---------------------------------------------------------------- hierarchy


def test_get_parameters_by_path_recursive_and_one_level(endpoint):
    ssm = client(endpoint, "ssm")
    for n in ["/pettracker/prod/api-url", "/pettracker/prod/db/host", "/pettracker/prod/db/port",
              "/pettracker/dev/api-url", "/pettracker/production", "/other/x"]:
        put(ssm, n, "v:" + n)
    put(ssm, "/pettracker/prod/db/password", "s3cret", "SecureString")

    names = lambda ps: sorted(p["Name"] for p in ps)
    one = ssm.get_parameters_by_path(Path="/pettracker/prod")["Parameters"]
    assert names(one) == ["/pettracker/prod/api-url"]
    rec = ssm.get_parameters_by_path(Path="/pettracker/prod/", Recursive=True)["Parameters"]
    assert names(rec) == ["/pettracker/prod/api-url", "/pettracker/prod/db/host",
                          "/pettracker/prod/db/password", "/pettracker/prod/db/port"]
    # SecureString values come back encrypted unless decryption is asked for.
    pw = [p for p in rec if p["Name"].endswith("password")][0]
    assert pw["Value"] != "s3cret"
    rec = ssm.get_parameters_by_path(Path="/pettracker/prod", Recursive=True, WithDecryption=True)["Parameters"]
    assert [p["Value"] for p in rec if p["Name"].endswith("password")] == ["s3cret"]

    # Filters: by type.
    only = ssm.get_parameters_by_path(
        Path="/pettracker", Recursive=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}],
    )["Parameters"]
    assert names(only) == ["/pettracker/prod/db/password"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters_by_path(Path="/pettracker", ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    assert code_of(e) == "InvalidFilterKey"

    # Paging, by hand and with boto3's paginator.
    first = ssm.get_parameters_by_path(Path="/pettracker", Recursive=True, MaxResults=2)
    assert len(first["Parameters"]) == 2 and "NextToken" in first
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path="/pettracker", Recursive=True, PaginationConfig={"PageSize": 2})
    all_names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert sorted(all_names) == sorted(set(all_names))
    assert len(all_names) == 6
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters_by_path(Path="/pettracker", MaxResults=11)
    assert code_of(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters_by_path(Path="/pettracker", NextToken="garbage")
    assert code_of(e) == "InvalidNextToken"


def test_cli_get_parameters_by_path(endpoint, aws_cli):
    ssm = client(endpoint, "ssm")
    for i in range(12):
        put(ssm, f"/cli/p{i:02d}", str(i))
    # The CLI pages through all results itself.
    rc, out, err = aws_cli("ssm", "get-parameters-by-path", "--path", "/cli", "--query", "Parameters[].Name")
    assert rc == 0, err
    assert json.loads(out) == [f"/cli/p{i:02d}" for i in range(12)]


def test_cli_securestring_labels_and_history(endpoint, aws_cli):
    rc, out, err = aws_cli("ssm", "put-parameter", "--name", "/cli/db/password", "--value", "first",
                           "--type", "SecureString", "--tier", "Standard")
    assert rc == 0, err
    rc, out, err = aws_cli("ssm", "put-parameter", "--name", "/cli/db/password", "--value", "second", "--overwrite")
    assert rc == 0, err
    assert json.loads(out)["Version"] == 2
    rc, out, err = aws_cli("ssm", "label-parameter-version", "--name", "/cli/db/password",
                           "--parameter-version", "1", "--labels", "golden")
    assert rc == 0, err
    rc, out, err = aws_cli("ssm", "get-parameter", "--name", "/cli/db/password:golden", "--with-decryption",
                           "--query", "Parameter.[Value,Version,Selector]")
    assert rc == 0, err
    assert json.loads(out) == ["first", 1, ":golden"]
    rc, out, err = aws_cli("ssm", "get-parameters-by-path", "--path", "/cli", "--recursive",
                           "--parameter-filters", "Key=Label,Values=golden", "--with-decryption",
                           "--query", "Parameters[].Name")
    assert rc == 0, err
    assert json.loads(out) == ["/cli/db/password"]
    rc, out, err = aws_cli("ssm", "get-parameters-by-path", "--path", "/cli", "--recursive",
                           "--parameter-filters", "Key=Label,Values=silver", "--query", "Parameters[].Name")
    assert rc == 0, err
    assert json.loads(out) == []
    rc, out, err = aws_cli("ssm", "get-parameter-history", "--name", "/cli/db/password",
                           "--query", "Parameters[].[Version,Labels,Type]")
    assert rc == 0, err
    assert json.loads(out) == [[1, ["golden"], "SecureString"], [2, [], "SecureString"]]
    rc, out, err = aws_cli("ssm", "describe-parameters", "--parameter-filters",
                           "Key=Name,Option=Equals,Values=/cli/db/password",
                           "--query", "Parameters[].[Name,Type,KeyId,Version]")
    assert rc == 0, err
    assert json.loads(out) == [["/cli/db/password", "SecureString", "alias/aws/ssm", 2]]
    rc, out, err = aws_cli("ssm", "delete-parameter", "--name", "/cli/db/password")
    assert rc == 0, err
    rc, out, err = aws_cli("ssm", "get-parameter", "--name", "/cli/db/password")
    assert rc != 0 and "ParameterNotFound" in err


# ---------------------------------------------------------------- SecureString through KMS


def test_securestring_round_trip_with_managed_and_customer_keys(endpoint):
    ssm = client(endpoint, "ssm")
    kms = client(endpoint, "kms")
    put(ssm, "/sec/default", "hunter2", "SecureString", Description="db password")
    p = ssm.get_parameter(Name="/sec/default")["Parameter"]
    assert p["Type"] == "SecureString"
    blob = base64.b64decode(p["Value"])
    assert b"hunter2" not in blob
    assert ssm.get_parameter(Name="/sec/default", WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    # The AWS managed key exists now; its policy allows use only through SSM, so even
    # root cannot kms:Decrypt the blob directly, as AWS.
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert "alias/aws/ssm" in aliases
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn("/sec/default")})
    assert code_of(e) == "AccessDeniedException"
    assert aliases["alias/aws/ssm"]["TargetKeyId"] in str(e.value)

    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/pettracker", TargetKeyId=key["KeyId"])
    put(ssm, "/sec/cmk", "v1", "SecureString", KeyId="alias/pettracker")
    assert ssm.get_parameter(Name="/sec/cmk", WithDecryption=True)["Parameter"]["Value"] == "v1"
    blob = base64.b64decode(ssm.get_parameter(Name="/sec/cmk")["Parameter"]["Value"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"PARAMETER_ARN": arn("/sec/cmk")})["KeyId"] == key["Arn"]
    # Overwrite keeps the key.
    ssm.put_parameter(Name="/sec/cmk", Value="v2", Overwrite=True)
    meta = {m["Name"]: m for m in ssm.describe_parameters()["Parameters"]}
    assert meta["/sec/cmk"]["KeyId"] == "alias/pettracker"
    assert meta["/sec/default"]["KeyId"] == "alias/aws/ssm"
    assert meta["/sec/default"]["Description"] == "db password"
    assert ssm.get_parameter(Name="/sec/cmk", WithDecryption=True)["Parameter"]["Value"] == "v2"
    # History decrypts every version when asked.
    hist = ssm.get_parameter_history(Name="/sec/cmk", WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in hist] == ["v1", "v2"]

    # A disabled key: the value cannot be written.
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/sec/cmk", Value="v3", Overwrite=True)
    assert code_of(e) == "InvalidKeyId"
    assert ssm.get_parameter(Name="/sec/cmk")["Parameter"]["Version"] == 2

    # An asymmetric key, even for ENCRYPT_DECRYPT, cannot seal a value: a client error
    # (it was a 500 that SDKs retried), nothing written; Secrets Manager likewise.
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/sec/rsa", Value="v", Type="SecureString", KeyId=rsa)
    assert code_of(e) == "InvalidKeyId"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "/sec/rsa" not in {m["Name"] for m in ssm.describe_parameters()["Parameters"]}
    sm = client(endpoint, "secretsmanager")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.create_secret(Name="sec/rsa", SecretString="x", KmsKeyId=rsa)
    assert code_of(e) == "EncryptionFailure"
    # UpdateSecret with only a new key keeps the versions it cannot reseal under their old
    # key (as when kms:Encrypt on the new key is missing); a new value cannot be sealed.
    sm.create_secret(Name="sec/plain", SecretString="x")
    sm.update_secret(SecretId="sec/plain", KmsKeyId=rsa)
    assert sm.get_secret_value(SecretId="sec/plain")["SecretString"] == "x"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.put_secret_value(SecretId="sec/plain", SecretString="y")
    assert code_of(e) == "EncryptionFailure"


def test_kms_decrypt_denied_gets_ciphertext_only(endpoint, server):
    ssm = client(endpoint, "ssm")
    put(ssm, "/pettracker/prod/db-password", "Pl41nT3xtNeverOnDisk", "SecureString")
    ak, sk = iam_user(endpoint, "reader", {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    })
    reader = client(endpoint, "ssm", ak=ak, sk=sk)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_parameter(Name="/pettracker/prod/db-password", WithDecryption=True)
    assert code_of(e) == "AccessDeniedException"
    assert "kms:Decrypt" in str(e.value)
    p = reader.get_parameter(Name="/pettracker/prod/db-password")["Parameter"]
    assert p["Value"] != "Pl41nT3xtNeverOnDisk"
    assert base64.b64decode(p["Value"])  # the ciphertext blob, base64
    # Not allowed ssm:GetParametersByPath at all.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_parameters_by_path(Path="/pettracker")
    assert code_of(e) == "AccessDeniedException"

    # A user allowed both reads the value.
    ak2, sk2 = iam_user(endpoint, "app", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": arn("/pettracker/prod/*")}],
    })
    app = client(endpoint, "ssm", ak=ak2, sk=sk2)
    # The AWS managed key's policy lets account principals use it through SSM.
    assert app.get_parameter(Name="/pettracker/prod/db-password", WithDecryption=True)["Parameter"]["Value"] == "Pl41nT3xtNeverOnDisk"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        app.get_parameter(Name="/other")
    assert code_of(e) == "AccessDeniedException"

    # The plaintext is nowhere in the data dir (SQLite file, WAL, anything).
    for root, _, files in os.walk(server.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert b"Pl41nT3xtNeverOnDisk" not in fh.read(), f


def test_condition_keys_overwrite_and_path_authorization(endpoint):
    ak, sk = iam_user(endpoint, "writer", {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:GetParametersByPath"],
             "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app*"},
            {"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "*",
             "Condition": {"StringEquals": {"ssm:Overwrite": ["true"]}}},
            {"Effect": "Deny", "Action": "ssm:GetParametersByPath", "Resource": "*",
             "Condition": {"StringEquals": {"ssm:Recursive": ["true"]}}},
        ],
    })
    writer = client(endpoint, "ssm", ak=ak, sk=sk)
    assert writer.put_parameter(Name="/app/x", Value="1", Type="String")["Version"] == 1
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.put_parameter(Name="/app/x", Value="2", Overwrite=True)
    assert code_of(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.put_parameter(Name="/other/x", Value="1", Type="String")
    assert code_of(e) == "AccessDeniedException"
    # GetParametersByPath is authorized on the path (parameter/app), not the results.
    assert [p["Name"] for p in writer.get_parameters_by_path(Path="/app")["Parameters"]] == ["/app/x"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.get_parameters_by_path(Path="/app", Recursive=True)
    assert code_of(e) == "AccessDeniedException"
    assert client(endpoint, "ssm").get_parameter(Name="/app/x")["Parameter"]["Value"] == "1"


# ---------------------------------------------------------------- versions and labels


def test_versions_labels_and_history(endpoint):
    ssm = client(endpoint, "ssm")
    for v in ["v1", "v2", "v3"]:
        ssm.put_parameter(Name="/cfg/x", Value=v, Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/cfg/x:1")["Parameter"]["Value"] == "v1"
    assert ssm.get_parameter(Name="/cfg/x:1")["Parameter"]["Selector"] == ":1"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name="/cfg/x:9")
    assert code_of(e) == "ParameterVersionNotFound"

    r = ssm.label_parameter_version(Name="/cfg/x", ParameterVersion=1, Labels=["prod", "1bad", "awsy", "stable"])
    assert r["ParameterVersion"] == 1
    assert sorted(r["InvalidLabels"]) == ["1bad", "awsy"]
    p = ssm.get_parameter(Name="/cfg/x:prod")["Parameter"]
    assert (p["Value"], p["Version"], p["Selector"]) == ("v1", 1, ":prod")
    # Labelling without a version labels the latest; a label moves between versions.
    r = ssm.label_parameter_version(Name="/cfg/x", Labels=["prod"])
    assert r["ParameterVersion"] == 3
    assert ssm.get_parameter(Name="/cfg/x:prod")["Parameter"]["Value"] == "v3"
    hist = ssm.get_parameter_history(Name="/cfg/x")["Parameters"]
    assert [(h["Version"], h["Value"], h["Labels"]) for h in hist] == [
        (1, "v1", ["stable"]), (2, "v2", []), (3, "v3", ["prod"])]
    assert hist[0]["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT}:root"

    # History pages.
    page = ssm.get_parameter_history(Name="/cfg/x", MaxResults=2)
    assert [h["Version"] for h in page["Parameters"]] == [1, 2]
    rest = ssm.get_parameter_history(Name="/cfg/x", MaxResults=2, NextToken=page["NextToken"])
    assert [h["Version"] for h in rest["Parameters"]] == [3] and "NextToken" not in rest

    r = ssm.unlabel_parameter_version(Name="/cfg/x", ParameterVersion=3, Labels=["prod", "nothere"])
    assert r["RemovedLabels"] == ["prod"] and r["InvalidLabels"] == ["nothere"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.label_parameter_version(Name="/cfg/x", ParameterVersion=7, Labels=["a"])
    assert code_of(e) == "ParameterVersionNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.label_parameter_version(Name="/cfg/nope", Labels=["a"])
    assert code_of(e) == "ParameterNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter_history(Name="/cfg/nope")
    assert code_of(e) == "ParameterNotFound"


def test_version_limit_100_and_labelled_oldest(endpoint):
    ssm = client(endpoint, "ssm")
    for i in range(100):
        ssm.put_parameter(Name="/lim/p", Value=str(i), Type="String", Overwrite=True)
    ssm.label_parameter_version(Name="/lim/p", ParameterVersion=1, Labels=["keep"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/lim/p", Value="x", Overwrite=True)
    assert code_of(e) == "ParameterMaxVersionLimitExceeded"
    ssm.unlabel_parameter_version(Name="/lim/p", ParameterVersion=1, Labels=["keep"])
    assert ssm.put_parameter(Name="/lim/p", Value="x", Overwrite=True)["Version"] == 101
    versions = [h["Version"] for page in ssm.get_paginator("get_parameter_history").paginate(Name="/lim/p")
                for h in page["Parameters"]]
    assert versions == list(range(2, 102))


# ---------------------------------------------------------------- describe, delete, tags


def test_describe_parameters_filters_and_paging(endpoint):
    ssm = client(endpoint, "ssm")
    put(ssm, "/d/a", "1", Tags=[{"Key": "team", "Value": "core"}])
    put(ssm, "/d/b/c", "2", "StringList")
    put(ssm, "/d/s", "3", "SecureString")
    put(ssm, "top", "4")
    names = lambda r: sorted(m["Name"] for m in r["Parameters"])
    assert names(ssm.describe_parameters()) == ["/d/a", "/d/b/c", "/d/s", "top"]
    assert names(ssm.describe_parameters(Filters=[{"Key": "Type", "Values": ["StringList"]}])) == ["/d/b/c"]
    assert names(ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/d/b"]}])) == ["/d/b/c"]
    assert names(ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/d"]}])) == ["/d/a", "/d/b/c", "/d/s"]
    assert names(ssm.describe_parameters(ParameterFilters=[{"Key": "Path", "Values": ["/d"]}])) == ["/d/a", "/d/s"]
    assert names(ssm.describe_parameters(ParameterFilters=[{"Key": "tag:team", "Values": ["core"]}])) == ["/d/a"]
    assert names(ssm.describe_parameters(ParameterFilters=[{"Key": "KeyId", "Values": ["alias/aws/ssm"]}])) == ["/d/s"]
    m = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/d/a"]}])["Parameters"][0]
    assert m["ARN"] == arn("/d/a") and m["Tier"] == "Standard" and m["Version"] == 1
    assert m["Policies"] == [] and m["DataType"] == "text"
    assert m["LastModifiedUser"] == f"arn:aws:iam::{ACCOUNT}:root"

    page = ssm.describe_parameters(MaxResults=3)
    assert len(page["Parameters"]) == 3 and "NextToken" in page
    rest = ssm.describe_parameters(MaxResults=3, NextToken=page["NextToken"])
    assert len(rest["Parameters"]) == 1 and "NextToken" not in rest

    for bad, code in [
        (dict(Filters=[{"Key": "Name", "Values": ["x"]}], ParameterFilters=[{"Key": "Name", "Values": ["x"]}]), "ValidationException"),
        (dict(ParameterFilters=[{"Key": "Label", "Values": ["x"]}]), "InvalidFilterKey"),
        (dict(ParameterFilters=[{"Key": "Type", "Values": ["Nope"]}]), "InvalidFilterValue"),
        (dict(ParameterFilters=[{"Key": "Path", "Option": "Sideways", "Values": ["/d"]}]), "InvalidFilterOption"),
        (dict(ParameterFilters=[{"Key": "Name", "Values": ["a"]}, {"Key": "Name", "Values": ["b"]}]), "InvalidFilterKey"),
        (dict(MaxResults=51), "ValidationException"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.describe_parameters(**bad)
        assert code_of(e) == code, bad


def test_delete_parameter_and_parameters(endpoint):
    ssm = client(endpoint, "ssm")
    put(ssm, "/del/a", "1")
    put(ssm, "/del/b", "2")
    put(ssm, "/del/c", "3")
    ssm.delete_parameter(Name="/del/a")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.delete_parameter(Name="/del/a")
    assert code_of(e) == "ParameterNotFound"
    r = ssm.delete_parameters(Names=["/del/b", "/del/nope", "/del/c"])
    assert sorted(r["DeletedParameters"]) == ["/del/b", "/del/c"]
    assert r["InvalidParameters"] == ["/del/nope"]
    assert ssm.describe_parameters()["Parameters"] == []
    # A deleted name starts again at version 1.
    assert put(ssm, "/del/a", "new")["Version"] == 1


def test_tags(endpoint):
    ssm = client(endpoint, "ssm")
    put(ssm, "/t/p", "1", Tags=[{"Key": "env", "Value": "prod"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/t/p",
                             Tags=[{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t/p")["TagList"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "core")]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/t/p", TagKeys=["env"])
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t/p")["TagList"] == [{"Key": "team", "Value": "core"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t/none")
    assert code_of(e) == "InvalidResourceId"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.list_tags_for_resource(ResourceType="Document", ResourceId="/t/p")
    assert code_of(e) == "InvalidResourceType"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/t/p",
                                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert code_of(e) == "TooManyTagsError"
    assert len(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/t/p")["TagList"]) == 1


# ---------------------------------------------------------------- tiers and policies


def test_tiers(endpoint):
    ssm = client(endpoint, "ssm")
    big = "x" * 5000
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, "/tier/std", big)
    assert code_of(e) == "ValidationException"
    assert "4096" in str(e.value)
    assert put(ssm, "/tier/adv", big, Tier="Advanced")["Tier"] == "Advanced"
    assert put(ssm, "/tier/it", big, Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    assert put(ssm, "/tier/small", "x", Tier="Intelligent-Tiering")["Tier"] == "Standard"
    assert ssm.get_parameter(Name="/tier/adv")["Parameter"]["Value"] == big
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/tier/adv", Value="x", Tier="Standard", Overwrite=True)
    assert code_of(e) == "ValidationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, "/tier/huge", "x" * 8193, Tier="Advanced")
    assert code_of(e) == "ValidationException"
    # Overwrite without a tier keeps Advanced.
    assert ssm.put_parameter(Name="/tier/adv", Value="y", Overwrite=True)["Tier"] == "Advanced"
    names = [m["Name"] for m in ssm.describe_parameters()["Parameters"]]
    assert "/tier/std" not in names and "/tier/huge" not in names


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_policies_are_validated_and_described(endpoint):
    ssm = client(endpoint, "ssm")
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    policies = [
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": _iso(exp)}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "15", "Unit": "Days"}},
        {"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "20", "Unit": "Days"}},
    ]
    r = put(ssm, "/pol/p", "v", Tier="Advanced", Policies=json.dumps(policies))
    assert r["Tier"] == "Advanced"
    m = ssm.describe_parameters()["Parameters"][0]
    assert [(p["PolicyType"], p["PolicyStatus"]) for p in m["Policies"]] == [
        ("Expiration", "Pending"), ("ExpirationNotification", "Pending"), ("NoChangeNotification", "Pending")]
    assert json.loads(m["Policies"][0]["PolicyText"])["Attributes"]["Timestamp"] == _iso(exp)
    # Intelligent-Tiering moves a parameter with policies to Advanced.
    assert put(ssm, "/pol/it", "v", Tier="Intelligent-Tiering", Policies=json.dumps(policies[:1]))["Tier"] == "Advanced"
    for bad, code in [
        ([{"Type": "Bogus", "Version": "1.0", "Attributes": {}}], "InvalidPolicyTypeException"),
        ([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "soon"}}], "InvalidPolicyAttributeException"),
        ([policies[0], policies[0]], "IncompatiblePolicyException"),
        ([policies[0]] * 11, "PoliciesLimitExceededException"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            put(ssm, "/pol/bad", "v", Tier="Advanced", Policies=json.dumps(bad))
        assert code_of(e) == code, bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, "/pol/std", "v", Tier="Standard", Policies=json.dumps(policies[:1]))
    assert code_of(e) == "ValidationException"


def test_expiration_policy_deletes_on_business_clock(endpoint):
    ssm = client(endpoint, "ssm")
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    policies = [{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": _iso(exp)}}]
    put(ssm, "/exp/token", "v", Tier="Advanced", Policies=json.dumps(policies))
    put(ssm, "/exp/keep", "v")
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 2 * 86400})
    assert status == 200
    deadline = time.time() + 10
    while time.time() < deadline:
        names = [m["Name"] for m in ssm.describe_parameters()["Parameters"]]
        if "/exp/token" not in names:
            break
        time.sleep(0.2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name="/exp/token")
    assert code_of(e) == "ParameterNotFound"
    assert ssm.get_parameter(Name="/exp/keep")["Parameter"]["Value"] == "v"


def test_put_parameter_trims_spaces_around_the_name(endpoint):
    # "The service removes any spaces specified for the beginning or end of a parameter
    # name"; spaces inside it are still refused.
    ssm = client(endpoint, "ssm")
    assert put(ssm, "  /t/sp ", "a")["Version"] == 1
    assert ssm.get_parameter(Name="/t/sp")["Parameter"]["Value"] == "a"
    assert put(ssm, "/t/sp ", "b", Overwrite=True)["Version"] == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, "/t/s p", "c")
    assert code_of(e) == "ValidationException"


# ---------------------------------------------------------------- bad input


def test_bad_input_is_refused_and_nothing_is_created(endpoint, aws_cli):
    ssm = client(endpoint, "ssm")
    deep16 = "".join(f"/l{i}" for i in range(1, 17))
    deep15 = "".join(f"/l{i}" for i in range(1, 16))
    assert put(ssm, deep15, "ok")["Version"] == 1
    cases = [
        (dict(Name=deep16, Value="v", Type="String"), "HierarchyLevelLimitExceededException"),
        (dict(Name="/bad name!", Value="v", Type="String"), "ValidationException"),
        (dict(Name="not/qualified", Value="v", Type="String"), "ValidationException"),
        (dict(Name="/a//b", Value="v", Type="String"), "ValidationException"),
        (dict(Name="ssm-reserved", Value="v", Type="String"), "ValidationException"),
        (dict(Name="/AWS/x/y", Value="v", Type="String"), "AccessDeniedException"),
        (dict(Name="/" + "n" * 1011, Value="v", Type="String"), "ValidationException"),
        (dict(Name="/n" * 1025, Value="v", Type="String"), "ValidationException"),
        (dict(Name="/ok/name", Value="v"), "ValidationException"),  # no Type on create
        (dict(Name="/ok/name", Value="v", Type="Text"), "ValidationException"),
        (dict(Name="/ok/name", Value="", Type="String"), "ValidationException"),
        (dict(Name="/ok/name", Value="abc", Type="String", AllowedPattern="^\\d+$"), "ParameterPatternMismatchException"),
        (dict(Name="/ok/name", Value="abc", Type="String", AllowedPattern="(unclosed"), "InvalidAllowedPatternException"),
        (dict(Name="/ok/name", Value="v", Type="String", DataType="aws:ec2:instance"), "ValidationException"),
        (dict(Name="/ok/name", Value="not-an-ami", Type="String", DataType="aws:ec2:image"), "ValidationException"),
        (dict(Name="/ok/name", Value="v", Type="SecureString", KeyId="alias/does-not-exist"), "InvalidKeyId"),
        (dict(Name="/ok/name", Value="v", Type="SecureString", KeyId="1234abcd-12ab-34cd-56ef-1234567890ab"), "InvalidKeyId"),
        (dict(Name="/ok/name", Value="v", Type="String", KeyId="alias/aws/ssm"), "ValidationException"),
        (dict(Name="/ok/name", Value="v", Type="String", Tier="Gold"), "ValidationException"),
    ]
    for kw, code in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.put_parameter(**kw)
        assert code_of(e) == code, kw
    assert [m["Name"] for m in ssm.describe_parameters()["Parameters"]] == [deep15]
    # Valid patterns and AMI ids pass.
    assert put(ssm, "/ok/num", "123", AllowedPattern="^\\d+$")["Version"] == 1
    assert put(ssm, "/ok/ami", "ami-0abcdef1234567890", DataType="aws:ec2:image")["Version"] == 1
    assert ssm.get_parameter(Name="/ok/ami")["Parameter"]["DataType"] == "aws:ec2:image"
    # The allowed pattern stays with the parameter.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.put_parameter(Name="/ok/num", Value="x1", Overwrite=True)
    assert code_of(e) == "ParameterPatternMismatchException"

    rc, _, err = aws_cli("ssm", "put-parameter", "--name", deep16, "--value", "v", "--type", "String")
    assert rc != 0 and "HierarchyLevelLimitExceededException" in err


def test_name_list_checks_come_before_authorization(endpoint):
    # AWS checks GetParameters'/DeleteParameters' Names against the model before it
    # authorizes each name: a caller allowed nothing still gets ValidationException.
    ak, sk = iam_user(endpoint, "ssm-list-nobody", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
    })
    ssm = client(endpoint, "ssm", ak, sk, validate=False)
    eleven = [f"/n{i}" for i in range(11)]
    for call in (ssm.get_parameters, ssm.delete_parameters):
        # A list of strings answers once, at the list, with its elements' constraints
        # (the form AWS's framework uses for lists of scalars).
        elements = ("Member must satisfy constraint: [Member must have length less than or equal "
                    "to 2048, Member must have length greater than or equal to 1]")
        long_name = "/" + "x" * 2048
        for names, message in (
            (eleven, f"Value '[{', '.join(eleven)}]' at 'names' failed to satisfy constraint: "
                     "Member must have length less than or equal to 10"),
            ([""], f"Value '[]' at 'names' failed to satisfy constraint: {elements}"),
            (["/a", long_name], f"Value '[/a, {long_name}]' at 'names' failed to satisfy constraint: {elements}"),
        ):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call(Names=names)
            assert code_of(e) == "ValidationException", (call, names)
            assert e.value.response["Error"]["Message"] == "1 validation error detected: " + message
        # A well-formed list is authorized name by name: denied.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(Names=["/a"])
        assert code_of(e) == "AccessDeniedException"


# ---------------------------------------------------------------- CloudTrail


def test_cloudtrail_records_calls_without_values(endpoint):
    ssm = client(endpoint, "ssm")
    put(ssm, "/ct/secret", "TopSecretValue42", "SecureString")
    put(ssm, "/ct/plain", "PlainValue42")
    ssm.get_parameter(Name="/ct/secret", WithDecryption=True)
    ct = client(endpoint, "cloudtrail")
    evs = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "ssm.amazonaws.com"}])["Events"]
    names = [e["EventName"] for e in evs]
    assert names.count("PutParameter") == 2 and "GetParameter" in names
    for e in evs:
        assert "TopSecretValue42" not in e["CloudTrailEvent"]
    put_ev = [json.loads(e["CloudTrailEvent"]) for e in evs if e["EventName"] == "PutParameter"]
    secret_ev = [e for e in put_ev if e["requestParameters"]["name"] == "/ct/secret"][0]
    assert secret_ev["requestParameters"]["type"] == "SecureString"
    assert "value" not in secret_ev["requestParameters"]
    assert secret_ev["responseElements"] == {"version": 1, "tier": "Standard"}
    get_ev = [json.loads(e["CloudTrailEvent"]) for e in evs if e["EventName"] == "GetParameter"][0]
    assert get_ev["requestParameters"] == {"name": "/ct/secret", "withDecryption": True}
    assert get_ev["readOnly"] is True


def test_concurrent_secure_reads_complete(endpoint):
    """Many concurrent GetParameter(WithDecryption) calls (each authorizes KMS use inside
    its read) all complete: regression test for a reader-pool deadlock."""
    import concurrent.futures

    root = client(endpoint, "ssm")
    root.put_parameter(Name="/pettracker/prod/db-url", Value="postgres://db", Type="SecureString")
    cfg = botocore.config.Config(max_pool_connections=48, retries={"max_attempts": 0}, read_timeout=20)
    s = boto3.session.Session(aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name="us-east-1")
    c = s.client("ssm", endpoint_url=endpoint, config=cfg)

    def read(_):
        return c.get_parameter(Name="/pettracker/prod/db-url", WithDecryption=True)["Parameter"]["Value"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=48) as pool:
        values = list(pool.map(read, range(480)))
    assert values == ["postgres://db"] * 480


def test_securestring_needs_encrypt_for_standard_and_data_keys_for_advanced(endpoint):
    """AWS encrypts a standard SecureString under the KMS key directly (kms:Encrypt) and an
    advanced one with a data key (kms:GenerateDataKey); policies see those actions."""
    key = client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    ak, sk = iam_user(endpoint, "writer", {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key},
        ],
    })
    writer = client(endpoint, "ssm", ak=ak, sk=sk)
    writer.put_parameter(Name="/std", Value="v", Type="SecureString", KeyId=key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.put_parameter(Name="/adv", Value="v", Type="SecureString", KeyId=key, Tier="Advanced")
    assert code_of(e) == "AccessDeniedException" and "kms:GenerateDataKey" in str(e.value)


def test_a_parameter_arn_names_its_own_account_and_region(endpoint):
    ssm = client(endpoint, "ssm")
    ssm.put_parameter(Name="/own", Value="v", Type="String")
    assert ssm.get_parameter(Name=f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/own")["Parameter"]["Value"] == "v"
    for arn in ("arn:aws:ssm:us-east-1:111111111111:parameter/own", f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/own"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.delete_parameter(Name=arn)
        assert code_of(e) in ("ParameterNotFound", "AccessDeniedException"), e.value.response
    assert ssm.get_parameter(Name="/own")["Parameter"]["Value"] == "v"


# ---------------------------------------------------------------- Secrets Manager references

REF = "/aws/reference/secretsmanager/"
BAD_SELECTOR = ("Invalid parameter name. Please use correct syntax for referencing a "
                "version/label  <name>:<version/label>")
NEEDS_DECRYPTION = "WithDecryption flag must be True for retrieving a Secret Manager secret."
DEPENDENCY = "An error occurred while calling one AWS dependency service."


def test_reference_reads_a_secret_through_parameter_store(endpoint, aws_cli):
    sm = client(endpoint, "secretsmanager")
    made = sm.create_secret(Name="pettracker/prod/db", SecretString='{"password":"hunter2=ref"}')
    created = sm.get_secret_value(SecretId="pettracker/prod/db")["CreatedDate"]
    ssm = client(endpoint, "ssm")
    p = ssm.get_parameter(Name=REF + "pettracker/prod/db", WithDecryption=True)["Parameter"]
    assert p["Name"] == REF + "pettracker/prod/db"
    assert (p["Type"], p["Value"], p["Version"]) == ("SecureString", '{"password":"hunter2=ref"}', 0)
    assert p["ARN"] == made["ARN"] and p["LastModifiedDate"] == created
    assert "Selector" not in p and "DataType" not in p
    # SourceResult: the Secrets Manager result as Parameter Store's Java client writes it.
    source = p["SourceResult"]
    assert source.startswith('{"ARN":"%s","name":"pettracker/prod/db","versionId":"%s",' % (made["ARN"], made["VersionId"]))
    assert '"secretString":"{\\"password\\":\\"hunter2\\u003dref\\"}","versionStages":["AWSCURRENT"],"createdDate":"' in source
    assert json.loads(source)["secretString"] == '{"password":"hunter2=ref"}'

    # The aws CLI, as the User Guide shows it.
    rc, out, err = aws_cli("ssm", "get-parameter", "--name", REF + "pettracker/prod/db",
                           "--with-decryption", "--query", "Parameter.Value", "--output", "text")
    assert rc == 0, err
    assert out == '{"password":"hunter2=ref"}\n'

    # A staging label or a version id after ':' picks the version.
    second = sm.put_secret_value(SecretId="pettracker/prod/db", SecretString="v2")
    assert ssm.get_parameter(Name=REF + "pettracker/prod/db", WithDecryption=True)["Parameter"]["Value"] == "v2"
    prev = ssm.get_parameter(Name=REF + "pettracker/prod/db:AWSPREVIOUS", WithDecryption=True)["Parameter"]
    assert (prev["Value"], prev["Selector"], prev["Name"]) == (
        '{"password":"hunter2=ref"}', ":AWSPREVIOUS", REF + "pettracker/prod/db")
    assert '"versionStages":["AWSPREVIOUS"]' in prev["SourceResult"]
    first = ssm.get_parameter(Name=REF + "pettracker/prod/db:" + made["VersionId"], WithDecryption=True)
    assert first["Parameter"]["Value"] == '{"password":"hunter2=ref"}'
    assert first["Parameter"]["Selector"] == ":" + made["VersionId"]

    # GetParameters mixes references and parameters; a name that reads nothing, a
    # malformed selector and (without WithDecryption) any reference are invalid names.
    put(ssm, "/plain/one", "1")
    names = [REF + "pettracker/prod/db", "/plain/one", REF + "nope",
             REF + "pettracker/prod/db:NOSUCHSTAGE", REF + "pettracker/prod/db:a:b"]
    r = ssm.get_parameters(Names=names, WithDecryption=True)
    assert sorted(x["Name"] for x in r["Parameters"]) == sorted(["/plain/one", REF + "pettracker/prod/db"])
    assert sorted(r["InvalidParameters"]) == sorted(names[2:])
    r = ssm.get_parameters(Names=[REF + "pettracker/prod/db", "/plain/one"])
    assert [x["Name"] for x in r["Parameters"]] == ["/plain/one"]
    assert r["InvalidParameters"] == [REF + "pettracker/prod/db"]

    # Reading through Parameter Store is a GetSecretValue: it moves LastAccessedDate.
    sm.create_secret(Name="untouched", SecretString="u")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId="untouched")
    ssm.get_parameter(Name=REF + "untouched", WithDecryption=True)
    assert "LastAccessedDate" in sm.describe_secret(SecretId="untouched")


def test_reference_refusals_in_aws_words(endpoint):
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="app/key", SecretString="k")
    ssm = client(endpoint, "ssm")

    def refused(name, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.get_parameter(Name=name, **kw)
        return code_of(e), e.value.response["Error"]["Message"]

    for kw in ({}, {"WithDecryption": False}):
        assert refused(REF + "app/key", **kw) == ("ValidationException", NEEDS_DECRYPTION)
        assert refused(REF + "absent", **kw) == ("ValidationException", NEEDS_DECRYPTION)
    # A malformed selector (an ARN as the id has colons too) is refused before that.
    for name in (REF + "app/key:AWSCURRENT:extra", REF + "app/key:",
                 REF + f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/key"):
        assert refused(name) == ("ValidationException", BAD_SELECTOR)
    assert refused(REF + "missing", WithDecryption=True) == (
        "ParameterNotFound",
        "An error occurred (ParameterNotFound) when referencing Secrets Manager: "
        "Secret aws/reference/secretsmanager/missingnull not found.")
    assert refused(REF, WithDecryption=True) == (
        "ParameterNotFound",
        "An error occurred (ParameterNotFound) when referencing Secrets Manager: "
        "Secret aws/reference/secretsmanager/null not found.")
    assert ssm.get_parameters(Names=[REF, REF + ":AWSCURRENT"], WithDecryption=True)["InvalidParameters"] == [
        REF, REF + ":AWSCURRENT"]
    assert refused(REF + "app/key:NOSUCH", WithDecryption=True) == (
        "ParameterNotFound",
        "An error occurred (ParameterNotFound) when referencing Secrets Manager: "
        "Secret aws/reference/secretsmanager/app/key:NOSUCH not found.")
    # A binary secret has no Value.
    sm.create_secret(Name="bin", SecretBinary=b"\x00\xff")
    p = ssm.get_parameter(Name=REF + "bin", WithDecryption=True)["Parameter"]
    assert "Value" not in p and p["Type"] == "SecureString"
    assert json.loads(p["SourceResult"])["secretBinary"]["hb"] == [0, -1]
    # A secret scheduled for deletion fails the call, also in GetParameters.
    sm.delete_secret(SecretId="app/key", RecoveryWindowInDays=7)
    assert refused(REF + "app/key", WithDecryption=True) == (
        "ValidationException", "Invalid Request to Secrets Manager")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters(Names=["/x", REF + "app/key"], WithDecryption=True)
    assert code_of(e) == "ValidationException"
    # References are not parameters: nothing can be written under the reserved path.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(ssm, REF + "app/key", "x")
    assert code_of(e) == "AccessDeniedException"


def test_reference_needs_both_permissions_and_is_logged(endpoint):
    sm = client(endpoint, "secretsmanager")
    secret_arn = sm.create_secret(Name="svc/token", SecretString="tok-123")["ARN"]
    ssm_only_ak, ssm_only_sk = iam_user(endpoint, "ssm-only", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter",
                       "Resource": arn(REF + "svc/token")}],
    })
    ssm_only = client(endpoint, "ssm", ak=ssm_only_ak, sk=ssm_only_sk)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm_only.get_parameter(Name=REF + "svc/token", WithDecryption=True)
    # Parameter Store hides its dependency's refusal; CloudTrail's GetSecretValue event
    # (below) says what it was.
    assert (code_of(e), e.value.response["Error"]["Message"]) == ("ValidationException", DEPENDENCY)

    # Whether the secret exists, is missing or is scheduled for deletion, a caller
    # without secretsmanager:GetSecretValue gets the same answer.
    sm.create_secret(Name="svc/doomed", SecretString="d")
    sm.delete_secret(SecretId="svc/doomed", RecoveryWindowInDays=7)
    wide_ak, wide_sk = iam_user(endpoint, "ssm-wide", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}],
    })
    wide = client(endpoint, "ssm", ak=wide_ak, sk=wide_sk)
    for name in ("svc/token", "svc/missing", "svc/doomed"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            wide.get_parameter(Name=REF + name, WithDecryption=True)
        assert (code_of(e), e.value.response["Error"]["Message"]) == ("ValidationException", DEPENDENCY), name

    sm_only_ak, sm_only_sk = iam_user(endpoint, "sm-only", {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    })
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "ssm", ak=sm_only_ak, sk=sm_only_sk).get_parameter(
            Name=REF + "svc/token", WithDecryption=True)
    assert code_of(e) == "AccessDeniedException"
    assert "ssm:GetParameter" in e.value.response["Error"]["Message"]

    # Both, as the CDK pattern grants them: the reference name and the secret's ARN; a
    # condition on the version the reference names is the same as on GetSecretValue.
    both_ak, both_sk = iam_user(endpoint, "both", {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": arn(REF + "svc/token")},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:svc/token-*"},
            {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
             "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}}},
            {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
             "Condition": {"StringLike": {"secretsmanager:VersionId": "*"}}},
        ],
    })
    both = client(endpoint, "ssm", ak=both_ak, sk=both_sk)
    assert both.get_parameter(Name=REF + "svc/token", WithDecryption=True)["Parameter"]["Value"] == "tok-123"
    old_version = sm.describe_secret(SecretId="svc/token")["VersionIdsToStages"]
    sm.put_secret_value(SecretId="svc/token", SecretString="tok-456")
    for selector in (":AWSPREVIOUS", ":" + list(old_version)[0]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            both.get_parameter(Name=REF + "svc/token" + selector, WithDecryption=True)
        assert code_of(e) == "ValidationException", selector
        # The same reads made directly are denied too.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client(endpoint, "secretsmanager", ak=both_ak, sk=both_sk).get_secret_value(
                SecretId="svc/token", VersionStage="AWSPREVIOUS")
        assert code_of(e) == "AccessDeniedException"

    # A secret's resource policy that denies the caller is honoured too.
    sm.put_resource_policy(SecretId="svc/token", ResourcePolicy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/both"},
                       "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    }))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        both.get_parameter(Name=REF + "svc/token", WithDecryption=True)
    assert code_of(e) == "ValidationException"

    # CloudTrail: SSM's GetParameter, and Secrets Manager's GetSecretValue made for the
    # caller by ssm.amazonaws.com, the denied ones included; never the value.
    ct = client(endpoint, "cloudtrail")
    evs = [json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}])["Events"]]
    via = [e for e in evs if e["userIdentity"].get("invokedBy") == "ssm.amazonaws.com"]
    assert {e["userIdentity"]["userName"] for e in via} == {"ssm-only", "ssm-wide", "both"}
    ok = [e for e in via if "errorCode" not in e]
    assert len(ok) == 1 and ok[0]["requestParameters"] == {"secretId": "svc/token"}
    assert ok[0]["resources"][0]["ARN"] == secret_arn
    assert {e.get("errorCode") for e in via if e is not ok[0]} == {"AccessDeniedException"}
    params = [e["requestParameters"] for e in via]
    assert {"secretId": "svc/token", "versionStage": "AWSPREVIOUS"} in params
    assert {"secretId": "svc/token", "versionId": list(old_version)[0]} in params
    for e in evs:
        assert "tok-123" not in json.dumps(e) and "tok-456" not in json.dumps(e)
    gets = [json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": "GetParameter"}])["Events"]]
    assert gets and all(g["readOnly"] is True for g in gets)
