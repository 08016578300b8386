"""IAM credentials with the unmodified aws CLI and boto3: access keys, login profiles and
the password policy, the credential report, OIDC and SAML identity providers."""

import base64
import csv
import io
import json

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, ROOT_SK, admin, client


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture()
def iam(endpoint):
    return client(endpoint, "iam")


@pytest.fixture()
def raw_iam(endpoint):
    """An IAM client that sends what it is given: the server's own validation answers."""
    return boto3.session.Session(
        aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK, region_name="us-east-1"
    ).client("iam", endpoint_url=endpoint, config=botocore.config.Config(parameter_validation=False))


# ---- access keys ------------------------------------------------------------------------


def test_access_key_lifecycle_and_sigv4(endpoint, iam):
    user = iam.create_user(UserName="alex")["User"]
    key = iam.create_access_key(UserName="alex")["AccessKey"]
    assert key["UserName"] == "alex"
    assert key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40

    # Unused keys show AWS's N/A values.
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == "alex"
    assert last["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    assert last["AccessKeyLastUsed"]["Region"] == "N/A"
    assert "LastUsedDate" not in last["AccessKeyLastUsed"]

    # The new key signs requests as alex (GetCallerIdentity needs no permission).
    sts = client(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    ident = sts.get_caller_identity()
    assert ident["Arn"] == user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alex"
    assert ident["UserId"] == user["UserId"]
    assert ident["Account"] == ACCOUNT

    listed = iam.list_access_keys(UserName="alex")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"], k["UserName"]) for k in listed] == [
        (key["AccessKeyId"], "Active", "alex")
    ]
    assert "SecretAccessKey" not in listed[0]

    # After use: when, where and which service.
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == "alex"
    assert last["AccessKeyLastUsed"]["ServiceName"] == "sts"
    assert last["AccessKeyLastUsed"]["Region"] == "us-east-1"
    assert last["AccessKeyLastUsed"]["LastUsedDate"]

    # Inactive: the key stops working; Active again: it works again.
    iam.update_access_key(UserName="alex", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="alex")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert err(e)[0] == "InvalidClientTokenId"
    iam.update_access_key(UserName="alex", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"] == user["Arn"]

    # Deleted: gone from the listing and from authentication.
    iam.delete_access_key(UserName="alex", AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName="alex")["AccessKeyMetadata"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert err(e)[0] == "InvalidClientTokenId"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert err(e)[0] == "NoSuchEntity"
    iam.delete_user(UserName="alex")


def test_third_access_key_is_limit_exceeded(aws_cli, iam):
    iam.create_user(UserName="maya")
    for _ in range(2):
        rc, out, stderr = aws_cli("iam", "create-access-key", "--user-name", "maya")
        assert rc == 0, stderr
    rc, _, stderr = aws_cli("iam", "create-access-key", "--user-name", "maya")
    assert rc != 0
    assert "LimitExceeded" in stderr
    assert "Cannot exceed quota for AccessKeysPerUser: 2" in stderr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName="maya")
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
    assert status(e) == 409
    assert len(iam.list_access_keys(UserName="maya")["AccessKeyMetadata"]) == 2
    # A user with keys cannot be deleted.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="maya")
    assert err(e)[0] == "DeleteConflict"


def test_user_acts_on_own_keys_without_user_name(endpoint, iam):
    iam.create_user(UserName="sam")
    key = iam.create_access_key(UserName="sam")["AccessKey"]
    own = client(endpoint, "iam", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    # Until the policy engine is wired in, only root is authorized; the call must at least
    # reach authorization as sam (not fail authentication).
    try:
        listed = own.list_access_keys()["AccessKeyMetadata"]
        assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied"
        assert f"user/sam" in e.response["Error"]["Message"]


def test_access_key_errors(iam, raw_iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName="nobody")
    assert err(e) == ("NoSuchEntity", "The user with name nobody cannot be found.")
    assert status(e) == 404
    iam.create_user(UserName="jordan")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(UserName="jordan", AccessKeyId="AKIAAAAAAAAAAAAAAAAA", Status="Inactive")
    assert err(e) == ("NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(UserName="jordan", AccessKeyId="AKIAAAAAAAAAAAAAAAAA")
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw_iam.delete_access_key(UserName="jordan", AccessKeyId="short")
    assert err(e)[0] == "ValidationError"
    key = iam.create_access_key(UserName="jordan")["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(UserName="jordan", AccessKeyId=key["AccessKeyId"], Status="Bogus")
    assert err(e)[0] == "ValidationError"
    # Another user's key is not found under this user.
    iam.create_user(UserName="other")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(UserName="other", AccessKeyId=key["AccessKeyId"])
    assert err(e)[0] == "NoSuchEntity"
    assert len(iam.list_access_keys(UserName="jordan")["AccessKeyMetadata"]) == 1


def test_cloudtrail_never_records_the_secret(endpoint, iam):
    iam.create_user(UserName="alex")
    key = iam.create_access_key(UserName="alex")["AccessKey"]
    ct = client(endpoint, "cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    )["Events"]
    assert events
    text = events[0]["CloudTrailEvent"]
    assert key["AccessKeyId"] in text
    assert key["SecretAccessKey"] not in text


# ---- login profiles and the password policy --------------------------------------------


def test_login_profile_lifecycle(aws_cli, iam):
    iam.create_user(UserName="alex")
    rc, out, stderr = aws_cli(
        "iam", "create-login-profile", "--user-name", "alex", "--password", "Sup3r-Secret!",
        "--password-reset-required",
    )
    assert rc == 0, stderr
    profile = json.loads(out)["LoginProfile"]
    assert profile["UserName"] == "alex"
    assert profile["PasswordResetRequired"] is True
    assert "Password" not in profile
    got = iam.get_login_profile(UserName="alex")["LoginProfile"]
    assert got["UserName"] == "alex" and got["PasswordResetRequired"] is True

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_login_profile(UserName="alex", Password="Another-1!")
    assert err(e)[0] == "EntityAlreadyExists"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName="alex")
    assert err(e)[0] == "DeleteConflict"

    iam.update_login_profile(UserName="alex", Password="N3w-Secret!", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName="alex")["LoginProfile"]["PasswordResetRequired"] is False

    iam.delete_login_profile(UserName="alex")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_login_profile(UserName="alex")
    assert err(e) == ("NoSuchEntity", "Login Profile for User alex cannot be found.")
    assert status(e) == 404
    iam.delete_user(UserName="alex")


def test_password_never_in_cloudtrail(endpoint, iam):
    iam.create_user(UserName="alex")
    iam.create_login_profile(UserName="alex", Password="Very-Secret-Pw-9")
    ct = client(endpoint, "cloudtrail")
    events = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateLoginProfile"}]
    )["Events"]
    assert events
    assert "Very-Secret-Pw-9" not in events[0]["CloudTrailEvent"]


def test_password_policy_enforced(iam, raw_iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_account_password_policy()
    assert err(e)[0] == "NoSuchEntity"
    assert status(e) == 404
    # Without a policy, AWS's default holds: 8 characters, three of the four kinds.
    iam.create_user(UserName="dflt")
    for weak in ("a", "aaaaaaaa", "Short1!", "lowercase123", "UPPER!!!!"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_login_profile(UserName="dflt", Password=weak)
        assert err(e)[0] == "PasswordPolicyViolation", weak
    iam.create_login_profile(UserName="dflt", Password="lower123!")

    iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=3,
    )
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12
    assert policy["RequireSymbols"] and policy["RequireNumbers"]
    assert policy["RequireUppercaseCharacters"] and policy["RequireLowercaseCharacters"]
    assert policy["AllowUsersToChangePassword"] is True
    assert policy["ExpirePasswords"] is True
    assert policy["MaxPasswordAge"] == 90
    assert policy["PasswordReusePrevention"] == 3

    iam.create_user(UserName="maya")
    for weak in ("Short1!a", "alllowercase12!", "ALLUPPERCASE12!", "NoNumbersHere!!", "NoSymbols12345a"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_login_profile(UserName="maya", Password=weak)
        assert err(e) == ("PasswordPolicyViolation", "Password does not conform to the account password policy.")
        assert status(e) == 400
    # Nothing half-created.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_login_profile(UserName="maya")
    assert err(e)[0] == "NoSuchEntity"

    iam.create_login_profile(UserName="maya", Password="Strong-Passw0rd!")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_login_profile(UserName="maya", Password="weak")
    assert err(e)[0] == "PasswordPolicyViolation"
    # Reuse prevention: the current password cannot be set again.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_login_profile(UserName="maya", Password="Strong-Passw0rd!")
    assert err(e)[0] == "PasswordPolicyViolation"
    iam.update_login_profile(UserName="maya", Password="Other-Strong-Pw1!")

    # Members left out revert to their defaults.
    iam.update_account_password_policy(MinimumPasswordLength=8)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 8
    assert policy["RequireSymbols"] is False
    assert policy["ExpirePasswords"] is False
    assert "MaxPasswordAge" not in policy

    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw_iam.update_account_password_policy(MinimumPasswordLength=5)
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw_iam.update_account_password_policy(PasswordReusePrevention=25)
    assert err(e)[0] == "ValidationError"

    iam.delete_account_password_policy()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_account_password_policy()
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_account_password_policy()
    assert err(e)[0] == "NoSuchEntity"


def test_change_password_is_for_iam_users(iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.change_password(OldPassword="a", NewPassword="b")
    assert err(e)[0] == "InvalidUserType"


def test_allow_users_to_change_password_lets_every_user_change_their_own(endpoint, iam):
    """The password policy's AllowUsersToChangePassword is "the same as attaching
    IAMUserChangePassword to all users": GetAccountPasswordPolicy, and ChangePassword on
    oneself only. Without it a user with no policies can do neither."""
    iam.create_user(UserName="kim")
    iam.create_user(UserName="lee")
    iam.create_login_profile(UserName="kim", Password="Kim-Passw0rd!!")
    iam.create_login_profile(UserName="lee", Password="Lee-Passw0rd!!")
    key = iam.create_access_key(UserName="kim")["AccessKey"]
    kim = client(endpoint, "iam", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    iam.update_account_password_policy(MinimumPasswordLength=12, AllowUsersToChangePassword=False)
    for call in (lambda: kim.get_account_password_policy(),
                 lambda: kim.change_password(OldPassword="Kim-Passw0rd!!", NewPassword="Kim-Newer-Pw1!")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert err(e)[0] == "AccessDenied"

    iam.update_account_password_policy(MinimumPasswordLength=12, AllowUsersToChangePassword=True)
    assert kim.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"] is True
    kim.change_password(OldPassword="Kim-Passw0rd!!", NewPassword="Kim-Newer-Pw1!")
    # Still only their own: other users and other actions stay denied.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kim.update_login_profile(UserName="lee", Password="Taken-Over-Pw1!")
    assert err(e)[0] == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kim.list_users()
    assert err(e)[0] == "AccessDenied"
    # The password policy itself still applies to the change.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kim.change_password(OldPassword="Kim-Newer-Pw1!", NewPassword="short")
    assert err(e)[0] == "PasswordPolicyViolation"


def test_login_profile_errors(iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_login_profile(UserName="ghost", Password="Whatever-1!")
    assert err(e)[0] == "NoSuchEntity"
    iam.create_user(UserName="alex")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_login_profile(UserName="alex", Password="Whatever-1!")
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_login_profile(UserName="alex")
    assert err(e)[0] == "NoSuchEntity"


# ---- credential report ------------------------------------------------------------------

REPORT_COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def test_credential_report(endpoint, aws_cli, iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_credential_report()
    assert err(e)[0] == "ReportNotPresent"
    assert status(e) == 410

    iam.create_user(UserName="alex")
    iam.create_user(UserName="maya")
    iam.create_login_profile(UserName="maya", Password="Maya-Passw0rd!")
    k1 = iam.create_access_key(UserName="alex")["AccessKey"]
    # access_key_1 is the older key.
    assert admin(endpoint, "/_palisade/clock", {"advance_seconds": 5})[0] == 200
    k2 = iam.create_access_key(UserName="alex")["AccessKey"]
    iam.update_access_key(UserName="alex", AccessKeyId=k2["AccessKeyId"], Status="Inactive")

    first = iam.generate_credential_report()
    assert first["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"

    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    assert report["GeneratedTime"]
    rows = list(csv.reader(io.StringIO(report["Content"].decode())))
    assert ",".join(rows[0]) == REPORT_COLUMNS
    assert all(len(r) == 22 for r in rows)
    header = rows[0]
    by_user = {r[0]: dict(zip(header, r)) for r in rows[1:]}
    assert [r[0] for r in rows[1:]] == ["<root_account>", "alex", "maya"]

    root = by_user["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert root["password_enabled"] == "not_supported"
    assert root["password_last_changed"] == "not_supported"
    assert root["password_next_rotation"] == "not_supported"
    assert root["cert_1_active"] == "false" and root["cert_1_last_rotated"] == "N/A"

    alex = by_user["alex"]
    assert alex["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alex"
    assert alex["user_creation_time"].endswith("+00:00")
    assert alex["password_enabled"] == "false"
    assert alex["password_last_used"] == "N/A"
    assert alex["password_last_changed"] == "N/A"
    assert alex["mfa_active"] == "false"
    assert alex["access_key_1_active"] == "true"
    assert alex["access_key_1_last_rotated"].endswith("+00:00")
    assert alex["access_key_1_last_used_date"] == "N/A"
    assert alex["access_key_1_last_used_region"] == "N/A"
    assert alex["access_key_1_last_used_service"] == "N/A"
    assert alex["access_key_2_active"] == "false"
    assert alex["access_key_2_last_rotated"] != "N/A"

    maya = by_user["maya"]
    assert maya["password_enabled"] == "true"
    assert maya["password_last_used"] == "no_information"
    assert maya["password_last_changed"].endswith("+00:00")
    assert maya["password_next_rotation"] == "N/A"
    assert maya["access_key_1_active"] == "false"
    assert maya["access_key_1_last_rotated"] == "N/A"

    # The seed's quick-reference command, as printed: keys with a last-used date.
    rc, out, stderr = aws_cli("iam", "get-credential-report")
    assert rc == 0, stderr
    body = json.loads(out)
    assert body["ReportFormat"] == "text/csv"
    assert base64.b64decode(body["Content"]).decode().splitlines()[0] == REPORT_COLUMNS
    rc, out, stderr = aws_cli("iam", "get-credential-report", "--query", "Content", "--output", "text")
    assert rc == 0, stderr
    text = base64.b64decode(out.strip()).decode()
    used = [line.split(",") for line in text.splitlines()[1:] if line.split(",")[10] != "N/A"]
    # Only the root user's own key (this test's) has an access_key_1_last_used_date yet.
    assert [u[0] for u in used] == ["<root_account>"]

    # Reports expire after four hours of business time; a new one is generated then.
    status_code, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 4 * 3600 + 60})
    assert status_code == 200
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_credential_report()
    assert err(e)[0] == "ReportExpired"
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.get_credential_report()["Content"].decode().count("\n") == 3


def test_seed_credential_report_pipeline(aws_cli, endpoint, tmp_path):
    """`aws iam get-credential-report --query 'Content' --output text | base64 -d | awk ...`"""
    import subprocess
    import os
    from conftest import ROOT_AK, ROOT_SK

    client(endpoint, "iam").generate_credential_report()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ROOT_AK, AWS_SECRET_ACCESS_KEY=ROOT_SK, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "c"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "k"))
    p = subprocess.run(
        ["bash", "-c",
         f"aws --endpoint-url {endpoint} iam get-credential-report --query 'Content' --output text | base64 -d | "
         "awk -F',' 'NR>1 && $11!=\"N/A\" {print $1, $11}'; echo rc=${PIPESTATUS[0]}${PIPESTATUS[1]}"],
        capture_output=True, env=env, timeout=60,
    )
    # The root user's own access key, used by this test (column 11:
    # access_key_1_last_used_date), is what the seed's audit finds.
    lines = p.stdout.decode().strip().splitlines()
    assert lines[-1] == "rc=00", p.stderr.decode()
    assert [l.split()[0] for l in lines[:-1]] == ["<root_account>"]


# ---- identity providers -----------------------------------------------------------------

THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
SAML_METADATA = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    'entityID="https://idp.pettracker.example/saml" validUntil="2031-01-01T00:00:00Z">'
    '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
    'Location="https://idp.pettracker.example/sso"/>'
    "</md:IDPSSODescriptor>"
    "<!--" + "padding " * 130 + "-->"
    "</md:EntityDescriptor>"
)


def test_oidc_provider_lifecycle(aws_cli, iam):
    rc, out, stderr = aws_cli(
        "iam", "create-open-id-connect-provider", "--url", "https://token.actions.githubusercontent.com",
        "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", THUMB,
    )
    assert rc == 0, stderr
    arn = json.loads(out)["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == "token.actions.githubusercontent.com"
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["CreateDate"]
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == [{"Arn": arn}]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="pettracker-web")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="pettracker-web")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == [
        "sts.amazonaws.com", "pettracker-web"
    ]
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["pettracker-web"]
    new_thumb = "a" * 40
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[new_thumb])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == [new_thumb]

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://token.actions.githubusercontent.com", ThumbprintList=[THUMB])
    assert err(e)[0] == "EntityAlreadyExists"
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert err(e)[0] == "NoSuchEntity"
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_oidc_provider_bad_input(iam, raw_iam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_open_id_connect_provider(Url="http://insecure.example.com", ThumbprintList=[THUMB])
    assert err(e)[0] == "InvalidInput"
    for url in ("https://idp.example.com:99999", "https://idp.example.com:0"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_open_id_connect_provider(Url=url, ThumbprintList=[THUMB])
        assert err(e)[0] == "InvalidInput", url
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw_iam.create_open_id_connect_provider(Url="https://idp.example.com", ThumbprintList=["not-hex"])
    assert err(e)[0] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://idp.example.com", ThumbprintList=[THUMB] * 6)
    assert err(e)[0] == "LimitExceeded"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn="this-is-not-an-arn-at-all")
    assert err(e)[0] == "InvalidInput"
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_saml_provider_lifecycle(iam):
    arn = iam.create_saml_provider(Name="PetTrackerIdP", SAMLMetadataDocument=SAML_METADATA)["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/PetTrackerIdP"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == SAML_METADATA
    assert got["ValidUntil"].year == 2031
    assert got["CreateDate"]
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [arn]

    updated = SAML_METADATA.replace("2031-01-01", "2032-06-01")
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=updated)["SAMLProviderArn"] == arn
    assert iam.get_saml_provider(SAMLProviderArn=arn)["ValidUntil"].year == 2032

    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(Name="PetTrackerIdP", SAMLMetadataDocument=SAML_METADATA)
    assert err(e)[0] == "EntityAlreadyExists"
    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert err(e)[0] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_saml_provider(SAMLProviderArn=arn)
    assert err(e)[0] == "NoSuchEntity"


def test_saml_metadata_must_be_entity_descriptor_xml(iam):
    not_metadata = "<Something>" + "x" * 1100 + "</Something>"
    broken = SAML_METADATA.replace("</md:IDPSSODescriptor>", "")
    for doc in (not_metadata, broken, "plain text " * 100):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.create_saml_provider(Name="Bad", SAMLMetadataDocument=doc)
        assert err(e)[0] == "InvalidInput", doc[:40]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(Name="bad name!", SAMLMetadataDocument=SAML_METADATA)
    assert err(e)[0] == "ValidationError"
    assert iam.list_saml_providers()["SAMLProviderList"] == []


def test_the_root_users_own_key_is_an_iam_access_key(endpoint, aws_cli):
    """The root key from the first start is one of the root user's IAM access keys, as on
    AWS: listed (ListAccessKeys without UserName), in the credential report with its last
    use, counted in the quota of two, and the root user can deactivate and delete it (the
    seed's "delete root access keys"). A reset brings it back."""
    iam = client(endpoint, "iam")
    client(endpoint, "sts").get_caller_identity()
    listed = iam.list_access_keys()["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(ROOT_AK, "Active")]
    assert "UserName" not in listed[0]
    used = iam.get_access_key_last_used(AccessKeyId=ROOT_AK)["AccessKeyLastUsed"]
    assert used["ServiceName"] in ("sts", "iam") and "LastUsedDate" in used
    iam.generate_credential_report()
    rows = list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))
    root = next(r for r in rows if r["user"] == "<root_account>")
    assert root["access_key_1_active"] == "true" and root["access_key_1_last_used_date"] != "N/A"
    # One more root key fits; a third does not.
    second = iam.create_access_key()["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key()
    assert e.value.response["Error"]["Code"] == "LimitExceeded"
    # With the second key, the root user retires the first, as the seed says to.
    root2 = client(endpoint, "iam", ak=second["AccessKeyId"], sk=second["SecretAccessKey"])
    try:
        root2.update_access_key(AccessKeyId=ROOT_AK, Status="Inactive")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.list_access_keys()
        assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
        root2.delete_access_key(AccessKeyId=ROOT_AK)
        assert [k["AccessKeyId"] for k in root2.list_access_keys()["AccessKeyMetadata"]] == [second["AccessKeyId"]]
    finally:
        # A reset restores the data dir's root key (and only it); later tests sign with it.
        assert admin(endpoint, "/_palisade/reset", {}, ak=second["AccessKeyId"], sk=second["SecretAccessKey"])[0] == 200
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [ROOT_AK]


def test_provider_and_mfa_device_tags(endpoint, aws_cli):
    iam = client(endpoint, "iam")
    oidc = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "ci"}],
    )["OpenIDConnectProviderArn"]
    saml = iam.create_saml_provider(Name="PetTrackerIdP", SAMLMetadataDocument=SAML_METADATA)["SAMLProviderArn"]
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="ops-phone")["VirtualMFADevice"]["SerialNumber"]
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=oidc)["Tags"] == [{"Key": "team", "Value": "ci"}]
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=oidc, Tags=[{"Key": "Team", "Value": "platform"}, {"Key": "env", "Value": "prod"}])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=oidc)["Tags"] == [
        {"Key": "Team", "Value": "platform"}, {"Key": "env", "Value": "prod"}]
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=oidc, TagKeys=["TEAM"])
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.tag_saml_provider(SAMLProviderArn=saml, Tags=[{"Key": "idp", "Value": "okta"}])
    assert iam.list_saml_provider_tags(SAMLProviderArn=saml)["Tags"] == [{"Key": "idp", "Value": "okta"}]
    iam.untag_saml_provider(SAMLProviderArn=saml, TagKeys=["idp"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=saml)["Tags"] == []
    rc, out, errout = aws_cli("iam", "tag-mfa-device", "--serial-number", serial, "--tags", "Key=owner,Value=ops")
    assert rc == 0, errout
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "owner", "Value": "ops"}]
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["owner"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == []
    for call, code in (
        (lambda: iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=oidc + "x", Tags=[{"Key": "a", "Value": "b"}]), "NoSuchEntity"),
        (lambda: iam.list_mfa_device_tags(SerialNumber=serial + "x"), "NoSuchEntity"),
        (lambda: iam.tag_saml_provider(SAMLProviderArn=saml, Tags=[{"Key": "aws:x", "Value": "b"}]), "InvalidInput"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == code
    # CloudTrail names the device by its serial number.
    events = client(endpoint, "cloudtrail").lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "TagMFADevice"}])["Events"]
    assert [r["ResourceName"] for e in events for r in e["Resources"]] == [serial]
