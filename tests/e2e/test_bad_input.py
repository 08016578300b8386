"""Bad input never hurts: each gets AWS's error and status, never a 500 or a hang."""

import json
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, client


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
        # serde would fill the request from an array by position; AWS takes objects only.
        (b"[]", "SerializationException"),
        (b"null", "SerializationException"),
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
        client(endpoint, "sts").assume_root(
            TargetPrincipal="123456789012",
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
        )
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "sts:AssumeRoot" in e.value.response["Error"]["Message"]


def test_real_but_unimplemented_service_is_named(endpoint):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(endpoint, "sqs").list_queues()
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "the sqs service" in e.value.response["Error"]["Message"]


def test_numbers_at_the_edge_are_refused_not_overflowed(endpoint):
    """Values that overflow arithmetic answer AWS's 400 errors, never a 500 or a dropped
    connection (found by a bad-input probe: cron steps, page tokens, policy offsets)."""
    import base64

    sm = client(endpoint, "secretsmanager")
    sm.create_secret(Name="edge", SecretString="x")
    huge = base64.b64encode(b"18446744073709551615").decode()
    assert sm.list_secrets(NextToken=huge)["SecretList"] == []
    assert sm.list_secret_version_ids(SecretId="edge", NextToken=huge)["Versions"] == []
    rotator = "arn:aws:lambda:us-east-1:000000000000:function:palisade-rotation-random-password"
    for expr in ("cron(0 23/4294967295 * * ? *)", "cron(0 0 31/4294967295 * ? *)"):
        sm.rotate_secret(SecretId="edge", RotationLambdaARN=rotator, RotateImmediately=False,
                         RotationRules={"ScheduleExpression": expr})
    ssm = client(endpoint, "ssm")
    for policies in (
        [{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "200000000000000", "Unit": "Days"}}],
        [{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}},
         {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "10000000", "Unit": "Days"}}],
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.put_parameter(Name="/edge", Value="v", Type="String", Tier="Advanced",
                              Policies=json.dumps(policies), Overwrite=True)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert e.value.response["Error"]["Code"] == "InvalidPolicyAttributeException", e.value.response
    kms = client(endpoint, "kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    status, _, body = signed(endpoint, "kms", json.dumps([key, [["k", "v"]]]).encode(),
                             {"Content-Type": JSON11, "X-Amz-Target": "TrentService.TagResource"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    assert kms.list_resource_tags(KeyId=key)["Tags"] == []


def test_simulator_parse_errors_do_not_leak_parser_text(endpoint):
    iam = client(endpoint, "iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=["{bad"], ActionNames=["s3:GetObject"])
    message = e.value.response["Error"]["Message"]
    assert "Syntax errors in policy." in message
    assert "line 1" not in message and "key must be a string" not in message
    # STS session policies the same way.
    from conftest import admin_client
    iam.create_role(RoleName="leak", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    bad_condition = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin_client(endpoint, "sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/leak", RoleSessionName="leak",
                                                  Policy=bad_condition)
    assert e.value.response["Error"] == {"Type": "Sender", "Code": "MalformedPolicyDocument",
                                         "Message": "Syntax errors in policy."}


@pytest.mark.parametrize(
    "call,code",
    [
        (lambda iam: iam.create_user(UserName="u", Path="//"), "ValidationError"),
        (lambda iam: iam.list_users(PathPrefix="noslash"), "ValidationError"),
        (lambda iam: iam.list_roles(PathPrefix="noslash"), "ValidationError"),
        (lambda iam: iam.list_policies(PathPrefix="x"), "ValidationError"),
        (lambda iam: iam.create_user(UserName="u", Tags=[{"Key": "aws:team", "Value": "x"}]), "InvalidInput"),
    ],
)
def test_iam_paths_and_reserved_tags(endpoint, call, code):
    iam = client(endpoint, "iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(iam)
    assert e.value.response["Error"]["Code"] == code
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert iam.list_users()["Users"] == []


@pytest.mark.parametrize(
    "target,body,code",
    [
        # Checked before the organization: a malformed request is malformed everywhere.
        ("ListChildren", {}, "ValidationException"),
        ("DescribePolicy", {"PolicyId": 5}, "SerializationException"),
        ("DescribePolicy", {"PolicyId": "not-a-policy-id!!"}, "InvalidInputException"),
        ("DescribeAccount", {"AccountId": "12345"}, "InvalidInputException"),
        ("TagResource", {"ResourceId": "123456789012"}, "ValidationException"),
        ("UntagResource", {"ResourceId": "123456789012"}, "ValidationException"),
        ("UpdatePolicy", {"PolicyId": "p-12345678", "Description": "x" * 600}, "ValidationException"),
        ("RegisterDelegatedAdministrator", {"AccountId": "123456789012", "ServicePrincipal": ""}, "ValidationException"),
    ],
)
def test_organizations_requests_are_checked_before_anything_is_read(endpoint, target, body, code):
    status, headers, text = signed(endpoint, "organizations", json.dumps(body).encode(),
                                   {"Content-Type": JSON11, "X-Amz-Target": "AWSOrganizationsV20161128." + target})
    assert status == 400, text
    assert json.loads(text)["__type"] == code, text


@pytest.mark.parametrize("max_items", [0, 1001])
def test_iam_max_items_out_of_range(endpoint, max_items):
    # boto3 would refuse 0 itself; the server must too.
    iam = client(endpoint, "iam", validate=False)
    for call in (lambda: iam.list_users(MaxItems=max_items), lambda: iam.list_mfa_devices(MaxItems=max_items),
                 lambda: iam.list_account_aliases(MaxItems=max_items),
                 lambda: iam.list_policy_versions(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess", MaxItems=max_items)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ValidationError"
        assert f"Value '{max_items}' at 'maxItems'" in e.value.response["Error"]["Message"]


def test_members_out_of_their_models_bounds_are_validation_errors(endpoint):
    """Lengths, counts and patterns from the botocore models, found unchecked by a probe:
    each is AWS's ValidationException, and nothing changes."""
    kms, sm, ct, ssm = (client(endpoint, s, validate=False) for s in ("kms", "secretsmanager", "cloudtrail", "ssm"))
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    sm.create_secret(Name="bounds", SecretString="v")
    ssm.put_parameter(Name="/bounds/p", Value="v", Type="String")
    keys = len(kms.list_keys()["Keys"])
    calls = [
        lambda: kms.verify_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b""),
        lambda: kms.verify_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b"x" * 7000),
        lambda: kms.list_keys(Marker="1" * 1025),
        lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Sid": "\u4e2d", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "kms:*", "Resource": "*"}]},
            ensure_ascii=False)),
        lambda: kms.create_key(XksKeyId="abc"),
        lambda: sm.batch_get_secret_value(Filters=[{"Key": "name", "Values": ["bounds"]}], MaxResults=21),
        lambda: sm.list_secrets(Filters=[{"Key": "name", "Values": ["b"] * 11}]),
        lambda: sm.list_secrets(Filters=[{"Key": "name", "Values": []}]),
        lambda: sm.list_secrets(Filters=[{"Key": "name", "Values": ["$$$"]}]),
        lambda: sm.put_secret_value(SecretId="bounds", SecretString="new", RotationToken="x"),
        lambda: ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": ""}]),
        lambda: ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "e" * 2001}]),
        lambda: ssm.get_parameter(Name="/" + "p" * 2048),
        lambda: ssm.get_parameters_by_path(Path="/" + "p" * 2048),
    ]
    for n, call in enumerate(calls):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ValidationException", (n, e.value.response["Error"])
    assert len(kms.list_keys()["Keys"]) == keys
    assert sm.get_secret_value(SecretId="bounds")["SecretString"] == "v"


def test_lookup_events_token_is_bound_to_its_lookup_attribute(endpoint):
    """AWS: InvalidNextTokenException for a token "previously used in a request with
    different parameters"."""
    sts = client(endpoint, "sts")
    for _ in range(3):
        sts.get_caller_identity()
    ct = client(endpoint, "cloudtrail")
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "GetCallerIdentity"}]
    token = ct.lookup_events(LookupAttributes=by_name, MaxResults=1)["NextToken"]
    assert len(ct.lookup_events(LookupAttributes=by_name, MaxResults=1, NextToken=token)["Events"]) == 1
    for other in ([], [{"AttributeKey": "EventName", "AttributeValue": "ListUsers"}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ct.lookup_events(LookupAttributes=other, MaxResults=1, NextToken=token)
        assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_tag_text_follows_the_tag_patterns(endpoint):
    """IAM, Organizations and SSM tags: keys and values from [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]
    only (their botocore models), refused with nothing written; Organizations also refuses
    a key given twice in one request."""
    iam, ssm = client(endpoint, "iam"), client(endpoint, "ssm")
    iam.create_user(UserName="tagged")
    ssm.put_parameter(Name="/tagged", Value="v", Type="String")
    bad = [("b!ad", "v"), ("k", "a!b"), ("tab\there", "v"), ("k", "nul\x00")]
    for key, value in bad:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.tag_user(UserName="tagged", Tags=[{"Key": key, "Value": value}])
        assert e.value.response["Error"]["Code"] == "ValidationError", (key, value)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/tagged", Tags=[{"Key": key, "Value": value}])
        assert e.value.response["Error"]["Code"] == "ValidationException", (key, value)
    assert iam.list_user_tags(UserName="tagged")["Tags"] == []
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/tagged")["TagList"] == []
    good = [{"Key": "Cost Center", "Value": "été/42:a=b+c-d@e_f."}]
    iam.tag_user(UserName="tagged", Tags=good)
    assert iam.list_user_tags(UserName="tagged")["Tags"] == good

    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    for tags in ([{"Key": "k", "Value": "a\x00!"}], [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            orgs.tag_resource(ResourceId=root, Tags=tags)
        assert e.value.response["Error"]["Code"] == "InvalidInputException"
    assert orgs.list_tags_for_resource(ResourceId=root)["Tags"] == []


def test_policies_naming_a_missing_user_or_role_are_refused(endpoint):
    """AWS resolves a resource policy's IAM principals when it is saved: a user or role that
    does not exist is refused, by each service in its words. Principals of accounts this
    server does not hold are taken as written."""
    iam, kms, sm = client(endpoint, "iam"), client(endpoint, "kms"), client(endpoint, "secretsmanager")
    iam.create_user(UserName="real", Path="/team/")
    real, ghost = f"arn:aws:iam::{ACCOUNT}:user/team/real", f"arn:aws:iam::{ACCOUNT}:user/ghost"
    outside = "arn:aws:iam::111122223333:role/partner"

    def trust(principal):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})

    def resource_policy(principal, action):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": action, "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}]})

    # A wildcard in a user or role ARN names no principal ("You cannot use a wildcard to
    # match part of a principal name or ARN"), in this account or another.
    missing = [ghost, f"arn:aws:iam::{ACCOUNT}:user/real", f"arn:aws:iam::{ACCOUNT}:role/ghost",
               f"arn:aws:iam::{ACCOUNT}:user/*", f"arn:aws:iam::{ACCOUNT}:role/team/re?l",
               "arn:aws:iam::111122223333:role/part*",
               # A user or role ARN names no region, and the partition is aws.
               f"arn:aws:iam:us-east-1:{ACCOUNT}:user/team/real", f"arn:aws-cn:iam::{ACCOUNT}:user/team/real"]
    for p in missing:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust([real, p]))
        assert e.value.response["Error"]["Code"] == "MalformedPolicyDocument"
        assert e.value.response["Error"]["Message"] == f'Invalid principal in policy: "AWS":"{p}"'
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust([real, outside]))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName="r", PolicyDocument=trust(ghost))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocument"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.create_key(Policy=resource_policy(ghost, "kms:*"))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    key = kms.create_key(Policy=resource_policy(real, "kms:*"))["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=resource_policy(ghost, "kms:*"))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"

    sm.create_secret(Name="shared", SecretString="v")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.put_resource_policy(SecretId="shared", ResourcePolicy=resource_policy(ghost, "secretsmanager:GetSecretValue"))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId="shared")
    sm.put_resource_policy(SecretId="shared", ResourcePolicy=resource_policy(real, "secretsmanager:GetSecretValue"))


