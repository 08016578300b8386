"""The service models' input constraints are checked before authorization, all at once.

AWS's service framework answers a request that breaks its model (lengths, ranges, patterns,
enums, required members) with a ValidationError (awsQuery) or ValidationException (awsJson)
naming every violation, whoever the caller is: a caller allowed nothing gets that, not
AccessDenied. These tests use such a caller and boto3 without its own parameter checks.
"""

import datetime

import botocore.exceptions
import pytest

from conftest import client, unprivileged_client


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_iam_enums_ranges_and_lists_of_enums(endpoint):
    iam = unprivileged_client(endpoint, "iam", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(AccessKeyId="AKIAIOSFODNN7EXAMPLE", Status="Paused")
    assert err(e) == (
        "ValidationError",
        "1 validation error detected: Value 'Paused' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]",
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_account_password_policy(MinimumPasswordLength=5, MaxPasswordAge=0)
    assert err(e) == (
        "ValidationError",
        "2 validation errors detected: "
        "Value '5' at 'minimumPasswordLength' failed to satisfy constraint: Member must have value greater than or equal to 6; "
        "Value '0' at 'maxPasswordAge' failed to satisfy constraint: Member must have value greater than or equal to 1",
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_account_authorization_details(Filter=["User", "Robot"])
    assert err(e) == (
        "ValidationError",
        "1 validation error detected: Value '[User, Robot]' at 'filter' failed to satisfy constraint: Member must satisfy constraint: "
        "[Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]",
        400,
    )
    # Well-formed requests still meet authorization.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_account_authorization_details(Filter=["User"])
    assert err(e)[0] == "AccessDenied"


def test_kms_reports_every_violation_and_hides_sensitive_values(endpoint):
    kms = unprivileged_client(endpoint, "kms", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.schedule_key_deletion(KeyId="k", PendingWindowInDays=400)
    assert err(e) == (
        "ValidationException",
        "1 validation error detected: "
        "Value '400' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 365",
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId="alias/x", Plaintext=b"p" * 4097, EncryptionAlgorithm="ROT13")
    code, message, status = err(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096" in message
    assert "Value 'ROT13' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [" in message
    assert "ppp" not in message
    # A blob's value is the Java buffer that held it, as AWS prints it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=b"c" * 6145)
    assert err(e) == (
        "ValidationException",
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=6145 cap=6145]' at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId="alias/x", Plaintext=b"p")
    assert err(e)[0] == "AccessDeniedException"


def test_secrets_ssm_and_sts_members(endpoint):
    sm = unprivileged_client(endpoint, "secretsmanager", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.list_secret_version_ids(SecretId="s", MaxResults=0)
    assert err(e) == (
        "ValidationException",
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1",
        400,
    )
    ssm = unprivileged_client(endpoint, "ssm", "nobody2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter_history(Name="/p", MaxResults=51)
    assert err(e) == (
        "ValidationException",
        "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50",
        400,
    )
    sts = unprivileged_client(endpoint, "sts", "nobody3")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/r", RoleSessionName="sess", DurationSeconds=899)
    assert err(e) == (
        "ValidationError",
        "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        400,
    )


def dummy(shape, depth=0):
    """A value of the member's type, for required members beside the one under test."""
    t = shape.type_name
    if t == "string":
        return shape.enum[0] if shape.enum else "a" * max(shape.metadata.get("min", 1), 1)
    if t in ("integer", "long"):
        return shape.metadata.get("min", 1)
    if t == "boolean":
        return False
    if t == "blob":
        return b"a"
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1)
    if t == "list":
        return [dummy(shape.member, depth + 1)] if depth < 3 else []
    if t == "map":
        return {}
    if t == "structure":
        # An empty structure is not sent at all (awsQuery): fill every member then.
        names = shape.required_members or list(shape.members)
        return {n: dummy(shape.members[n], depth + 1) for n in names} if depth < 3 else {}
    return None


SERVICES = ["iam", "kms", "secretsmanager", "ssm", "sts", "organizations", "cloudtrail"]


# Members the model leaves optional that these operations cannot go without (Decrypt's
# ciphertext; a data key's size), given so that the violation under test is the only one.
EXTRA = {
    ("kms", "Decrypt"): {"CiphertextBlob": b"x"},
    ("kms", "ReEncrypt"): {"CiphertextBlob": b"x"},
    ("kms", "GenerateDataKey"): {"KeySpec": "AES_256"},
    ("kms", "GenerateDataKeyWithoutPlaintext"): {"KeySpec": "AES_256"},
}
# Violations another check of the same request answers first, as on AWS.
SKIP = {
    ("kms", "CreateKey", "XksKeyId"),  # valid only with Origin EXTERNAL_KEY_STORE
}
# Services whose model errors are the framework's, naming the member.
FRAMEWORK = {"iam", "kms", "secretsmanager", "ssm", "sts"}


def violations(shape):
    """Values that break one constraint of a top-level member's model shape."""
    t, meta = shape.type_name, shape.metadata
    if t == "string" and shape.enum:
        yield "enum", "NotAnEnumValue"
    elif t == "string" and "max" in meta:
        yield "max", "a" * (meta["max"] + 1)
    elif t in ("integer", "long"):
        if "min" in meta:
            yield "min", meta["min"] - 1
        if "max" in meta:
            yield "max", meta["max"] + 1
    elif t == "list" and "max" in meta and meta["max"] <= 1000:
        yield "max", [dummy(shape.member)] * (meta["max"] + 1)


@pytest.mark.parametrize("service", SERVICES)
def test_no_model_violation_reaches_authorization(endpoint, service):
    """Every implemented operation, every top-level member with a maximum length, a range,
    an enum or a maximum list size: one value outside it, from a caller allowed nothing, is
    a 400, never AccessDenied, never a 5xx."""
    c = unprivileged_client(endpoint, service, f"sweep-{service}")
    model = c.meta.service_model
    checked = 0
    problems = []
    for op_name in model.operation_names:
        op = model.operation_model(op_name)
        if op.input_shape is None or op.auth_type == "none":
            continue  # unsigned calls (AssumeRoleWithSAML, ...) are not this caller's
        base = {n: dummy(op.input_shape.members[n]) for n in op.input_shape.required_members}
        base.update(EXTRA.get((service, op_name), {}))
        implemented = True
        for name, shape in op.input_shape.members.items():
            if (service, op_name, name) in SKIP:
                continue
            for kind, value in violations(shape):
                params = dict(base)
                params[name] = value
                try:
                    getattr(c, _method(c, op_name))(**params)
                    problems.append(f"{op_name}.{name} ({kind}): accepted")
                    continue
                except botocore.exceptions.ClientError as e:
                    r = e.response
                    code, status = r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]
                    message = r["Error"].get("Message", "")
                if code == "NotImplemented":
                    implemented = False
                    break
                checked += 1
                camel = name[0].lower() + name[1:]
                if status != 400 or code.startswith("AccessDenied"):
                    problems.append(f"{op_name}.{name} ({kind}): {status} {code}")
                elif service in FRAMEWORK and f"'{camel}" not in message and f" {camel} " not in message:
                    problems.append(f"{op_name}.{name} ({kind}): {code} does not name it: {message[:200]}")
            if not implemented:
                break
    print(f"\n{service}: {checked} requests")
    assert checked > 0
    assert not problems, problems


def _method(client, op_name):
    for method, api in client.meta.method_to_api_mapping.items():
        if api == op_name:
            return method
    raise KeyError(op_name)


def test_organizations_paging_bounds_before_authorization(endpoint):
    orgs = unprivileged_client(endpoint, "organizations", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.list_accounts(MaxResults=21)
    assert err(e) == ("InvalidInputException", "You specified an invalid value for MaxResults.", 400)
    assert e.value.response["Reason"] == "MAX_VALUE_EXCEEDED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.list_roots(NextToken="t" * 100_001)
    assert err(e)[0] == "ValidationException"
    assert "at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 100000" in err(e)[1]


def test_kms_tag_lengths_are_the_models_validation(endpoint):
    kms = unprivileged_client(endpoint, "kms", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.tag_resource(KeyId="k", Tags=[{"TagKey": "k" * 129, "TagValue": "v"}])
    assert err(e) == (
        "ValidationException",
        f"1 validation error detected: Value '{'k' * 129}' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128",
        400,
    )
    root = client(endpoint, "kms", validate=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.create_key(Tags=[{"TagKey": "ok", "TagValue": "v" * 257}])
    assert err(e)[0] == "ValidationException"
    assert "at 'tags.1.member.tagValue' failed to satisfy constraint: Member must have length less than or equal to 256" in err(e)[1]
    assert root.list_keys()["Keys"] == []
    # KMS's own rule stays KMS's own exception.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root.create_key(Tags=[{"TagKey": "aws:x", "TagValue": "v"}])
    assert err(e)[0] == "TagException"
    key = root.create_key(Description="d" * 4000 + "é" * 4000)["KeyMetadata"]["KeyId"]
    root.update_key_description(KeyId=key, Description="é" * 8192)
    assert root.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "é" * 8192


def test_iam_name_characters_answer_in_iams_own_words(endpoint):
    # As IAM answers CreateUser ("Service: AmazonIdentityManagement; Status Code: 400;
    # Error Code: ValidationError"); lengths stay the model's words.
    iam = client(endpoint, "iam", validate=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="first last")
    assert err(e) == (
        "ValidationError",
        "The specified value for userName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-",
        400,
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument="{}")
    assert err(e) == (
        "ValidationError",
        f"1 validation error detected: Value '{'r' * 65}' at 'roleName' failed to satisfy constraint: Member must have length less than or equal to 64",
        400,
    )
    nobody = unprivileged_client(endpoint, "iam", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nobody.get_group(GroupName="ops#1")
    assert err(e)[1] == "The specified value for groupName is invalid. It must contain only alphanumeric characters and/or the following: +=,.@_-"
    assert iam.list_users()["Users"][0]["UserName"] == "nobody"


def test_values_at_the_bounds_are_accepted(endpoint):
    iam = client(endpoint, "iam", validate=False)
    name = "u" * 64
    iam.create_user(UserName=name, Tags=[{"Key": "Ünïcødé 日本 1", "Value": "v" * 256}])
    assert iam.list_user_tags(UserName=name)["Tags"][0]["Key"] == "Ünïcødé 日本 1"
    doc = '{"Version":"2012-10-17","Statement":[{"Sid":"Caf","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::café/*"}]}'
    iam.put_user_policy(UserName=name, PolicyName="p" * 128, PolicyDocument=doc)
    assert "café" in str(iam.get_user_policy(UserName=name, PolicyName="p" * 128)["PolicyDocument"])
    kms = client(endpoint, "kms", validate=False)
    key = kms.create_key(Description="d" * 8192)["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"p" * 4096)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p" * 4096
    # Lengths count UTF-16 units, as Java does: 1,500 two-byte characters (3,000 bytes)
    # fit KeyId's 2,048, so the key is looked up (and not found).
    for call in (lambda k: kms.describe_key(KeyId=k), lambda k: kms.schedule_key_deletion(KeyId=k),
                 lambda k: kms.encrypt(KeyId=k, Plaintext=b"x"), lambda k: kms.get_key_rotation_status(KeyId=k)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call("é" * 1500)
        assert err(e)[0] == "NotFoundException", err(e)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call("é" * 2049)
        assert err(e)[0] == "ValidationException", err(e)
    sm = client(endpoint, "secretsmanager", validate=False)
    sm.create_secret(Name="n" * 512, SecretString="s" * 65536, Description="d" * 2048)
    assert len(sm.get_secret_value(SecretId="n" * 512)["SecretString"]) == 65536
    ssm = client(endpoint, "ssm", validate=False)
    ssm.put_parameter(Name="/p", Value="v", Type="String", Description="d" * 1024)
    assert ssm.get_parameter(Name="/p")["Parameter"]["Value"] == "v"
    sts = client(endpoint, "sts", validate=False)
    assert sts.get_caller_identity()["Account"]


def test_model_violations_answer_before_the_services_own_refusals(endpoint):
    # Every missing required member at once, as the framework reports them (the typed
    # decoder alone would stop at the first).
    iam = unprivileged_client(endpoint, "iam", "nobody")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role()
    assert err(e) == (
        "ValidationError",
        "2 validation errors detected: "
        "Value null at 'roleName' failed to satisfy constraint: Member must not be null; "
        "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null",
        400,
    )
    # KMS refuses KeySpec with NumberOfBytes itself, but an over-long grant token list
    # breaks the model first, and that is the answer.
    kms = unprivileged_client(endpoint, "kms", "nobody2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_data_key(KeyId="alias/x", KeySpec="AES_256", NumberOfBytes=32,
                              GrantTokens=["t"] * 11)
    code, message, status = err(e)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '[t, t, t, t, t, t, t, t, t, t, t]' at 'grantTokens' "
        "failed to satisfy constraint: Member must have length less than or equal to 10"
    ), message
    # Without the model violation the service's own refusal stands.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_data_key(KeyId="alias/x", KeySpec="AES_256", NumberOfBytes=32)
    assert err(e)[:2] == ("ValidationException", "Please specify either number of bytes or key spec.")
    # A body that is no request at all is refused as such first.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.generate_data_key(KeyId="k" * 3000, NumberOfBytes="many")
    assert err(e)[0] == "SerializationException"


def test_a_value_of_the_wrong_type_is_the_answer_over_model_violations(endpoint):
    # awsQuery: a member that is not of its type is refused as such, even beside
    # constraint violations (the model cannot judge a value it cannot read).
    sts = unprivileged_client(endpoint, "sts", "typeless")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:short", RoleSessionName="s", DurationSeconds="abc")
    code, message, status = err(e)
    assert (code, status) == ("ValidationError", 400)
    assert "'abc' at 'durationSeconds'" in message and "roleArn" not in message, message
    iam = unprivileged_client(endpoint, "iam", "typeless2")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.list_users(MaxItems="abc", PathPrefix="x" * 600)
    assert "'abc' at 'maxItems'" in err(e)[1]
    # An IAM name with a character outside IAM's pattern is refused before
    # authorization, in IAM's words, for virtual MFA devices too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="bad name")
    assert err(e) == (
        "ValidationError",
        "The specified value for virtualMFADeviceName is invalid. It must contain only "
        "alphanumeric characters and/or the following: +=,.@_-",
        400,
    )


def test_a_member_the_model_does_not_know_cannot_switch_the_checks_off(endpoint):
    # JSON that a generic reader refuses (a lone surrogate escape, a number past a double)
    # in a member the service ignores: the known members are still checked.
    kms = unprivileged_client(endpoint, "kms", "junk")
    for junk in (b'"\\ud800"', b"1e400"):
        def add_junk(request, junk=junk, **_):
            request.data = request.data[:-1] + b',"X":' + junk + b"}"
        kms.meta.events.register("before-sign.kms.DescribeKey", add_junk)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kms.describe_key(KeyId="k" * 3000)
        kms.meta.events.unregister("before-sign.kms.DescribeKey", add_junk)
        code, message, _ = err(e)
        assert code == "ValidationException" and "at 'keyId'" in message, (junk, code, message)


def test_blobs_of_whitespace_and_members_given_twice_are_checked(endpoint):
    # A blob of only whitespace is empty once decoded: the model's minimum, before
    # authorization (a caller allowed nothing).
    kms = unprivileged_client(endpoint, "kms", "blank")

    def blank_plaintext(request, **_):
        request.data = request.data.replace(b'"Plaintext": "eA=="', b'"Plaintext": "  "')

    kms.meta.events.register("before-sign.kms.Encrypt", blank_plaintext)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId="alias/x", Plaintext=b"x")
    code, message, _ = err(e)
    assert code == "ValidationException" and "at 'plaintext'" in message, (code, message)

    # A query member given twice is read, and checked, from its first copy.
    iam = unprivileged_client(endpoint, "iam", "twice")
    for body, member in (("MaxItems=0&MaxItems=5", "maxItems"), ("PathPrefix=abc&PathPrefix=/", "pathPrefix")):
        def duplicate(request, body=body, **_):
            request.data = "Action=ListUsers&Version=2010-05-08&" + body
        iam.meta.events.register("before-sign.iam.ListUsers", duplicate)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.list_users()
        iam.meta.events.unregister("before-sign.iam.ListUsers", duplicate)
        code, message, _ = err(e)
        assert code == "ValidationError" and f"at '{member}'" in message, (body, code, message)


def test_a_blob_that_is_not_base64_is_refused_before_authorization(endpoint):
    # AWS's JSON framework cannot read such a body: SerializationException, whoever asks,
    # naming the member and never echoing its text (it may be a plaintext).
    kms = unprivileged_client(endpoint, "kms", "notb64")
    sm = unprivileged_client(endpoint, "secretsmanager", "notb64sm")
    cases = [
        (kms, "Encrypt", kms.encrypt, {"KeyId": "alias/x", "Plaintext": b"x"},
         b'"Plaintext": "eA=="', b'"Plaintext": "secret!!"', "Plaintext"),
        (kms, "Encrypt", kms.encrypt, {"KeyId": "alias/x", "Plaintext": b"x"},
         b'"Plaintext": "eA=="', b'"Plaintext": "eA="', "Plaintext"),
        (kms, "Decrypt", kms.decrypt,
         {"CiphertextBlob": b"x", "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                                                "AttestationDocument": b"x"}},
         b'"AttestationDocument": "eA=="', b'"AttestationDocument": "%%%%"',
         "Recipient.AttestationDocument"),
        (sm, "PutSecretValue", sm.put_secret_value, {"SecretId": "s", "SecretBinary": b"x"},
         b'"SecretBinary": "eA=="', b'"SecretBinary": "eA=x"', "SecretBinary"),
    ]
    for c, op, call, kwargs, good, bad, member in cases:
        def corrupt(request, good=good, bad=bad, **_):
            assert good in request.data, request.data
            request.data = request.data.replace(good, bad)
        event = f"before-sign.{c.meta.service_model.endpoint_prefix}.{op}"
        c.meta.events.register(event, corrupt)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kwargs)
        c.meta.events.unregister(event, corrupt)
        assert err(e) == (
            "SerializationException",
            f"Could not decode the base64-encoded value of '{member}'.",
            400,
        ), (op, bad)
    # Valid base64 with whitespace around it still reaches authorization.
    def spaced(request, **_):
        request.data = request.data.replace(b'"Plaintext": "eA=="', b'"Plaintext": " eA==\\n"')
    kms.meta.events.register("before-sign.kms.Encrypt", spaced)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId="alias/x", Plaintext=b"x")
    kms.meta.events.unregister("before-sign.kms.Encrypt", spaced)
    assert err(e)[0] == "AccessDeniedException", err(e)
