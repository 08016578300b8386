"""End-to-end fixtures: a real `palisade serve` on a free port, driven by boto3 and the aws CLI.

The binary is PALISADE_BIN, or target/debug/palisade (scripts/test.sh builds it first).
One server per test session; `reset` (the admin plane) puts it back to a new data dir's
state between tests, as the contract says test suites should.
"""

import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import time

import boto3
import botocore.config
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "000000000000"
ROOT_AK = "AKIAE2EROOTKEY000000"
ROOT_SK = "e2eRootSecretKey0000000000000000000000000"[:40]
READY = re.compile(r"^palisade listening on (http://127\.0\.0\.1:\d+)$")


def binary():
    return os.environ.get("PALISADE_BIN", str(ROOT / "target" / "debug" / "palisade"))


class Server:
    """A running palisade serve process."""

    def __init__(self, data_dir, env_extra=None, args=()):
        self.data_dir = str(data_dir)
        env = dict(os.environ)
        env.update(env_extra or {})
        self.log = open(os.path.join(self.data_dir + ".log"), "wb+")
        self.proc = subprocess.Popen(
            [binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.endpoint = None
        self.stderr_lines = []
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.stderr_lines.append(text)
            m = READY.match(text)
            if m:
                self.endpoint = m.group(1)
                break
        if self.endpoint is None:
            self.proc.kill()
            raise RuntimeError("server did not become ready: %r" % self.stderr_lines)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def root_env():
    return {"PALISADE_ROOT_ACCESS_KEY_ID": ROOT_AK, "PALISADE_ROOT_SECRET_ACCESS_KEY": ROOT_SK}


def client(endpoint, service, ak=ROOT_AK, sk=ROOT_SK, token=None, region="us-east-1", validate=True):
    """A boto3 client of the server. `validate=False`: boto3 sends what it is given (no
    client-side check of the model's bounds), as another SDK or a hand-made request would,
    so the server's own validation answers."""
    config = None if validate else botocore.config.Config(parameter_validation=False)
    return boto3.session.Session(
        aws_access_key_id=ak, aws_secret_access_key=sk, aws_session_token=token, region_name=region
    ).client(service, endpoint_url=endpoint, config=config)


_ADMIN_USERS = {}
_RESETS = [0]


def admin_user(endpoint, name="e2e-admin"):
    """(access key, secret) of an IAM user of the management account with
    AdministratorAccess, made once after each reset of the `endpoint` fixture: AWS lets no
    root user assume a role."""
    cached = _ADMIN_USERS.get((endpoint, _RESETS[0]))
    if cached:
        return cached
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    _ADMIN_USERS[(endpoint, _RESETS[0])] = (key["AccessKeyId"], key["SecretAccessKey"])
    return _ADMIN_USERS[(endpoint, _RESETS[0])]


def unprivileged_client(endpoint, service, user):
    """A boto3 client of a new IAM user `user` with no policies, skipping botocore's own
    parameter checks: what a caller allowed nothing gets for a malformed request."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return client(endpoint, service, key["AccessKeyId"], key["SecretAccessKey"], validate=False)


def admin_client(endpoint, service, region="us-east-1"):
    """A boto3 client signed as [`admin_user`]."""
    ak, sk = admin_user(endpoint)
    return client(endpoint, service, ak=ak, sk=sk, region=region)


def admin(endpoint, path, body, ak=ROOT_AK, sk=ROOT_SK, method="POST", token=None):
    """A SigV4-signed admin-plane call (service name `palisade`). Returns (status, json)."""
    data = json.dumps(body).encode() if body is not None else b""
    req = botocore.awsrequest.AWSRequest(
        method=method, url=endpoint + path, data=data, headers={"Content-Type": "application/json"}
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk, token), "palisade", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory(prefix="palisade-e2e-") as tmp:
        s = Server(pathlib.Path(tmp) / "data", env_extra=root_env())
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture()
def endpoint(server):
    status, _ = admin(server.endpoint, "/_palisade/reset", {})
    assert status == 200
    _RESETS[0] += 1
    return server.endpoint


@pytest.fixture()
def aws_cli(endpoint, tmp_path):
    """Runs the unmodified aws CLI against the server as root; returns (rc, stdout, stderr)."""

    def run(*args, ak=ROOT_AK, sk=ROOT_SK, token=None, region="us-east-1"):
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=ak,
            AWS_SECRET_ACCESS_KEY=sk,
            AWS_DEFAULT_REGION=region,
            AWS_CONFIG_FILE=str(tmp_path / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        )
        env.pop("AWS_PROFILE", None)
        if token:
            env["AWS_SESSION_TOKEN"] = token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
        p = subprocess.run(
            ["aws", "--endpoint-url", endpoint, "--output", "json", *args],
            capture_output=True,
            env=env,
            timeout=60,
        )
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    return run