def _code(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "op,params,field",
    [
        ("get_user", {"UserName": "bad name!"}, "userName"),
        ("delete_role", {"RoleName": "a" * 65}, "roleName"),
        ("get_group", {"GroupName": ""}, "groupName"),
        ("get_instance_profile", {"InstanceProfileName": "a" * 129}, "instanceProfileName"),
        ("get_user_policy", {"UserName": "u1", "PolicyName": "a" * 129}, "policyName"),
        ("list_attached_role_policies", {"RoleName": "no/slash"}, "roleName"),
        ("update_user", {"UserName": "u1", "NewUserName": "a" * 65}, "newUserName"),
    ],
)
def test_iam_names_are_validated_on_every_operation(endpoint, op, params, field):
    # The model's name shapes hold for reads, updates and deletes too: a malformed name
    # is a ValidationError, not a NoSuchEntity for a name that could never exist.
    iam = client(endpoint, "iam", validate=False)
    code, message = _code(lambda: getattr(iam, op)(**params))
    assert code == "ValidationError", (op, code, message)
    # Lengths in the model's words ("at 'roleName'"), characters in IAM's own ("The
    # specified value for userName is invalid...").
    assert f"at '{field}'" in message or message.startswith(f"The specified value for {field} is invalid."), message


def test_iam_empty_name_says_minimum_length(endpoint):
    iam = client(endpoint, "iam", validate=False)
    code, message = _code(lambda: iam.get_role(RoleName=""))
    assert code == "ValidationError"
    assert "greater than or equal to 1" in message


