//! Canonical request and string-to-sign construction, shared by the verifier and the
//! client-side signer so the two can never disagree.
//!
//! Everything here works on the request as it arrived on the wire (already
//! percent-encoded path and query), and re-canonicalises it the way AWS does.

use aws_lc_rs::digest;
use http::HeaderMap;

use super::{ALGORITHM, TERMINATOR};

/// Hex-encoded SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// AWS `UriEncode`: every byte except the unreserved set becomes `%XX` (upper-case hex).
/// `/` is kept when `keep_slash`.
pub(crate) fn uri_encode_into(out: &mut String, input: &[u8], keep_slash: bool) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_pct(out, b);
        }
    }
}

pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut s = String::with_capacity(input.len() + input.len() / 2);
    uri_encode_into(&mut s, input, keep_slash);
    s
}

fn push_pct(out: &mut String, b: u8) {
    out.push('%');
    out.push(hex_digit_upper(b >> 4));
    out.push(hex_digit_upper(b & 0x0f));
}

fn hex_digit_upper(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'A' + (n - 10) })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `input`; `+` stays a literal `+` (AWS does not treat it as a space)
/// and an invalid escape is kept as-is.
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_val),
                input.get(i + 2).copied().and_then(hex_val),
            ) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// RFC 3986 remove_dot_segments plus AWS's removal of empty segments, keeping a leading
/// and a trailing slash (the same algorithm botocore and aws-c-auth use).
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI.
///
/// Every service except S3 normalises the path and then URI-encodes the wire path once
/// more (so `%20` on the wire is `%2520` in the canonical request). S3 neither
/// normalises nor double-encodes: its canonical path is the wire path with each byte
/// put into AWS's canonical escaping (an escape of an unreserved character is decoded,
/// any other escape is kept, a raw reserved byte is escaped).
pub fn canonical_uri(wire_path: &str, service: &str) -> String {
    if is_s3(service) {
        let bytes = wire_path.as_bytes();
        let mut out = String::with_capacity(bytes.len() + 8);
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'%' {
                if let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex_val),
                    bytes.get(i + 2).copied().and_then(hex_val),
                ) {
                    let v = (h << 4) | l;
                    if is_unreserved(v) {
                        out.push(char::from(v));
                    } else {
                        push_pct(&mut out, v);
                    }
                    i += 3;
                    continue;
                }
            }
            if is_unreserved(b) || b == b'/' {
                out.push(char::from(b));
            } else {
                push_pct(&mut out, b);
            }
            i += 1;
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    } else {
        uri_encode(normalize_path(wire_path).as_bytes(), true)
    }
}

pub(crate) fn is_s3(service: &str) -> bool {
    service == "s3"
}

/// Splits a raw query string into decoded `(key, value)` byte pairs, in order.
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    raw_query.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k.as_bytes()), percent_decode(v.as_bytes()))
    })
}

/// The canonical query string: every parameter decoded then strictly re-encoded, sorted
/// by encoded key then encoded value. `skip_signature` drops `X-Amz-Signature`
/// (presigned requests).
pub fn canonical_query(raw_query: Option<&str>, skip_signature: bool) -> String {
    let Some(raw) = raw_query else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = query_pairs(raw)
        .filter(|(k, _)| !(skip_signature && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims a header value and collapses runs of spaces to one, as AWS does.
fn push_trimmed_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut prev_space = false;
    let start = out.len();
    for &b in value.trim_ascii() {
        // Line folding has already been undone by the HTTP parser; tabs count as
        // whitespace for trimming only.
        if b == b' ' {
            if !prev_space {
                out.push(b);
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
    debug_assert!(out.len() >= start);
}

/// Appends `name:value[,value...]\n` for each signed header, in the order given.
/// A signed `host` that is not in the header map (HTTP/2) falls back to `authority`.
pub(crate) fn canonical_headers_into(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    authority: Option<&str>,
    signed_headers: &[String],
) {
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut any = false;
        for (i, v) in headers.get_all(name.as_str()).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed_value(out, v.as_bytes());
            any = true;
        }
        if !any && name == "host" {
            if let Some(a) = authority {
                push_trimmed_value(out, a.as_bytes());
            }
        }
        out.push(b'\n');
    }
}

/// Everything that goes into a canonical request, already resolved.
pub(crate) struct CanonicalInput<'a> {
    pub method: &'a str,
    pub wire_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub authority: Option<&'a str>,
    pub signed_headers: &'a [String],
    pub payload_hash: &'a str,
    pub service: &'a str,
    pub presigned: bool,
}

/// Builds the canonical request. Header values may be arbitrary bytes, so the result is
/// bytes; it is valid UTF-8 whenever the header values are.
pub(crate) fn build_canonical_request(input: &CanonicalInput<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(input.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(input.wire_path, input.service).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(input.raw_query, input.presigned).as_bytes());
    out.push(b'\n');
    canonical_headers_into(
        &mut out,
        input.headers,
        input.authority,
        input.signed_headers,
    );
    out.push(b'\n');
    for (i, h) in input.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(h.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash.as_bytes());
    out
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex(sha256(canonical request))>`.
pub(crate) fn build_string_to_sign(
    amz_date: &str,
    date: &str,
    region: &str,
    service: &str,
    canonical_request: &[u8],
) -> String {
    let mut s = String::with_capacity(160);
    s.push_str(ALGORITHM);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    push_scope(&mut s, date, region, service);
    s.push('\n');
    s.push_str(&sha256_hex(canonical_request));
    s
}

pub(crate) fn push_scope(s: &mut String, date: &str, region: &str, service: &str) {
    s.push_str(date);
    s.push('/');
    s.push_str(region);
    s.push('/');
    s.push_str(service);
    s.push('/');
    s.push_str(TERMINATOR);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        for (input, want) in [
            ("", "/"),
            ("/", "/"),
            ("/./", "/"),
            ("//example//", "/example/"),
            ("/example1/example2/../..", "/"),
            ("/example/..", "/"),
            ("/a/./b/../c", "/a/c"),
            ("/../..", "/"),
        ] {
            assert_eq!(normalize_path(input), want, "{input}");
        }
    }

    #[test]
    fn canonical_uri_double_encodes_except_s3() {
        assert_eq!(
            canonical_uri("/example%20space/", "sts"),
            "/example%2520space/"
        );
        assert_eq!(
            canonical_uri("/example%20space/", "s3"),
            "/example%20space/"
        );
        assert_eq!(canonical_uri("/a//b/../c", "s3"), "/a//b/../c");
        assert_eq!(canonical_uri("/a%2Fb%7e", "s3"), "/a%2Fb~");
        assert_eq!(canonical_uri("/a b", "s3"), "/a%20b");
        assert_eq!(canonical_uri("", "s3"), "/");
    }

    #[test]
    fn canonical_query_sorts_and_reencodes() {
        assert_eq!(canonical_query(Some("b=2&a=1&a=0"), false), "a=0&a=1&b=2");
        assert_eq!(canonical_query(Some("k&x=a+b%2f"), false), "k=&x=a%2Bb%2F");
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=abc&A=1"), true),
            "A=1"
        );
        assert_eq!(canonical_query(None, false), "");
        assert_eq!(canonical_query(Some("&&"), false), "");
    }

    #[test]
    fn header_value_trim() {
        let mut out = Vec::new();
        push_trimmed_value(&mut out, b"  \"a   b   c\"  ");
        assert_eq!(out, b"\"a b c\"");
    }
}
