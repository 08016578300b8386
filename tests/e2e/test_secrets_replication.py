"""Secrets Manager multi-Region secrets: replicas created with CreateSecret's
AddReplicaRegions or ReplicateSecretToRegions, readable in their region, kept in sync with
the primary, read-only, removed or promoted, each sealed with a KMS key of its own region;
through boto3 and the aws CLI."""

import base64
import json
import os

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, Server, client, root_env

PRIMARY = "us-east-1"
REPLICA = "eu-west-1"
OTHER = "ap-southeast-2"
NOT_ON_REPLICA = "Operation not permitted on a replica secret. Call must be made in primary secret's region."


def sm(endpoint, region=PRIMARY, **kw):
    return client(endpoint, "secretsmanager", region=region, **kw)


def error(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def replica_arn(arn, region):
    return arn.replace(f":{PRIMARY}:", f":{region}:", 1)


def test_create_with_replicas_and_read_in_replica_region(endpoint):
    s = sm(endpoint)
    r = s.create_secret(
        Name="pettracker/prod/db", SecretString='{"password":"p1"}', Description="db",
        Tags=[{"Key": "team", "Value": "pets"}],
        AddReplicaRegions=[{"Region": REPLICA}, {"Region": OTHER}],
    )
    assert [x["Region"] for x in r["ReplicationStatus"]] == [REPLICA, OTHER]
    assert all(x["Status"] == "InSync" for x in r["ReplicationStatus"])
    assert all(x["KmsKeyId"] == "alias/aws/secretsmanager" for x in r["ReplicationStatus"])
    arn = r["ARN"]
    rarn = replica_arn(arn, REPLICA)
    assert rarn != arn and rarn.endswith(arn.split(":")[-1])  # same name and random suffix

    eu = sm(endpoint, REPLICA)
    v = eu.get_secret_value(SecretId="pettracker/prod/db")
    assert v["ARN"] == rarn and json.loads(v["SecretString"]) == {"password": "p1"}
    assert v["VersionId"] == r["VersionId"] and v["VersionStages"] == ["AWSCURRENT"]
    assert eu.get_secret_value(SecretId=rarn)["SecretString"] == '{"password":"p1"}'

    d = eu.describe_secret(SecretId="pettracker/prod/db")
    assert d["ARN"] == rarn and d["PrimaryRegion"] == PRIMARY
    assert d["Description"] == "db" and d["Tags"] == [{"Key": "team", "Value": "pets"}]
    assert "ReplicationStatus" not in d
    assert d["VersionIdsToStages"] == {r["VersionId"]: ["AWSCURRENT"]}

    p = s.describe_secret(SecretId=arn)
    assert p["PrimaryRegion"] == PRIMARY
    status = {x["Region"]: x for x in p["ReplicationStatus"]}
    assert set(status) == {REPLICA, OTHER}
    # Read in eu-west-1: the primary shows when.
    assert "LastAccessedDate" in status[REPLICA] and "LastAccessedDate" not in status[OTHER]

    listed = eu.list_secrets()["SecretList"]
    assert [(x["ARN"], x["PrimaryRegion"]) for x in listed] == [(rarn, PRIMARY)]
    assert eu.list_secrets(Filters=[{"Key": "primary-region", "Values": [PRIMARY]}])["SecretList"]
    assert not eu.list_secrets(Filters=[{"Key": "primary-region", "Values": [REPLICA]}])["SecretList"]
    versions = eu.list_secret_version_ids(SecretId="pettracker/prod/db")
    assert versions["ARN"] == rarn
    assert [x["VersionId"] for x in versions["Versions"]] == [r["VersionId"]]
    # Sealed with the replica region's own AWS managed key.
    eu_key = client(endpoint, "kms", region=REPLICA).describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["Arn"]
    assert versions["Versions"][0]["KmsKeyIds"] == [eu_key]
    assert eu_key.startswith(f"arn:aws:kms:{REPLICA}:{ACCOUNT}:key/")
    # Nothing in a region that is not a replica.
    with pytest.raises(ClientError) as e:
        sm(endpoint, "us-west-2").get_secret_value(SecretId="pettracker/prod/db")
    assert error(e)[0] == "ResourceNotFoundException"


def test_writes_to_primary_reach_replicas(endpoint):
    s = sm(endpoint)
    arn = s.create_secret(Name="app", SecretString="v1", AddReplicaRegions=[{"Region": REPLICA}])["ARN"]
    eu = sm(endpoint, REPLICA)
    put = s.put_secret_value(SecretId="app", SecretString="v2")
    assert eu.get_secret_value(SecretId="app")["SecretString"] == "v2"
    assert eu.get_secret_value(SecretId="app", VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    s.update_secret(SecretId="app", SecretBinary=b"\x00bin", Description="new description")
    assert eu.get_secret_value(SecretId="app")["SecretBinary"] == b"\x00bin"
    assert eu.describe_secret(SecretId="app")["Description"] == "new description"
    # Staging labels move on the replica too.
    s.update_secret_version_stage(
        SecretId="app", VersionStage="AWSCURRENT", MoveToVersionId=put["VersionId"],
        RemoveFromVersionId=s.get_secret_value(SecretId="app")["VersionId"],
    )
    assert eu.get_secret_value(SecretId="app")["SecretString"] == "v2"
    assert eu.describe_secret(SecretId="app")["VersionIdsToStages"] == s.describe_secret(SecretId="app")["VersionIdsToStages"]
    s.tag_resource(SecretId="app", Tags=[{"Key": "env", "Value": "prod"}])
    assert eu.describe_secret(SecretId="app")["Tags"] == [{"Key": "env", "Value": "prod"}]
    s.untag_resource(SecretId="app", TagKeys=["env"])
    assert "Tags" not in eu.describe_secret(SecretId="app")
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    s.put_resource_policy(SecretId="app", ResourcePolicy=json.dumps(policy))
    assert json.loads(eu.get_resource_policy(SecretId="app")["ResourcePolicy"]) == policy
    s.delete_resource_policy(SecretId="app")
    assert "ResourcePolicy" not in eu.get_resource_policy(SecretId="app")
    # Rotation on the primary: the new value reaches the replica.
    rotator = f"arn:aws:lambda:{PRIMARY}:{ACCOUNT}:function:palisade-rotation-random-password"
    rotated = s.rotate_secret(SecretId="app", RotationLambdaARN=rotator, RotationRules={"AutomaticallyAfterDays": 30})
    new = s.get_secret_value(SecretId="app")
    assert new["VersionId"] == rotated["VersionId"]
    assert eu.get_secret_value(SecretId="app")["SecretString"] == new["SecretString"]
    assert eu.describe_secret(SecretId="app")["RotationEnabled"] is True
    assert s.describe_secret(SecretId=arn)["ReplicationStatus"][0]["Status"] == "InSync"


def test_writes_to_replica_are_refused(endpoint, aws_cli):
    s = sm(endpoint)
    arn = s.create_secret(Name="ro", SecretString="v1", AddReplicaRegions=[{"Region": REPLICA}])["ARN"]
    rarn = replica_arn(arn, REPLICA)
    eu = sm(endpoint, REPLICA)
    calls = [
        lambda: eu.put_secret_value(SecretId="ro", SecretString="x"),
        lambda: eu.update_secret(SecretId=rarn, SecretString="x"),
        lambda: eu.update_secret(SecretId="ro", Description="x"),
        lambda: eu.tag_resource(SecretId="ro", Tags=[{"Key": "k", "Value": "v"}]),
        lambda: eu.untag_resource(SecretId="ro", TagKeys=["k"]),
        lambda: eu.put_resource_policy(SecretId="ro", ResourcePolicy='{"Version":"2012-10-17","Statement":[]}'),
        lambda: eu.delete_resource_policy(SecretId="ro"),
        lambda: eu.delete_secret(SecretId="ro", ForceDeleteWithoutRecovery=True),
        lambda: eu.restore_secret(SecretId="ro"),
        lambda: eu.rotate_secret(SecretId="ro"),
        lambda: eu.cancel_rotate_secret(SecretId="ro"),
        lambda: eu.replicate_secret_to_regions(SecretId="ro", AddReplicaRegions=[{"Region": OTHER}]),
        lambda: eu.remove_regions_from_replication(SecretId="ro", RemoveReplicaRegions=[PRIMARY]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("InvalidParameterException", NOT_ON_REPLICA)
    assert eu.get_secret_value(SecretId="ro")["SecretString"] == "v1"
    # The aws CLI gets the same answer.
    rc, _, err = aws_cli("secretsmanager", "put-secret-value", "--secret-id", "ro", "--secret-string", "x", region=REPLICA)
    assert rc != 0 and "InvalidParameterException" in err and "replica secret" in err
    # A primary with replicas cannot be deleted until they are removed.
    with pytest.raises(ClientError) as e:
        s.delete_secret(SecretId="ro", ForceDeleteWithoutRecovery=True)
    assert error(e) == ("InvalidParameterException", f"You can't delete secret {arn} that still has replica regions [{REPLICA}].")
    s.remove_regions_from_replication(SecretId="ro", RemoveReplicaRegions=[REPLICA])
    s.delete_secret(SecretId="ro", ForceDeleteWithoutRecovery=True)


def test_replicate_remove_and_stop_with_the_cli(endpoint, aws_cli):
    rc, out, err = aws_cli("secretsmanager", "create-secret", "--name", "cli/secret", "--secret-string", "c1")
    assert rc == 0, err
    arn = json.loads(out)["ARN"]
    rc, out, err = aws_cli(
        "secretsmanager", "replicate-secret-to-regions", "--secret-id", "cli/secret",
        "--add-replica-regions", f"Region={REPLICA}", f"Region={OTHER}",
    )
    assert rc == 0, err
    r = json.loads(out)
    assert r["ARN"] == arn
    assert [(x["Region"], x["Status"]) for x in r["ReplicationStatus"]] == [(REPLICA, "InSync"), (OTHER, "InSync")]
    rc, out, err = aws_cli("secretsmanager", "get-secret-value", "--secret-id", "cli/secret", region=OTHER)
    assert rc == 0, err
    assert json.loads(out)["SecretString"] == "c1" and json.loads(out)["ARN"] == replica_arn(arn, OTHER)

    # Remove one region: the replica there is gone, the other stays.
    rc, out, err = aws_cli(
        "secretsmanager", "remove-regions-from-replication", "--secret-id", arn,
        "--remove-replica-regions", OTHER,
    )
    assert rc == 0, err
    assert [x["Region"] for x in json.loads(out)["ReplicationStatus"]] == [REPLICA]
    with pytest.raises(ClientError) as e:
        sm(endpoint, OTHER).describe_secret(SecretId="cli/secret")
    assert error(e)[0] == "ResourceNotFoundException"

    # Promote the eu-west-1 replica: it becomes a standalone secret there.
    rarn = replica_arn(arn, REPLICA)
    rc, out, err = aws_cli("secretsmanager", "stop-replication-to-replica", "--secret-id", rarn, region=REPLICA)
    assert rc == 0, err
    assert json.loads(out)["ARN"] == rarn
    eu = sm(endpoint, REPLICA)
    d = eu.describe_secret(SecretId="cli/secret")
    assert "PrimaryRegion" not in d and d["ARN"] == rarn
    assert "ReplicationStatus" not in sm(endpoint).describe_secret(SecretId=arn)
    # Now independent: each side writes its own value.
    eu.put_secret_value(SecretId="cli/secret", SecretString="eu-only")
    sm(endpoint).put_secret_value(SecretId="cli/secret", SecretString="us-only")
    assert eu.get_secret_value(SecretId="cli/secret")["SecretString"] == "eu-only"
    assert sm(endpoint).get_secret_value(SecretId="cli/secret")["SecretString"] == "us-only"
    # Stopping replication on a secret that is not a replica is refused.
    with pytest.raises(ClientError) as e:
        eu.stop_replication_to_replica(SecretId="cli/secret")
    assert error(e)[0] == "InvalidParameterException"
    # The calls are in CloudTrail.
    names = {e["EventName"] for e in client(endpoint, "cloudtrail").lookup_events(MaxResults=50)["Events"]}
    assert {"ReplicateSecretToRegions", "RemoveRegionsFromReplication"} <= names


def test_error_cases(endpoint, aws_cli):
    s = sm(endpoint)
    s.create_secret(Name="e", SecretString="v")
    # The primary's own region.
    with pytest.raises(ClientError) as e:
        s.replicate_secret_to_regions(SecretId="e", AddReplicaRegions=[{"Region": PRIMARY}])
    assert error(e) == ("InvalidParameterException", "Invalid replica region.")
    with pytest.raises(ClientError) as e:
        s.create_secret(Name="e2", SecretString="v", AddReplicaRegions=[{"Region": PRIMARY}])
    assert error(e) == ("InvalidParameterException", "Invalid replica region.")
    # Names of the model's pattern that are no region of the aws partition; nothing made.
    for region in ("moon-1", "cn-north-1", "us-gov-west-1"):
        with pytest.raises(ClientError) as e:
            s.create_secret(Name="e3", SecretString="v", AddReplicaRegions=[{"Region": region}])
        assert error(e) == ("InvalidParameterException", "Invalid replica region."), region
    assert [x["Name"] for x in s.list_secrets()["SecretList"]] == ["e"]
    with pytest.raises(ClientError) as e:
        s.describe_secret(SecretId="e2")  # nothing half-written
    assert error(e)[0] == "ResourceNotFoundException"
    # A secret that does not exist.
    with pytest.raises(ClientError) as e:
        s.replicate_secret_to_regions(SecretId="missing", AddReplicaRegions=[{"Region": REPLICA}])
    assert error(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        s.remove_regions_from_replication(SecretId="missing", RemoveReplicaRegions=[REPLICA])
    assert error(e)[0] == "ResourceNotFoundException"
    # A malformed region name (the CLI does not validate patterns; the server does).
    rc, _, err = aws_cli(
        "secretsmanager", "replicate-secret-to-regions", "--secret-id", "e",
        "--add-replica-regions", "Region=Not_A_Region",
    )
    assert rc != 0 and "ValidationException" in err, err
    rc, _, err = aws_cli(
        "secretsmanager", "remove-regions-from-replication", "--secret-id", "e",
        "--remove-replica-regions", "nowhere",
    )
    assert rc != 0 and "ValidationException" in err, err
    assert "ReplicationStatus" not in s.describe_secret(SecretId="e")


def test_existing_secret_in_replica_region_and_force_overwrite(endpoint):
    s = sm(endpoint)
    eu = sm(endpoint, REPLICA)
    theirs = eu.create_secret(Name="dup", SecretString="eu-value")["ARN"]
    arn = s.create_secret(Name="dup", SecretString="us-value")["ARN"]
    r = s.replicate_secret_to_regions(SecretId="dup", AddReplicaRegions=[{"Region": REPLICA}])
    [st] = r["ReplicationStatus"]
    assert st["Status"] == "Failed"
    assert st["StatusMessage"] == f"Replication failed: Secret name dup already exists in region {REPLICA}."
    assert eu.get_secret_value(SecretId="dup")["SecretString"] == "eu-value"
    assert eu.describe_secret(SecretId="dup")["ARN"] == theirs
    assert s.describe_secret(SecretId="dup")["ReplicationStatus"][0]["Status"] == "Failed"
    # Retried with ForceOverwriteReplicaSecret: the eu-west-1 secret is replaced by the replica.
    r = s.replicate_secret_to_regions(
        SecretId="dup", AddReplicaRegions=[{"Region": REPLICA}], ForceOverwriteReplicaSecret=True
    )
    assert r["ReplicationStatus"][0]["Status"] == "InSync"
    got = eu.get_secret_value(SecretId="dup")
    assert got["SecretString"] == "us-value" and got["ARN"] == replica_arn(arn, REPLICA)
    assert len(eu.list_secrets()["SecretList"]) == 1


def test_replica_kms_key_is_used_and_unusable_keys_fail(endpoint):
    s = sm(endpoint)
    eu_kms = client(endpoint, "kms", region=REPLICA)
    key = eu_kms.create_key(Description="eu replica key")["KeyMetadata"]
    eu_kms.create_alias(AliasName="alias/eu-secrets", TargetKeyId=key["KeyId"])
    r = s.create_secret(
        Name="k", SecretString="v1",
        AddReplicaRegions=[{"Region": REPLICA, "KmsKeyId": "alias/eu-secrets"}],
    )
    assert r["ReplicationStatus"][0]["KmsKeyId"] == "alias/eu-secrets"
    eu = sm(endpoint, REPLICA)
    assert eu.describe_secret(SecretId="k")["KmsKeyId"] == "alias/eu-secrets"
    assert eu.list_secret_version_ids(SecretId="k")["Versions"][0]["KmsKeyIds"] == [key["Arn"]]
    # The replica's key disabled: the primary still takes writes, the replica keeps its
    # last value and shows Failed, until the key works again.
    eu_kms.disable_key(KeyId=key["KeyId"])
    s.put_secret_value(SecretId="k", SecretString="v2")
    st = s.describe_secret(SecretId="k")["ReplicationStatus"][0]
    assert st["Status"] == "Failed" and "KMS key" in st["StatusMessage"], st
    assert s.get_secret_value(SecretId="k")["SecretString"] == "v2"
    eu_kms.enable_key(KeyId=key["KeyId"])
    assert eu.get_secret_value(SecretId="k")["SecretString"] == "v1"
    s.put_secret_value(SecretId="k", SecretString="v3")
    assert s.describe_secret(SecretId="k")["ReplicationStatus"][0]["Status"] == "InSync"
    assert eu.get_secret_value(SecretId="k")["SecretString"] == "v3"
    assert eu.get_secret_value(SecretId="k", VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    # A key that does not exist in the replica region: Failed, no replica made.
    r = s.replicate_secret_to_regions(
        SecretId="k", AddReplicaRegions=[{"Region": OTHER, "KmsKeyId": "alias/nowhere"}]
    )
    st = r["ReplicationStatus"][0]
    assert st["Status"] == "Failed" and "alias/nowhere" in st["StatusMessage"]
    with pytest.raises(ClientError) as e:
        sm(endpoint, OTHER).describe_secret(SecretId="k")
    assert error(e)[0] == "ResourceNotFoundException"


def test_replication_needs_its_permission(endpoint):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="dev")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:CreateSecret", "secretsmanager:GetSecretValue",
                                       "secretsmanager:DescribeSecret"], "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:ReplicateSecretToRegions", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"secretsmanager:AddReplicaRegions": [REPLICA]}}},
    ]}
    iam.put_user_policy(UserName="dev", PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = sm(endpoint, ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        dev.create_secret(Name="p1", SecretString="v", AddReplicaRegions=[{"Region": OTHER}])
    assert error(e)[0] == "AccessDeniedException"
    assert "secretsmanager:ReplicateSecretToRegions" in error(e)[1]
    r = dev.create_secret(Name="p2", SecretString="v", AddReplicaRegions=[{"Region": REPLICA}])
    assert r["ReplicationStatus"][0]["Status"] == "InSync"
    with pytest.raises(ClientError) as e:
        dev.remove_regions_from_replication(SecretId="p2", RemoveReplicaRegions=[REPLICA])
    assert error(e)[0] == "AccessDeniedException"
    eu_dev = sm(endpoint, REPLICA, ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    assert eu_dev.get_secret_value(SecretId="p2")["SecretString"] == "v"
    with pytest.raises(ClientError) as e:
        eu_dev.stop_replication_to_replica(SecretId="p2")
    assert error(e)[0] == "AccessDeniedException"


def test_data_dir_holds_no_plaintext_replica_value(tmp_path):
    server = Server(tmp_path / "data", env_extra=root_env())
    plain = "REPLICA-CANARY-51c0ffee"
    try:
        s = sm(server.endpoint)
        s.create_secret(Name="canary", SecretString=plain, AddReplicaRegions=[{"Region": REPLICA}, {"Region": OTHER}])
        s.put_secret_value(SecretId="canary", SecretString=plain + "-v2")
        s.update_secret(SecretId="canary", SecretBinary=(plain + "-bin").encode())
        assert sm(server.endpoint, OTHER).get_secret_value(SecretId="canary")["SecretBinary"] == (plain + "-bin").encode()
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
