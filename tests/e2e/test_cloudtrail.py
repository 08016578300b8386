"""CloudTrail event history: every call recorded with who did it, found by LookupEvents."""

import json
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, Server, admin, client, root_env, unprivileged_client


def events(endpoint, region="us-east-1", **kwargs):
    ct = client(endpoint, "cloudtrail", region=region)
    return ct.lookup_events(**kwargs)["Events"]


def test_lookup_events_finds_caller_identity_with_user_identity(endpoint):
    client(endpoint, "sts").get_caller_identity()
    found = events(endpoint, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}])
    assert len(found) == 1
    ev = found[0]
    assert ev["EventSource"] == "sts.amazonaws.com"
    assert ev["Username"] == "root"
    assert ev["AccessKeyId"] == ROOT_AK
    assert ev["ReadOnly"] == "true"
    record = json.loads(ev["CloudTrailEvent"])
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": ROOT_AK,
    }
    for field in ("eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                  "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly",
                  "eventType", "managementEvent", "recipientAccountId", "eventCategory"):
        assert field in record, field
    assert record["eventName"] == "GetCallerIdentity"
    assert record["awsRegion"] == "us-east-1"
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"] or "botocore" in record["userAgent"]
    assert record["eventType"] == "AwsApiCall"
    assert record["recipientAccountId"] == ACCOUNT
    assert record["eventCategory"] == "Management"
    assert record["eventID"] == ev["EventId"]


