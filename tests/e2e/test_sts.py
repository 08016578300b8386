"""STS GetCallerIdentity and SigV4 authentication, with the unmodified aws CLI and boto3."""

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, client


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_cli_get_caller_identity_as_root(aws_cli):
    rc, out, err = aws_cli("sts", "get-caller-identity")
    assert rc == 0, err
    ident = json.loads(out)
    assert ident == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


def test_boto3_get_caller_identity_any_region(endpoint):
    for region in ("us-east-1", "eu-west-3", "ap-southeast-2"):
        ident = client(endpoint, "sts", region=region).get_caller_identity()
        assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
        assert ident["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert ident["ResponseMetadata"]["RequestId"]


def test_wrong_secret_is_signature_does_not_match(endpoint):
    sts = client(endpoint, "sts", sk="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    err = e.value.response["Error"]
    assert err["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Check your AWS Secret Access Key" in err["Message"]


def test_cli_wrong_secret(aws_cli):
    rc, _, err = aws_cli("sts", "get-caller-identity", sk="y" * 40)
    assert rc != 0
    assert "SignatureDoesNotMatch" in err


def test_unknown_key_is_invalid_client_token_id(endpoint):
    sts = client(endpoint, "sts", ak="AKIAUNKNOWNKEY000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_on_json_service_is_unrecognized_client(endpoint):
    ct = client(endpoint, "cloudtrail", ak="AKIAUNKNOWNKEY000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ct.lookup_events()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


@pytest.mark.parametrize("minutes", [16, -16])
def test_request_outside_skew_window_is_rejected(endpoint, monkeypatch, minutes):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=minutes)
    )
    sts = client(endpoint, "sts")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    err = e.value.response["Error"]
    assert err["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in err["Message"] or "Signature not yet current" in err["Message"]


def test_request_inside_skew_window_is_accepted(endpoint, monkeypatch):
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() - datetime.timedelta(minutes=14))
    assert client(endpoint, "sts").get_caller_identity()["Account"] == ACCOUNT


def presigned_caller_identity_url(endpoint, expires=300):
    sts = client(endpoint, "sts")
    # HttpMethod GET: botocore otherwise signs query-protocol presigns as POST, which
    # AWS rejects for a GET just the same.
    return sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=expires, HttpMethod="GET")


def test_presigned_url_works_with_plain_http_get(endpoint):
    url = presigned_caller_identity_url(endpoint)
    status, body = http_get(url)
    assert status == 200, body
    assert f"<Arn>arn:aws:iam::{ACCOUNT}:root</Arn>" in body
    assert "<GetCallerIdentityResponse" in body


def test_presigned_url_with_unsigned_payload_marker(endpoint):
    # Hand-built presign with UNSIGNED-PAYLOAD as the payload hash (as S3-style signers do).
    import hashlib, hmac
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    host = urllib.parse.urlsplit(endpoint).netloc
    scope = f"{date}/us-east-1/sts/aws4_request"
    q = {"Action": "GetCallerIdentity", "Version": "2011-06-15", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
         "X-Amz-Credential": f"{ROOT_AK}/{scope}", "X-Amz-Date": amz, "X-Amz-Expires": "60",
         "X-Amz-SignedHeaders": "host"}
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    cq = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(q.items()))
    canon = "\n".join(["GET", "/", cq, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + ROOT_SK).encode()
    for part in (date, "us-east-1", "sts", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    status, body = http_get(f"{endpoint}/?{cq}&X-Amz-Signature={sig}")
    assert status == 200, body


def test_tampered_presigned_url_is_rejected(endpoint):
    url = presigned_caller_identity_url(endpoint)
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    # Change the signed expiry window: the signature no longer matches.
    query = [(k, "600" if k == "X-Amz-Expires" else v) for k, v in query]
    tampered = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    status, body = http_get(tampered)
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body
    sig_flipped = url[:-1] + ("0" if url[-1] != "0" else "1")
    status, body = http_get(sig_flipped)
    assert status == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in body


def test_presigned_url_longer_than_seven_days_is_rejected(endpoint):
    url = presigned_caller_identity_url(endpoint, expires=604801)
    status, body = http_get(url)
    assert status in (400, 403)
    assert "<Code>" in body


def test_no_credentials_is_missing_authentication_token(endpoint):
    status, body = http_get(endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15")
    assert status == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body


def test_unknown_key_at_iam_is_worded_as_iam_words_it(endpoint):
    iam = client(endpoint, "iam", ak="AKIAUNKNOWNKEY000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_users()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid"


def test_query_operations_belong_to_their_api_version(endpoint):
    # Query APIs look an operation up by Action and Version.
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    def send(service, body):
        req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        botocore.auth.SigV4Auth(Credentials(ROOT_AK, ROOT_SK), service, "us-east-1").add_auth(req)
        raw = urllib.request.Request(endpoint + "/", data=body.encode(), headers=dict(req.headers), method="POST")
        try:
            with urllib.request.urlopen(raw) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    status, text = send("sts", "Action=GetCallerIdentity&Version=2010-05-08")
    assert status == 400 and "<Code>InvalidAction</Code>" in text
    assert "Could not find operation GetCallerIdentity for version 2010-05-08" in text
    status, text = send("iam", "Action=ListUsers&Version=2011-06-15")
    assert status == 400 and "<Code>InvalidAction</Code>" in text
    assert send("sts", "Action=GetCallerIdentity&Version=2011-06-15")[0] == 200
    assert send("iam", "Action=ListUsers&Version=2010-05-08")[0] == 200
