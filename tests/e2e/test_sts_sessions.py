"""STS temporary credentials (AssumeRole, GetSessionToken, GetFederationToken,
GetAccessKeyInfo) with the unmodified aws CLI and boto3: the credentials they issue, their
bounds and errors, their expiry on the business clock, and how CloudTrail records them."""

import datetime
import json

import botocore.config
import botocore.exceptions
import pytest

from conftest import ACCOUNT, ROOT_AK, admin, admin_client, admin_user, client

ROOT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}

# Session tags and a source identity need sts:TagSession / sts:SetSourceIdentity in the
# trust policy too.
TAGGING_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        }
    ],
}

# boto3 and the CLI check the model's bounds before sending; these clients let a bad value
# reach the server, as another SDK or a hand-made request would.
UNCHECKED = botocore.config.Config(parameter_validation=False)


def unchecked(endpoint, service, **kw):
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=kw.get("ak", ROOT_AK),
        aws_secret_access_key=kw.get("sk", __import__("conftest").ROOT_SK),
        aws_session_token=kw.get("token"),
        region_name="us-east-1",
    )
    return session.client(service, endpoint_url=endpoint, config=UNCHECKED)


def create_role(endpoint, name, trust=ROOT_TRUST, **kw):
    iam = client(endpoint, "iam")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **kw)["Role"]


def creds_client(endpoint, service, creds):
    return client(
        endpoint,
        service,
        ak=creds["AccessKeyId"],
        sk=creds["SecretAccessKey"],
        token=creds["SessionToken"],
    )


