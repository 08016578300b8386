//! Evaluator properties (proptest), over generated statements, requests and contexts:
//! - adding a Deny statement never turns a denial into an allow;
//! - adding an Allow statement never turns an explicit deny into anything else;
//! - a policy set's decision does not depend on statement order;
//! - parsing arbitrary text never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_policy::{
    evaluate, Context, Decision, Policy, PolicyKind, PolicySet, Request, ResourcePolicy,
    ResourcePolicyType,
};
use proptest::prelude::*;

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "iam:ListUsers",
    "kms:Decrypt",
    "sqs:SendMessage",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "iam:List*",
    "kms:*",
    "sqs:S?ndMessage",
    "S3:getobject",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::b/x/y",
    "arn:aws:iam::111122223333:user/alice",
    "*",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k",
    "arn:aws:iam::*:user/${aws:username}",
    "arn:aws:*:*:*:*",
];
const CONDITIONS: &[&str] = &[
    "",
    r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
    r#","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}"#,
    r#","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"dev"}}"#,
    r#","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
    r#","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}"#,
    r#","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"a*"}}"#,
    r#","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#,
    r#","Condition":{"Null":{"aws:PrincipalTag/team":"true"}}"#,
];
const PRINCIPALS: &[&str] = &[
    r#""*""#,
    r#"{"AWS":"111122223333"}"#,
    r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
    r#"{"AWS":"arn:aws:iam::111122223333:role/R"}"#,
    r#"{"AWS":"arn:aws:iam::444455556666:root"}"#,
];

#[derive(Debug, Clone)]
struct St {
    deny: bool,
    not_action: bool,
    action: usize,
    resource: usize,
    condition: usize,
    principal: usize,
}

fn st() -> impl Strategy<Value = St> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        0..ACTION_PATTERNS.len(),
        0..RESOURCE_PATTERNS.len(),
        0..CONDITIONS.len(),
        0..PRINCIPALS.len(),
    )
        .prop_map(
            |(deny, not_action, action, resource, condition, principal)| St {
                deny,
                not_action,
                action,
                resource,
                condition,
                principal,
            },
        )
}

fn render(sts: &[St], with_principal: bool) -> String {
    let body: Vec<String> = sts
        .iter()
        .map(|s| {
            let principal = if with_principal {
                format!(r#""Principal":{},"#, PRINCIPALS[s.principal])
            } else {
                String::new()
            };
            format!(
                r#"{{"Effect":"{}",{principal}"{}":"{}","Resource":"{}"{}}}"#,
                if s.deny { "Deny" } else { "Allow" },
                if s.not_action { "NotAction" } else { "Action" },
                ACTION_PATTERNS[s.action],
                RESOURCE_PATTERNS[s.resource],
                CONDITIONS[s.condition]
            )
        })
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        body.join(",")
    )
}

#[derive(Debug, Clone)]
struct World {
    identity: Vec<Vec<St>>,
    resource: Option<Vec<St>>,
    boundary: Option<Vec<St>>,
    scps: Vec<Vec<St>>,
    principal: usize,
    action: usize,
    resource_arn: usize,
    cross_account: bool,
    ctx: (
        Option<bool>,
        Option<&'static str>,
        Option<&'static str>,
        Vec<&'static str>,
        bool,
    ),
}

fn world() -> impl Strategy<Value = World> {
    let stmts = || prop::collection::vec(st(), 0..4);
    (
        prop::collection::vec(stmts(), 0..3),
        prop::option::of(prop::collection::vec(st(), 1..4)),
        prop::option::of(prop::collection::vec(st(), 1..3)),
        prop::collection::vec(prop::collection::vec(st(), 1..3), 0..3),
        0..3usize,
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        any::<bool>(),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(prop::sample::select(vec!["dev", "ops"])),
            prop::option::of(prop::sample::select(vec![
                "203.0.113.9",
                "10.0.0.1",
                "2001:db8::1",
            ])),
            prop::collection::vec(prop::sample::select(vec!["a", "b", "ab", "c"]), 0..3),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                identity,
                resource,
                boundary,
                scps,
                principal,
                action,
                resource_arn,
                cross_account,
                ctx,
            )| World {
                identity,
                resource,
                boundary,
                scps,
                principal,
                action,
                resource_arn,
                cross_account,
                ctx,
            },
        )
}

const CALLERS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "arn:aws:iam::111122223333:root",
];