@pytest.mark.parametrize("keys", [[""], ["a" * 129], ["bad\nkey"]])
def test_untag_keys_follow_the_tag_key_shape(endpoint, keys):
    iam = client(endpoint, "iam", validate=False)
    sm = client(endpoint, "secretsmanager", validate=False)
    ssm = client(endpoint, "ssm", validate=False)
    iam.create_user(UserName="u1", Tags=[{"Key": "keep", "Value": "v"}])
    sm.create_secret(Name="s1", SecretString="x", Tags=[{"Key": "keep", "Value": "v"}])
    ssm.put_parameter(Name="/p", Value="v", Type="String", Tags=[{"Key": "keep", "Value": "v"}])
    checks = [
        (lambda: iam.untag_user(UserName="u1", TagKeys=keys), "ValidationError"),
        (
            lambda: ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId="/p", TagKeys=keys),
            "ValidationException",
        ),
    ]
    # Secrets Manager's TagKeyType has a length and no pattern: any character may be
    # tagged, and so untagged.
    if keys != ["bad\nkey"]:
        checks.append((lambda: sm.untag_resource(SecretId="s1", TagKeys=keys), "ValidationException"))
    for call, want in checks:
        code, message = _code(call)
        assert code == want, (code, message)
        assert "at 'tagKeys'" in message
    # Nothing was removed.
    assert iam.list_user_tags(UserName="u1")["Tags"] == [{"Key": "keep", "Value": "v"}]
    if keys == ["bad\nkey"]:
        sm.tag_resource(SecretId="s1", Tags=[{"Key": "cost#center\nx", "Value": "1"}])
        sm.untag_resource(SecretId="s1", TagKeys=["cost#center\nx"])
    assert sm.describe_secret(SecretId="s1")["Tags"] == [{"Key": "keep", "Value": "v"}]