def error_of(fn, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(*args, **kwargs)
    return e.value.response["Error"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def seconds_until(expiration):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (expiration - now).total_seconds()


def make_user(endpoint, name, policy_arn=None):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    if policy_arn:
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


# ---- AssumeRole ------------------------------------------------------------------------


def test_assume_role_with_the_cli_and_use_the_credentials(endpoint, aws_cli):
    role = create_role(endpoint, "pettracker-lambda-api")
    args = ("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "alex-debug")
    # AWS lets no root user assume a role, whatever the trust policy says.
    rc, out, err = aws_cli(*args)
    assert rc != 0 and "AccessDenied" in err and "Roles may not be assumed by root accounts." in err
    ak, sk = admin_user(endpoint)
    rc, out, err = aws_cli(*args, ak=ak, sk=sk)
    assert rc == 0, err
    resp = json.loads(out)
    creds = resp["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert len(creds["SessionToken"]) > 100
    user = resp["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-lambda-api/alex-debug"
    assert user["AssumedRoleId"] == f"{role['RoleId']}:alex-debug"
    assert user["AssumedRoleId"].startswith("AROA")

    # The temporary credentials work with the CLI and report the assumed-role identity.
    rc, out, err = aws_cli(
        "sts",
        "get-caller-identity",
        ak=creds["AccessKeyId"],
        sk=creds["SecretAccessKey"],
        token=creds["SessionToken"],
    )
    assert rc == 0, err
    assert json.loads(out) == {"UserId": user["AssumedRoleId"], "Account": ACCOUNT, "Arn": user["Arn"]}

    # Default duration: one hour.
    expiration = datetime.datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    assert 3500 < seconds_until(expiration) <= 3600

    # Without the session token the key is not accepted.
    err_, status = error_of(
        client(endpoint, "sts", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"]).get_caller_identity
    )
    assert status == 403

    # RoleLastUsed is updated.
    got = client(endpoint, "iam").get_role(RoleName="pettracker-lambda-api")["Role"]
    assert got.get("RoleLastUsed", {}).get("Region") == "us-east-1"
    assert "LastUsedDate" in got["RoleLastUsed"]


def test_assume_role_boto3_with_path_session_policy_and_tags(endpoint):
    role = create_role(endpoint, "pettracker-ecs-task", TAGGING_TRUST, Path="/service/")
    sts = admin_client(endpoint, "sts")
    resp = sts.assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="task@pettracker",
        DurationSeconds=900,
        Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        ),
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        Tags=[{"Key": "team", "Value": "pets"}],
        TransitiveTagKeys=["team"],
        SourceIdentity="alex",
    )
    # The assumed-role ARN carries the role name, never its path.
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-ecs-task/task@pettracker"
    assert 0 < resp["PackedPolicySize"] <= 100
    assert resp["SourceIdentity"] == "alex"
    assert 800 < seconds_until(resp["Credentials"]["Expiration"]) <= 900
    ident = creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    assert ident["Arn"] == resp["AssumedRoleUser"]["Arn"]


@pytest.mark.parametrize(
    "kwargs, code, message",
    [
        ({"RoleSessionName": "a"}, "ValidationError", "Member must have length greater than or equal to 2"),
        ({"RoleSessionName": "bad name!"}, "ValidationError", "Member must satisfy regular expression pattern"),
        ({"DurationSeconds": 899}, "ValidationError", "Member must have value greater than or equal to 900"),
        ({"DurationSeconds": 43201}, "ValidationError", "Member must have value less than or equal to 43200"),
        ({"DurationSeconds": 7200}, "ValidationError", "exceeds the MaxSessionDuration set for this role"),
        ({"Policy": "{not json"}, "MalformedPolicyDocument", ""),
        ({"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})}, "MalformedPolicyDocument", ""),
        ({"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "x" * 2000}]}), "Tags": [{"Key": "k" * 128, "Value": "v" * 256}]}, "PackedPolicyTooLarge", "Packed policy consumes"),
        ({"TokenCode": "123456"}, "AccessDenied", "must provide both MFA serial number and one time pass code"),
        ({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]}, "InvalidParameterValue", "Duplicate tag keys"),
        ({"Tags": [{"Key": "a", "Value": "1"}], "TransitiveTagKeys": ["b"]}, "InvalidParameterValue", "transitive tag key must be included"),
        ({"PolicyArns": [{"arn": "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"}]}, "InvalidParameterValue", "does not exist"),
        ({"SourceIdentity": "aws:me"}, "ValidationError", "aws:"),
        # The session policy types' pattern: tab, LF, CR and U+0020..U+00FF only.
        ({"Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::\u0101"}]}, ensure_ascii=False)}, "ValidationError", "at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"),
        ({"ProvidedContexts": [{"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "abcd"}] * 6}, "ValidationError", "at 'providedContexts' failed to satisfy constraint: Member must have length less than or equal to 5"),
        ({"ProvidedContexts": [{"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "ContextAssertion": "abc"}]}, "ValidationError", "at 'providedContexts.1.member.contextAssertion' failed to satisfy constraint: Member must have length greater than or equal to 4"),
        ({"ProvidedContexts": [{"ProviderArn": "arn:short", "ContextAssertion": "abcd"}]}, "ValidationError", "at 'providedContexts.1.member.providerArn'"),
    ],
)
def test_assume_role_bad_input(endpoint, kwargs, code, message):
    role = create_role(endpoint, "pettracker-bounds", TAGGING_TRUST)
    args = {"RoleArn": role["Arn"], "RoleSessionName": "s1", **kwargs}
    ak, sk = admin_user(endpoint)
    err, status = error_of(unchecked(endpoint, "sts", ak=ak, sk=sk).assume_role, **args)
    assert err["Code"] == code, err
    assert message in err["Message"]
    assert status == (403 if code == "AccessDenied" else 400)


def test_assume_role_duration_up_to_max_session_duration(endpoint):
    role = create_role(endpoint, "pettracker-long", MaxSessionDuration=43200)
    resp = admin_client(endpoint, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="long", DurationSeconds=43200)
    assert 43100 < seconds_until(resp["Credentials"]["Expiration"]) <= 43200


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        f"arn:aws:iam:{ACCOUNT}:role/pettracker-x",  # one colon short: AWS still only denies
        "arn:aws:iam::111122223333:role/pettracker-x",  # an account this data dir does not have
    ],
)
def test_assume_role_missing_or_malformed_role_is_access_denied(endpoint, arn):
    create_role(endpoint, "pettracker-x")
    err, status = error_of(admin_client(endpoint, "sts").assume_role, RoleArn=arn, RoleSessionName="s1")
    assert status == 403
    assert err["Code"] == "AccessDenied"
    # STS names no reason (the caller's own policies allow sts:AssumeRole here).
    assert err["Message"].endswith("is not authorized to perform: sts:AssumeRole on resource: " + arn)


def test_external_id_condition_in_trust_policy(endpoint):
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "pettracker-partner-42"}},
            }
        ],
    }
    role = create_role(endpoint, "pettracker-partner", trust)
    sts = admin_client(endpoint, "sts")
    ok = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="partner", ExternalId="pettracker-partner-42")
    assert ok["Credentials"]["AccessKeyId"].startswith("ASIA")
    for extra in ({}, {"ExternalId": "wrong-id"}):
        err, status = error_of(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="partner", **extra)
        assert (err["Code"], status) == ("AccessDenied", 403)
        assert err["Message"] == f"User: arn:aws:iam::{ACCOUNT}:user/e2e-admin is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"


def test_trust_policy_not_naming_the_caller_denies(endpoint):
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = create_role(endpoint, "pettracker-lambda-processor", trust)
    err, status = error_of(admin_client(endpoint, "sts").assume_role, RoleArn=role["Arn"], RoleSessionName="s1")
    assert (err["Code"], status) == ("AccessDenied", 403)


def test_session_tags_and_source_identity_need_trust_policy_permission(endpoint):
    role = create_role(endpoint, "pettracker-notags")
    sts = admin_client(endpoint, "sts")
    for extra, action in (
        ({"Tags": [{"Key": "team", "Value": "pets"}]}, "sts:TagSession"),
        ({"SourceIdentity": "alex"}, "sts:SetSourceIdentity"),
    ):
        err, status = error_of(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1", **extra)
        assert (err["Code"], status) == ("AccessDenied", 403)
        assert f"perform: {action} on resource: {role['Arn']}" in err["Message"]


def test_expired_session_is_expired_token(endpoint):
    role = create_role(endpoint, "pettracker-short")
    creds = admin_client(endpoint, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900)[
        "Credentials"
    ]
    temp = creds_client(endpoint, "sts", creds)
    assert temp.get_caller_identity()["Arn"].endswith(":assumed-role/pettracker-short/short")
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 899})
    assert status == 200
    temp.get_caller_identity()
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 2})
    assert status == 200
    err, status = error_of(temp.get_caller_identity)
    assert err["Code"] == "ExpiredToken"
    assert status == 403  # awsQuery's status for an expired token (protocol error table)


