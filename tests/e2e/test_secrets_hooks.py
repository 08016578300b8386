"""Secrets Manager rotation through external hooks (the Lambda rotation contract without
Lambda): an HTTP hook and a command hook, registered on the admin plane and chosen with an
ordinary RotationLambdaARN, each doing a real rotation by calling Palisade back with boto3
exactly as an AWS rotation function does (createSecret / setSecret / testSecret /
finishSecret)."""

import http.server
import json
import pathlib
import sys
import tempfile
import threading
import time
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, Server, admin, client, root_env

REGION = "us-east-1"


def fn_arn(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def events(endpoint, name):
    ct = client(endpoint, "cloudtrail")
    return ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}],
                            MaxResults=50)["Events"]


def wait_events(endpoint, name, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = events(endpoint, name)
        if len(got) >= n:
            return got
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} {name} events after {timeout} s: {events(endpoint, name)}")


def admin_raw(endpoint, path, data, method="POST", ak=ROOT_AK, sk=ROOT_SK, sign=True):
    """An admin-plane call with a raw body (for bad JSON). Returns (status, json)."""
    headers = {"Content-Type": "application/json"}
    if sign:
        req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=data, headers=headers)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), "palisade", REGION).add_auth(req)
        headers = dict(req.prepare().headers)
    r = urllib.request.Request(endpoint + path, data=data or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def hooks(endpoint):
    status, body = admin(endpoint, "/_palisade/rotation-hooks", None, method="GET")
    assert status == 200, body
    return {h["name"]: h for h in body["hooks"]}


def rotation_function(sm, event, db, fail_step=None):
    """The AWS rotation Lambda template (SecretsManagerRotationTemplate), against a toy
    database `db` (user -> password)."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step == fail_step:
        raise RuntimeError(f"{step} refused")
    metadata = sm.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError("rotation not enabled")
    versions = metadata["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"Secret version {token} has no stage for rotation")
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError(f"Secret version {token} not set as AWSPENDING")
    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            new = dict(current, password=sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"])
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(new),
                                VersionStages=["AWSPENDING"])
    elif step == "setSecret":
        pending = json.loads(sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
        db[pending["username"]] = pending["password"]
    elif step == "testSecret":
        pending = json.loads(sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
        if db.get(pending["username"]) != pending["password"]:
            raise ValueError("cannot log in with the pending password")
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        if current == token:
            return
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current)
    else:
        raise ValueError(f"bad step {step}")


class HttpHook:
    """A rotation hook served over HTTP by the test: each POST is one step, done with boto3
    against Palisade as root; any exception answers 500."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.db = {}
        self.events = []
        self.fail_step = None
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.events.append(event)
                try:
                    rotation_function(client(hook.endpoint, "secretsmanager"), event, hook.db, hook.fail_step)
                    status = 200
                except Exception as e:  # noqa: BLE001 - a failed step is any error
                    hook.error = repr(e)
                    status = 500
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rotate"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def http_hook(endpoint):
    h = HttpHook(endpoint)
    try:
        yield h
    finally:
        h.close()


DB = {"username": "pettracker", "password": "initial-Passw0rd!", "host": "db.internal"}


def test_http_hook_rotates_like_a_lambda(endpoint, http_hook, aws_cli):
    status, body = admin(endpoint, "/_palisade/rotation-hooks", {"name": "pettracker-db-rotator", "url": http_hook.url})
    assert status == 200, body
    assert body == {"name": "pettracker-db-rotator", "url": http_hook.url, "timeout_seconds": 30}
    http_hook.db["pettracker"] = DB["password"]
    sm = client(endpoint, "secretsmanager")
    v1 = sm.create_secret(Name="pettracker/prod/db", SecretString=json.dumps(DB))["VersionId"]
    # The unmodified aws CLI configures and starts it, as for a Lambda.
    rc, out, err = aws_cli("secretsmanager", "rotate-secret", "--secret-id", "pettracker/prod/db",
                           "--rotation-lambda-arn", fn_arn("pettracker-db-rotator"),
                           "--rotation-rules", '{"AutomaticallyAfterDays": 30}')
    assert rc == 0, err
    token = json.loads(out)["VersionId"]
    wait_events(endpoint, "RotationSucceeded", 1)
    assert [e["Step"] for e in http_hook.events] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    arn = sm.describe_secret(SecretId="pettracker/prod/db")["ARN"]
    for e in http_hook.events:
        assert e["SecretId"] == arn and e["ClientRequestToken"] == token and len(e["RotationToken"]) >= 36
        assert set(e) == {"Step", "SecretId", "ClientRequestToken", "RotationToken"}
    cur = sm.get_secret_value(SecretId="pettracker/prod/db")
    new = json.loads(cur["SecretString"])
    assert cur["VersionId"] == token and new["password"] != DB["password"]
    assert http_hook.db["pettracker"] == new["password"]
    prev = sm.get_secret_value(SecretId="pettracker/prod/db", VersionStage="AWSPREVIOUS")
    assert prev["VersionId"] == v1 and json.loads(prev["SecretString"]) == DB
    d = sm.describe_secret(SecretId="pettracker/prod/db")
    assert d["VersionIdsToStages"] == {token: ["AWSCURRENT"], v1: ["AWSPREVIOUS"]}
    assert "LastRotatedDate" in d and d["RotationLambdaARN"] == fn_arn("pettracker-db-rotator")
    # CloudTrail: the hook's own calls, and the rotation's service events.
    assert events(endpoint, "PutSecretValue") and events(endpoint, "UpdateSecretVersionStage")
    assert len(events(endpoint, "RotationStarted")) == 1
    ok = json.loads(events(endpoint, "RotationSucceeded")[0]["CloudTrailEvent"])
    assert ok["additionalEventData"]["VersionId"] == token and ok["eventType"] == "AwsServiceEvent"
    assert new["password"] not in json.dumps([e["CloudTrailEvent"] for e in events(endpoint, "PutSecretValue")])


def test_rotation_in_progress_and_idempotent_retry(endpoint, http_hook):
    slow = threading.Event()
    original = http_hook.server.RequestHandlerClass.do_POST

    def held(self):
        slow.wait(10)
        original(self)

    http_hook.server.RequestHandlerClass.do_POST = held
    admin(endpoint, "/_palisade/rotation-hooks", {"name": "slow", "url": http_hook.url})
    http_hook.db["pettracker"] = DB["password"]
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="s", SecretString=json.dumps(DB))
    token = "11111111-2222-3333-4444-555555555555"
    r = sm.rotate_secret(SecretId="s", RotationLambdaARN=fn_arn("slow"), ClientRequestToken=token)
    assert r["VersionId"] == token
    # Started: an empty AWSPENDING version that GetSecretValue does not find.
    d = sm.describe_secret(SecretId="s")
    assert d["VersionIdsToStages"][token] == ["AWSPENDING"]
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="s", VersionStage="AWSPENDING")
    assert code(e) == "ResourceNotFoundException"
    # The same call again is the same rotation; another one is refused.
    assert sm.rotate_secret(SecretId="s", ClientRequestToken=token)["VersionId"] == token
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId="s")
    assert code(e) == "InvalidRequestException" and "previous rotation isn't complete" in str(e.value)
    slow.set()
    wait_events(endpoint, "RotationSucceeded", 1)
    assert sm.get_secret_value(SecretId="s")["VersionId"] == token
    assert len(events(endpoint, "RotationStarted")) == 1


