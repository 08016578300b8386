"""Nothing acknowledged is lost: kill -9 the server at random moments while clients fire
calls; after each restart every acknowledged call's CloudTrail event is there."""

import json
import random
import signal
import threading
import time

import botocore.config
import pytest

from conftest import Server, client, root_env

CYCLES = 10


def all_request_ids(endpoint):
    ct = client(endpoint, "cloudtrail")
    ids = set()
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    )
    for page in pages:
        for ev in page["Events"]:
            ids.add(json.loads(ev["CloudTrailEvent"])["requestID"])
    return ids


def kill_while_running(server, threads, stop, progressed, lock, rng):
    """Starts the client threads, kills the server with SIGKILL at a random moment once
    `progressed()` (read under `lock`) says calls are being acknowledged (clients take a
    moment to start), then stops the threads and checks that none outlived the server."""
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if progressed():
                break
        time.sleep(0.01)
    time.sleep(rng.uniform(0.05, 0.8))
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a client outlived its server"


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_acknowledged_calls_survive_kill_9(tmp_path, sync):
    """Both --sync modes: `normal` skips fsync, but an acknowledged write has reached the
    OS, which keeps it when the process is killed."""
    data = tmp_path / "data"
    acked = set()
    lock = threading.Lock()
    rng = random.Random(1234)
    cfg = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5)
    per_cycle = []
    for cycle in range(CYCLES):
        server = Server(data, env_extra=root_env(), args=("--sync", sync))
        stop = threading.Event()

        def fire():
            c = service_client(server.endpoint, "sts", cfg)
            while not stop.is_set():
                try:
                    rid = c.get_caller_identity()["ResponseMetadata"]["RequestId"]
                except Exception:
                    continue
                with lock:
                    acked.add(rid)

        threads = [threading.Thread(target=fire, daemon=True) for _ in range(6)]
        before = len(acked)
        kill_while_running(server, threads, stop, lambda: len(acked) > before, lock, rng)
        per_cycle.append(len(acked) - before)

    server = Server(data, env_extra=root_env())
    try:
        recorded = all_request_ids(server.endpoint)
    finally:
        server.stop()
    missing = acked - recorded
    print(f"durability: {CYCLES} kill -9 cycles, acknowledged per cycle {per_cycle}, "
          f"total acknowledged {len(acked)}, recorded {len(recorded)}, missing {len(missing)}")
    assert sum(1 for n in per_cycle if n > 0) == CYCLES, "each cycle should acknowledge calls"
    assert not missing


def _users_and_params(endpoint):
    iam = client(endpoint, "iam")
    ssm = client(endpoint, "ssm")
    users = {
        u["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix="/kill9/")
        for u in page["Users"]
    }
    params = {
        p["Name"]: p
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/kill9")
        for p in page["Parameters"]
    }
    return users, params


def _successful_events(endpoint, event_name, field):
    """How many successful `event_name` events name each value of request parameter
    `field`."""
    ct = client(endpoint, "cloudtrail")
    counts = {}
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}]
    )
    for page in pages:
        for ev in page["Events"]:
            record = json.loads(ev["CloudTrailEvent"])
            if "errorCode" not in record:
                subject = record["requestParameters"][field]
                counts[subject] = counts.get(subject, 0) + 1
    return counts


def _write_users(endpoint, cfg, cycle, worker, stop, acked, lock):
    iam = service_client(endpoint, "iam", cfg)
    n = 0
    while not stop.is_set():
        name = f"k{cycle}-{worker}-{n}"
        n += 1
        try:
            iam.create_user(UserName=name, Path="/kill9/")
        except Exception:
            continue
        with lock:
            acked.add(name)


def _write_params(endpoint, cfg, cycle, worker, stop, acked, lock):
    ssm = service_client(endpoint, "ssm", cfg)
    n = 0
    while not stop.is_set():
        name, value = f"/kill9/p{worker}", f"c{cycle}-n{n}"
        n += 1
        try:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        except Exception:
            continue
        with lock:
            acked[name] = value


@pytest.mark.parametrize("sync", ["full", "normal"])
def test_acknowledged_writes_and_their_events_survive_kill_9(tmp_path, sync):
    """State changes under kill -9: every acknowledged IAM user and SSM parameter value is
    there after the restart, and the changes present and their CloudTrail events match one
    to one: the effect and its record commit together or not at all."""
    data = tmp_path / "data"
    acked_users, acked_params = set(), {}
    lock = threading.Lock()
    rng = random.Random(4321)
    cfg = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=5)
    per_cycle = []
    for cycle in range(CYCLES):
        server = Server(data, env_extra=root_env(), args=("--sync", sync))
        stop = threading.Event()
        threads = [
            threading.Thread(target=_write_users, daemon=True,
                             args=(server.endpoint, cfg, cycle, w, stop, acked_users, lock))
            for w in range(3)
        ] + [
            threading.Thread(target=_write_params, daemon=True,
                             args=(server.endpoint, cfg, cycle, w, stop, acked_params, lock))
            for w in range(2)
        ]
        before = len(acked_users)
        kill_while_running(server, threads, stop, lambda: len(acked_users) > before, lock, rng)
        per_cycle.append(len(acked_users) - before)

    server = Server(data, env_extra=root_env())
    try:
        users, params = _users_and_params(server.endpoint)
        user_events = _successful_events(server.endpoint, "CreateUser", "userName")
        param_events = _successful_events(server.endpoint, "PutParameter", "name")
    finally:
        server.stop()
    print(f"write durability ({sync}): {CYCLES} kill -9 cycles, users acknowledged per cycle "
          f"{per_cycle}, users present {len(users)}, acknowledged {len(acked_users)}")
    assert sum(1 for n in per_cycle if n > 0) == CYCLES, "each cycle should acknowledge writes"
    assert not acked_users - users, "an acknowledged CreateUser was lost"
    # Both directions: no user without its event, no event without its user.
    assert set(user_events) == users and set(user_events.values()) == {1}
    assert set(acked_params) <= set(params)
    for name, p in params.items():
        # A parameter may hold a later, unacknowledged value (committed, then killed before
        # the answer), never one older than the last acknowledged.
        if name in acked_params:
            assert _seq(p["Value"]) >= _seq(acked_params[name]), (name, p["Value"])
        # Each version is one successful PutParameter, and each of those one version.
        assert param_events.get(name) == p["Version"], (name, p["Version"], param_events.get(name))


def _seq(value):
    cycle, n = value.split("-")
    return int(cycle[1:]), int(n[1:])


def service_client(endpoint, service, cfg):
    import boto3
    from conftest import ROOT_AK, ROOT_SK

    return boto3.session.Session(
        aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name="us-east-1"
    ).client(service, endpoint_url=endpoint, config=cfg)
