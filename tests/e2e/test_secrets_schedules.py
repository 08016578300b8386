"""Secrets Manager rotation schedules and windows (RotationRules ScheduleExpression,
AutomaticallyAfterDays and Duration) on the business clock, through boto3 and the aws CLI.
Palisade rotates when a window opens; NextRotationDate is the window's last second."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, admin, client

REGION = "us-east-1"
RANDOM_ROTATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:palisade-rotation-random-password"
UTC = datetime.timezone.utc


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_clock(endpoint, when):
    status, body = admin(endpoint, "/_palisade/clock", {"set": when})
    assert status == 200, body


def next_date(sm, name):
    return sm.describe_secret(SecretId=name)["NextRotationDate"].astimezone(UTC)


def current(sm, name):
    return sm.get_secret_value(SecretId=name)["VersionId"]


def test_rate_in_days_with_a_window(endpoint):
    set_clock(endpoint, "2030-03-10T14:30:00Z")
    sm = client(endpoint, "secretsmanager")
    v1 = sm.create_secret(Name="w/days", SecretString="v1")["VersionId"]
    sm.rotate_secret(SecretId="w/days", RotationLambdaARN=RANDOM_ROTATOR, RotateImmediately=False,
                     RotationRules={"ScheduleExpression": "rate(10 days)", "Duration": "3h"})
    d = sm.describe_secret(SecretId="w/days")
    assert d["RotationRules"] == {"ScheduleExpression": "rate(10 days)", "Duration": "3h"}
    # The window opens at midnight UTC ten days on and lasts three hours.
    assert next_date(sm, "w/days") == at("2030-03-20T02:59:59Z")
    set_clock(endpoint, "2030-03-19T23:59:00Z")
    assert current(sm, "w/days") == v1
    set_clock(endpoint, "2030-03-20T00:00:05Z")
    v2 = current(sm, "w/days")
    assert v2 != v1
    assert sm.describe_secret(SecretId="w/days")["LastRotatedDate"].astimezone(UTC) >= at("2030-03-20T00:00:00Z")
    assert next_date(sm, "w/days") == at("2030-03-30T02:59:59Z")


def test_automatically_after_days_window_is_the_whole_day(endpoint):
    set_clock(endpoint, "2030-01-01T09:00:00Z")
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="w/auto", SecretString="v1")
    sm.rotate_secret(SecretId="w/auto", RotationLambdaARN=RANDOM_ROTATOR, RotateImmediately=False,
                     RotationRules={"AutomaticallyAfterDays": 30})
    assert next_date(sm, "w/auto") == at("2030-01-31T23:59:59Z")


def test_rate_in_hours_and_cron_windows(endpoint):
    set_clock(endpoint, "2030-03-10T14:30:00Z")
    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="w/hours", SecretString="v1")
    sm.rotate_secret(SecretId="w/hours", RotationLambdaARN=RANDOM_ROTATOR, RotateImmediately=False,
                     RotationRules={"ScheduleExpression": "rate(6 hours)", "Duration": "2h"})
    # Windows open at 00:00, 06:00, 12:00, 18:00 UTC.
    assert next_date(sm, "w/hours") == at("2030-03-10T19:59:59Z")
    v1 = current(sm, "w/hours")
    set_clock(endpoint, "2030-03-10T18:00:01Z")
    assert current(sm, "w/hours") != v1
    assert next_date(sm, "w/hours") == at("2030-03-11T01:59:59Z")
    # cron: the last day of the month at 16:00; the default window runs to the end of the day.
    sm.create_secret(Name="w/cron", SecretString="v1")
    sm.rotate_secret(SecretId="w/cron", RotationLambdaARN=RANDOM_ROTATOR, RotateImmediately=False,
                     RotationRules={"ScheduleExpression": "cron(0 16 L * ? *)"})
    assert next_date(sm, "w/cron") == at("2030-03-31T23:59:59Z")
    v1 = current(sm, "w/cron")
    set_clock(endpoint, "2030-03-31T15:59:00Z")
    assert current(sm, "w/cron") == v1
    set_clock(endpoint, "2030-03-31T16:00:01Z")
    assert current(sm, "w/cron") != v1
    assert next_date(sm, "w/cron") == at("2030-04-30T23:59:59Z")


def test_schedule_with_the_aws_cli(endpoint, aws_cli):
    set_clock(endpoint, "2030-03-10T14:30:00Z")
    rc, out, err = aws_cli("secretsmanager", "create-secret", "--name", "w/cli", "--secret-string", "v1")
    assert rc == 0, err
    rc, out, err = aws_cli("secretsmanager", "rotate-secret", "--secret-id", "w/cli",
                           "--rotation-lambda-arn", RANDOM_ROTATOR, "--no-rotate-immediately",
                           "--rotation-rules", '{"ScheduleExpression": "cron(0 8 ? * MON#1 *)", "Duration": "4h"}')
    assert rc == 0, err
    rc, out, err = aws_cli("secretsmanager", "describe-secret", "--secret-id", "w/cli")
    assert rc == 0, err
    d = json.loads(out)
    # The first Monday of April 2030 is the 1st: 08:00 to 12:00.
    assert d["NextRotationDate"] == at("2030-04-01T11:59:59Z").timestamp()  # the CLI prints epoch seconds
    assert d["RotationRules"]["Duration"] == "4h"
    rc, out, err = aws_cli("secretsmanager", "rotate-secret", "--secret-id", "w/cli",
                           "--rotation-rules", '{"ScheduleExpression": "cron(0 20 * * ? *)", "Duration": "5h"}')
    assert rc != 0 and "InvalidParameterException" in err


def test_bad_rules_are_refused_and_change_nothing(endpoint):
    sm = client(endpoint, "secretsmanager")
    raw = client(endpoint, "secretsmanager", region=REGION, validate=False)
    sm.create_secret(Name="w/bad", SecretString="v1")
    cases = [
        ({"ScheduleExpression": "rate(1 day)", "Duration": "25h"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "0h"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "3"}, "ValidationException"),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "1000h"}, "ValidationException"),
        ({"ScheduleExpression": "rate(1 day)", "Duration": "3x"}, "ValidationException"),
        ({"ScheduleExpression": "rate(4 hours)", "Duration": "5h"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(2 hours)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(1000 days)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(30 8 * * ? *)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(0 8 * * ? 2031)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(0 8 1 * MON *)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(0 */2 * * ? *)"}, "InvalidParameterException"),
        ({"ScheduleExpression": "cron(0 20 * * ? *)", "Duration": "5h"}, "InvalidParameterException"),
        ({"ScheduleExpression": "every day"}, "InvalidParameterException"),
        ({"ScheduleExpression": "rate(1 day)!"}, "ValidationException"),
        ({"AutomaticallyAfterDays": 0}, "ValidationException"),
        ({"AutomaticallyAfterDays": 1001}, "ValidationException"),
        ({"AutomaticallyAfterDays": 5, "ScheduleExpression": "rate(5 days)"}, "InvalidParameterException"),
        ({"Duration": "2h"}, "InvalidParameterException"),
    ]
    for rules, expected in cases:
        with pytest.raises(ClientError) as e:
            raw.rotate_secret(SecretId="w/bad", RotationLambdaARN=RANDOM_ROTATOR, RotationRules=rules)
        assert e.value.response["Error"]["Code"] == expected, (rules, e.value.response["Error"])
    d = sm.describe_secret(SecretId="w/bad")
    assert "RotationEnabled" not in d and "RotationRules" not in d
    assert len(d["VersionIdsToStages"]) == 1
