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
            c = client_with_config(server.endpoint, cfg)
            while not stop.is_set():
                try:
                    rid = c.get_caller_identity()["ResponseMetadata"]["RequestId"]
                except Exception:
                    continue
                with lock:
                    acked.add(rid)

        threads = [threading.Thread(target=fire, daemon=True) for _ in range(6)]
        before = len(acked)
        for t in threads:
            t.start()
        # Kill at a random moment once calls are flowing (clients take a moment to start).
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                if len(acked) > before:
                    break
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.8))
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=10)
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


def client_with_config(endpoint, cfg):
    import boto3
    from conftest import ROOT_AK, ROOT_SK

    return boto3.session.Session(
        aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name="us-east-1"
    ).client("sts", endpoint_url=endpoint, config=cfg)