def test_failing_hook_leaves_awscurrent(endpoint, http_hook):
    admin(endpoint, "/_palisade/rotation-hooks", {"name": "flaky", "url": http_hook.url})
    http_hook.db["pettracker"] = DB["password"]
    http_hook.fail_step = "testSecret"
    sm = client(endpoint, "secretsmanager")
    v1 = sm.create_secret(Name="f", SecretString=json.dumps(DB))["VersionId"]
    token = sm.rotate_secret(SecretId="f", RotationLambdaARN=fn_arn("flaky"),
                             RotationRules={"AutomaticallyAfterDays": 7})["VersionId"]
    failed = wait_events(endpoint, "RotationFailed", 1)
    reason = json.loads(failed[0]["CloudTrailEvent"])["additionalEventData"]["FailureReason"]
    assert "flaky" in reason and "testSecret" in reason and "HTTP 500" in reason
    assert [e["Step"] for e in http_hook.events] == ["createSecret", "setSecret", "testSecret"]
    cur = sm.get_secret_value(SecretId="f")
    assert cur["VersionId"] == v1 and json.loads(cur["SecretString"]) == DB
    # Visible as on AWS: AWSPENDING stays on the new version, no LastRotatedDate, and the
    # next RotateSecret says the previous rotation isn't complete.
    d = sm.describe_secret(SecretId="f")
    assert d["VersionIdsToStages"] == {v1: ["AWSCURRENT"], token: ["AWSPENDING"]}
    assert "LastRotatedDate" not in d
    assert not events(endpoint, "RotationSucceeded")
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId="f")
    assert code(e) == "InvalidRequestException"
    # Clearing AWSPENDING (as the AWS troubleshooting guide says) and fixing the hook: the
    # next rotation works.
    sm.update_secret_version_stage(SecretId="f", VersionStage="AWSPENDING", RemoveFromVersionId=token)
    http_hook.fail_step = None
    http_hook.events.clear()
    t2 = sm.rotate_secret(SecretId="f")["VersionId"]
    wait_events(endpoint, "RotationSucceeded", 1)
    assert sm.get_secret_value(SecretId="f")["VersionId"] == t2
    assert sm.get_secret_value(SecretId="f", VersionStage="AWSPREVIOUS")["VersionId"] == v1
    # A hook that answers 2xx without moving AWSCURRENT has not rotated.
    admin(endpoint, "/_palisade/rotation-hooks", {"name": "lazy", "url": http_hook.url})
    http_hook.server.RequestHandlerClass.do_POST = lambda self: (
        self.rfile.read(int(self.headers["Content-Length"])), self.send_response(204), self.end_headers())
    sm.rotate_secret(SecretId="f", RotationLambdaARN=fn_arn("lazy"))
    failed = wait_events(endpoint, "RotationFailed", 2)
    assert any("AWSCURRENT" in json.loads(e["CloudTrailEvent"])["additionalEventData"]["FailureReason"]
               for e in failed)
    assert sm.get_secret_value(SecretId="f")["VersionId"] == t2


