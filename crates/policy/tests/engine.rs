//! The engine API as the server uses it: compiled policies, `evaluate`, denial messages,
//! parse errors with paths. Seed policies from ../shared/seeds (MFA enforcement, the
//! DateGreaterThan/DateLessThan temporary grant, SCPs) are checked here too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity,
    clippy::format_in_format_args
)]

use palisade_policy::{
    evaluate, evaluate_traced, Context, Decision, DenialReason, Policy, PolicyKind, PolicySet,
    Request, ResourcePolicy, ResourcePolicyType,
};

const ACCT: &str = "111122223333";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn p(kind: PolicyKind, json: &str) -> Policy {
    Policy::parse(json, kind).unwrap_or_else(|e| panic!("{e}\n{json}"))
}
fn id(json: &str) -> Policy {
    p(PolicyKind::Identity, json)
}
fn req<'a>(
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
    ctx: &'a Context,
) -> Request<'a> {
    Request {
        principal,
        principal_account: Some(ACCT),
        action,
        resource,
        resource_account: None,
        context: ctx,
    }
}

/// The MFAEnforcement policy of seed 000 (AWS's "self-manage MFA" example).
const MFA_ENFORCEMENT: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "AllowManageOwnVirtualMFADevice", "Effect": "Allow",
     "Action": ["iam:CreateVirtualMFADevice"], "Resource": "arn:aws:iam::*:mfa/*"},
    {"Sid": "AllowManageOwnUserMFA", "Effect": "Allow",
     "Action": ["iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "iam:ResyncMFADevice"],
     "Resource": "arn:aws:iam::*:user/${aws:username}"},
    {"Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny",
     "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                   "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"],
     "Resource": "*",
     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
  ]
}"#;

