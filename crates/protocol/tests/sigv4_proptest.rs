//! parse() and decode_streaming_body() never panic, whatever the client sends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use http::{HeaderValue, Request};
use palisade_protocol::sigv4::{self, PayloadHash, SigningKeyCache};
use proptest::prelude::*;

fn auth_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "AWS4-HMAC-SHA256 [ -~]{0,200}",
        "AWS4-HMAC-SHA256 Credential=[A-Z0-9/a-z_-]{0,60}, SignedHeaders=[a-z;-]{0,40}, Signature=[0-9a-f]{0,70}",
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(
        auth in proptest::option::of(auth_like()),
        date in proptest::option::of("[0-9TZ:-]{0,20}|[ -~]{0,30}"),
        sha in proptest::option::of("[ -~]{0,70}"),
        token in proptest::option::of("[ -~]{0,40}"),
        query in "[ -~]{0,200}",
        amz_query in proptest::option::of("X-Amz-[A-Za-z-]{0,14}=[ -~&]{0,60}"),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let q: String = query
            .chars()
            .chain(amz_query.unwrap_or_default().chars())
            .filter(|c| !matches!(c, ' ' | '#' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' | '^'))
            .collect();
        let Ok(mut req) = Request::get(format!("/p?{q}")).body(()) else { return Ok(()); };
        let h = req.headers_mut();
        for (name, value) in [("authorization", auth), ("x-amz-date", date), ("x-amz-content-sha256", sha), ("x-amz-security-token", token)] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        let (parts, ()) = req.into_parts();
        if let Ok(Some(parsed)) = sigv4::parse(&parts) {
            let now = time::OffsetDateTime::now_utc();
            let _ = sigv4::verify(&parts, &body, &parsed, "secret", now, &SigningKeyCache::default());
            let mut streaming = parsed;
            streaming.payload = PayloadHash::Streaming;
            let _ = sigv4::decode_streaming_body(&body, &streaming, "secret", &SigningKeyCache::default());
        }
    }

    #[test]
    fn streaming_decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), unsigned in any::<bool>()) {
        let mut req = Request::put("http://h/b/k")
            .header("x-amz-content-sha256", if unsigned { "STREAMING-UNSIGNED-PAYLOAD-TRAILER" } else { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" })
            .body(Vec::new())
            .unwrap();
        let p = sigv4::SigningParams {
            access_key_id: "AKID",
            secret_access_key: "secret",
            security_token: None,
            region: "us-east-1",
            service: "s3",
            time: time::macros::datetime!(2015-08-30 12:36:00 UTC),
        };
        sigv4::sign(&mut req, &p).unwrap();
        let (parts, _) = req.into_parts();
        let parsed = sigv4::parse(&parts).unwrap().unwrap();
        let _ = sigv4::decode_streaming_body(&body, &parsed, "secret", &SigningKeyCache::default());
    }
}