fn decide(w: &World) -> Decision {
    let identity: Vec<Policy> = w
        .identity
        .iter()
        .map(|s| Policy::parse(&render(s, false), PolicyKind::Identity).unwrap())
        .collect();
    let resource = w
        .resource
        .as_ref()
        .map(|s| Policy::parse(&render(s, true), PolicyKind::Resource).unwrap());
    let boundary = w
        .boundary
        .as_ref()
        .map(|s| Policy::parse(&render(s, false), PolicyKind::PermissionsBoundary).unwrap());
    let scps: Vec<Vec<Policy>> = w
        .scps
        .iter()
        .map(|s| vec![Policy::parse(&render(s, false), PolicyKind::ServiceControl).unwrap()])
        .collect();
    let mut ctx = Context::new();
    ctx.insert("aws:username", "alice");
    if let Some(m) = w.ctx.0 {
        ctx.insert("aws:MultiFactorAuthPresent", m.to_string());
    }
    if let Some(t) = w.ctx.1 {
        ctx.insert("aws:PrincipalTag/team", t);
    }
    if let Some(ip) = w.ctx.2 {
        ctx.insert("aws:SourceIp", ip);
    }
    if w.ctx.4 {
        ctx.set("aws:TagKeys", w.ctx.3.clone());
    }
    ctx.insert("aws:CurrentTime", "2025-06-01T00:00:00Z");
    let req = Request {
        principal: CALLERS[w.principal],
        principal_account: Some("111122223333"),
        action: ACTIONS[w.action],
        resource: RESOURCES[w.resource_arn],
        resource_account: w.cross_account.then_some("444455556666"),
        context: &ctx,
    };
    let set = PolicySet {
        identity: &identity,
        resource: resource.as_ref().map(|policy| ResourcePolicy {
            policy,
            kind: ResourcePolicyType::Standard,
        }),
        permissions_boundary: boundary.as_ref(),
        session: &[],
        scps: &scps,
        rcps: &[],
    };
    evaluate(&req, &set).decision
}

/// Every place a statement can be added: identity policy i, resource, boundary, SCP level i.
fn add(w: &World, slot: usize, s: St) -> World {
    let mut w = w.clone();
    let n_id = w.identity.len();
    match slot {
        i if i < n_id => w.identity[i].push(s),
        i if i == n_id => w.identity.push(vec![s]),
        i if i == n_id + 1 => match &mut w.resource {
            Some(r) => r.push(s),
            None => w.resource = Some(vec![s]),
        },
        i if i == n_id + 2 => match &mut w.boundary {
            Some(b) => b.push(s),
            // Adding a boundary where there was none is not "adding a statement".
            None => w.identity.push(vec![s]),
        },
        i => {
            let lvl = i - n_id - 3;
            match w.scps.get_mut(lvl) {
                Some(l) => l.push(s),
                None => w.identity.push(vec![s]),
            }
        }
    }
    w
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn adding_deny_never_allows(w in world(), s in st(), slot in 0..8usize) {
        let before = decide(&w);
        let after = decide(&add(&w, slot, St { deny: true, ..s }));
        if before != Decision::Allowed {
            prop_assert_ne!(after, Decision::Allowed);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn adding_allow_keeps_explicit_deny(w in world(), s in st(), slot in 0..8usize) {
        let before = decide(&w);
        let after = decide(&add(&w, slot, St { deny: false, ..s }));
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn statement_order_does_not_matter(w in world(), seed in any::<u64>()) {
        let before = decide(&w);
        let mut r = w.clone();
        let rot = |v: &mut Vec<St>, k: u64| if !v.is_empty() { let n = (k as usize) % v.len(); v.rotate_left(n); v.reverse(); };
        for (i, p) in r.identity.iter_mut().enumerate() { rot(p, seed.wrapping_add(i as u64)); }
        r.identity.reverse();
        if let Some(p) = &mut r.resource { rot(p, seed >> 3); }
        if let Some(p) = &mut r.boundary { rot(p, seed >> 7); }
        for l in &mut r.scps { rot(l, seed >> 11); }
        prop_assert_eq!(before, decide(&r));
    }

    #[test]
    fn parse_never_panics(s in ".{0,300}") {
        let _ = Policy::parse(&s, PolicyKind::Identity);
        let _ = palisade_policy::cli::eval(&s);
    }

    #[test]
    fn parse_never_panics_on_policy_like_text(
        parts in prop::collection::vec(prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"Version\"", "\"2012-10-17\"", "\"Statement\"", "\"Effect\"",
            "\"Allow\"", "\"Deny\"", "\"Action\"", "\"s3:*\"", "\"Resource\"", "\"*\"", "\"Condition\"",
            "\"StringLike\"", "\"ForAllValues:DateLessThanIfExists\"", "\"${aws:username}\"", "1", "true", "null",
            "\"Principal\"", "\"AWS\"", "\"NotPrincipal\"", "\"arn:aws:iam::1:role/x\"",
        ]), 0..60)
    ) {
        let text = parts.concat();
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::ServiceControl] {
            let _ = Policy::parse(&text, kind);
        }
    }
}
