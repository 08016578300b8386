"""Attribute-based access control: a resource's tags (aws:ResourceTag/*, and each service's
own spelling) and a KMS key's attributes are in the request context of the actions AWS puts
them in, so tag-based and attribute-based policies allow and deny as they do in AWS."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, client


# A role trust policy that lets the account's principals (by their own policies) assume it.
ACCOUNT_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})


def user(endpoint, name, statements, tags=None):
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name, **({"Tags": tags} if tags else {}))
    iam.put_user_policy(UserName=name, PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def refused(call):
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException"), e.value.response
    return e.value.response["Error"]["Message"]


def test_kms_keys_by_tag_alias_and_spec(endpoint):
    kms = client(endpoint, "kms")
    pets = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "pets"}])["KeyMetadata"]["KeyId"]
    billing = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "billing"}])["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/pets-data", TargetKeyId=billing)
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                          Tags=[{"TagKey": "team", "TagValue": "pets"}])["KeyMetadata"]["KeyId"]
    ak, sk = user(endpoint, "app", [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateMac"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "pets"}}},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/pets-*"}}},
        {"Effect": "Deny", "Action": "kms:GenerateMac", "Resource": "*",
         "Condition": {"StringEquals": {"kms:KeySpec": "HMAC_256"}}},
    ])
    app = client(endpoint, "kms", ak=ak, sk=sk)
    app.encrypt(KeyId=pets, Plaintext=b"x")
    refused(lambda: app.encrypt(KeyId=billing, Plaintext=b"x"))
    # The billing key is allowed to Decrypt through its alias, whatever it is called by.
    blob = kms.encrypt(KeyId=billing, Plaintext=b"y")["CiphertextBlob"]
    assert app.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"
    kms.delete_alias(AliasName="alias/pets-data")
    refused(lambda: app.decrypt(CiphertextBlob=blob))
    assert "kms:GenerateMac" in refused(lambda: app.generate_mac(KeyId=hmac, Message=b"m", MacAlgorithm="HMAC_SHA_256"))
    # Retagging moves the key in or out on the next call.
    kms.tag_resource(KeyId=billing, Tags=[{"TagKey": "team", "TagValue": "pets"}])
    app.encrypt(KeyId=billing, Plaintext=b"x")


def test_secrets_and_parameters_by_tag(endpoint):
    sm, ssm = client(endpoint, "secretsmanager"), client(endpoint, "ssm")
    sm.create_secret(Name="pets/db", SecretString="p", Tags=[{"Key": "team", "Value": "pets"}])
    sm.create_secret(Name="billing/db", SecretString="b", Tags=[{"Key": "team", "Value": "billing"}])
    ssm.put_parameter(Name="/pets/url", Value="p", Type="String", Tags=[{"Key": "team", "Value": "pets"}])
    ssm.put_parameter(Name="/billing/url", Value="b", Type="String")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId="/billing/url", Tags=[{"Key": "team", "Value": "billing"}])
    ak, sk = user(endpoint, "pet-dev", [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*",
         "Condition": {"StringEquals": {"ssm:resourceTag/team": "${aws:PrincipalTag/team}"}}},
    ], tags=[{"Key": "team", "Value": "pets"}])
    dev_sm = client(endpoint, "secretsmanager", ak=ak, sk=sk)
    dev_ssm = client(endpoint, "ssm", ak=ak, sk=sk)
    assert dev_sm.get_secret_value(SecretId="pets/db")["SecretString"] == "p"
    refused(lambda: dev_sm.get_secret_value(SecretId="billing/db"))
    assert dev_ssm.get_parameter(Name="/pets/url")["Parameter"]["Value"] == "p"
    refused(lambda: dev_ssm.get_parameter(Name="/billing/url"))


def test_roles_by_tag_and_users_by_boundary(endpoint):
    iam = client(endpoint, "iam")
    trust = ACCOUNT_TRUST
    pets = iam.create_role(RoleName="pets-ops", AssumeRolePolicyDocument=trust,
                           Tags=[{"Key": "team", "Value": "pets"}])["Role"]["Arn"]
    billing = iam.create_role(RoleName="billing-ops", AssumeRolePolicyDocument=trust,
                              Tags=[{"Key": "team", "Value": "billing"}])["Role"]["Arn"]
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    iam.create_user(UserName="bounded", PermissionsBoundary=boundary)
    iam.create_user(UserName="free")
    ak, sk = user(endpoint, "lead", [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        {"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}},
    ], tags=[{"Key": "team", "Value": "pets"}])
    sts = client(endpoint, "sts", ak=ak, sk=sk)
    sts.assume_role(RoleArn=pets, RoleSessionName="lead")
    refused(lambda: sts.assume_role(RoleArn=billing, RoleSessionName="lead"))
    lead = client(endpoint, "iam", ak=ak, sk=sk)
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    lead.attach_user_policy(UserName="bounded", PolicyArn=read_only)
    refused(lambda: lead.attach_user_policy(UserName="free", PolicyArn=read_only))


def test_a_deny_on_resource_tags_as_a_variable_and_same_arn_parameters(endpoint):
    """A policy may read a resource tag only as a variable; and `a` and `/a` share a
    parameter ARN, so the tags are those of the parameter the call names."""
    sm, ssm = client(endpoint, "secretsmanager"), client(endpoint, "ssm")
    sm.create_secret(Name="billing/db", SecretString="b", Tags=[{"Key": "team", "Value": "billing"}])
    sm.create_secret(Name="pets/db", SecretString="p", Tags=[{"Key": "team", "Value": "pets"}])
    ssm.put_parameter(Name="cfg", Value="PROD", Type="String", Tags=[{"Key": "env", "Value": "prod"}])
    ssm.put_parameter(Name="/cfg", Value="DEV", Type="String", Tags=[{"Key": "env", "Value": "dev"}])
    ak, sk = user(endpoint, "pet-dev", [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter"], "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "${aws:ResourceTag/team}"}}},
        {"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}},
    ], tags=[{"Key": "team", "Value": "pets"}])
    dev_sm, dev_ssm = client(endpoint, "secretsmanager", ak=ak, sk=sk), client(endpoint, "ssm", ak=ak, sk=sk)
    assert dev_sm.get_secret_value(SecretId="pets/db")["SecretString"] == "p"
    refused(lambda: dev_sm.get_secret_value(SecretId="billing/db"))
    assert dev_ssm.get_parameter(Name="/cfg")["Parameter"]["Value"] == "DEV"
    refused(lambda: dev_ssm.get_parameter(Name="cfg"))


def test_get_user_without_a_name_from_a_role_session(endpoint):
    iam = client(endpoint, "iam")
    trust = ACCOUNT_TRUST
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    ak, sk = user(endpoint, "caller", [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}])
    creds = client(endpoint, "sts", ak=ak, sk=sk).assume_role(RoleArn=role, RoleSessionName="ss")["Credentials"]
    session = client(endpoint, "iam", ak=creds["AccessKeyId"], sk=creds["SecretAccessKey"], token=creds["SessionToken"])
    with pytest.raises(ClientError) as e:
        session.get_user()
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "non-User credentials" in e.value.response["Error"]["Message"]


def test_tags_of_policies_instance_profiles_and_organization_accounts(endpoint):
    from test_organizations import create_account

    iam, orgs = client(endpoint, "iam"), client(endpoint, "organizations")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
    kept = iam.create_policy(PolicyName="kept", PolicyDocument=doc, Tags=[{"Key": "protected", "Value": "true"}])["Policy"]["Arn"]
    loose = iam.create_policy(PolicyName="loose", PolicyDocument=doc)["Policy"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="kept-ip", Tags=[{"Key": "protected", "Value": "true"}])
    orgs.create_organization(FeatureSet="ALL")
    prod = create_account(orgs, "prod")
    orgs.tag_resource(ResourceId=prod, Tags=[{"Key": "protected", "Value": "true"}])
    dev = create_account(orgs, "dev")
    ak, sk = user(endpoint, "cleaner", [
        {"Effect": "Allow", "Action": ["iam:DeletePolicy", "iam:DeleteInstanceProfile", "organizations:DescribeAccount"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:DeletePolicy", "iam:DeleteInstanceProfile", "organizations:DescribeAccount"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}}},
    ])
    cleaner_iam = client(endpoint, "iam", ak=ak, sk=sk)
    refused(lambda: cleaner_iam.delete_policy(PolicyArn=kept))
    cleaner_iam.delete_policy(PolicyArn=loose)
    refused(lambda: cleaner_iam.delete_instance_profile(InstanceProfileName="kept-ip"))
    cleaner_orgs = client(endpoint, "organizations", ak=ak, sk=sk)
    refused(lambda: cleaner_orgs.describe_account(AccountId=prod))
    assert cleaner_orgs.describe_account(AccountId=dev)["Account"]["Id"] == dev