def test_unreachable_and_unregistered_hooks(endpoint):
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="u", SecretString=json.dumps(DB))
    v1 = sm.get_secret_value(SecretId="u")["VersionId"]
    # Nothing listens there: connection refused is a failed createSecret.
    admin(endpoint, "/_palisade/rotation-hooks", {"name": "gone", "url": "http://127.0.0.1:9/x", "timeout_seconds": 2})
    sm.rotate_secret(SecretId="u", RotationLambdaARN=fn_arn("gone"))
    failed = wait_events(endpoint, "RotationFailed", 1)
    assert "createSecret" in json.loads(failed[0]["CloudTrailEvent"])["additionalEventData"]["FailureReason"]
    assert sm.get_secret_value(SecretId="u")["VersionId"] == v1
    # A function name that is neither built in nor registered cannot be invoked: the call
    # fails as on AWS and configures nothing.
    sm.create_secret(Name="u2", SecretString="x")
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId="u2", RotationLambdaARN=fn_arn("nobody-registered-me"))
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "RotationLambdaARN" not in sm.describe_secret(SecretId="u2")
    assert sm.get_secret_value(SecretId="u2")["SecretString"] == "x"



def test_a_hook_unregistered_after_configuration_fails_its_schedule_visibly(endpoint):
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="later", SecretString="x")
    admin(endpoint, "/_palisade/rotation-hooks", {"name": "temp", "url": "http://127.0.0.1:9/x", "timeout_seconds": 2})
    sm.rotate_secret(SecretId="later", RotationLambdaARN=fn_arn("temp"), RotateImmediately=False,
                     RotationRules={"AutomaticallyAfterDays": 1})
    assert admin_raw(endpoint, "/_palisade/rotation-hooks/temp", b"", method="DELETE")[0] == 200
    # RotateSecret now refuses it; the schedule already set fails when due, and says so.
    with pytest.raises(ClientError) as e:
        sm.rotate_secret(SecretId="later")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 2 * 86400})[0] == 200
    failed = wait_events(endpoint, "RotationFailed", 1)
    assert any("temp" in ev["CloudTrailEvent"] for ev in failed)
    assert sm.get_secret_value(SecretId="later")["SecretString"] == "x"