@pytest.mark.parametrize(
    "op,params",
    [
        ("generate_data_key", {"KeySpec": "AES_256"}),
        ("generate_data_key_pair", {"KeyPairSpec": "RSA_2048"}),
        ("generate_random", {"NumberOfBytes": 32}),
    ],
)
def test_kms_recipient_never_gets_the_plaintext(endpoint, op, params):
    # KMS answers a Recipient only with CiphertextForRecipient, for attestation documents
    # signed by the AWS Nitro PKI; Palisade cannot verify those, so it refuses the call
    # rather than return the plaintext the caller asked to keep out of its hands.
    kms = client(endpoint, "kms", validate=False)
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    if op != "generate_random":
        params = dict(params, KeyId=kid)
    good = {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"not a nitro document"}
    code, message = _code(lambda: getattr(kms, op)(Recipient=good, **params))
    assert code == "ValidationException", message
    assert "attestation document" in message.lower()
    code, message = _code(
        lambda: getattr(kms, op)(Recipient=dict(good, KeyEncryptionAlgorithm="BOGUS"), **params)
    )
    assert code == "ValidationException"
    assert "recipient.keyEncryptionAlgorithm" in message
    # Without Recipient the same call works.
    assert getattr(kms, op)(**params)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_kms_decrypt_with_recipient_is_refused(endpoint):
    kms = client(endpoint, "kms", validate=False)
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"secret")["CiphertextBlob"]
    code, _ = _code(
        lambda: kms.decrypt(
            CiphertextBlob=blob,
            Recipient={"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": b"doc"},
        )
    )
    assert code == "ValidationException"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


