//! Evaluation speed on the shared bench sets (`tests/crosscheck/bench/*.json`, also timed
//! against @cloud-copilot/iam-simulate by `tests/crosscheck/bench.mjs`).
//!
//! - `compiled/*`: policies parsed once, `evaluate` alone (what the server does per call).
//! - `cli_eval/*`: `cli::eval` on the request text (parse + compile + traced evaluation).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use palisade_policy::cli;
use palisade_policy::{evaluate, Context, Decision, Policy, PolicyKind, PolicySet, Request};

fn load(name: &str) -> String {
    let path = format!(
        "{}/tests/crosscheck/bench/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["request"].to_string()
}

fn bench_sets(c: &mut Criterion) {
    for name in ["typical", "large"] {
        let text = load(name);
        let prepared = cli::prepare(&text).unwrap();
        let (req, set) = (prepared.request(), prepared.policy_set());
        assert_eq!(evaluate(&req, &set).decision, Decision::Allowed, "{name}");
        c.bench_function(&format!("compiled/{name}"), |b| {
            b.iter(|| evaluate(black_box(&req), black_box(&set)))
        });
        c.bench_function(&format!("cli_eval/{name}"), |b| {
            b.iter(|| cli::eval(black_box(&text)).unwrap())
        });
    }
}

/// A denial through an explicit Deny with an unmet MFA condition, plus an SCP level.
fn bench_deny(c: &mut Criterion) {
    let identity = vec![Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iam:*","Resource":"*"},
            {"Sid":"DenyWithoutMfa","Effect":"Deny","NotAction":["iam:ChangePassword","sts:GetSessionToken"],
             "Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#,
        PolicyKind::Identity,
    )
    .unwrap()];
    let scps = vec![vec![Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyKind::ServiceControl,
    )
    .unwrap()]];
    let ctx = Context::new().with("aws:MultiFactorAuthPresent", "false");
    let req = Request {
        principal: "arn:aws:iam::000000000000:user/alex",
        principal_account: Some("000000000000"),
        action: "iam:ListUsers",
        resource: "arn:aws:iam::000000000000:user/",
        resource_account: None,
        context: &ctx,
    };
    let set = PolicySet {
        identity: &identity,
        scps: &scps,
        ..PolicySet::default()
    };
    assert_eq!(evaluate(&req, &set).decision, Decision::ExplicitDeny);
    c.bench_function("compiled/mfa_deny", |b| {
        b.iter(|| evaluate(black_box(&req), black_box(&set)))
    });
}

criterion_group!(benches, bench_sets, bench_deny);
criterion_main!(benches);