HOOK_SCRIPT = r'''
import json, os, sys
import boto3
conf = json.load(open(sys.argv[1]))
sys.path.insert(0, conf["lib"])
from test_secrets_hooks import rotation_function
event = json.load(sys.stdin)
sm = boto3.client("secretsmanager")  # AWS_ENDPOINT_URL, AWS_REGION and the role's credentials
who = boto3.client("sts").get_caller_identity()["Arn"]
db = json.load(open(conf["db"]))
with open(conf["log"], "a") as f:
    f.write(json.dumps({"Step": event["Step"], "who": who, "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
                        "region": os.environ.get("AWS_REGION"),
                        "root_secret_visible": "PALISADE_ROOT_SECRET_ACCESS_KEY" in os.environ}) + "\n")
rotation_function(sm, event, db, conf.get("fail_step"))
json.dump(db, open(conf["db"], "w"))
'''

TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def make_role(endpoint, name, trust=TRUST_LAMBDA, allow_secrets=True):
    iam = client(endpoint, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if allow_secrets:
        iam.put_role_policy(RoleName=name, PolicyName="rotate", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                              "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
                                              "secretsmanager:GetRandomPassword"],
                "Resource": "*"}]}))
    return arn


def test_command_hook_with_role_credentials_on_schedule(endpoint, tmp_path):
    role = make_role(endpoint, "db-rotation-lambda-role")
    script, conf = tmp_path / "hook.py", tmp_path / "hook.json"
    script.write_text(HOOK_SCRIPT)
    log, db = tmp_path / "log.jsonl", tmp_path / "db.json"
    db.write_text(json.dumps({"pettracker": DB["password"]}))
    settings = {"lib": str(pathlib.Path(__file__).parent), "log": str(log), "db": str(db)}
    conf.write_text(json.dumps(settings))
    status, body = admin(endpoint, "/_palisade/rotation-hooks",
                         {"name": "db-rotator-cmd", "command": [sys.executable, str(script), str(conf)],
                          "role_arn": role})
    assert status == 200, body
    assert body["role_arn"] == role and body["command"][0] == sys.executable
    sm = client(endpoint, "secretsmanager")
    v1 = sm.create_secret(Name="cmd/db", SecretString=json.dumps(DB))["VersionId"]
    r = sm.rotate_secret(SecretId="cmd/db", RotationLambdaARN=fn_arn("db-rotator-cmd"),
                         RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    assert "VersionId" not in r
    time.sleep(1.5)
    assert not log.exists()
    # Scheduled: 31 days on the business clock.
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 31 * 86400})
    assert status == 200
    wait_events(endpoint, "RotationSucceeded", 1)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["Step"] for x in lines] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    for x in lines:
        assert x["who"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/db-rotation-lambda-role/db-rotator-cmd"
        assert x["endpoint"] == endpoint and x["region"] == REGION and not x["root_secret_visible"]
    cur = sm.get_secret_value(SecretId="cmd/db")
    assert cur["VersionId"] != v1
    assert json.loads(db.read_text())["pettracker"] == json.loads(cur["SecretString"])["password"]
    assert sm.get_secret_value(SecretId="cmd/db", VersionStage="AWSPREVIOUS")["VersionId"] == v1
    # The hook's calls are in CloudTrail as the role session.
    puts = [json.loads(e["CloudTrailEvent"]) for e in events(endpoint, "PutSecretValue")]
    assert any(p["userIdentity"]["arn"].endswith(":assumed-role/db-rotation-lambda-role/db-rotator-cmd")
               for p in puts)
    d = sm.describe_secret(SecretId="cmd/db")
    assert d["NextRotationDate"] > d["LastRotatedDate"]
    # A failing command (exit status 1) fails the rotation.
    conf.write_text(json.dumps(dict(settings, fail_step="setSecret")))
    before = cur["VersionId"]
    sm.rotate_secret(SecretId="cmd/db")
    failed = wait_events(endpoint, "RotationFailed", 1)
    reason = json.loads(failed[0]["CloudTrailEvent"])["additionalEventData"]["FailureReason"]
    assert "setSecret" in reason and "exit status 1" in reason
    assert sm.get_secret_value(SecretId="cmd/db")["VersionId"] == before
    # A role Lambda may not assume is refused when the hook runs, too.
    iam = client(endpoint, "iam")
    iam.update_assume_role_policy(RoleName="db-rotation-lambda-role", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    sm.create_secret(Name="cmd/other", SecretString=json.dumps(DB))
    sm.rotate_secret(SecretId="cmd/other", RotationLambdaARN=fn_arn("db-rotator-cmd"))
    failed = wait_events(endpoint, "RotationFailed", 2)
    assert any("lambda.amazonaws.com" in e["CloudTrailEvent"] for e in failed)


def test_admin_endpoint_validates_and_authenticates(endpoint):
    make_role(endpoint, "not-for-lambda", trust={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    path = "/_palisade/rotation-hooks"
    for data in [b"not json", b"[]", b'{"url": "http://127.0.0.1:1/"}', b'{"name": "x"}',
                 b'{"name": "x", "url": "https://example.com/"}', b'{"name": "x", "url": "file:///etc/passwd"}',
                 b'{"name": "x", "url": "http://127.0.0.1:1/", "command": ["true"]}',
                 b'{"name": "bad name", "url": "http://127.0.0.1:1/"}',
                 b'{"name": "palisade-rotation-mine", "url": "http://127.0.0.1:1/"}',
                 b'{"name": "x", "command": []}', b'{"name": "x", "command": "true"}',
                 b'{"name": "x", "command": ["true"], "role_arn": "arn:aws:iam::000000000000:role/missing"}',
                 b'{"name": "x", "command": ["true"], "role_arn": "arn:aws:iam::000000000000:role/not-for-lambda"}',
                 b'{"name": "x", "url": "http://127.0.0.1:1/", "timeout_seconds": 0}']:
        status, body = admin_raw(endpoint, path, data)
        assert status == 400, (data, body)
        assert body["__type"] == "ValidationException" and body["message"]
    assert hooks(endpoint) == {}
    # Unsigned, badly signed, or signed by someone other than the management root (hooks run
    # commands on the host: administrators of the account may not register them): 403.
    good = b'{"name": "x", "url": "http://127.0.0.1:1/"}'
    assert admin_raw(endpoint, path, good, sign=False)[0] == 403
    assert admin_raw(endpoint, path, good, sk="wrong" * 8)[0] == 403
    iam = client(endpoint, "iam")
    iam.create_user(UserName="admin-user")
    iam.attach_user_policy(UserName="admin-user", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    k = iam.create_access_key(UserName="admin-user")["AccessKey"]
    assert admin_raw(endpoint, path, good, ak=k["AccessKeyId"], sk=k["SecretAccessKey"])[0] == 403
    assert admin_raw(endpoint, path, b"", method="GET", sign=False)[0] == 403
    assert admin_raw(endpoint, path + "/x", b"", method="DELETE", sign=False)[0] == 403
    assert hooks(endpoint) == {}
    # Register, replace, list, delete.
    assert admin_raw(endpoint, path, good)[0] == 200
    assert admin_raw(endpoint, path, b'{"name": "x", "url": "http://127.0.0.1:2/", "timeout_seconds": 5}')[0] == 200
    assert hooks(endpoint) == {"x": {"name": "x", "url": "http://127.0.0.1:2/", "timeout_seconds": 5}}
    assert admin_raw(endpoint, path + "/x", b"", method="DELETE")[0] == 200
    assert admin_raw(endpoint, path + "/x", b"", method="DELETE")[0] == 404
    assert hooks(endpoint) == {}


def test_hooks_survive_restart_and_reset_wipes_them():
    with tempfile.TemporaryDirectory(prefix="palisade-hooks-") as tmp:
        data = pathlib.Path(tmp) / "data"
        s = Server(data, env_extra=root_env())
        try:
            status, _ = admin(s.endpoint, "/_palisade/rotation-hooks", {"name": "keep", "url": "http://127.0.0.1:1/"})
            assert status == 200
        finally:
            s.stop()
        s = Server(data, env_extra=root_env())
        try:
            assert list(hooks(s.endpoint)) == ["keep"]
            assert admin(s.endpoint, "/_palisade/reset", {})[0] == 200
            assert hooks(s.endpoint) == {}
        finally:
            assert s.stop() == 0


def test_a_rotation_cut_short_by_a_restart_runs_again_with_its_token():
    with tempfile.TemporaryDirectory(prefix="palisade-hooks-") as tmp:
        data = pathlib.Path(tmp) / "data"
        first = Server(data, env_extra=root_env())
        hook = HttpHook(first.endpoint)
        release, arrived, restarted, endpoint_known = (threading.Event() for _ in range(4))
        original = hook.server.RequestHandlerClass.do_POST

        def held(self):
            if restarted.is_set():
                endpoint_known.wait(10)  # the restarted server's URL
                original(self)
                return
            # The first server's createSecret: held, then dropped unanswered (its caller is
            # gone; doing the step too would race the resumed run's createSecret).
            arrived.set()
            release.wait(30)

        hook.server.RequestHandlerClass.do_POST = held
        try:
            assert admin(first.endpoint, "/_palisade/rotation-hooks", {"name": "resumable", "url": hook.url})[0] == 200
            hook.db["pettracker"] = DB["password"]
            sm = client(first.endpoint, "secretsmanager")
            v1 = sm.create_secret(Name="r", SecretString=json.dumps(DB))["VersionId"]
            token = sm.rotate_secret(SecretId="r", RotationLambdaARN=fn_arn("resumable"))["VersionId"]
            assert arrived.wait(10)  # createSecret reached the hook, which holds it
            assert first.stop() == 0  # the hook has not answered: the run is cut short
            restarted.set()
            release.set()
            second = Server(data, env_extra=root_env())
            try:
                hook.endpoint = second.endpoint
                endpoint_known.set()
                wait_events(second.endpoint, "RotationSucceeded", 1)
                sm = client(second.endpoint, "secretsmanager")
                assert sm.get_secret_value(SecretId="r")["VersionId"] == token
                assert sm.get_secret_value(SecretId="r", VersionStage="AWSPREVIOUS")["VersionId"] == v1
                assert {e["ClientRequestToken"] for e in hook.events} == {token}
            finally:
                assert second.stop() == 0
        finally:
            release.set()
            endpoint_known.set()
            hook.close()
