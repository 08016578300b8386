#!/usr/bin/env python3
"""Parse the awsQuery fixtures with botocore's real QueryParser and service models.

The Rust test `query_xml.rs` pins the encoder's output to the `query_fixtures/*.xml`
files; this script proves botocore (what the aws CLI and boto3 run) reads those same
bytes as the expected values. Run: python3 crates/protocol/tests/query_botocore.py
"""
import datetime
import pathlib
import sys

import botocore.session
from botocore.parsers import QueryParser

HERE = pathlib.Path(__file__).parent / "query_fixtures"
UTC = datetime.timezone.utc
session = botocore.session.get_session()


def parse(service, op, name, status=200):
    body = (HERE / f"{name}.xml").read_bytes()
    shape = session.get_service_model(service).operation_model(op).output_shape
    resp = {"body": body, "headers": {}, "status_code": status}
    parsed = QueryParser().parse(resp, shape if status == 200 else None)
    # botocore adds what it saw of the HTTP layer; only the body is under test here.
    for k in ("HTTPStatusCode", "HTTPHeaders"):
        parsed.get("ResponseMetadata", {}).pop(k, None)
    return parsed


def user(name):
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDAEXAMPLEEXAMPLE01",
        "Arn": f"arn:aws:iam::123456789012:user/{name}",
        "CreateDate": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    }


def md(rid):
    return {"ResponseMetadata": {"RequestId": rid}}


def err(code, message, type_, rid):
    return {"Error": {"Type": type_, "Code": code, "Message": message}, **md(rid)}


CASES = [
    (("sts", "GetCallerIdentity", "sts_get_caller_identity"), {
        "UserId": "123456789012", "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:root",
        **md("01234567-89ab-cdef-0123-456789abcdef")}),
    (("iam", "GetUser", "iam_get_user"), {"User": {
        **user("bob"),
        "PasswordLastUsed": datetime.datetime(2024, 5, 2, 8, 30, tzinfo=UTC),
        "PermissionsBoundary": {"PermissionsBoundaryType": "Policy",
                                "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
        "Tags": [{"Key": "team", "Value": "R&D <core>"},
                 {"Key": "quote", "Value": "it's \"fine\"\r\n"}],
    }, **md("req-get-user")}),
    (("iam", "ListUsers", "iam_list_users"), {
        "Users": [user("alice"), user("bob")], "IsTruncated": True,
        "Marker": "bWFya2Vy", **md("req-list")}),
    (("iam", "ListUsers", "iam_list_users_empty"), {
        "Users": [], "IsTruncated": False, **md("req-list-empty")}),
    (("iam", "GetAccountSummary", "iam_get_account_summary"), {
        "SummaryMap": {"Users": 2, "UsersQuota": 5000, "AccountMFAEnabled": 0},
        **md("req-summary")}),
    (("iam", "DeleteUser", "iam_delete_user"), md("req-delete")),
    (("sns", "GetTopicAttributes", "sns_get_topic_attributes"), {
        "Attributes": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                       "Policy": '{"Version":"2012-10-17","Statement":[]}'},
        **md("req-sns")}),
    (("cloudwatch", "GetMetricStatistics", "cw_get_metric_statistics"), {
        "Label": "Latency",
        "Datapoints": [{"Timestamp": datetime.datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
                        "SampleCount": 3.0, "Sum": 0.1 + 0.2, "Unit": "Milliseconds"}],
        **md("req-cw")}),
    (("iam", "GetUser", "error_iam_no_such_entity", 404),
     err("NoSuchEntity", "The user with name nobody cannot be found.", "Sender", "req-err-1")),
    (("sns", "Publish", "error_sns_internal", 500),
     err("InternalFailure",
         "The request processing has failed because of an unknown error, exception or failure.",
         "Receiver", "req-err-2")),
    (("sts", "AssumeRole", "error_sts_validation", 400),
     err("ValidationError",
         "1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
         "constraint: Member must not be null", "Sender", "req-err-3")),
]


def main():
    failed = 0
    for args, want in CASES:
        got = parse(*args)
        if got != want:
            failed += 1
            print(f"FAIL {args[2]}\n  got:  {got!r}\n  want: {want!r}")
        else:
            print(f"ok   {args[2]}")
    print(f"{len(CASES) - failed}/{len(CASES)} fixtures parse as expected with botocore "
          f"{botocore.__version__}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
