"""The admin plane: health, reset and the business clock, with their access rules."""

import datetime
import json
import os
import stat
import subprocess
import urllib.request

import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, Server, admin, admin_client, client, root_env


def test_health_needs_no_credentials(endpoint):
    with urllib.request.urlopen(endpoint + "/_palisade/health", timeout=5) as r:
        assert r.status == 200
        assert json.loads(r.read()) == {"status": "ok"}


@pytest.mark.parametrize("path", ["/_palisade/reset", "/_palisade/clock"])
def test_admin_refuses_unsigned_unknown_and_wrong_keys(endpoint, path):
    req = urllib.request.Request(endpoint + path, data=b"{}", method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("unsigned admin call accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 403
    assert admin(endpoint, path, {"advance_seconds": 1}, ak="AKIANOSUCHKEY0000000")[0] == 403
    assert admin(endpoint, path, {"advance_seconds": 1}, sk="z" * 40)[0] == 403


def test_admin_plane_is_for_root_and_administrators_with_valid_credentials(endpoint):
    clock = lambda **kw: admin(endpoint, "/_palisade/clock", {"advance_seconds": 1}, **kw)[0]
    iam = client(endpoint, "iam")
    keys = {}
    for name, policy in [("ada", "AdministratorAccess"), ("ro", "ReadOnlyAccess"), ("pu", "PowerUserAccess")]:
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
        k = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = (k["AccessKeyId"], k["SecretAccessKey"])
    # An administrator of the management account may; a read-only user may not, nor a power
    # user (everything but IAM: it could not make itself an administrator).
    assert clock(ak=keys["ada"][0], sk=keys["ada"][1]) == 200
    assert clock(ak=keys["ro"][0], sk=keys["ro"][1]) == 403
    assert clock(ak=keys["pu"][0], sk=keys["pu"][1]) == 403
    # Temporary credentials are checked as on every API call: the token must come with them,
    # they expire on the business clock, and those IAM refuses are refused here too.
    no_mfa = client(endpoint, "sts", ak=keys["ada"][0], sk=keys["ada"][1]).get_session_token()["Credentials"]
    assert clock(ak=no_mfa["AccessKeyId"], sk=no_mfa["SecretAccessKey"], token=no_mfa["SessionToken"]) == 403
    iam.create_role(RoleName="palisade-admin", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                                "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName="palisade-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    session = admin_client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/palisade-admin", RoleSessionName="ops")["Credentials"]
    ak, sk, token = session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    assert clock(ak=ak, sk=sk, token=token) == 200
    assert clock(ak=ak, sk=sk) == 403
    assert clock(ak=ak, sk=sk, token=token[:-4] + "AAAA") == 403
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 3700})[0] == 200
    assert clock(ak=ak, sk=sk, token=token) == 403


def test_clock_advance_and_set(endpoint):
    status, body = admin(endpoint, "/_palisade/clock", {"advance_seconds": 3600})
    assert status == 200
    now = datetime.datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
    delta = now - datetime.datetime.now(datetime.timezone.utc)
    assert 3500 < delta.total_seconds() < 3700
    status, body = admin(endpoint, "/_palisade/clock", {"set": "2030-01-01T00:00:00Z"})
    assert status == 200
    assert body["now"].startswith("2030-01-01T00:00")
    # SigV4 skew still uses the wall clock: requests keep working.
    assert client(endpoint, "sts").get_caller_identity()["Account"] == ACCOUNT


@pytest.mark.parametrize(
    "body", [{}, {"advance_seconds": "x"}, {"set": "yesterday"}, {"advance_seconds": 1, "set": "2030-01-01T00:00:00Z"}]
)
def test_clock_bad_input(endpoint, body):
    status, resp = admin(endpoint, "/_palisade/clock", body)
    assert status == 400
    assert resp["__type"] == "ValidationException"


def test_clock_stays_where_services_can_compute_deadlines(endpoint):
    """The business clock refuses dates past 9000-01-01 or before 1970 (nothing is saved);
    at its far end every deadline a service computes still works."""
    for body in ({"set": "9999-12-31T23:59:00Z"}, {"set": "1969-12-31T00:00:00Z"},
                 {"advance_seconds": 2.2e11}, {"advance_seconds": -1e10}):
        status, resp = admin(endpoint, "/_palisade/clock", body)
        assert status == 400 and resp["__type"] == "ValidationException", body
        assert "9000-01-01" in resp["message"]
    assert admin(endpoint, "/_palisade/clock", {"set": "8999-12-31T23:00:00Z"})[0] == 200
    # One more day would pass the end: refused, and the clock stays.
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 86400})
    assert status == 400
    assert admin(endpoint, "/_palisade/clock", {}, method="GET")[1]["now"].startswith("8999-12-31T23")
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=2560)
    assert kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)["DeletionDate"].year == 9000
    sts = admin_client(endpoint, "sts")
    assert sts.get_session_token(DurationSeconds=129600)["Credentials"]["Expiration"].year == 9000
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="far", SecretString="x")
    sm.rotate_secret(SecretId="far", RotationRules={"AutomaticallyAfterDays": 1000},
                     RotationLambdaARN=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:palisade-rotation-random-password")
    assert sm.delete_secret(SecretId="far", RecoveryWindowInDays=30)["DeletionDate"].year == 9000


def test_generated_root_credentials_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALISADE_ROOT_")}
    os.environ.pop("PALISADE_ROOT_ACCESS_KEY_ID", None)
    s = Server(tmp_path / "gen", env_extra={})
    try:
        creds = tmp_path / "gen" / "root-credentials"
        mode = stat.S_IMODE(creds.stat().st_mode)
        assert mode == 0o600
        text = creds.read_text()
        assert text.startswith("[palisade-root]\n")
        lines = dict(l.split(" = ", 1) for l in text.splitlines()[1:])
        ak, sk = lines["aws_access_key_id"], lines["aws_secret_access_key"]
        assert ak.startswith("AKIA") and len(ak) == 20 and len(sk) == 40
        # Printed once on the start that created it.
        assert any(ak in l for l in s.stderr_lines)
        assert client(s.endpoint, "sts", ak=ak, sk=sk).get_caller_identity()["Arn"].endswith(":root")
        # The master key and the store never hold the secret in clear.
        for f in (tmp_path / "gen").iterdir():
            if f.is_file() and f.name != "root-credentials":
                assert sk.encode() not in f.read_bytes(), f.name
    finally:
        assert s.stop() == 0
    # A restart keeps the same key and prints no secret.
    s = Server(tmp_path / "gen", env_extra={})
    try:
        assert not any(sk in l for l in s.stderr_lines)
        assert client(s.endpoint, "sts", ak=ak, sk=sk).get_caller_identity()["Account"] == ACCOUNT
    finally:
        s.stop()


def test_account_id_flag(tmp_path):
    s = Server(tmp_path / "acct", env_extra=root_env(), args=("--account-id", "123456789012"))
    try:
        assert client(s.endpoint, "sts").get_caller_identity()["Account"] == "123456789012"
    finally:
        s.stop()


def test_sigterm_exits_zero(tmp_path):
    s = Server(tmp_path / "term", env_extra=root_env())
    client(s.endpoint, "sts").get_caller_identity()
    assert s.stop() == 0


def test_help_explains_itself():
    from conftest import binary

    out = subprocess.run([binary(), "serve", "--help"], capture_output=True, text=True).stdout
    for flag in ("--listen", "--data-dir", "--account-id", "PALISADE_LISTEN", "PALISADE_DATA_DIR"):
        assert flag in out
    bad = subprocess.run([binary(), "serve", "--account-id", "12"], capture_output=True, text=True)
    assert bad.returncode == 2
