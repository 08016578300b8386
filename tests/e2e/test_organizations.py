"""AWS Organizations with the unmodified aws CLI and boto3: the seed 000 estate (dev / staging /
prod accounts under OUs, an SCP guarding the organization, CloudTrail and regions), every
listing, the error paths, and AssumeRole into a new account's OrganizationAccountAccessRole."""

import json

import botocore.exceptions
import pytest

from conftest import ACCOUNT, admin_client, client, unprivileged_client

SCP_GUARDRAILS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "DenyLeaveOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"},
        {
            "Sid": "ProtectCloudTrail",
            "Effect": "Deny",
            "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
            "Resource": "*",
        },
        {
            "Sid": "DenyOutsideAllowedRegions",
            "Effect": "Deny",
            "NotAction": ["iam:*", "organizations:*", "sts:*", "support:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
        },
    ],
}


def code(e):
    return e.value.response["Error"]["Code"]


def cli_json(aws_cli, *args):
    rc, out, err = aws_cli(*args)
    assert rc == 0, err
    return json.loads(out) if out.strip() else {}


def cli_error(aws_cli, *args):
    rc, out, err = aws_cli(*args)
    assert rc != 0, out
    return err


def create_account(orgs, name, email=None):
    st = orgs.create_account(Email=email or f"{name}@pettracker.example", AccountName=name)["CreateAccountStatus"]
    assert st["State"] == "IN_PROGRESS"
    assert st["Id"].startswith("car-")
    done = orgs.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED", done
    return done["AccountId"]


@pytest.fixture()
def org(endpoint):
    orgs = client(endpoint, "organizations")
    o = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root = orgs.list_roots()["Roots"][0]
    return orgs, o, root


def test_a_consolidated_billing_organization_has_no_policies(endpoint):
    # "With CONSOLIDATED_BILLING ... you can't use organization policies" (CreateOrganization).
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    root = orgs.list_roots()["Roots"][0]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    assert code(e) == "PolicyTypeNotAvailableForOrganizationException"
    assert orgs.list_roots()["Roots"][0]["PolicyTypes"] == []
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Name="x", Description="", Type="SERVICE_CONTROL_POLICY", Content=doc)
    assert code(e) == "PolicyTypeNotAvailableForOrganizationException"


