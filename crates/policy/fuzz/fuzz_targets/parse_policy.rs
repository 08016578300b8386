//! Any bytes as a policy document of every kind: parse must return, never panic; a parsed
//! policy must evaluate without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_policy::{
    evaluate, Context, PolicyKind, PolicySet, Request, ResourcePolicy, ResourcePolicyType,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ctx = Context::new()
        .with("aws:username", "alice")
        .with("aws:SourceIp", "203.0.113.5")
        .with("aws:CurrentTime", "2026-01-01T00:00:00Z");
    let req = Request {
        principal: "arn:aws:sts::111122223333:assumed-role/R/s",
        principal_account: Some("111122223333"),
        action: "s3:GetObject",
        resource: "arn:aws:s3:::bucket/key",
        resource_account: None,
        context: &ctx,
    };
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Resource,
        PolicyKind::ServiceControl,
    ] {
        if let Ok(p) = palisade_policy::Policy::parse(text, kind) {
            let ids = [p.clone()];
            let set = match kind {
                PolicyKind::Resource => PolicySet {
                    resource: Some(ResourcePolicy {
                        policy: &p,
                        kind: ResourcePolicyType::Standard,
                    }),
                    ..PolicySet::default()
                },
                _ => PolicySet {
                    identity: &ids,
                    ..PolicySet::default()
                },
            };
            let _ = evaluate(&req, &set);
        }
    }
});