def test_events_are_per_region_and_newest_first(endpoint):
    client(endpoint, "sts", region="eu-west-1").get_caller_identity()
    client(endpoint, "sts", region="us-east-1").get_caller_identity()
    client(endpoint, "sts", region="us-east-1").get_caller_identity()
    attr = [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    us = events(endpoint, LookupAttributes=attr)
    eu = events(endpoint, region="eu-west-1", LookupAttributes=attr)
    assert len(us) == 2 and len(eu) == 1
    assert us[0]["EventTime"] >= us[1]["EventTime"]
    assert json.loads(eu[0]["CloudTrailEvent"])["awsRegion"] == "eu-west-1"


@pytest.mark.parametrize(
    "key,value,expect",
    [
        ("EventSource", "sts.amazonaws.com", 3),
        ("Username", "root", 3),
        ("AccessKeyId", ROOT_AK, 3),
        ("ReadOnly", "true", 3),
        ("ReadOnly", "false", 0),
        ("EventName", "CreateUser", 0),
    ],
)
def test_lookup_attributes(endpoint, key, value, expect):
    for _ in range(3):
        client(endpoint, "sts").get_caller_identity()
    found = events(endpoint, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
    # LookupEvents calls are recorded too (source cloudtrail.amazonaws.com); count only STS ones.
    assert len([e for e in found if e["EventSource"] == "sts.amazonaws.com"]) == expect


def test_lookup_by_event_id(endpoint):
    client(endpoint, "sts").get_caller_identity()
    first = events(endpoint)[0]
    found = events(endpoint, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": first["EventId"]}])
    assert [e["EventId"] for e in found] == [first["EventId"]]


def test_paging_with_max_results_and_next_token(endpoint):
    for _ in range(7):
        client(endpoint, "sts").get_caller_identity()
    ct = client(endpoint, "cloudtrail")
    attr = [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    seen, token = [], None
    while True:
        kwargs = {"LookupAttributes": attr, "MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = ct.lookup_events(**kwargs)
        assert len(page["Events"]) <= 3
        seen.extend(e["EventId"] for e in page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
    # The paginator of the SDK walks the same pages.
    pages = ct.get_paginator("lookup_events").paginate(LookupAttributes=attr, PaginationConfig={"PageSize": 2})
    assert sum(len(p["Events"]) for p in pages) == 7


def test_time_window(endpoint):
    client(endpoint, "sts").get_caller_identity()
    now = time.time()
    assert events(endpoint, StartTime=now + 3600, EndTime=now + 7200) == []
    assert len(events(endpoint, StartTime=now - 3600, EndTime=now + 3600)) >= 1


def test_an_event_is_found_by_its_own_time_and_tokens_keep_their_range(endpoint):
    client(endpoint, "iam").create_user(UserName="alice")
    attr = [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}]
    shown = events(endpoint, LookupAttributes=attr)[0]["EventTime"]
    # The time LookupEvents shows (whole seconds) finds the event as StartTime and as
    # EndTime, "after or at" and "before or at".
    for kwargs in ({"StartTime": shown, "EndTime": shown}, {"EndTime": shown}, {"StartTime": shown}):
        assert [e["EventName"] for e in events(endpoint, LookupAttributes=attr, **kwargs)] == ["CreateUser"], kwargs
    # A token works only with the time range it was given for.
    for _ in range(3):
        client(endpoint, "sts").get_caller_identity()
    ct = client(endpoint, "cloudtrail")
    now = time.time()
    page = ct.lookup_events(MaxResults=1, StartTime=now - 600, EndTime=now + 600)
    ct.lookup_events(MaxResults=1, StartTime=now - 600, EndTime=now + 600, NextToken=page["NextToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events(MaxResults=1, StartTime=now - 900, EndTime=now + 600, NextToken=page["NextToken"])
    assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_business_clock_moves_event_time_and_90_day_window(endpoint):
    client(endpoint, "sts").get_caller_identity()
    status, body = admin(endpoint, "/_palisade/clock", {"advance_seconds": 91 * 86400})
    assert status == 200, body
    attr = [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    # The old call is now outside the 90-day window.
    assert events(endpoint, LookupAttributes=attr) == []
    client(endpoint, "sts").get_caller_identity()
    found = events(endpoint, LookupAttributes=attr)
    assert len(found) == 1
    assert found[0]["EventTime"].timestamp() > time.time() + 90 * 86400


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"StartTime": 2000000000, "EndTime": 1000000000}, "InvalidTimeRangeException"),
        ({"NextToken": "bm90LWEtdG9rZW4"}, "InvalidNextTokenException"),
        (
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"},
                                  {"AttributeKey": "Username", "AttributeValue": "b"}]},
            "InvalidLookupAttributesException",
        ),
    ],
)
def test_lookup_events_errors(endpoint, kwargs, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "cloudtrail").lookup_events(**kwargs)
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_lookup_input_checks_come_before_authorization(endpoint):
    # A caller allowed nothing in CloudTrail gets the input's own error, as from the model's
    # checks, not AccessDenied; a well-formed request is then denied.
    ct = unprivileged_client(endpoint, "cloudtrail", "ct-nobody")
    for kwargs, code in [
        ({"MaxResults": 0}, "InvalidMaxResultsException"),
        ({"EventCategory": "bad"}, "InvalidEventCategoryException"),
        ({"LookupAttributes": [{"AttributeKey": "Foo", "AttributeValue": "x"}]}, "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}, "ValidationException"),
        ({"StartTime": 2000000000, "EndTime": 1000000000}, "InvalidTimeRangeException"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ct.lookup_events(**kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_lookup_value_length_counts_separators_twice(endpoint):
    # The model: '_', ' ', ',' and '\n' count as two characters toward the 2000 limit.
    ct = client(endpoint, "cloudtrail", validate=False)
    ok = [{"AttributeKey": "EventName", "AttributeValue": "_" * 1000}]
    assert ct.lookup_events(LookupAttributes=ok)["Events"] == []
    over = [{"AttributeKey": "EventName", "AttributeValue": "_" * 1001}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events(LookupAttributes=over)
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_a_range_older_than_90_days_finds_nothing(endpoint):
    client(endpoint, "sts").get_caller_identity()
    now = time.time()
    found = client(endpoint, "cloudtrail").lookup_events(StartTime=now - 200 * 86400, EndTime=now - 100 * 86400)
    assert found["Events"] == []


def test_cli_lookup_events(aws_cli):
    rc, _, err = aws_cli("sts", "get-caller-identity")
    assert rc == 0, err
    rc, out, err = aws_cli(
        "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=GetCallerIdentity"
    )
    assert rc == 0, err
    evs = json.loads(out)["Events"]
    assert len(evs) == 1 and evs[0]["Username"] == "root"


def test_reset_wipes_events_but_keeps_root(server):
    client(server.endpoint, "sts").get_caller_identity()
    status, _ = admin(server.endpoint, "/_palisade/reset", {})
    assert status == 200
    attr = [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    assert events(server.endpoint, LookupAttributes=attr) == []
    assert client(server.endpoint, "sts").get_caller_identity()["Account"] == ACCOUNT


def test_invalid_calls_to_real_operations_are_recorded(endpoint):
    from test_bad_input import CT_TARGET, JSON11, signed

    status, _, _ = signed(
        endpoint, "cloudtrail", b'{"MaxResults": "fifty"}',
        {"Content-Type": JSON11, "X-Amz-Target": CT_TARGET + "LookupEvents"},
    )
    assert status == 400
    found = events(endpoint, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "LookupEvents"}])
    failed = [json.loads(e["CloudTrailEvent"]) for e in found if "errorCode" in json.loads(e["CloudTrailEvent"])]
    assert len(failed) == 1
    assert failed[0]["errorCode"] == "SerializationException"
    assert failed[0]["readOnly"] is True
    # Unknown actions are not AWS operations: nothing is recorded for them.
    signed(endpoint, "cloudtrail", b"{}", {"Content-Type": JSON11, "X-Amz-Target": CT_TARGET + "NoSuchOp"})
    names = {e["EventName"] for e in events(endpoint)}
    assert "NoSuchOp" not in names


def test_oversized_fields_are_cut_as_cloudtrail_cuts_them(endpoint):
    """CloudTrail keeps at most 100 KB of request parameters (AWS's "omitted" marker
    instead) and 1,024 characters of an error message; the caller still gets the whole
    message."""
    iam = client(endpoint, "iam")
    # A valid policy padded with whitespace past 100 KB but under the model's 131,072
    # characters: IAM's 6,144-character quota does not count whitespace, so it is created,
    # and its record cannot show it (a known way to hide a policy from CloudTrail).
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}) + " " * 110_000
    arn = iam.create_policy(PolicyName="big", PolicyDocument=doc)["Policy"]["Arn"]
    long_name = "n" * 5000
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.create_user(UserName=long_name)
    message = err.value.response["Error"]["Message"]
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert long_name in message

    def record(name):
        found = events(endpoint, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
        assert len(found) == 1
        return json.loads(found[0]["CloudTrailEvent"])

    big = record("CreatePolicy")
    assert "errorCode" not in big
    assert big["responseElements"]["policy"]["arn"] == arn
    params = big["requestParameters"]
    assert params["reason"] == "requestParameters too large" and params["omitted"] is True
    assert params["originalSize"] > 100 * 1024
    assert len(json.dumps(big)) < 20_000
    user = record("CreateUser")
    assert len(user["errorMessage"]) == 1024
    assert user["errorMessage"] == message[:1021] + "..."
    # The user agent is a request header of any size: kept to 1,024 characters as well.
    agent = "a" * 200_000
    sts = boto3.session.Session().client(
        "sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ROOT_AK,
        aws_secret_access_key=ROOT_SK, config=botocore.config.Config(user_agent=agent))
    sts.get_caller_identity()
    ident = record("GetCallerIdentity")
    assert len(ident["userAgent"]) == 1024 and ident["userAgent"].endswith("a...")


def test_events_past_ninety_days_leave_the_disk(tmp_path):
    # CloudTrail keeps 90 days of history: a server whose business clock moved past that
    # removes the older events from disk (at start, then every minute), both read-only
    # calls' records (appended stream) and mutating calls' (the database's log).
    import sqlite3

    data = tmp_path / "data"
    srv = Server(data, env_extra=root_env())
    try:
        sts, iam = client(srv.endpoint, "sts"), client(srv.endpoint, "iam")
        for _ in range(5):
            sts.get_caller_identity()
        iam.create_user(UserName="old-user")
        status, _ = admin(srv.endpoint, "/_palisade/clock", {"advance_seconds": 91 * 86400})
        assert status == 200
        sts.get_caller_identity()
        iam.create_user(UserName="young-user")
    finally:
        assert srv.stop() == 0
    db = data / "palisade.db"
    with sqlite3.connect(db) as c:
        rows_before = c.execute("SELECT count(*) FROM log").fetchone()[0]
    assert rows_before >= 2

    srv = Server(data, env_extra=root_env())
    try:
        deadline = time.time() + 15
        while True:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                rows = c.execute("SELECT count(*) FROM log").fetchone()[0]
                start = c.execute("SELECT coalesce(max(start), 0) FROM appends").fetchone()[0]
            if (rows < rows_before and start > 0) or time.time() > deadline:
                break
            time.sleep(0.1)
        # Only the two calls made after the move stay (GetCallerIdentity may go either way:
        # it commits with the access key's last-used time when that is due).
        assert 1 <= rows < rows_before and start > 0
        events = client(srv.endpoint, "cloudtrail").lookup_events(MaxResults=50)["Events"]
        names = sorted(e["EventName"] for e in events)
        assert names == ["CreateUser", "GetCallerIdentity"]
        assert [json.loads(e["CloudTrailEvent"])["requestParameters"]["userName"]
                for e in events if e["EventName"] == "CreateUser"] == ["young-user"]
    finally:
        assert srv.stop() == 0