def test_create_and_describe_organization(endpoint):
    orgs = client(endpoint, "organizations")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.describe_organization()
    assert code(e) == "AWSOrganizationsNotInUseException"
    o = orgs.create_organization(FeatureSet="ALL")["Organization"]
    assert o["Id"].startswith("o-") and len(o["Id"]) == 12
    assert o["Arn"] == f"arn:aws:organizations::{ACCOUNT}:organization/{o['Id']}"
    assert o["MasterAccountId"] == ACCOUNT
    assert o["MasterAccountArn"] == f"arn:aws:organizations::{ACCOUNT}:account/{o['Id']}/{ACCOUNT}"
    assert o["FeatureSet"] == "ALL"
    assert orgs.describe_organization()["Organization"]["Id"] == o["Id"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_organization(FeatureSet="ALL")
    assert code(e) == "AlreadyInOrganizationException"
    roots = orgs.list_roots()["Roots"]
    assert len(roots) == 1
    r = roots[0]
    assert r["Id"].startswith("r-") and r["Name"] == "Root" and r["PolicyTypes"] == []
    assert r["Arn"] == f"arn:aws:organizations::{ACCOUNT}:root/{o['Id']}/{r['Id']}"
    accounts = orgs.list_accounts()["Accounts"]
    assert [a["Id"] for a in accounts] == [ACCOUNT]
    assert accounts[0]["Status"] == "ACTIVE"
    orgs.delete_organization()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.describe_organization()
    assert code(e) == "AWSOrganizationsNotInUseException"


def test_ous_crud_children_parents(org):
    orgs, o, root = org
    ou = orgs.create_organizational_unit(ParentId=root["Id"], Name="Dev")["OrganizationalUnit"]
    assert ou["Id"].startswith("ou-" + root["Id"][2:] + "-")
    assert ou["Arn"] == f"arn:aws:organizations::{ACCOUNT}:ou/{o['Id']}/{ou['Id']}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_organizational_unit(ParentId=root["Id"], Name="Dev")
    assert code(e) == "DuplicateOrganizationalUnitException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_organizational_unit(ParentId="ou-zzzz-zzzzzzzz", Name="X")
    assert code(e) == "ParentNotFoundException"
    child = orgs.create_organizational_unit(ParentId=ou["Id"], Name="Team")["OrganizationalUnit"]
    assert orgs.describe_organizational_unit(OrganizationalUnitId=child["Id"])["OrganizationalUnit"]["Name"] == "Team"
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=child["Id"], Name="Team2")["OrganizationalUnit"]
    assert renamed["Name"] == "Team2"
    assert [x["Name"] for x in orgs.list_organizational_units_for_parent(ParentId=root["Id"])["OrganizationalUnits"]] == ["Dev"]
    kids = orgs.list_children(ParentId=ou["Id"], ChildType="ORGANIZATIONAL_UNIT")["Children"]
    assert kids == [{"Id": child["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_parents(ChildId=child["Id"])["Parents"] == [{"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    assert orgs.list_parents(ChildId=ou["Id"])["Parents"] == [{"Id": root["Id"], "Type": "ROOT"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.delete_organizational_unit(OrganizationalUnitId=ou["Id"])
    assert code(e) == "OrganizationalUnitNotEmptyException"
    orgs.delete_organizational_unit(OrganizationalUnitId=child["Id"])
    orgs.delete_organizational_unit(OrganizationalUnitId=ou["Id"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.describe_organizational_unit(OrganizationalUnitId=ou["Id"])
    assert code(e) == "OrganizationalUnitNotFoundException"


def test_accounts_create_move_remove_close(org):
    orgs, o, root = org
    ou = orgs.create_organizational_unit(ParentId=root["Id"], Name="Prod")["OrganizationalUnit"]
    acct = create_account(orgs, "prod")
    assert len(acct) == 12 and acct.isdigit() and acct != ACCOUNT
    a = orgs.describe_account(AccountId=acct)["Account"]
    assert a["Email"] == "prod@pettracker.example" and a["JoinedMethod"] == "CREATED"
    assert a["Arn"] == f"arn:aws:organizations::{ACCOUNT}:account/{o['Id']}/{acct}"
    statuses = orgs.list_create_account_status(States=["SUCCEEDED"])["CreateAccountStatuses"]
    assert [s["AccountId"] for s in statuses] == [acct]
    # A taken email: accepted, then FAILED with EMAIL_ALREADY_EXISTS, as AWS; no account.
    st = orgs.create_account(Email="PROD@pettracker.example", AccountName="again")["CreateAccountStatus"]
    failed = orgs.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]
    assert failed["State"] == "FAILED" and failed["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    assert len(orgs.list_accounts()["Accounts"]) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.move_account(AccountId=acct, SourceParentId=root["Id"], DestinationParentId="ou-zzzz-zzzzzzzz")
    assert code(e) == "DestinationParentNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.move_account(AccountId=acct, SourceParentId="ou-zzzz-zzzzzzzz", DestinationParentId=ou["Id"])
    assert code(e) == "SourceParentNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.move_account(AccountId="123456789012", SourceParentId=root["Id"], DestinationParentId=ou["Id"])
    assert code(e) == "AccountNotFoundException"
    orgs.move_account(AccountId=acct, SourceParentId=root["Id"], DestinationParentId=ou["Id"])
    assert [x["Id"] for x in orgs.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]] == [acct]
    assert orgs.list_parents(ChildId=acct)["Parents"] == [{"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.delete_organization()
    assert code(e) == "OrganizationNotEmptyException"
    other = create_account(orgs, "sandbox")
    orgs.close_account(AccountId=other)
    closed = orgs.describe_account(AccountId=other)["Account"]
    assert closed["Status"] == "SUSPENDED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.close_account(AccountId=other)
    assert code(e) == "AccountAlreadyClosedException"
    orgs.remove_account_from_organization(AccountId=acct)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.describe_account(AccountId=acct)
    assert code(e) == "AccountNotFoundException"


def test_model_checks_on_accounts_and_policy_types(endpoint, org):
    orgs, o, root = org
    raw = client(endpoint, "organizations", validate=False)

    def refused(call, **kw):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        return e.value.response["Error"]

    e = refused(raw.create_account, Email="x@pettracker.example", AccountName="")
    assert e["Code"] == "ValidationException"
    assert "Member must have length greater than or equal to 1" in e["Message"]
    # CreateAccountName's pattern is printable ASCII ([\u0020-\u007E]+).
    e = refused(raw.create_account, Email="x@pettracker.example", AccountName="caf\u00e9")
    assert e["Code"] == "InvalidInputException"
    e = refused(raw.create_account, Email="x@pettracker.example", AccountName="ok", RoleName="AWSServiceRoleForX")
    assert e["Code"] == "InvalidInputException"
    e = refused(raw.list_create_account_status, States=["NOPE"])
    assert e["Code"] == "InvalidInputException"
    assert len(orgs.list_accounts()["Accounts"]) == 1  # nothing was created
    # Every policy type of the model may be listed; those Palisade does not manage have
    # no policies. An unknown type names the member it came in.
    for ty in ("TAG_POLICY", "BACKUP_POLICY", "S3_POLICY", "BEDROCK_POLICY"):
        assert orgs.list_policies(Filter=ty)["Policies"] == []
        assert orgs.list_policies_for_target(TargetId=root["Id"], Filter=ty)["Policies"] == []
    e = refused(raw.list_policies, Filter="NOPE")
    assert e["Code"] == "ValidationException" and "at 'filter'" in e["Message"]
    assert "NETWORK_SECURITY_DIRECTOR_POLICY" in e["Message"]
    e = refused(raw.enable_policy_type, RootId=root["Id"], PolicyType="NOPE")
    assert "at 'policyType'" in e["Message"]
    e = refused(raw.enable_policy_type, RootId=root["Id"], PolicyType="TAG_POLICY")
    assert e["Code"] == "NotImplemented"
    # Never enabled, so disabling it is what AWS answers for a type not enabled.
    e = refused(raw.disable_policy_type, RootId=root["Id"], PolicyType="TAG_POLICY")
    assert e["Code"] == "PolicyTypeNotEnabledException"


def test_scp_lifecycle(org):
    orgs, o, root = org
    ou = orgs.create_organizational_unit(ParentId=root["Id"], Name="Prod")["OrganizationalUnit"]
    doc = json.dumps(SCP_GUARDRAILS)
    p = orgs.create_policy(Content=doc, Description="guard", Name="Guardrails", Type="SERVICE_CONTROL_POLICY")["Policy"]
    pid = p["PolicySummary"]["Id"]
    assert pid.startswith("p-") and not p["PolicySummary"]["AwsManaged"]
    assert p["PolicySummary"]["Arn"] == f"arn:aws:organizations::{ACCOUNT}:policy/{o['Id']}/service_control_policy/{pid}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.attach_policy(PolicyId=pid, TargetId=ou["Id"])
    assert code(e) == "PolicyTypeNotEnabledException"
    r = orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")["Root"]
    assert r["PolicyTypes"] == [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    assert code(e) == "PolicyTypeAlreadyEnabledException"
    # FullAWSAccess is attached to the root, the OU and the accounts.
    for target in (root["Id"], ou["Id"], ACCOUNT):
        ps = orgs.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]
        assert [x["Id"] for x in ps] == ["p-FullAWSAccess"], target
    full = orgs.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]
    assert full["PolicySummary"]["AwsManaged"] is True
    assert full["PolicySummary"]["Arn"] == "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"
    listed = orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    assert {x["Id"] for x in listed} == {"p-FullAWSAccess", pid}
    orgs.attach_policy(PolicyId=pid, TargetId=ou["Id"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.attach_policy(PolicyId=pid, TargetId=ou["Id"])
    assert code(e) == "DuplicatePolicyAttachmentException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.attach_policy(PolicyId=pid, TargetId="ou-zzzz-zzzzzzzz")
    assert code(e) == "TargetNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.attach_policy(PolicyId="p-nothere1", TargetId=ou["Id"])
    assert code(e) == "PolicyNotFoundException"
    targets = orgs.list_targets_for_policy(PolicyId=pid)["Targets"]
    assert targets == [{"TargetId": ou["Id"], "Arn": ou["Arn"], "Name": "Prod", "Type": "ORGANIZATIONAL_UNIT"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.delete_policy(PolicyId=pid)
    assert code(e) == "PolicyInUseException"
    # Detaching the last SCP of a target is refused; with another one left it works.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=root["Id"])
    assert code(e) == "ConstraintViolationException"
    assert e.value.response["Reason"] == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou["Id"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.detach_policy(PolicyId=pid, TargetId=ou["Id"])
    assert code(e) == "ConstraintViolationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=ou["Id"])
    assert code(e) == "PolicyNotAttachedException"
    orgs.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ou["Id"])
    orgs.detach_policy(PolicyId=pid, TargetId=ou["Id"])
    updated = orgs.update_policy(PolicyId=pid, Name="Guardrails2", Description="new")["Policy"]
    assert updated["PolicySummary"]["Name"] == "Guardrails2"
    orgs.delete_policy(PolicyId=pid)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.describe_policy(PolicyId=pid)
    assert code(e) == "PolicyNotFoundException"
    orgs.disable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    assert orgs.list_roots()["Roots"][0]["PolicyTypes"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.list_policies_for_target(TargetId="ou-zzzz-zzzzzzzz", Filter="SERVICE_CONTROL_POLICY")
    assert code(e) == "TargetNotFoundException"


def test_policy_content_errors_change_nothing(org):
    orgs, o, root = org
    big = {"Version": "2012-10-17", "Statement": [{"Sid": "a" * 5200, "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Content=json.dumps(big), Description="d", Name="Big", Type="SERVICE_CONTROL_POLICY")
    assert code(e) == "ConstraintViolationException"
    assert e.value.response["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Content="{not json", Description="d", Name="Bad", Type="SERVICE_CONTROL_POLICY")
    assert code(e) == "MalformedPolicyDocumentException"
    rcp_without_principal = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Content=json.dumps(rcp_without_principal), Description="d", Name="R", Type="RESOURCE_CONTROL_POLICY")
    assert code(e) == "MalformedPolicyDocumentException"
    assert [p["Id"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]] == ["p-FullAWSAccess"]
    ok = orgs.create_policy(Content=json.dumps(SCP_GUARDRAILS), Description="d", Name="G", Type="SERVICE_CONTROL_POLICY")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Content=json.dumps(SCP_GUARDRAILS), Description="d", Name="G", Type="SERVICE_CONTROL_POLICY")
    assert code(e) == "DuplicatePolicyException"
    assert ok["Policy"]["Content"] == json.dumps(SCP_GUARDRAILS)


def test_rcps(org):
    orgs, o, root = org
    orgs.enable_policy_type(RootId=root["Id"], PolicyType="RESOURCE_CONTROL_POLICY")
    ps = orgs.list_policies_for_target(TargetId=root["Id"], Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert [p["Id"] for p in ps] == ["p-RCPFullAWSAccess"]
    rcp = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    p = orgs.create_policy(Content=json.dumps(rcp), Description="tls", Name="TLS", Type="RESOURCE_CONTROL_POLICY")["Policy"]
    orgs.attach_policy(PolicyId=p["PolicySummary"]["Id"], TargetId=root["Id"])
    ps = orgs.list_policies_for_target(TargetId=root["Id"], Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert {x["Id"] for x in ps} == {"p-RCPFullAWSAccess", p["PolicySummary"]["Id"]}


def test_tags_and_delegated_admins(org):
    orgs, o, root = org
    acct = create_account(orgs, "audit")
    orgs.tag_resource(ResourceId=acct, Tags=[{"Key": "env", "Value": "audit"}])
    orgs.tag_resource(ResourceId=root["Id"], Tags=[{"Key": "k", "Value": "v"}])
    assert orgs.list_tags_for_resource(ResourceId=acct)["Tags"] == [{"Key": "env", "Value": "audit"}]
    orgs.untag_resource(ResourceId=acct, TagKeys=["env"])
    assert orgs.list_tags_for_resource(ResourceId=acct)["Tags"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.tag_resource(ResourceId="ou-zzzz-zzzzzzzz", Tags=[{"Key": "a", "Value": "b"}])
    assert code(e) == "TargetNotFoundException"
    # "Call the EnableAWSServiceAccess API first" (reason SERVICE_ACCESS_NOT_ENABLED).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.register_delegated_administrator(AccountId=acct, ServicePrincipal="access-analyzer.amazonaws.com")
    assert code(e) == "ConstraintViolationException"
    assert e.value.response["Reason"] == "SERVICE_ACCESS_NOT_ENABLED"
    orgs.enable_aws_service_access(ServicePrincipal="access-analyzer.amazonaws.com")
    orgs.register_delegated_administrator(AccountId=acct, ServicePrincipal="access-analyzer.amazonaws.com")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.register_delegated_administrator(AccountId=acct, ServicePrincipal="access-analyzer.amazonaws.com")
    assert code(e) == "AccountAlreadyRegisteredException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.register_delegated_administrator(AccountId=ACCOUNT, ServicePrincipal="access-analyzer.amazonaws.com")
    assert code(e) == "ConstraintViolationException"
    admins = orgs.list_delegated_administrators()["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [acct] and "DelegationEnabledDate" in admins[0]
    orgs.deregister_delegated_administrator(AccountId=acct, ServicePrincipal="access-analyzer.amazonaws.com")
    assert orgs.list_delegated_administrators()["DelegatedAdministrators"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.deregister_delegated_administrator(AccountId=acct, ServicePrincipal="access-analyzer.amazonaws.com")
    assert code(e) == "AccountNotRegisteredException"


def test_paging_accounts(org):
    orgs, o, root = org
    for n in range(3):
        create_account(orgs, f"acct{n}")
    first = orgs.list_accounts(MaxResults=2)
    assert len(first["Accounts"]) == 2 and "NextToken" in first
    rest = orgs.list_accounts(MaxResults=2, NextToken=first["NextToken"])
    assert len(rest["Accounts"]) == 2 and "NextToken" not in rest
    every = [a["Id"] for p in orgs.get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    assert len(set(every)) == 4


def assume_access_role(endpoint, acct, role="OrganizationAccountAccessRole"):
    # As an administrator of the management account: roles refuse root users.
    sts = admin_client(endpoint, "sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/{role}", RoleSessionName="admin")["Credentials"]
    return creds


def test_assume_organization_account_access_role(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    acct = create_account(orgs, "prod")
    creds = assume_access_role(endpoint, acct)
    me = client(endpoint, "sts", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    ident = me.get_caller_identity()
    assert ident["Account"] == acct
    assert ident["Arn"] == f"arn:aws:sts::{acct}:assumed-role/OrganizationAccountAccessRole/admin"
    iam = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    attached = iam.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}]
    # Member accounts may describe the organization but not change it.
    member_orgs = client(endpoint, "organizations", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    assert member_orgs.describe_organization()["Organization"]["MasterAccountId"] == ACCOUNT
    with pytest.raises(botocore.exceptions.ClientError) as e:
        member_orgs.create_organizational_unit(ParentId=orgs.list_roots()["Roots"][0]["Id"], Name="X")
    assert code(e) == "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        member_orgs.list_accounts()
    assert code(e) == "AccessDeniedException"


def test_leave_organization(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.leave_organization()
    assert code(e) == "MasterCannotLeaveOrganizationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.remove_account_from_organization(AccountId=ACCOUNT)
    assert code(e) == "MasterCannotLeaveOrganizationException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.update_policy(PolicyId="p-FullAWSAccess", Name="Mine")
    assert code(e) == "InvalidInputException"
    acct = create_account(orgs, "dev")
    creds = assume_access_role(endpoint, acct)
    member = client(endpoint, "organizations", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    member.leave_organization()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        member.describe_organization()
    assert code(e) == "AWSOrganizationsNotInUseException"
    assert [a["Id"] for a in orgs.list_accounts()["Accounts"]] == [ACCOUNT]


def test_custom_role_name(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    st = orgs.create_account(Email="x@pettracker.example", AccountName="x", RoleName="OrgAdmin")["CreateAccountStatus"]
    acct = orgs.describe_create_account_status(CreateAccountRequestId=st["Id"])["CreateAccountStatus"]["AccountId"]
    creds = assume_access_role(endpoint, acct, "OrgAdmin")
    assert creds["AccessKeyId"].startswith("ASIA")


def test_cli_seed_estate(aws_cli, endpoint):
    """Seed 000 with the aws CLI: dev / staging / prod under OUs, the guardrail SCP on Prod."""
    o = cli_json(aws_cli, "organizations", "create-organization", "--feature-set", "ALL")["Organization"]
    root = cli_json(aws_cli, "organizations", "list-roots")["Roots"][0]["Id"]
    cli_json(aws_cli, "organizations", "enable-policy-type", "--root-id", root, "--policy-type", "SERVICE_CONTROL_POLICY")
    ids = {}
    for env in ("Dev", "Staging", "Prod"):
        ou = cli_json(aws_cli, "organizations", "create-organizational-unit", "--parent-id", root, "--name", env)
        ou_id = ou["OrganizationalUnit"]["Id"]
        st = cli_json(
            aws_cli, "organizations", "create-account", "--email", f"{env.lower()}@pettracker.example",
            "--account-name", f"pettracker-{env.lower()}",
        )["CreateAccountStatus"]
        done = cli_json(aws_cli, "organizations", "describe-create-account-status", "--create-account-request-id", st["Id"])
        acct = done["CreateAccountStatus"]["AccountId"]
        cli_json(aws_cli, "organizations", "move-account", "--account-id", acct, "--source-parent-id", root,
                 "--destination-parent-id", ou_id)
        ids[env] = (ou_id, acct)
    pol = cli_json(
        aws_cli, "organizations", "create-policy", "--name", "PetTrackerGuardrails", "--description", "seed 000",
        "--type", "SERVICE_CONTROL_POLICY", "--content", json.dumps(SCP_GUARDRAILS),
    )["Policy"]["PolicySummary"]["Id"]
    cli_json(aws_cli, "organizations", "attach-policy", "--policy-id", pol, "--target-id", ids["Prod"][0])
    listed = cli_json(aws_cli, "organizations", "list-accounts")["Accounts"]
    assert len(listed) == 4
    for env, (ou_id, acct) in ids.items():
        kids = cli_json(aws_cli, "organizations", "list-accounts-for-parent", "--parent-id", ou_id)["Accounts"]
        assert [a["Id"] for a in kids] == [acct]
    prod_policies = cli_json(aws_cli, "organizations", "list-policies-for-target", "--target-id", ids["Prod"][0],
                             "--filter", "SERVICE_CONTROL_POLICY")["Policies"]
    assert {p["Name"] for p in prod_policies} == {"FullAWSAccess", "PetTrackerGuardrails"}
    assert cli_json(aws_cli, "organizations", "describe-organization")["Organization"]["Id"] == o["Id"]
    err = cli_error(aws_cli, "organizations", "detach-policy", "--policy-id", "p-FullAWSAccess", "--target-id", ids["Dev"][1])
    assert "ConstraintViolationException" in err
    err = cli_error(aws_cli, "organizations", "attach-policy", "--policy-id", pol, "--target-id", "ou-zzzz-zzzzzzzz")
    assert "TargetNotFoundException" in err
    err = cli_error(aws_cli, "organizations", "move-account", "--account-id", ids["Dev"][1], "--source-parent-id",
                    ids["Dev"][0], "--destination-parent-id", "ou-zzzz-zzzzzzzz")
    assert "DestinationParentNotFoundException" in err


def test_cloudtrail_records_organizations_calls_in_us_east_1(endpoint):
    orgs = client(endpoint, "organizations", region="eu-west-1")
    orgs.create_organization(FeatureSet="ALL")
    ct = client(endpoint, "cloudtrail", region="us-east-1")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateOrganization"}])["Events"]
    assert len(events) == 1
    assert events[0]["EventSource"] == "organizations.amazonaws.com"


def test_scp_denies_prod_admin(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    ou = orgs.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
    acct = create_account(orgs, "prod")
    orgs.move_account(AccountId=acct, SourceParentId=root, DestinationParentId=ou)
    deny_iam_users = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}],
    }
    pid = orgs.create_policy(Content=json.dumps(deny_iam_users), Description="d", Name="NoUsers",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=pid, TargetId=ou)
    creds = assume_access_role(endpoint, acct)
    iam = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="mallory")
    assert code(e) == "AccessDenied"
    assert "service control policy" in e.value.response["Error"]["Message"]
    iam.create_role(RoleName="ok", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "sts:AssumeRole"}],
    }))
    # The seed's guardrail on the OU: leaving the organization is denied too.
    gid = orgs.create_policy(Content=json.dumps(SCP_GUARDRAILS), Description="g", Name="Guardrails",
                             Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=gid, TargetId=ou)
    member = client(endpoint, "organizations", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        member.leave_organization()
    assert code(e) == "AccessDeniedException"
    # The management account is not restricted.
    client(endpoint, "iam").create_user(UserName="mgmt-user")


def org_admin(endpoint, statements):
    iam = client(endpoint, "iam")
    iam.create_user(UserName="org-admin")
    iam.put_user_policy(UserName="org-admin", PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="org-admin")["AccessKey"]
    return client(endpoint, "organizations", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])


def test_organizations_calls_are_authorized_against_the_resources_they_name(endpoint, org):
    """Each account, OU, root and policy a call names is a resource of the check, by its
    real ARN (with the organization id), and organizations:PolicyType comes from the policy:
    a guardrail can forbid detaching one SCP, and a delegate can be scoped to accounts."""
    orgs, o, root = org
    orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    prod, dev = create_account(orgs, "prod"), create_account(orgs, "dev")
    guard = orgs.create_policy(Content=json.dumps(SCP_GUARDRAILS), Description="d", Name="Guard",
                               Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]
    other = orgs.create_policy(Content=json.dumps(SCP_GUARDRAILS), Description="d", Name="Other",
                               Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]
    for p in (guard, other):
        orgs.attach_policy(PolicyId=p["Id"], TargetId=prod)
    admin = org_admin(endpoint, [
        {"Effect": "Allow", "Action": "organizations:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "organizations:DetachPolicy", "Resource": guard["Arn"]},
        {"Effect": "Deny", "Action": "organizations:DescribeAccount",
         "Resource": f"arn:aws:organizations::{ACCOUNT}:account/{o['Id']}/{dev}"},
        {"Effect": "Deny", "Action": "organizations:AttachPolicy", "Resource": "*",
         "Condition": {"StringNotEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}},
    ])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.detach_policy(PolicyId=guard["Id"], TargetId=prod)
    assert code(e) == "AccessDeniedException" and guard["Arn"] in e.value.response["Error"]["Message"]
    admin.detach_policy(PolicyId=other["Id"], TargetId=prod)
    assert admin.describe_account(AccountId=prod)["Account"]["Id"] == prod
    with pytest.raises(botocore.exceptions.ClientError) as e:
        admin.describe_account(AccountId=dev)
    assert f"account/{o['Id']}/{dev}" in e.value.response["Error"]["Message"]
    # The policy's type is known from the policy itself.
    admin.attach_policy(PolicyId=other["Id"], TargetId=dev)


def test_enum_and_email_checks_come_before_authorization(endpoint, org):
    # Model checks (enums, the email's pattern) answer a caller allowed nothing before
    # authorization, as required members, patterns and lengths already did.
    raw = unprivileged_client(endpoint, "organizations", "org-nobody")
    orgs, o, root = org
    for call, kw, want in [
        (raw.create_policy, dict(Content="{}", Description="d", Name="n", Type="NOPE"), "ValidationException"),
        (raw.create_organization, dict(FeatureSet="NOPE"), "ValidationException"),
        (raw.list_children, dict(ParentId=root["Id"], ChildType="NOPE"), "ValidationException"),
        (raw.enable_policy_type, dict(RootId=root["Id"], PolicyType="NOPE"), "ValidationException"),
        (raw.create_account, dict(Email="bad", AccountName="x"), "InvalidInputException"),
        (raw.create_account, dict(Email="a@b.example", AccountName=""), "ValidationException"),
        (raw.create_account, dict(Email="a@b.example", AccountName="caf\u00e9"), "InvalidInputException"),
        (raw.create_account, dict(Email="a@b.example", AccountName="x", IamUserAccessToBilling="MAYBE"), "ValidationException"),
        (raw.list_create_account_status, dict(States=["NOPE"]), "InvalidInputException"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(**kw)
        assert code(e) == want, (call, kw, e.value.response["Error"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.list_children(ParentId=root["Id"], ChildType="ACCOUNT")
    assert code(e) == "AccessDeniedException"


def test_a_record_names_the_owner_of_a_resource_used_across_accounts(endpoint):
    # A member account's key, used by the management account through its key policy: the
    # record's resources[].accountId is the key's owner, in both accounts' history.
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    acct = create_account(orgs, "keys")
    creds = assume_access_role(endpoint, acct)
    member = dict(ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:DescribeKey",
         "Resource": "*"}]}
    key = client(endpoint, "kms", **member).create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    admin_client(endpoint, "kms").describe_key(KeyId=key)
    attr = [{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}]
    for ct in (admin_client(endpoint, "cloudtrail"), client(endpoint, "cloudtrail", **member)):
        record = json.loads(ct.lookup_events(LookupAttributes=attr)["Events"][0]["CloudTrailEvent"])
        assert record["resources"] == [{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key}], record
        assert record["userIdentity"]["accountId"] == ACCOUNT


def test_create_account_result_is_logged(endpoint):
    # "To check the status of the request ... Check the CloudTrail log for the
    # CreateAccountResult event" (CreateAccount).
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    acct = create_account(orgs, "logged")
    ct = client(endpoint, "cloudtrail")
    attr = [{"AttributeKey": "EventName", "AttributeValue": "CreateAccountResult"}]
    [event] = ct.lookup_events(LookupAttributes=attr)["Events"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["eventType"] == "AwsServiceEvent" and record["eventSource"] == "organizations.amazonaws.com"
    assert record["userIdentity"] == {"accountId": ACCOUNT, "invokedBy": "AWS Internal"}
    status = record["serviceEventDetails"]["createAccountStatus"]
    assert status["state"] == "SUCCEEDED" and status["accountId"] == acct and status["accountName"] == "****"
    assert status["id"].startswith("car-") and status["completedTimestamp"]


def test_trusted_service_access(org, aws_cli):
    orgs, o, root = org
    assert orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []
    orgs.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    orgs.enable_aws_service_access(ServicePrincipal="guardduty.amazonaws.com")
    first = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in first] == ["config.amazonaws.com", "guardduty.amazonaws.com"]
    # Enabling again keeps it, with its first date.
    orgs.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    assert orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == first
    page = orgs.list_aws_service_access_for_organization(MaxResults=1)
    assert len(page["EnabledServicePrincipals"]) == 1 and "NextToken" in page
    # A token is good only for the operation that gave it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.list_accounts(NextToken=page["NextToken"])
    assert code(e) == "InvalidInputException"
    assert e.value.response["Reason"] == "INVALID_NEXT_TOKEN"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.enable_aws_service_access(ServicePrincipal="bogus.example.com")
    assert code(e) == "InvalidInputException"
    assert e.value.response["Reason"] == "UNRECOGNIZED_SERVICE_PRINCIPAL"
    out = cli_json(aws_cli, "organizations", "list-aws-service-access-for-organization")
    assert {p["ServicePrincipal"] for p in out["EnabledServicePrincipals"]} == {"config.amazonaws.com", "guardduty.amazonaws.com"}
    cli_json(aws_cli, "organizations", "disable-aws-service-access", "--service-principal", "guardduty.amazonaws.com")
    left = orgs.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [p["ServicePrincipal"] for p in left] == ["config.amazonaws.com"]
    # A delegated administrator stays in the organization until it is deregistered.
    acct = create_account(orgs, "security")
    orgs.register_delegated_administrator(AccountId=acct, ServicePrincipal="config.amazonaws.com")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.remove_account_from_organization(AccountId=acct)
    assert code(e) == "ConstraintViolationException"
    assert e.value.response["Reason"] == "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG"
    assert acct in [a["Id"] for a in orgs.list_accounts()["Accounts"]]
    orgs.deregister_delegated_administrator(AccountId=acct, ServicePrincipal="config.amazonaws.com")
    orgs.remove_account_from_organization(AccountId=acct)


def test_trusted_access_needs_all_features(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.enable_aws_service_access(ServicePrincipal="config.amazonaws.com")
    assert code(e) == "ConstraintViolationException"
    assert e.value.response["Reason"] == "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE"


def test_rcp_full_access_stays_and_rcps_only_deny(org):
    orgs, o, root = org
    orgs.enable_policy_type(RootId=root["Id"], PolicyType="RESOURCE_CONTROL_POLICY")
    ou = orgs.create_organizational_unit(ParentId=root["Id"], Name="Workloads")["OrganizationalUnit"]["Id"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.create_policy(Content=json.dumps(allow), Description="d", Name="A", Type="RESOURCE_CONTROL_POLICY")
    assert code(e) == "MalformedPolicyDocumentException"
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    p = orgs.create_policy(Content=json.dumps(deny), Description="d", Name="D", Type="RESOURCE_CONTROL_POLICY")["Policy"]
    pid = p["PolicySummary"]["Id"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        orgs.update_policy(PolicyId=pid, Content=json.dumps(allow))
    assert code(e) == "MalformedPolicyDocumentException"
    orgs.attach_policy(PolicyId=pid, TargetId=ou)
    for target in (ou, root["Id"]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            orgs.detach_policy(PolicyId="p-RCPFullAWSAccess", TargetId=target)
        assert code(e) == "InvalidInputException"
        assert e.value.response["Reason"] == "NON_DETACHABLE_POLICY"
    orgs.detach_policy(PolicyId=pid, TargetId=ou)
    ps = orgs.list_policies_for_target(TargetId=ou, Filter="RESOURCE_CONTROL_POLICY")["Policies"]
    assert [x["Id"] for x in ps] == ["p-RCPFullAWSAccess"]


def test_tag_errors_name_their_reason(org):
    orgs, o, root = org
    cases = [
        ({"Key": "aws:owner", "Value": "v"}, "INVALID_SYSTEM_TAGS_PARAMETER"),
        ({"Key": "AWS:owner", "Value": "v"}, "INVALID_SYSTEM_TAGS_PARAMETER"),
        ({"Key": "k" * 129, "Value": "v"}, "MAX_LENGTH_EXCEEDED"),
        ({"Key": "k", "Value": "v" * 257}, "MAX_LENGTH_EXCEEDED"),
        ({"Key": "bad#key", "Value": "v"}, "INVALID_PATTERN"),
    ]
    for tag, reason in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            orgs.tag_resource(ResourceId=root["Id"], Tags=[tag])
        assert code(e) == "InvalidInputException", tag
        assert e.value.response["Reason"] == reason, tag
    assert orgs.list_tags_for_resource(ResourceId=root["Id"])["Tags"] == []


def test_available_policy_types_show_the_scp_status(org):
    orgs, o, root = org
    assert orgs.describe_organization()["Organization"]["AvailablePolicyTypes"] == []
    orgs.enable_policy_type(RootId=root["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    orgs.enable_policy_type(RootId=root["Id"], PolicyType="RESOURCE_CONTROL_POLICY")
    assert orgs.describe_organization()["Organization"]["AvailablePolicyTypes"] == [
        {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}
    ]


def test_an_account_that_leaves_keeps_its_email(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    acct = create_account(orgs, "sandbox", email="sandbox@pettracker.example")
    creds = assume_access_role(endpoint, acct)
    member = client(endpoint, "organizations", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    member.leave_organization()
    mine = member.create_organization(FeatureSet="ALL")["Organization"]
    assert mine["MasterAccountEmail"] == "sandbox@pettracker.example"
    me = member.describe_account(AccountId=acct)["Account"]
    assert me["Email"] == "sandbox@pettracker.example" and me["Name"] == "sandbox"


def test_all_features_puts_the_organizations_service_linked_role_in_every_account(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    slr = "AWSServiceRoleForOrganizations"
    role = client(endpoint, "iam").get_role(RoleName=slr)["Role"]
    assert role["Path"] == "/aws-service-role/organizations.amazonaws.com/"
    acct = create_account(orgs, "workloads")
    creds = assume_access_role(endpoint, acct)
    member_iam = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    theirs = member_iam.get_role(RoleName=slr)["Role"]
    assert theirs["Arn"] == f"arn:aws:iam::{acct}:role/aws-service-role/organizations.amazonaws.com/{slr}"
    attached = member_iam.list_attached_role_policies(RoleName=slr)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSOrganizationsServiceTrustPolicy"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        member_iam.delete_role(RoleName=slr)
    assert code(e) == "UnmodifiableEntity"
    # Each creation is logged as Organizations' own CreateServiceLinkedRole for the caller,
    # in the caller's account, and in the new account with the shared event id.
    attr = [{"AttributeKey": "EventName", "AttributeValue": "CreateServiceLinkedRole"}]
    mine = [json.loads(e["CloudTrailEvent"])
            for e in client(endpoint, "cloudtrail").lookup_events(LookupAttributes=attr)["Events"]]
    assert len(mine) == 2
    for record in mine:
        assert record["userIdentity"]["invokedBy"] == "organizations.amazonaws.com"
        assert record["userIdentity"]["accountId"] == ACCOUNT
        assert record["eventSource"] == "iam.amazonaws.com"
        assert record["requestParameters"] == {"aWSServiceName": "organizations.amazonaws.com"}
        assert record["readOnly"] is False
        assert record["responseElements"]["role"]["arn"] == record["resources"][0]["ARN"]
    assert {r["resources"][0]["ARN"] for r in mine} == {role["Arn"], theirs["Arn"]}
    writes = client(endpoint, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}])["Events"]
    assert sum(e["EventName"] == "CreateServiceLinkedRole" for e in writes) == 2
    ct_member = client(endpoint, "cloudtrail", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"],
                       token=creds["SessionToken"])
    [shared] = ct_member.lookup_events(LookupAttributes=attr)["Events"]
    shared = json.loads(shared["CloudTrailEvent"])
    assert shared["resources"][0]["ARN"] == theirs["Arn"] and "sharedEventID" in shared


def test_the_organizations_role_stays_while_the_organization_needs_it(endpoint):
    orgs = client(endpoint, "organizations")
    orgs.create_organization(FeatureSet="ALL")
    iam = client(endpoint, "iam")
    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForOrganizations")["DeletionTaskId"]
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
    assert status["Status"] == "FAILED" and status["Reason"]["Reason"]
    iam.get_role(RoleName="AWSServiceRoleForOrganizations")
    orgs.delete_organization()
    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForOrganizations")["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_creating_an_organization_needs_iam_create_service_linked_role(endpoint):
    from conftest import admin_client
    iam = client(endpoint, "iam")
    iam.create_user(UserName="org-builder")
    iam.put_user_policy(UserName="org-builder", PolicyName="orgs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "organizations:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="org-builder")["AccessKey"]
    builder = client(endpoint, "organizations", ak=key["AccessKeyId"], sk=key["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        builder.create_organization(FeatureSet="ALL")
    # The model's error for it: AccessDeniedForDependencyException.
    assert code(e) == "AccessDeniedForDependencyException"
    assert e.value.response["Reason"] == "ACCESS_DENIED_DURING_CREATE_SERVICE_LINKED_ROLE"
    assert "iam:CreateServiceLinkedRole" in e.value.response["Error"]["Message"]
    iam.put_user_policy(UserName="org-builder", PolicyName="slr", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
                                                "Condition": {"StringEquals": {"iam:AWSServiceName": "organizations.amazonaws.com"}}}]}))
    assert builder.create_organization(FeatureSet="ALL")["Organization"]["FeatureSet"] == "ALL"
