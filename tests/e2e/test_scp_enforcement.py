"""Seed 000/004's estate, enforced: SCPs from every level limit member accounts (even
their administrators), never grant, spare the management account; cross-account role
assumption needs both sides; each account's trail records its side."""

import json
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT, client
from test_iam_enforcement import totp
from test_organizations import assume_access_role, create_account

ALLOW_ONLY_KMS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
REGION_ALLOW_LIST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyOutsideAllowedRegions",
            "Effect": "Deny",
            "NotAction": ["iam:*", "organizations:*", "sts:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}},
        }
    ],
}


def session(endpoint, service, creds, region="us-east-1"):
    return client(endpoint, service, ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"],
                  token=creds["SessionToken"], region=region)


@pytest.fixture()
def estate(endpoint):
    """Organization with SCPs enabled; Dev and Prod OUs with one account each."""
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    ous, accounts = {}, {}
    for name in ("Dev", "Prod"):
        ous[name] = orgs.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
        acct = create_account(orgs, name.lower())
        orgs.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ous[name])
        accounts[name] = acct
    return orgs, root, ous, accounts


def test_scp_lacking_an_allow_at_one_level_denies(endpoint, estate):
    orgs, _, ous, accounts = estate
    pid = orgs.create_policy(Content=json.dumps(ALLOW_ONLY_KMS), Description="kms only", Name="KmsOnly",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=pid, TargetId=ous["Prod"])
    orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ous["Prod"])
    admin = assume_access_role(endpoint, accounts["Prod"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session(endpoint, "iam", admin).list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["Error"]["Message"].endswith(
        "because no service control policy allows the iam:ListUsers action"
    )
    # What the level allows still works (SCPs never grant: the role's policy allows it).
    assert "Keys" in session(endpoint, "kms", admin).list_keys()
    # Dev is untouched.
    dev = assume_access_role(endpoint, accounts["Dev"])
    assert "Users" in session(endpoint, "iam", dev).list_users()


def test_region_allow_list_scp(endpoint, estate):
    orgs, root, _, accounts = estate
    pid = orgs.create_policy(Content=json.dumps(REGION_ALLOW_LIST), Description="regions", Name="Regions",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=pid, TargetId=root)
    admin = assume_access_role(endpoint, accounts["Prod"])
    assert "Keys" in session(endpoint, "kms", admin, region="us-west-2").list_keys()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session(endpoint, "kms", admin, region="eu-central-1").list_keys()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "with an explicit deny in a service control policy" in e.value.response["Error"]["Message"]
    # The management account is not restricted by SCPs.
    assert "Keys" in client(endpoint, "kms", region="eu-central-1").list_keys()


def test_global_services_are_requested_in_us_east_1(endpoint, estate):
    """IAM and Organizations have one endpoint, in us-east-1: aws:RequestedRegion is
    us-east-1 for their calls whatever region the client signs, so a region deny that
    does not exempt them still lets them through (and denies KMS elsewhere)."""
    orgs, root, _, accounts = estate
    deny_elsewhere = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}}]}
    pid = orgs.create_policy(Content=json.dumps(deny_elsewhere), Description="us-east-1 only", Name="UsEast1",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=pid, TargetId=root)
    admin = assume_access_role(endpoint, accounts["Prod"])
    assert "Roles" in session(endpoint, "iam", admin, region="eu-west-1").list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        session(endpoint, "kms", admin, region="eu-west-1").list_keys()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "Organization" in session(endpoint, "organizations", admin, region="eu-west-1").describe_organization()


def test_cross_account_assume_role_from_dev_into_prod_with_mfa(endpoint, estate):
    _, _, _, accounts = estate
    dev, prod = accounts["Dev"], accounts["Prod"]
    dev_admin = assume_access_role(endpoint, dev)
    prod_admin = assume_access_role(endpoint, prod)
    # In dev: alex, allowed to assume the prod deploy role, with a virtual MFA device.
    iam_dev = session(endpoint, "iam", dev_admin)
    iam_dev.create_user(UserName="alex")
    iam_dev.put_user_policy(UserName="alex", PolicyName="AssumeProd", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Resource": f"arn:aws:iam::{prod}:role/pettracker-prod-deploy"}]}))
    key = iam_dev.create_access_key(UserName="alex")["AccessKey"]
    alex = {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "SessionToken": None}
    # The dev administrator sets up alex's virtual MFA device.
    mfa = iam_dev.create_virtual_mfa_device(VirtualMFADeviceName="alex")["VirtualMFADevice"]
    seed = mfa["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    now = time.time()
    iam_dev.enable_mfa_device(UserName="alex", SerialNumber=mfa["SerialNumber"],
                                   AuthenticationCode1=totp(seed, now, -1), AuthenticationCode2=totp(seed, now, 0))
    # In prod: the deploy role trusts the dev account, only with MFA.
    session(endpoint, "iam", prod_admin).create_role(
        RoleName="pettracker-prod-deploy",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dev}:root"}, "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}))
    sts_alex = session(endpoint, "sts", alex)
    role_arn = f"arn:aws:iam::{prod}:role/pettracker-prod-deploy"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_alex.assume_role(RoleArn=role_arn, RoleSessionName="alex")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    creds = sts_alex.assume_role(RoleArn=role_arn, RoleSessionName="alex", SerialNumber=mfa["SerialNumber"],
                                 TokenCode=totp(seed, now, 1))["Credentials"]
    ident = session(endpoint, "sts", creds).get_caller_identity()
    assert ident["Account"] == prod
    assert ident["Arn"] == f"arn:aws:sts::{prod}:assumed-role/pettracker-prod-deploy/alex"
    # Without the dev-side permission, the prod trust alone is not enough.
    iam_dev.delete_user_policy(UserName="alex", PolicyName="AssumeProd")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts_alex.assume_role(RoleArn=role_arn, RoleSessionName="alex", SerialNumber=mfa["SerialNumber"],
                             TokenCode=totp(seed, now + 30, 1))
    assert e.value.response["Error"]["Code"] == "AccessDenied"

    # Each account's event history holds its own side of the successful call.
    def assume_events(creds_or_none, account_label):
        ct = session(endpoint, "cloudtrail", creds_or_none) if creds_or_none else client(endpoint, "cloudtrail")
        evs = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])["Events"]
        return [json.loads(e["CloudTrailEvent"]) for e in evs
                if json.loads(e["CloudTrailEvent"])["userIdentity"].get("userName") == "alex"]

    dev_side = assume_events(dev_admin, "dev")
    prod_side = assume_events(prod_admin, "prod")
    ok_dev = [r for r in dev_side if "errorCode" not in r]
    ok_prod = [r for r in prod_side if "errorCode" not in r]
    assert len(ok_dev) == 1 and len(ok_prod) == 1
    assert ok_dev[0]["recipientAccountId"] == dev
    assert ok_prod[0]["recipientAccountId"] == prod
    assert ok_prod[0]["sharedEventID"] == ok_dev[0]["eventID"]