@pytest.mark.parametrize("who", ["root", "user without policies"])
def test_kms_and_ssm_model_bounds_come_before_lookups(endpoint, who):
    """Model constraints a probe found unchecked: each is a ValidationException, never a
    NotFoundException that repeats the input or a silent 200, and, being checked before
    authorization, never AccessDenied either."""
    kid = client(endpoint, "kms").create_key()["KeyMetadata"]["KeyId"]
    creds = {}
    if who != "root":
        iam = client(endpoint, "iam")
        iam.create_user(UserName="nobody")
        k = iam.create_access_key(UserName="nobody")["AccessKey"]
        creds = {"ak": k["AccessKeyId"], "sk": k["SecretAccessKey"]}
    kms = client(endpoint, "kms", validate=False, **creds)
    ssm = client(endpoint, "ssm", validate=False, **creds)
    calls = [
        lambda: kms.list_grants(KeyId=kid, GrantId=""),
        lambda: kms.list_grants(KeyId=kid, GrantId="a" * 129),
        lambda: kms.get_key_policy(KeyId=kid, PolicyName="a" * 129),
        lambda: kms.put_key_policy(KeyId=kid, PolicyName="a" * 129, Policy="{}"),
        lambda: kms.schedule_key_deletion(KeyId=""),
        lambda: kms.schedule_key_deletion(KeyId="k" * 2049),
        lambda: kms.put_key_policy(KeyId="", Policy="x"),
        lambda: ssm.get_parameter(Name=""),
        lambda: ssm.delete_parameter(Name=""),
        lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["a" * 1025]}]),
        lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [""]}]),
        lambda: ssm.describe_parameters(Filters=[{"Key": "Name", "Values": ["v"] * 51}]),
    ]
    if who == "root":
        # Checked in the operation (after authorization).
        calls.append(lambda: ssm.get_parameters(Names=["/ok", ""]))
    for i, call in enumerate(calls):
        code, message = _code(call)
        assert code == "ValidationException", (i, code, message)
        assert "validation error" in message, (i, message)
    # The key is untouched by the refused deletion calls.
    assert client(endpoint, "kms").describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"


def test_secrets_next_token_length_is_a_validation_error(endpoint):
    sm = client(endpoint, "secretsmanager", validate=False)
    sm.create_secret(Name="s1", SecretString="x")
    for token in ("", "a" * 4097):
        for call in (lambda: sm.list_secrets(NextToken=token),
                     lambda: sm.list_secret_version_ids(SecretId="s1", NextToken=token)):
            code, message = _code(call)
            assert code == "ValidationException", (code, message)
            assert "nextToken" in message
    # A well-formed but unknown token is still the service's own error.
    code, _ = _code(lambda: sm.list_secrets(NextToken="bm90LWEtbnVtYmVy"))
    assert code == "InvalidParameterException"


def test_list_mfa_devices_as_root_refuses_a_marker(endpoint):
    iam = client(endpoint, "iam", validate=False)
    assert iam.list_mfa_devices()["MFADevices"] == []
    code, message = _code(lambda: iam.list_mfa_devices(Marker="garbage"))
    assert code == "InvalidInput" and message == "Invalid Marker."


def test_kms_recipient_spelled_with_escapes_is_refused_too(endpoint):
    # JSON member names may be written with \u escapes; the refusal reads the parsed body.
    body = b'{"NumberOfBytes": 16, "Recip\\u0069ent": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": "ZG9j"}}'
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=endpoint + "/", data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.GenerateRandom"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ROOT_AK, ROOT_SK), "kms", "us-east-1").add_auth(req)
    r = urllib.request.Request(endpoint + "/", data=body, headers=dict(req.headers), method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(r)
    assert e.value.code == 400
    assert json.loads(e.value.read())["__type"] == "ValidationException"