const DEVELOPER: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::pettracker-images/*"}]}"#;

#[test]
fn seed_mfa_enforcement() {
    let ids = [id(DEVELOPER), id(MFA_ENFORCEMENT)];
    let set = PolicySet {
        identity: &ids,
        ..Default::default()
    };
    let obj = "arn:aws:s3:::pettracker-images/cat.jpg";
    // (context, action, resource, decision)
    let cases: &[(&[(&str, &str)], &str, &str, Decision)] = &[
        (
            &[("aws:MultiFactorAuthPresent", "true")],
            "s3:GetObject",
            obj,
            Decision::Allowed,
        ),
        (
            &[("aws:MultiFactorAuthPresent", "false")],
            "s3:GetObject",
            obj,
            Decision::ExplicitDeny,
        ),
        // BoolIfExists: a request without the key (long-term access keys) is denied too.
        (&[], "s3:GetObject", obj, Decision::ExplicitDeny),
        // Listed actions stay possible without MFA, on the user's own ARN only.
        (
            &[("aws:username", "alice")],
            "iam:GetUser",
            ALICE,
            Decision::Allowed,
        ),
        (
            &[("aws:username", "alice")],
            "iam:GetUser",
            "arn:aws:iam::111122223333:user/bob",
            Decision::ImplicitDeny,
        ),
        // ${aws:username} unresolvable: the statement does not match.
        (&[], "iam:GetUser", ALICE, Decision::ImplicitDeny),
        (
            &[],
            "iam:CreateVirtualMFADevice",
            "arn:aws:iam::111122223333:mfa/alice",
            Decision::Allowed,
        ),
    ];
    for (kv, action, resource, want) in cases {
        let mut ctx = Context::new();
        for (k, v) in *kv {
            ctx.insert(k, *v);
        }
        let ev = evaluate(&req(ALICE, action, resource, &ctx), &set);
        assert_eq!(ev.decision, *want, "{action} {resource} {kv:?}");
    }
}

#[test]
fn seed_temporary_grant_dates() {
    // Seed 001: a role's bucket policy with Bool MFA + DateGreaterThan, and a temporary
    // grant whose DateLessThan value comes from Python's utcnow().isoformat() (no zone,
    // microseconds): AWS reads ISO 8601 without a zone as UTC.
    let grant = id(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::my-bucket/dev/*",
        "Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01T12:00:00.123456"},
                     "DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}}]}"#);
    let ids = [grant];
    let set = PolicySet {
        identity: &ids,
        ..Default::default()
    };
    for (now, want) in [
        ("2025-06-01T00:00:00Z", Decision::Allowed),
        ("2026-01-01T12:00:00Z", Decision::Allowed),
        ("2026-01-01T12:00:01Z", Decision::ImplicitDeny),
        ("2023-12-31T23:59:59Z", Decision::ImplicitDeny),
        ("1750000000", Decision::Allowed),
        ("2026-01-01T13:00:00+01:00", Decision::Allowed),
    ] {
        let ctx = Context::new().with("aws:CurrentTime", now);
        let ev = evaluate(
            &req(ALICE, "s3:PutObject", "arn:aws:s3:::my-bucket/dev/x", &ctx),
            &set,
        );
        assert_eq!(ev.decision, want, "{now}");
    }
    // Without aws:CurrentTime the date conditions are false.
    let ctx = Context::new();
    let ev = evaluate(
        &req(ALICE, "s3:PutObject", "arn:aws:s3:::my-bucket/dev/x", &ctx),
        &set,
    );
    assert_eq!(ev.decision, Decision::ImplicitDeny);

    // The bucket policy of seed 001, naming the role: a session of DevTeamRole with MFA,
    // same account, no identity policy needed.
    let bucket = p(
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::111122223333:role/DevTeamRole"},
        "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::my-bucket/dev/*",
        "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},
                     "DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}}]}"#,
    );
    let set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &bucket,
            kind: ResourcePolicyType::Standard,
        }),
        ..Default::default()
    };
    let session = "arn:aws:sts::111122223333:assumed-role/DevTeamRole/alice";
    let ok = Context::new()
        .with("aws:MultiFactorAuthPresent", "true")
        .with("aws:CurrentTime", "2025-01-01T00:00:00Z");
    let ev = evaluate(
        &req(session, "s3:GetObject", "arn:aws:s3:::my-bucket/dev/a", &ok),
        &set,
    );
    assert_eq!(ev.decision, Decision::Allowed);
    let no_mfa = Context::new().with("aws:CurrentTime", "2025-01-01T00:00:00Z");
    let ev = evaluate(
        &req(
            session,
            "s3:GetObject",
            "arn:aws:s3:::my-bucket/dev/a",
            &no_mfa,
        ),
        &set,
    );
    assert_eq!(ev.decision, Decision::ImplicitDeny);
}

#[test]
fn seed_scps() {
    // Seed 004: "SCP never GRANTS permissions, only LIMITS permissions."
    let full = p(
        PolicyKind::ServiceControl,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let deny_regions = p(
        PolicyKind::ServiceControl,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutsideUS","Effect":"Deny","NotAction":["iam:*","sts:*"],
        "Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]}}}]}"#,
    );
    let only_s3 = p(
        PolicyKind::ServiceControl,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    let admin = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )];
    let obj = "arn:aws:s3:::b/k";
    let cases: Vec<(Vec<Vec<Policy>>, &str, &str, Decision, Option<DenialReason>)> = vec![
        (vec![], "us-east-1", "s3:GetObject", Decision::Allowed, None),
        (
            vec![vec![full.clone()], vec![full.clone(), deny_regions.clone()]],
            "us-east-1",
            "s3:GetObject",
            Decision::Allowed,
            None,
        ),
        (
            vec![vec![full.clone()], vec![full.clone(), deny_regions.clone()]],
            "eu-west-1",
            "s3:GetObject",
            Decision::ExplicitDeny,
            Some(DenialReason::ExplicitDeny(PolicyKind::ServiceControl)),
        ),
        (
            vec![vec![full.clone()], vec![only_s3.clone()]],
            "us-east-1",
            "s3:GetObject",
            Decision::Allowed,
            None,
        ),
        (
            vec![vec![full.clone()], vec![only_s3.clone()]],
            "us-east-1",
            "sqs:SendMessage",
            Decision::ImplicitDeny,
            Some(DenialReason::NoAllow(PolicyKind::ServiceControl)),
        ),
        // Every level must allow: an allow at the account does not help if the root level lacks one.
        (
            vec![vec![only_s3.clone()], vec![full.clone()]],
            "us-east-1",
            "sqs:SendMessage",
            Decision::ImplicitDeny,
            Some(DenialReason::NoAllow(PolicyKind::ServiceControl)),
        ),
        // An empty level allows nothing.
        (
            vec![vec![full.clone()], vec![]],
            "us-east-1",
            "s3:GetObject",
            Decision::ImplicitDeny,
            Some(DenialReason::NoAllow(PolicyKind::ServiceControl)),
        ),
    ];
    for (i, (scps, region, action, want, reason)) in cases.iter().enumerate() {
        let ctx = Context::new().with("aws:RequestedRegion", *region);
        let set = PolicySet {
            identity: &admin,
            scps,
            ..Default::default()
        };
        let ev = evaluate(&req(ALICE, action, obj, &ctx), &set);
        assert_eq!(ev.decision, *want, "case {i}");
        assert_eq!(ev.reason, *reason, "case {i}");
    }
}

#[test]
fn resource_policies_same_and_cross_account() {
    let bucket = |principal: &str| {
        p(
            PolicyKind::Resource,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}]}}"#
            ),
        )
    };
    let allow_id = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
    )];
    let boundary = id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#,
    );
    let session = "arn:aws:sts::111122223333:assumed-role/R/s1";
    let role = "arn:aws:iam::111122223333:role/path/R";
    let ctx = Context::new();
    struct Case<'a> {
        caller: &'a str,
        rp_principal: &'a str,
        identity: bool,
        boundary: bool,
        resource_account: Option<&'a str>,
        want: Decision,
    }
    let cases = [
        // Same account: a grant to the user ARN alone suffices, even past a boundary.
        Case {
            caller: ALICE,
            rp_principal: ALICE,
            identity: false,
            boundary: true,
            resource_account: None,
            want: Decision::Allowed,
        },
        // A grant to the account only delegates to identity policies.
        Case {
            caller: ALICE,
            rp_principal: ACCT,
            identity: false,
            boundary: false,
            resource_account: None,
            want: Decision::ImplicitDeny,
        },
        Case {
            caller: ALICE,
            rp_principal: ACCT,
            identity: true,
            boundary: false,
            resource_account: None,
            want: Decision::Allowed,
        },
        // Role ARN grant: suffices without identity policy, but a boundary limits it.
        Case {
            caller: session,
            rp_principal: role,
            identity: false,
            boundary: false,
            resource_account: None,
            want: Decision::Allowed,
        },
        Case {
            caller: session,
            rp_principal: role,
            identity: false,
            boundary: true,
            resource_account: None,
            want: Decision::ImplicitDeny,
        },
        // Session ARN grant: not limited by the boundary.
        Case {
            caller: session,
            rp_principal: session,
            identity: false,
            boundary: true,
            resource_account: None,
            want: Decision::Allowed,
        },
        // Cross-account: both sides.
        Case {
            caller: ALICE,
            rp_principal: ALICE,
            identity: false,
            boundary: false,
            resource_account: Some("444455556666"),
            want: Decision::ImplicitDeny,
        },
        Case {
            caller: ALICE,
            rp_principal: ACCT,
            identity: true,
            boundary: false,
            resource_account: Some("444455556666"),
            want: Decision::Allowed,
        },
        Case {
            caller: ALICE,
            rp_principal: "444455556666",
            identity: true,
            boundary: false,
            resource_account: Some("444455556666"),
            want: Decision::ImplicitDeny,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let rp = bucket(c.rp_principal);
        let set = PolicySet {
            identity: if c.identity { &allow_id } else { &[] },
            resource: Some(ResourcePolicy {
                policy: &rp,
                kind: ResourcePolicyType::Standard,
            }),
            permissions_boundary: c.boundary.then_some(&boundary),
            ..Default::default()
        };
        let mut r = req(c.caller, "s3:GetObject", "arn:aws:s3:::b/k", &ctx);
        r.resource_account = c.resource_account;
        assert_eq!(evaluate(&r, &set).decision, c.want, "case {i}");
    }
    // Cross-account without any resource policy.
    let set = PolicySet {
        identity: &allow_id,
        ..Default::default()
    };
    let mut r = req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &ctx);
    r.resource_account = Some("444455556666");
    let ev = evaluate(&r, &set);
    assert_eq!(ev.reason, Some(DenialReason::NoAllow(PolicyKind::Resource)));
}

#[test]
fn kms_key_and_trust_policies_must_allow() {
    let ctx = Context::new();
    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234";
    let delegating = p(
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let direct = p(
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
    );
    let other = p(
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}]}"#,
    );
    let allow_kms = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    )];
    let cases: [(&Policy, bool, Decision); 6] = [
        (&delegating, true, Decision::Allowed),
        (&delegating, false, Decision::ImplicitDeny),
        (&direct, false, Decision::Allowed),
        (&direct, true, Decision::Allowed),
        // The key policy neither names alice nor delegates: IAM policies do not count.
        (&other, true, Decision::ImplicitDeny),
        (&other, false, Decision::ImplicitDeny),
    ];
    for (i, (kp, with_id, want)) in cases.iter().enumerate() {
        let set = PolicySet {
            identity: if *with_id { &allow_kms } else { &[] },
            resource: Some(ResourcePolicy {
                policy: kp,
                kind: ResourcePolicyType::KmsKey,
            }),
            ..Default::default()
        };
        let ev = evaluate(&req(ALICE, "kms:Decrypt", key_arn, &ctx), &set);
        assert_eq!(ev.decision, *want, "case {i}");
    }
    // Trust policy: same account, naming the user directly, no identity policy needed; an
    // identity policy alone is not enough.
    let trust = p(
        PolicyKind::Resource,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}]}"#,
    );
    let role = "arn:aws:iam::111122223333:role/Admin";
    let set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &trust,
            kind: ResourcePolicyType::RoleTrust,
        }),
        ..Default::default()
    };
    assert_eq!(
        evaluate(&req(ALICE, "sts:AssumeRole", role, &ctx), &set).decision,
        Decision::Allowed
    );
    let bob = "arn:aws:iam::111122223333:user/bob";
    let allow_sts = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    )];
    let set = PolicySet {
        identity: &allow_sts,
        resource: Some(ResourcePolicy {
            policy: &trust,
            kind: ResourcePolicyType::RoleTrust,
        }),
        ..Default::default()
    };
    let ev = evaluate(&req(bob, "sts:AssumeRole", role, &ctx), &set);
    assert_eq!(ev.reason, Some(DenialReason::NoAllow(PolicyKind::Resource)));
}

#[test]
fn denial_messages() {
    let ctx = Context::new();
    let r = req(
        "arn:aws:iam::000000000000:user/alex",
        "iam:ListUsers",
        "arn:aws:iam::000000000000:user/",
        &ctx,
    );
    let ev = evaluate(&r, &PolicySet::default());
    assert_eq!(
        ev.denial_message(&r).unwrap(),
        "User: arn:aws:iam::000000000000:user/alex is not authorized to perform: iam:ListUsers on resource: \
         arn:aws:iam::000000000000:user/ because no identity-based policy allows the iam:ListUsers action"
    );
    let ids = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
    )];
    let ev = evaluate(
        &r,
        &PolicySet {
            identity: &ids,
            ..Default::default()
        },
    );
    assert!(ev
        .denial_message(&r)
        .unwrap()
        .ends_with("with an explicit deny in an identity-based policy"));
    let expect = [
        (
            DenialReason::ExplicitDeny(PolicyKind::ServiceControl),
            "with an explicit deny in a service control policy",
        ),
        (
            DenialReason::ExplicitDeny(PolicyKind::Resource),
            "with an explicit deny in a resource-based policy",
        ),
        (
            DenialReason::NoAllow(PolicyKind::ServiceControl),
            "because no service control policy allows the iam:ListUsers action",
        ),
        (
            DenialReason::NoAllow(PolicyKind::PermissionsBoundary),
            "because no permissions boundary allows the iam:ListUsers action",
        ),
        (
            DenialReason::NoAllow(PolicyKind::Session),
            "because no session policy allows the iam:ListUsers action",
        ),
    ];
    for (reason, tail) in expect {
        let m = palisade_policy::access_denied_message(r.principal, r.action, r.resource, reason);
        assert!(m.ends_with(tail), "{m}");
    }
}

#[test]
fn traced_evaluation_reports_failed_conditions() {
    let ids = [id(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Office","Effect":"Allow","Action":"s3:*","Resource":"*",
        "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}]}"#,
    )];
    let ctx = Context::new().with("aws:SourceIp", "203.0.113.5");
    let r = req(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", &ctx);
    let ev = evaluate_traced(
        &r,
        &PolicySet {
            identity: &ids,
            ..Default::default()
        },
    );
    assert_eq!(ev.decision, Decision::ImplicitDeny);
    let f = &ev.condition_failures[0];
    assert_eq!(
        (f.operator.as_str(), f.key.as_str()),
        ("IpAddress", "aws:SourceIp")
    );
    assert_eq!(
        f.request_values.as_deref(),
        Some(&["203.0.113.5".to_owned()][..])
    );
    assert_eq!(f.sid.as_deref(), Some("Office"));
}

#[test]
fn parse_errors_have_paths() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Effect":"Deny"}]}"#,
            "$.Statement[0].Effect",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Action":"s3:*","Resource":"*"}]}"#,
            "$.Statement[0].Effect",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}"#,
            "$.Statement.Action",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#,
            "$.Statement[0].Condition.StringEqualz",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":{"b":"c"}}}}]}"#,
            "$.Statement[0].Condition.StringEquals[\"aws:SourceIp\"]",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"*"}]}"#,
            "$.Statement[0].Principal",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","bad"],"Resource":"*"}]}"#,
            "$.Statement[0].Action[1]",
        ),
        (r#"{"Version":"2019-01-01","Statement":[]}"#, "$.Version"),
        (
            r#"{"Version":"2012-10-17","Statement":[],"Extra":1}"#,
            "$.Extra",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#,
            "$.Statement[0]",
        ),
        (r#"[1,2]"#, "$"),
        (r#"{"Version":"2012-10-17""#, "$"),
    ];
    for (json, path) in cases {
        let e = Policy::parse(json, PolicyKind::Identity).unwrap_err();
        assert_eq!(e.path, *path, "{json}: {e}");
    }
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    // Deep nesting: serde_json's recursion limit (128) turns it into an error.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Policy::parse(&deep, PolicyKind::Identity).is_err());
    let deep_cond = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{}}}]}}"#,
        format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000))
    );
    assert!(Policy::parse(&deep_cond, PolicyKind::Identity).is_err());
    // Huge but flat: parses, evaluates.
    let many: Vec<String> = (0..20_000).map(|i| format!("\"svc{i}:Act*\"")).collect();
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
        many.join(",")
    );
    let pol = Policy::parse(&huge, PolicyKind::Identity).unwrap();
    let ids = [pol];
    let ctx = Context::new();
    let ev = evaluate(
        &req(ALICE, "svc19999:Action", "*", &ctx),
        &PolicySet {
            identity: &ids,
            ..Default::default()
        },
    );
    assert_eq!(ev.decision, Decision::Allowed);
    // Escapes, lone surrogates, control characters.
    for bad in [
        r#"{"Version":"\ud800"}"#,
        "{\"Version\":\"\u{0}\"}",
        "\u{feff}{}",
        "{\"a\":1e999999}",
    ] {
        let _ = Policy::parse(bad, PolicyKind::Identity);
    }
    // Pathological wildcard: linear-time matcher, no blow-up.
    let star = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{}b"}}]}}"#,
        "*a".repeat(500)
    );
    let ids = [Policy::parse(&star, PolicyKind::Identity).unwrap()];
    let res = format!("arn:aws:s3:::{}", "a".repeat(5_000));
    let ev = evaluate(
        &req(ALICE, "s3:GetObject", &res, &ctx),
        &PolicySet {
            identity: &ids,
            ..Default::default()
        },
    );
    assert_eq!(ev.decision, Decision::ImplicitDeny);
}

#[test]
fn cli_eval_output_shape() {
    let input = r#"{
      "principal": "arn:aws:iam::111122223333:user/alice", "principal_account": "111122223333",
      "action": "s3:GetObject", "resource": "arn:aws:s3:::bucket/key",
      "context": {"aws:MultiFactorAuthPresent": true},
      "identity_policies": [{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"}]}],
      "resource_policy": null, "permissions_boundary": null, "session_policies": [],
      "scps": [[{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}]]
    }"#;
    let out = palisade_policy::cli::eval(input).unwrap();
    assert_eq!(out["decision"], "allowed");
    assert_eq!(
        out["matched"],
        serde_json::json!([
            {"policy": "identity_policies[0]", "statement": 0, "sid": "A", "effect": "Allow"},
            {"policy": "scps[0][0]", "statement": 0, "sid": null, "effect": "Allow"}
        ])
    );
    assert!(out["explanation"].as_str().unwrap().starts_with("Allowed"));
    for (bad, needle) in [
        (r#"{"principal":"x"#, "invalid JSON"),
        (
            r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"*","bogus":1}"#,
            "unknown field \"bogus\"",
        ),
        (
            r#"{"principal":"alice","action":"s3:GetObject","resource":"*"}"#,
            "principal",
        ),
        (
            r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"bucket/key"}"#,
            "resource",
        ),
        (
            r#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:GetObject","resource":"*","identity_policies":[{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}]}"#,
            "identity_policies[0]: $.Statement[0].Effect",
        ),
    ] {
        let e = palisade_policy::cli::eval(bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}

/// Policy variables (IAM User Guide, "Variables and tags"): an entry whose variable has no
/// value matches nothing while the rest of its list still counts, in any order; variables
/// are filled in only with the string, ARN and Bool operators, and only in the resource
/// part of an ARN.
#[test]
fn policy_variables_entries_operators_and_arn_parts() {
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
    let var = "arn:aws:secretsmanager:us-east-1:111122223333:secret:${aws:username}-*";
    let no_user = Context::new();
    for resources in [
        format!(r#"["{secret}","{var}"]"#),
        format!(r#"["{var}","{secret}"]"#),
    ] {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[
              {{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}},
              {{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":{resources}}}]}}"#
        );
        let ids = [id(&doc)];
        let set = PolicySet {
            identity: &ids,
            ..Default::default()
        };
        let ev = evaluate(
            &req(ALICE, "secretsmanager:GetSecretValue", secret, &no_user),
            &set,
        );
        assert_eq!(ev.decision, Decision::ExplicitDeny, "{resources}");
    }

    // A condition value whose variable does not resolve: the key's other values count.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser",
      "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":["${aws:username}","admins"]}}}]}"#;
    let ids = [id(doc)];
    let set = PolicySet {
        identity: &ids,
        ..Default::default()
    };
    let mut admins = Context::new();
    admins.insert("aws:PrincipalTag/team", "admins");
    let ev = evaluate(&req(ALICE, "iam:GetUser", ALICE, &admins), &set);
    assert_eq!(ev.decision, Decision::Allowed);

    // Numeric, Date, IP address and Binary values keep `${...}` as literal text.
    let mut tagged = Context::new();
    tagged.insert("aws:PrincipalTag/cidr", "0.0.0.0/0");
    tagged.insert("aws:PrincipalTag/n", "5");
    tagged.insert("aws:PrincipalTag/t", "2020-01-01T00:00:00Z");
    tagged.insert("aws:SourceIp", "10.1.2.3");
    tagged.insert("aws:CurrentTime", "2020-01-01T00:00:00Z");
    tagged.insert("aws:username", "5");
    tagged.insert("s3:max-keys", "5");
    for cond in [
        r#"{"IpAddress":{"aws:SourceIp":"${aws:PrincipalTag/cidr}"}}"#,
        r#"{"NumericEquals":{"s3:max-keys":"${aws:username}"}}"#,
        r#"{"DateEquals":{"aws:CurrentTime":"${aws:PrincipalTag/t}"}}"#,
        r#"{"BinaryEquals":{"aws:username":"${aws:PrincipalTag/n}"}}"#,
    ] {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{cond}}}]}}"#
        );
        let ids = [id(&doc)];
        let set = PolicySet {
            identity: &ids,
            ..Default::default()
        };
        let ev = evaluate(&req(ALICE, "iam:GetUser", ALICE, &tagged), &set);
        assert_eq!(ev.decision, Decision::ImplicitDeny, "{cond}");
    }
    // Bool takes variables.
    let mut mfa = Context::new();
    mfa.insert("aws:MultiFactorAuthPresent", "true");
    mfa.insert("aws:PrincipalTag/mfa", "true");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*",
      "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"${aws:PrincipalTag/mfa}"}}}]}"#;
    let ids = [id(doc)];
    let set = PolicySet {
        identity: &ids,
        ..Default::default()
    };
    assert_eq!(
        evaluate(&req(ALICE, "iam:GetUser", ALICE, &mfa), &set).decision,
        Decision::Allowed
    );

    // Before the fifth colon of a Resource ARN a variable is literal text.
    let mut region = Context::new();
    region.insert("aws:RequestedRegion", "us-east-1");
    region.insert("aws:username", "db");
    for (resource, want) in [
        (
            "arn:aws:secretsmanager:${aws:RequestedRegion}:111122223333:secret:*",
            Decision::ImplicitDeny,
        ),
        (
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:${aws:username}-*",
            Decision::Allowed,
        ),
    ] {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"secretsmanager:DescribeSecret","Resource":"{resource}"}}]}}"#
        );
        let ids = [id(&doc)];
        let set = PolicySet {
            identity: &ids,
            ..Default::default()
        };
        let ev = evaluate(
            &req(ALICE, "secretsmanager:DescribeSecret", secret, &region),
            &set,
        );
        assert_eq!(ev.decision, want, "{resource}");
    }
}
