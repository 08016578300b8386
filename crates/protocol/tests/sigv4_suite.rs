//! AWS's published SigV4 test suite (tests/sigv4/aws4_testsuite), run server side
//! (parse, canonical request, string to sign, verify) and client side (sign).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use http::{HeaderName, HeaderValue, Request};
use palisade_protocol::sigv4::{self, SigV4Error, SigningKeyCache, SigningParams};
use time::macros::datetime;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Cases a real HTTP request cannot carry verbatim, with the reason and where the rule
/// they check is covered instead.
const SKIPPED: &[(&str, &str)] = &[(
    "get-space",
    "a raw space is not a valid request-target; covered by canonical_uri unit tests",
)];

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4/aws4_testsuite")
}

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if path.join(format!("{name}.req")).exists() {
                out.push(path.clone());
            }
            cases(&path, out);
        }
    }
}

/// Parses a `.req`/`.sreq` file. A folded header line (leading whitespace) continues the
/// previous header's value, joined by a space, as an HTTP/1.1 parser unfolds obs-fold.
fn parse_raw(raw: &str) -> (Request<Vec<u8>>, Vec<u8>) {
    let (head, body) = match raw.split_once("\n\n") {
        Some((h, b)) => (h, b.as_bytes().to_vec()),
        None => (raw, Vec::new()),
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (target, _version) = rest.rsplit_once(' ').unwrap();
    let mut builder = Request::builder().method(method).uri(target);
    let mut headers: Vec<(HeaderName, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let (_, value) = headers.last_mut().unwrap();
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').unwrap();
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        headers.push((name, value.to_owned()));
    }
    for (name, value) in headers {
        builder = builder.header(name, HeaderValue::from_str(&value).unwrap());
    }
    (builder.body(body.clone()).unwrap(), body)
}

fn read(path: &Path, ext: &str) -> String {
    let name = path.file_name().unwrap().to_str().unwrap();
    std::fs::read_to_string(path.join(format!("{name}.{ext}")))
        .unwrap()
        .replace('\r', "")
}

#[test]
fn aws_sigv4_test_suite() {
    let mut dirs = Vec::new();
    cases(&suite_dir(), &mut dirs);
    dirs.sort();
    assert!(dirs.len() >= 30, "suite not found: {}", dirs.len());
    let keys = SigningKeyCache::default();
    let now = datetime!(2015-08-30 12:36:00 UTC);
    let mut passed = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        if let Some((_, why)) = SKIPPED.iter().find(|(n, _)| *n == name) {
            eprintln!("skip {name}: {why}");
            continue;
        }
        let creq = read(dir, "creq");
        let sts = read(dir, "sts");
        let authz = read(dir, "authz");

        // Server side: the signed request parses, canonicalises and verifies. The
        // Authorization header comes from `.authz`: in this copy of the suite,
        // get-vanilla-with-session-token's `.sreq` carries get-vanilla's signature while
        // its `.authz`, `.creq` and `.sts` agree with each other.
        let (signed, body) = parse_raw(&read(dir, "sreq"));
        let (mut parts, _) = signed.into_parts();
        parts
            .headers
            .insert("authorization", HeaderValue::from_str(&authz).unwrap());
        let session_token = parts
            .headers
            .get("x-amz-security-token")
            .map(|v| v.to_str().unwrap().to_owned());
        let req = sigv4::parse(&parts)
            .unwrap_or_else(|e| panic!("{name}: parse: {e:?}"))
            .unwrap_or_else(|| panic!("{name}: no auth found"));
        assert_eq!(req.access_key_id, "AKIDEXAMPLE", "{name}");
        let got_creq = sigv4::canonical_request(&parts, &body, &req).unwrap();
        assert_eq!(got_creq, creq, "{name}: canonical request");
        assert_eq!(
            sigv4::string_to_sign(&req, &got_creq),
            sts,
            "{name}: string to sign"
        );
        sigv4::verify(&parts, &body, &req, SECRET, now, &keys)
            .unwrap_or_else(|e| panic!("{name}: verify: {e:?}"));
        assert_eq!(
            sigv4::verify(&parts, &body, &req, "wrong-secret", now, &keys),
            Err(SigV4Error::SignatureDoesNotMatch),
            "{name}: wrong secret"
        );
        let mut tampered = req.clone();
        let last = tampered.signature.pop().unwrap();
        tampered.signature.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            sigv4::verify(&parts, &body, &tampered, SECRET, now, &keys),
            Err(SigV4Error::SignatureDoesNotMatch),
            "{name}: tampered signature"
        );

        // Client side: signing the unsigned request reproduces the Authorization header.
        let (mut unsigned, _) = parse_raw(&read(dir, "req"));
        let token_signed = creq.contains("\nx-amz-security-token:")
            && !unsigned.headers().contains_key("x-amz-security-token");
        let params = SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: SECRET,
            security_token: session_token.as_deref().filter(|_| token_signed),
            region: "us-east-1",
            service: "service",
            time: now,
        };
        sigv4::sign(&mut unsigned, &params).unwrap();
        assert_eq!(
            unsigned.headers()["authorization"].to_str().unwrap(),
            authz,
            "{name}: sign"
        );
        passed.push(name);
    }
    eprintln!("{} vectors passed: {}", passed.len(), passed.join(", "));
    assert_eq!(passed.len() + SKIPPED.len(), dirs.len());
}