def test_role_chaining_is_capped_at_one_hour(endpoint):
    first = create_role(endpoint, "pettracker-hub", TAGGING_TRUST, MaxSessionDuration=43200)
    client(endpoint, "iam").attach_role_policy(
        RoleName="pettracker-hub", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    hub_session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-hub/hub"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": first["Arn"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }
    second = create_role(endpoint, "pettracker-spoke", trust, MaxSessionDuration=43200)
    hub = admin_client(endpoint, "sts").assume_role(
        RoleArn=first["Arn"],
        RoleSessionName="hub",
        DurationSeconds=7200,
        Tags=[{"Key": "project", "Value": "pettracker"}],
        TransitiveTagKeys=["project"],
    )
    assert hub["AssumedRoleUser"]["Arn"] == hub_session_arn
    chained = creds_client(endpoint, "sts", hub["Credentials"])
    err, status = error_of(chained.assume_role, RoleArn=second["Arn"], RoleSessionName="spoke", DurationSeconds=3601)
    assert (err["Code"], status) == ("ValidationError", 400)
    assert err["Message"] == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    resp = chained.assume_role(RoleArn=second["Arn"], RoleSessionName="spoke")
    assert 3500 < seconds_until(resp["Credentials"]["Expiration"]) <= 3600
    ident = creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-spoke/spoke"
    # A role session cannot get a session token.
    err, status = error_of(chained.get_session_token)
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "Cannot call GetSessionToken with session credentials"


# ---- GetSessionToken -------------------------------------------------------------------


def test_get_session_token_as_root_is_capped_at_one_hour(endpoint, aws_cli):
    rc, out, err = aws_cli("sts", "get-session-token", "--duration-seconds", "7200")
    assert rc == 0, err
    creds = json.loads(out)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    expiration = datetime.datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    assert 3500 < seconds_until(expiration) <= 3600
    rc, out, err = aws_cli(
        "sts", "get-caller-identity", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    assert rc == 0, err
    assert json.loads(out)["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    # Session credentials cannot call GetSessionToken again.
    rc, _, err = aws_cli(
        "sts", "get-session-token", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    assert rc != 0 and "Cannot call GetSessionToken with session credentials" in err


def test_get_session_token_for_a_user(endpoint):
    ak, sk = make_user(endpoint, "maya")
    sts = client(endpoint, "sts", ak=ak, sk=sk)
    resp = sts.get_session_token()
    assert 43100 < seconds_until(resp["Credentials"]["Expiration"]) <= 43200
    ident = creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/maya"
    assert ident["UserId"].startswith("AIDA")
    resp = sts.get_session_token(DurationSeconds=129600)
    assert 129500 < seconds_until(resp["Credentials"]["Expiration"]) <= 129600
    for bad in (899, 129601):
        err, status = error_of(unchecked(endpoint, "sts", ak=ak, sk=sk).get_session_token, DurationSeconds=bad)
        assert (err["Code"], status) == ("ValidationError", 400)
    # A wrong MFA code fails.
    err, status = error_of(
        sts.get_session_token, SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/maya", TokenCode="123456"
    )
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "MultiFactorAuthentication failed with invalid MFA one time pass code."


def test_session_token_and_federation_credentials_are_limited_as_in_aws(endpoint, aws_cli):
    """AWS: GetSessionToken credentials cannot call IAM without MFA, nor STS beyond AssumeRole
    and GetCallerIdentity; GetFederationToken credentials cannot call IAM, nor STS beyond
    GetCallerIdentity. IAM answers as to an invalid token."""
    ak, sk = make_user(endpoint, "nora", "arn:aws:iam::aws:policy/AdministratorAccess")
    role = create_role(endpoint, "nora-target")
    client(endpoint, "iam").attach_role_policy(
        RoleName="nora-target", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    sts = client(endpoint, "sts", ak=ak, sk=sk)
    # IAM's wording has no final period (STS's has one).
    invalid = ("InvalidClientTokenId", 403, "The security token included in the request is invalid")

    plain = sts.get_session_token()["Credentials"]
    err, status = error_of(creds_client(endpoint, "iam", plain).list_users)
    assert (err["Code"], status, err["Message"]) == invalid
    rc, _, out = aws_cli(
        "iam", "get-user", ak=plain["AccessKeyId"], sk=plain["SecretAccessKey"], token=plain["SessionToken"]
    )
    assert rc != 0 and "InvalidClientTokenId" in out
    # Other services take it, and STS for AssumeRole and GetCallerIdentity.
    creds_client(endpoint, "cloudtrail", plain).lookup_events(MaxResults=1)
    plain_sts = creds_client(endpoint, "sts", plain)
    assert plain_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/nora"
    plain_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="nora")
    err, status = error_of(plain_sts.get_access_key_info, AccessKeyId=ak)
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "Cannot call GetAccessKeyInfo with session credentials"
    err, status = error_of(plain_sts.decode_authorization_message, EncodedMessage="abc")
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "Cannot call DecodeAuthorizationMessage with session credentials"

    everything = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    fed = sts.get_federation_token(Name="nora-fed", Policy=everything)["Credentials"]
    err, status = error_of(creds_client(endpoint, "iam", fed).get_user)
    assert (err["Code"], status, err["Message"]) == invalid
    creds_client(endpoint, "cloudtrail", fed).lookup_events(MaxResults=1)
    fed_sts = creds_client(endpoint, "sts", fed)
    assert fed_sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/nora-fed"
    # Its policies would allow the role (the trust policy trusts the account): STS refuses.
    err, status = error_of(fed_sts.assume_role, RoleArn=role["Arn"], RoleSessionName="fed")
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "Cannot call AssumeRole with session credentials"
    err, status = error_of(fed_sts.get_access_key_info, AccessKeyId=ak)
    assert (err["Code"], status) == ("AccessDenied", 403)
    # The refusal comes before policies are looked at: a session allowed nothing gets it too,
    # and CloudTrail records it.
    bare = sts.get_federation_token(Name="nora-bare")["Credentials"]
    err, status = error_of(creds_client(endpoint, "sts", bare).assume_role, RoleArn=role["Arn"], RoleSessionName="bb")
    assert (err["Code"], err["Message"]) == ("AccessDenied", "Cannot call AssumeRole with session credentials")
    refused = [
        json.loads(e["CloudTrailEvent"])
        for e in client(endpoint, "cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": bare["AccessKeyId"]}]
        )["Events"]
    ]
    assert [(r["eventName"], r["errorCode"]) for r in refused] == [("AssumeRole", "AccessDenied")]

    # Role sessions are not limited this way.
    role_creds = admin_client(endpoint, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="rs")["Credentials"]
    creds_client(endpoint, "sts", role_creds).get_access_key_info(AccessKeyId=ak)


# ---- GetFederationToken ----------------------------------------------------------------


def test_get_federation_token_intersects_user_and_passed_policy(endpoint):
    ak, sk = make_user(endpoint, "sam", "arn:aws:iam::aws:policy/AdministratorAccess")
    sts = client(endpoint, "sts", ak=ak, sk=sk)
    resp = sts.get_federation_token(
        Name="sam-oncall",
        Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]}
        ),
        DurationSeconds=1800,
    )
    fed = resp["FederatedUser"]
    assert fed == {"FederatedUserId": f"{ACCOUNT}:sam-oncall", "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/sam-oncall"}
    assert 1700 < seconds_until(resp["Credentials"]["Expiration"]) <= 1800
    assert 0 < resp["PackedPolicySize"] <= 100
    ident = creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    assert ident == {**ident, "Arn": fed["Arn"], "UserId": fed["FederatedUserId"], "Account": ACCOUNT}
    # The passed policy allows LookupEvents, and the user may do it: allowed.
    creds_client(endpoint, "cloudtrail", resp["Credentials"]).lookup_events(MaxResults=1)
    # Without a passed policy the federated session has no permissions.
    bare = sts.get_federation_token(Name="sam-bare")["Credentials"]
    err, status = error_of(creds_client(endpoint, "cloudtrail", bare).lookup_events, MaxResults=1)
    assert err["Code"] in ("AccessDenied", "AccessDeniedException")
    # Sessions cannot get federation tokens.
    err, status = error_of(creds_client(endpoint, "sts", bare).get_federation_token, Name="again")
    assert (err["Code"], status) == ("AccessDenied", 403)


