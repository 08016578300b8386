//! parse + verify on arbitrary Authorization / X-Amz-* headers and query strings.
//! Run: `cargo +nightly fuzz run sigv4_parse` from crates/protocol.
#![no_main]

use http::{HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use palisade_protocol::sigv4::{self, SigningKeyCache};

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xff: authorization, x-amz-date, x-amz-content-sha256, query, body.
    let mut fields = data.split(|b| *b == 0xff);
    let auth = fields.next().unwrap_or_default();
    let date = fields.next().unwrap_or_default();
    let sha = fields.next().unwrap_or_default();
    let query = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();
    let uri = format!("/p?{}", String::from_utf8_lossy(query));
    let Ok(mut req) = Request::get(uri).body(()) else {
        return;
    };
    for (name, value) in [
        ("authorization", auth),
        ("x-amz-date", date),
        ("x-amz-content-sha256", sha),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            req.headers_mut().insert(name, v);
        }
    }
    let (parts, ()) = req.into_parts();
    if let Ok(Some(parsed)) = sigv4::parse(&parts) {
        let keys = SigningKeyCache::default();
        let _ = sigv4::verify(
            &parts,
            body,
            &parsed,
            "secret",
            time::OffsetDateTime::UNIX_EPOCH,
            &keys,
        );
        let _ = sigv4::decode_streaming_body(body, &parsed, "secret", &keys);
    }
});
