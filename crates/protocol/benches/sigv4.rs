//! ns per SigV4 verification of a typical STS POST (what aws-cli sends for
//! get-caller-identity), with a warm signing-key cache.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::Request;
use palisade_protocol::sigv4::{self, SigningKeyCache, SigningParams};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn bench_verify(c: &mut Criterion) {
    let now = time::OffsetDateTime::now_utc();
    let params = SigningParams {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: SECRET,
        security_token: None,
        region: "us-east-1",
        service: "sts",
        time: now,
    };
    let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let mut req = Request::post("http://127.0.0.1:4566/")
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("content-length", body.len().to_string())
        .header("user-agent", "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 prompt/off command/sts.get-caller-identity")
        .body(body.clone())
        .unwrap();
    sigv4::sign(&mut req, &params).unwrap();
    let (parts, _) = req.into_parts();
    let keys = SigningKeyCache::default();

    c.bench_function("sigv4_parse_verify_sts_post", |b| {
        b.iter(|| {
            let parsed = sigv4::parse(black_box(&parts)).unwrap().unwrap();
            sigv4::verify(&parts, black_box(&body), &parsed, SECRET, now, &keys).unwrap();
        })
    });
    let parsed = sigv4::parse(&parts).unwrap().unwrap();
    c.bench_function("sigv4_verify_sts_post", |b| {
        b.iter(|| {
            sigv4::verify(
                &parts,
                black_box(&body),
                black_box(&parsed),
                SECRET,
                now,
                &keys,
            )
            .unwrap();
        })
    });
    c.bench_function("sigv4_verify_sts_post_cold_key", |b| {
        b.iter(|| {
            let cold = SigningKeyCache::default();
            sigv4::verify(&parts, black_box(&body), &parsed, SECRET, now, &cold).unwrap();
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