def test_get_federation_token_as_root_and_bad_input(endpoint, aws_cli):
    rc, out, err = aws_cli("sts", "get-federation-token", "--name", "pet-admin", "--duration-seconds", "36000")
    assert rc == 0, err
    resp = json.loads(out)
    expiration = datetime.datetime.fromisoformat(resp["Credentials"]["Expiration"].replace("Z", "+00:00"))
    assert 3500 < seconds_until(expiration) <= 3600
    sts = unchecked(endpoint, "sts")
    for kwargs, code in [
        ({"Name": "x"}, "ValidationError"),
        ({"Name": "way-too-long-federated-user-name-here"}, "ValidationError"),
        ({"Name": "ok-name", "DurationSeconds": 129601}, "ValidationError"),
        ({"Name": "ok-name", "Policy": "[]"}, "MalformedPolicyDocument"),
        ({"Name": "ok-name", "Policy": "x" * 2049}, "ValidationError"),
        ({"Name": "ok-name", "Policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::\u0101"}]}'}, "ValidationError"),
    ]:
        err, status = error_of(sts.get_federation_token, **kwargs)
        assert (err["Code"], status) == (code, 400), kwargs


# ---- DecodeAuthorizationMessage --------------------------------------------------------


def test_decode_authorization_message(endpoint, aws_cli):
    # No Palisade service encodes its authorization failures, so no message decodes; the
    # model's bounds come first, then the permission, then the model's error.
    sts = unchecked(endpoint, "sts")
    for message in ("", "x" * 10241):
        err, status = error_of(sts.decode_authorization_message, EncodedMessage=message)
        assert (err["Code"], status) == ("ValidationError", 400), message
        assert "at 'encodedMessage'" in err["Message"]
    err, status = error_of(sts.decode_authorization_message, EncodedMessage="garbage")
    assert (err["Code"], status) == ("InvalidAuthorizationMessageException", 400)
    iam = client(endpoint, "iam")
    iam.create_user(UserName="no-decode")
    key = iam.create_access_key(UserName="no-decode")["AccessKey"]
    nobody = unchecked(endpoint, "sts", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    err, status = error_of(nobody.decode_authorization_message, EncodedMessage="garbage")
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert "sts:DecodeAuthorizationMessage" in err["Message"]
    rc, _, out = aws_cli("sts", "decode-authorization-message", "--encoded-message", "abc")
    assert rc != 0 and "InvalidAuthorizationMessageException" in out


# ---- GetAccessKeyInfo ------------------------------------------------------------------


def test_get_access_key_info(endpoint, aws_cli):
    rc, out, err = aws_cli("sts", "get-access-key-info", "--access-key-id", ROOT_AK)
    assert rc == 0, err
    assert json.loads(out) == {"Account": ACCOUNT}
    temp = client(endpoint, "sts").get_session_token()["Credentials"]
    assert client(endpoint, "sts").get_access_key_info(AccessKeyId=temp["AccessKeyId"])["Account"] == ACCOUNT
    err, status = error_of(unchecked(endpoint, "sts").get_access_key_info, AccessKeyId="short")
    assert (err["Code"], status) == ("ValidationError", 400)
    # As AWS, the account comes from the key id itself: a user's key, then deleted, still
    # answers; so does a key id Palisade never issued (a published example's account).
    iam = client(endpoint, "iam")
    iam.create_user(UserName="gaki")
    key = iam.create_access_key(UserName="gaki")["AccessKey"]["AccessKeyId"]
    iam.delete_access_key(UserName="gaki", AccessKeyId=key)
    assert client(endpoint, "sts").get_access_key_info(AccessKeyId=key)["Account"] == ACCOUNT
    foreign = client(endpoint, "sts").get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")
    assert foreign["Account"] == "609629065308"
    err, status = error_of(unchecked(endpoint, "sts").get_access_key_info, AccessKeyId="AKIA00000000000000000")
    assert (err["Code"], status) == ("ValidationError", 400)


# ---- CloudTrail --------------------------------------------------------------------------


def event(endpoint, name):
    evs = client(endpoint, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}]
    )["Events"]
    assert evs, name
    return json.loads(evs[0]["CloudTrailEvent"])


