"""Bad input never hurts: each gets AWS's error and status, never a 500 or a hang."""

import json
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import ROOT_AK, ROOT_SK, client


def signed(endpoint, service, body, headers, method="POST", path="/", sk=ROOT_SK):
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body, headers=headers)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ROOT_AK, sk), service, "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=p.body if p.body else None, method=method, headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
JSON11 = "application/x-amz-json-1.1"
CT_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."


def test_unknown_query_action(endpoint):
    status, headers, body = signed(endpoint, "sts", b"Action=NoSuchThing&Version=2011-06-15", FORM)
    assert status == 400
    assert "<Code>InvalidAction</Code>" in body
    assert headers["x-amzn-RequestId"]


def test_missing_action(endpoint):
    status, _, body = signed(endpoint, "sts", b"Version=2011-06-15", FORM)
    assert status == 400
    assert "<Code>" in body and "<RequestId>" in body


def test_malformed_form_body(endpoint):
    status, _, body = signed(endpoint, "sts", b"Action=GetCallerIdentity&Name=%FF%FE", FORM)
    # AWS's common-errors reference: MalformedQueryString, 404.
    assert status == 404
    assert "<Code>MalformedQueryString</Code>" in body


def test_unknown_json_target(endpoint):
    status, headers, body = signed(
        endpoint, "cloudtrail", b"{}", {"Content-Type": JSON11, "X-Amz-Target": CT_TARGET + "NoSuchOp"}
    )
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


@pytest.mark.parametrize(
    "payload,code",
    [
        (b"{not json", "SerializationException"),
        (b"[1,2,3]", "SerializationException"),
        (b'{"MaxResults": "fifty"}', "SerializationException"),
        (b'{"LookupAttributes": [{"AttributeKey": "EventName"}]}', "ValidationException"),
        (b"{" * 10000, "SerializationException"),
    ],
)
def test_malformed_json_bodies(endpoint, payload, code):
    status, headers, body = signed(
        endpoint, "cloudtrail", payload, {"Content-Type": JSON11, "X-Amz-Target": CT_TARGET + "LookupEvents"}
    )
    assert status == 400, body
    assert json.loads(body)["__type"] == code
    assert headers["x-amzn-ErrorType"].startswith(code)


def test_oversized_body_is_refused_before_it_is_read(endpoint):
    import http.client
    import urllib.parse

    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.putrequest("POST", "/")
    conn.putheader("Content-Type", FORM["Content-Type"])
    conn.putheader("Content-Length", str(64 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"<ErrorResponse" in resp.read()
    conn.close()


def test_unimplemented_service(endpoint):
    status, _, body = signed(endpoint, "glacier", b"{}", {"Content-Type": "application/json"})
    assert status == 400


def test_server_still_healthy_after_bad_input(endpoint):
    assert client(endpoint, "sts").get_caller_identity()["Account"] == "000000000000"


def test_real_but_unimplemented_operation_is_named(endpoint):
    # A real STS operation Palisade does not serve yet: 501 NotImplemented, in STS's shape.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "sts").decode_authorization_message(EncodedMessage="x")
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "sts:DecodeAuthorizationMessage" in e.value.response["Error"]["Message"]


def test_real_but_unimplemented_service_is_named(endpoint):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "sqs").list_queues()
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "the sqs service" in e.value.response["Error"]["Message"]
