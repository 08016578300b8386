//! Untrusted request bodies through the services' decoders: awsJson bodies into CloudTrail
//! `LookupEventsInput` and the CloudTrail/IAM/STS action decoders, and awsQuery form bodies
//! (`parse_form`) into the IAM/STS decoders. Decoding answers an operation or an ApiError,
//! never a panic; a decoded operation's CloudTrail `requestParameters` never panic either.
//! Run: see crates/FUZZING.md (`cargo +nightly fuzz run json_decode` from crates/services).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_services::{cloudtrail::LookupEventsInput, registry, Input};

/// (signing name, action) pairs fed every input.
const ACTIONS: &[(&str, &str)] = &[
    ("cloudtrail", "LookupEvents"),
    ("iam", "CreateUser"),
    ("iam", "CreateRole"),
    ("iam", "PutUserPolicy"),
    ("sts", "AssumeRole"),
];

fn exercise(service: &str, action: &str, input: &Input<'_>) {
    let Some(info) = registry::by_signing_name(service) else {
        return;
    };
    if let Ok(op) = info.decode(action, input) {
        assert_eq!(op.name(), action);
        let _ = op.read_only();
        let _ = op.request_parameters();
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = Input::Json(data).parse::<LookupEventsInput>();
    let json = Input::Json(data);
    for (service, action) in ACTIONS {
        exercise(service, action, &json);
    }
    if let Ok(params) = palisade_protocol::query::parse_form(data) {
        let query = Input::Query(&params);
        let _ = query.parse::<LookupEventsInput>();
        for (service, action) in ACTIONS {
            exercise(service, action, &query);
        }
    }
});
