//! decode_streaming_body on arbitrary aws-chunked bodies, signed and unsigned framing.
//! Run: `cargo +nightly fuzz run sigv4_chunked` from crates/protocol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_protocol::sigv4::{self, CredentialScope, PayloadHash, SigV4Request, SigningKeyCache};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let payload = match mode % 3 {
        0 => PayloadHash::Streaming,
        1 => PayloadHash::StreamingTrailer,
        _ => PayloadHash::StreamingUnsignedTrailer,
    };
    let req = SigV4Request {
        access_key_id: "AKID".to_owned(),
        security_token: None,
        amz_date: time::OffsetDateTime::UNIX_EPOCH,
        scope: CredentialScope {
            date: "19700101".to_owned(),
            region: "us-east-1".to_owned(),
            service: "s3".to_owned(),
        },
        signed_headers: vec!["host".to_owned()],
        signature: "0".repeat(64),
        presigned_expires: None,
        payload,
        decoded_content_length: (mode & 0x80 != 0).then_some(u64::from(mode)),
    };
    let _ = sigv4::decode_streaming_body(body, &req, "secret", &SigningKeyCache::default());
});