def test_cloudtrail_records_sessions(endpoint):
    role = create_role(endpoint, "pettracker-audited", TAGGING_TRUST)
    resp = admin_client(endpoint, "sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="audit", SourceIdentity="jordan", ExternalId="ext-1"
    )
    ev = event(endpoint, "AssumeRole")
    assert ev["eventSource"] == "sts.amazonaws.com"
    assert ev["requestParameters"]["roleArn"] == role["Arn"]
    assert ev["requestParameters"]["roleSessionName"] == "audit"
    assert ev["requestParameters"]["externalId"] == "ext-1"
    elements = ev["responseElements"]
    assert elements["credentials"]["accessKeyId"] == resp["Credentials"]["AccessKeyId"]
    assert elements["credentials"]["sessionToken"] == resp["Credentials"]["SessionToken"]
    assert "secretAccessKey" not in json.dumps(elements)
    assert resp["Credentials"]["SecretAccessKey"] not in json.dumps(ev)
    assert elements["assumedRoleUser"]["arn"] == resp["AssumedRoleUser"]["Arn"]
    assert elements["sourceIdentity"] == "jordan"
    assert ev["resources"] == [{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": role["Arn"]}]

    # A call made with the session carries its sessionContext.
    creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    ev = event(endpoint, "GetCallerIdentity")
    ui = ev["userIdentity"]
    assert ui["type"] == "AssumedRole"
    assert ui["arn"] == resp["AssumedRoleUser"]["Arn"]
    assert ui["principalId"] == resp["AssumedRoleUser"]["AssumedRoleId"]
    assert ui["accessKeyId"] == resp["Credentials"]["AccessKeyId"]
    sc = ui["sessionContext"]
    assert sc["sessionIssuer"] == {
        "type": "Role",
        "principalId": role["RoleId"],
        "arn": role["Arn"],
        "accountId": ACCOUNT,
        "userName": "pettracker-audited",
    }
    assert sc["attributes"]["mfaAuthenticated"] == "false"
    datetime.datetime.fromisoformat(sc["attributes"]["creationDate"].replace("Z", "+00:00"))
    assert sc["sourceIdentity"] == "jordan"

    # GetSessionToken sessions of root show an empty sessionIssuer.
    temp = client(endpoint, "sts").get_session_token()["Credentials"]
    creds_client(endpoint, "sts", temp).get_caller_identity()
    ui = event(endpoint, "GetCallerIdentity")["userIdentity"]
    assert ui["type"] == "Root"
    assert ui["sessionContext"]["sessionIssuer"] == {}
    assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    gst = event(endpoint, "GetSessionToken")
    assert gst["responseElements"]["credentials"]["accessKeyId"] == temp["AccessKeyId"]
    assert temp["SecretAccessKey"] not in json.dumps(gst)


# ---- MFA ---------------------------------------------------------------------------------


def totp(seed_base32, step):
    import base64
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(seed_base32 + b"=" * (-len(seed_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def test_assume_role_with_mfa(endpoint):
    # A fixed business time one second into a 30-second step makes the codes predictable.
    start = datetime.datetime(2026, 6, 1, 12, 0, 1, tzinfo=datetime.timezone.utc)
    status, _ = admin(endpoint, "/_palisade/clock", {"set": start.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert status == 200
    step = int(start.timestamp()) // 30

    ak, sk = make_user(endpoint, "alex", "arn:aws:iam::aws:policy/AdministratorAccess")
    iam = client(endpoint, "iam")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alex")["VirtualMFADevice"]
    seed, serial = device["Base32StringSeed"], device["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alex",
        SerialNumber=serial,
        AuthenticationCode1=totp(seed, step - 1),
        AuthenticationCode2=totp(seed, step),
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alex"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    role = create_role(endpoint, "pettracker-prod-admin", trust)
    sts = client(endpoint, "sts", ak=ak, sk=sk)

    # Without MFA the trust policy's condition fails.
    err, status = error_of(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="alex")
    assert (err["Code"], status) == ("AccessDenied", 403)
    # A wrong code fails with STS's own message.
    wrong = "000000" if totp(seed, step + 1) != "000000" else "111111"
    err, status = error_of(
        sts.assume_role, RoleArn=role["Arn"], RoleSessionName="alex", SerialNumber=serial, TokenCode=wrong
    )
    assert (err["Code"], status) == ("AccessDenied", 403)
    assert err["Message"] == "MultiFactorAuthentication failed with invalid MFA one time pass code."
    # The next code works, once.
    code = totp(seed, step + 1)
    resp = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="alex", SerialNumber=serial, TokenCode=code)
    ident = creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/pettracker-prod-admin/alex"
    err, status = error_of(
        sts.assume_role, RoleArn=role["Arn"], RoleSessionName="alex", SerialNumber=serial, TokenCode=code
    )
    assert (err["Code"], status) == ("AccessDenied", 403)

    # The role session's CloudTrail sessionContext says MFA was used.
    creds_client(endpoint, "sts", resp["Credentials"]).get_caller_identity()
    ui = event(endpoint, "GetCallerIdentity")["userIdentity"]
    assert ui["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"

    # An MFA session from GetSessionToken satisfies the condition without a code.
    status, _ = admin(endpoint, "/_palisade/clock", {"advance_seconds": 30})
    assert status == 200
    session = sts.get_session_token(SerialNumber=serial, TokenCode=totp(seed, step + 2))["Credentials"]
    mfa_sts = creds_client(endpoint, "sts", session)
    assert mfa_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alex"
    resp = mfa_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="alex-mfa", DurationSeconds=3600)
    assert resp["AssumedRoleUser"]["Arn"].endswith("/pettracker-prod-admin/alex-mfa")


def test_session_tag_keys_may_not_use_the_aws_prefix(endpoint):
    # Session tags follow IAM's tag naming rules, which reserve the `aws:` prefix.
    role = create_role(endpoint, "pettracker-tagged")
    sts = admin_client(endpoint, "sts")
    for key in ("aws:team", "AWS:team"):
        err, status = error_of(
            sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1", Tags=[{"Key": key, "Value": "pets"}]
        )
        assert (err["Code"], status) == ("InvalidParameterValue", 400)
        err, status = error_of(sts.get_federation_token, Name="fed1", Tags=[{"Key": key, "Value": "pets"}])
        assert (err["Code"], status) == ("InvalidParameterValue", 400)
