//! Every SigV4 failure path, and how each is spelled per protocol family.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use http::request::Parts;
use http::{HeaderValue, Method, Request, Uri};
use palisade_protocol::sigv4::{
    self, PayloadHash, ProtocolFamily, SigV4Error, SigV4Request, SigningKeyCache, SigningParams,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);
const STS_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

fn params(service: &'static str) -> SigningParams<'static> {
    SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        security_token: None,
        region: "us-east-1",
        service,
        time: T,
    }
}

fn sts_request(body: &[u8]) -> Request<Vec<u8>> {
    let mut req = Request::builder()
        .method("POST")
        .uri("http://localhost:4566/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.to_vec())
        .unwrap();
    sigv4::sign(&mut req, &params("sts")).unwrap();
    req
}

fn parts_of(req: Request<Vec<u8>>) -> (Parts, Vec<u8>) {
    req.into_parts()
}

fn parsed(parts: &Parts) -> SigV4Request {
    sigv4::parse(parts).unwrap().unwrap()
}

fn check(parts: &Parts, body: &[u8], now: OffsetDateTime) -> Result<(), SigV4Error> {
    let req = sigv4::parse(parts)?.ok_or(SigV4Error::MissingAuthentication)?;
    sigv4::verify(parts, body, &req, SECRET, now, &SigningKeyCache::default())
}

fn with_authorization(auth: &str) -> Parts {
    let (mut parts, _) = parts_of(sts_request(STS_BODY));
    parts
        .headers
        .insert("authorization", HeaderValue::from_str(auth).unwrap());
    parts
}

#[test]
fn valid_header_request_verifies() {
    let (parts, body) = parts_of(sts_request(STS_BODY));
    assert_eq!(check(&parts, &body, T), Ok(()));
    assert_eq!(check(&parts, &body, T + Duration::minutes(15)), Ok(()));
    assert_eq!(check(&parts, &body, T - Duration::minutes(15)), Ok(()));
}

#[test]
fn no_authentication_is_none() {
    let (parts, _) = parts_of(
        Request::get("/?Action=GetCallerIdentity")
            .body(vec![])
            .unwrap(),
    );
    assert_eq!(sigv4::parse(&parts), Ok(None));
    assert_eq!(
        SigV4Error::MissingAuthentication.aws_error(ProtocolFamily::Query),
        (
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token".to_owned()
        )
    );
}

#[test]
fn skew_past_and_future() {
    let (parts, body) = parts_of(sts_request(STS_BODY));
    let err = check(&parts, &body, T + Duration::minutes(16)).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query),
        (
            403,
            "SignatureDoesNotMatch",
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)".to_owned()
        )
    );
    let (status, code, _) = err.aws_error(ProtocolFamily::Json);
    assert_eq!((status, code), (400, "InvalidSignatureException"));
    let (status, code, _) = err.aws_error(ProtocolFamily::RestXml);
    assert_eq!((status, code), (403, "RequestTimeTooSkewed"));

    let err = check(&parts, &body, T - Duration::minutes(16)).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query).2,
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T122000Z + 15 min.)"
    );
}

#[test]
fn tampered_body_and_query() {
    let (parts, _) = parts_of(sts_request(STS_BODY));
    assert_eq!(
        check(&parts, b"Action=GetCallerIdentity&Version=2011-06-16", T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );

    let mut req = Request::get("http://localhost/?Action=ListUsers&Version=2010-05-08")
        .body(vec![])
        .unwrap();
    sigv4::sign(&mut req, &params("iam")).unwrap();
    let (mut parts, body) = parts_of(req);
    assert_eq!(check(&parts, &body, T), Ok(()));
    parts.uri = Uri::from_static("http://localhost/?Action=DeleteUser&Version=2010-05-08");
    assert_eq!(
        check(&parts, &body, T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn tampered_header_and_method() {
    let (mut parts, body) = parts_of(sts_request(STS_BODY));
    parts
        .headers
        .insert("content-type", HeaderValue::from_static("application/json"));
    assert_eq!(
        check(&parts, &body, T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    let (mut parts, body) = parts_of(sts_request(STS_BODY));
    parts.method = Method::PUT;
    assert_eq!(
        check(&parts, &body, T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn content_sha256_mismatch() {
    let mut req = Request::put("http://localhost/bucket/key")
        .body(b"hello".to_vec())
        .unwrap();
    sigv4::sign(&mut req, &params("s3")).unwrap();
    let (parts, body) = parts_of(req);
    assert_eq!(check(&parts, &body, T), Ok(()));
    let err = check(&parts, b"hellO", T).unwrap_err();
    assert_eq!(err, SigV4Error::ContentSha256Mismatch);
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml).1,
        "XAmzContentSHA256Mismatch"
    );
}

#[test]
fn invalid_content_sha256_value() {
    let (mut parts, _) = parts_of(sts_request(STS_BODY));
    parts
        .headers
        .insert("x-amz-content-sha256", HeaderValue::from_static("abc"));
    assert_eq!(sigv4::parse(&parts), Err(SigV4Error::InvalidContentSha256));
}

#[test]
fn unsigned_payload_only_for_s3() {
    for (service, expect) in [
        ("s3", Ok(())),
        ("sts", Err(SigV4Error::SignatureDoesNotMatch)),
    ] {
        let mut req = Request::post("http://localhost/")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .body(b"anything".to_vec())
            .unwrap();
        sigv4::sign(&mut req, &params(service)).unwrap();
        let (parts, _) = parts_of(req);
        assert_eq!(parsed(&parts).payload, PayloadHash::Unsigned);
        assert_eq!(check(&parts, b"something else", T), expect, "{service}");
    }
}

#[test]
fn s3_requires_content_sha256_and_signed_amz_headers() {
    let mut req = Request::get("http://localhost/bucket/key")
        .body(vec![])
        .unwrap();
    sigv4::sign(&mut req, &params("s3")).unwrap();
    let (mut parts, body) = parts_of(req);
    parts
        .headers
        .insert("x-amz-acl", HeaderValue::from_static("public-read"));
    let err = check(&parts, &body, T).unwrap_err();
    assert_eq!(err, SigV4Error::UnsignedAmzHeaders);
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml),
        (
            403,
            "AccessDenied",
            "There were headers present in the request which were not signed".to_owned()
        )
    );
    parts.headers.remove("x-amz-acl");
    parts.headers.remove("x-amz-content-sha256");
    assert_eq!(sigv4::parse(&parts), Err(SigV4Error::MissingContentSha256));
}

#[test]
fn bad_scope_date() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let parts = with_authorization(auth);
    let err = check(&parts, STS_BODY, T).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query),
        (
            403,
            "SignatureDoesNotMatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.".to_owned()
        )
    );
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml).1,
        "AuthorizationHeaderMalformed"
    );
}

#[test]
fn wrong_terminator_region_and_shape() {
    let base = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws5_request, SignedHeaders=host;x-amz-date, Signature=00";
    let err = check(&with_authorization(base), STS_BODY, T).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query).2,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    let bad_region = base.replace("us-east-1", "US EAST").replace("aws5", "aws4");
    assert!(matches!(
        check(&with_authorization(&bad_region), STS_BODY, T),
        Err(SigV4Error::InvalidRegion { .. })
    ));
    let short = base.replace("/aws5_request", "");
    let err = check(&with_authorization(&short), STS_BODY, T).unwrap_err();
    assert!(matches!(err, SigV4Error::MalformedCredential { .. }));
    assert_eq!(
        err.aws_error(ProtocolFamily::Query).1,
        "IncompleteSignature"
    );
}

#[test]
fn missing_authorization_params() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request";
    let err = check(&with_authorization(auth), STS_BODY, T).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query),
        (
            400,
            "IncompleteSignature",
            format!("Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={auth}")
        )
    );
    assert_eq!(
        err.aws_error(ProtocolFamily::Json).1,
        "IncompleteSignatureException"
    );
    // A non-AWS scheme is reported the same way, with the date check.
    let (mut parts, _) = parts_of(Request::get("/").body(vec![]).unwrap());
    parts
        .headers
        .insert("authorization", HeaderValue::from_static("Bearer abc"));
    assert_eq!(
        sigv4::parse(&parts).unwrap_err().aws_error(ProtocolFamily::RestJson),
        (
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc".to_owned()
        )
    );
}

#[test]
fn malformed_pair_and_duplicates() {
    let auth = "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00";
    let err = check(&with_authorization(auth), STS_BODY, T).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Json).2,
        format!("'Credential AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'.")
    );
    let dup = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, Credential=X/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00";
    assert_eq!(
        check(&with_authorization(dup), STS_BODY, T),
        Err(SigV4Error::DuplicateParameter {
            name: "Credential".to_owned()
        })
    );
    let (mut parts, _) = parts_of(sts_request(STS_BODY));
    parts.headers.append(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 x=y"),
    );
    assert!(matches!(
        sigv4::parse(&parts),
        Err(SigV4Error::DuplicateParameter { .. })
    ));
}

#[test]
fn unsupported_algorithm() {
    let err = check(&with_authorization("AWS AKIDEXAMPLE:abc"), STS_BODY, T).unwrap_err();
    assert!(matches!(err, SigV4Error::UnsupportedAlgorithm { .. }));
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml),
        (
            400,
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".to_owned()
        )
    );
}

#[test]
fn host_must_be_signed() {
    let mut req = Request::post("http://localhost/")
        .body(STS_BODY.to_vec())
        .unwrap();
    sigv4::sign(&mut req, &params("sts")).unwrap();
    let (mut parts, body) = parts_of(req);
    let auth = parts.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("SignedHeaders=host;", "SignedHeaders=");
    parts
        .headers
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(check(&parts, &body, T), Err(SigV4Error::HostNotSigned));
}

#[test]
fn malformed_date() {
    let (mut parts, body) = parts_of(sts_request(STS_BODY));
    parts.headers.insert(
        "x-amz-date",
        HeaderValue::from_static("2015-08-30T12:36:00Z"),
    );
    let err = check(&parts, &body, T).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query).2,
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    // No date at all.
    parts.headers.remove("x-amz-date");
    assert!(matches!(
        sigv4::parse(&parts),
        Err(SigV4Error::MissingAuthorizationParams {
            missing_date: true,
            ..
        })
    ));
}

#[test]
fn date_header_fallback() {
    let mut req = Request::post("http://localhost/")
        .body(STS_BODY.to_vec())
        .unwrap();
    sigv4::sign(&mut req, &params("sts")).unwrap();
    let (mut parts, _) = parts_of(req);
    parts.headers.remove("x-amz-date");
    parts.headers.insert(
        "date",
        HeaderValue::from_static("Sun, 30 Aug 2015 12:36:00 GMT"),
    );
    assert_eq!(parsed(&parts).amz_date, T);
}

fn presigned(service: &'static str, uri: &str, expires: u32) -> Parts {
    let url = sigv4::presign_url(
        &Method::GET,
        &uri.parse().unwrap(),
        &params(service),
        expires,
    )
    .unwrap();
    let (parts, _) = parts_of(
        Request::get(
            url.parse::<Uri>()
                .unwrap()
                .path_and_query()
                .unwrap()
                .as_str(),
        )
        .header("host", "localhost:4566")
        .body(vec![])
        .unwrap(),
    );
    parts
}

#[test]
fn presigned_window() {
    let parts = presigned(
        "sts",
        "http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15",
        900,
    );
    let req = parsed(&parts);
    assert_eq!(req.presigned_expires, Some(900));
    assert_eq!(check(&parts, b"", T + Duration::seconds(900)), Ok(()));
    let err = check(&parts, b"", T + Duration::seconds(901)).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query).2,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T125101Z - 15 min.)"
    );
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml),
        (403, "AccessDenied", "Request has expired".to_owned())
    );
    assert!(matches!(
        check(&parts, b"", T - Duration::minutes(16)),
        Err(SigV4Error::PresignedNotYetValid { .. })
    ));
    // A long-lived URL stays valid past the 15-minute header skew.
    let parts = presigned("s3", "http://localhost:4566/bucket/key", 604_800);
    assert_eq!(check(&parts, b"", T + Duration::days(6)), Ok(()));
}

#[test]
fn presigned_expires_limits() {
    let parts = presigned("s3", "http://localhost:4566/bucket/key", 604_801);
    let err = sigv4::parse(&parts).unwrap_err();
    assert_eq!(err, SigV4Error::ExpiresTooLarge);
    assert_eq!(
        err.aws_error(ProtocolFamily::RestXml),
        (
            400,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds"
                .to_owned()
        )
    );
    let (parts, _) = parts_of(
        Request::get("/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=00")
            .body(vec![])
            .unwrap(),
    );
    assert!(matches!(
        sigv4::parse(&parts),
        Err(SigV4Error::InvalidExpires { .. })
    ));
}

#[test]
fn presigned_tampered_query() {
    let parts = presigned(
        "sts",
        "http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15",
        60,
    );
    assert_eq!(check(&parts, b"", T), Ok(()));
    let mut tampered = parts.clone();
    let pq = parts
        .uri
        .path_and_query()
        .unwrap()
        .as_str()
        .replace("Action=GetCallerIdentity", "Action=GetSessionToken");
    tampered.uri = pq.parse().unwrap();
    assert_eq!(
        check(&tampered, b"", T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    let pq = parts
        .uri
        .path_and_query()
        .unwrap()
        .as_str()
        .replace("X-Amz-Expires=60", "X-Amz-Expires=600");
    tampered.uri = pq.parse().unwrap();
    assert_eq!(
        check(&tampered, b"", T),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
}

#[test]
fn presigned_missing_and_duplicate_params() {
    let (parts, _) = parts_of(
        Request::get("/?Action=GetCallerIdentity&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z")
            .body(vec![])
            .unwrap(),
    );
    let err = sigv4::parse(&parts).unwrap_err();
    assert_eq!(
        err.aws_error(ProtocolFamily::Query),
        (
            400,
            "IncompleteSignature",
            "AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the query-string parameters.".to_owned()
        )
    );
    let parts = presigned("sts", "http://localhost:4566/?Action=GetCallerIdentity", 60);
    let mut dup = parts.clone();
    dup.uri = format!(
        "{}&X-Amz-Date=20150830T123600Z",
        parts.uri.path_and_query().unwrap()
    )
    .parse()
    .unwrap();
    assert_eq!(
        sigv4::parse(&dup),
        Err(SigV4Error::DuplicateParameter {
            name: "X-Amz-Date".to_owned()
        })
    );
    let mut both = parts;
    both.headers.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"),
    );
    assert_eq!(
        sigv4::parse(&both),
        Err(SigV4Error::ConflictingAuthentication)
    );
}

#[test]
fn presigned_with_session_token() {
    let mut p = params("sts");
    p.security_token = Some("FQoGZXIvYXdzE//token+/=");
    let url = sigv4::presign_url(
        &Method::GET,
        &"http://localhost:4566/?Action=GetCallerIdentity&Version=2011-06-15"
            .parse()
            .unwrap(),
        &p,
        900,
    )
    .unwrap();
    let (parts, _) = parts_of(Request::get(url).body(vec![]).unwrap());
    let req = parsed(&parts);
    assert_eq!(
        req.security_token.as_deref(),
        Some("FQoGZXIvYXdzE//token+/=")
    );
    assert_eq!(check(&parts, b"", T), Ok(()));
}

fn streaming_request(payload: &[u8], chunk: usize) -> (Parts, Vec<u8>, SigV4Request) {
    let mut req = Request::put("http://localhost/bucket/key")
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", payload.len().to_string())
        .body(Vec::new())
        .unwrap();
    let seed = sigv4::sign(&mut req, &params("s3")).unwrap();
    let body = sigv4::sign_chunked_body(payload, chunk, &seed, &params("s3"));
    let (parts, _) = parts_of(req);
    let parsed = parsed(&parts);
    (parts, body, parsed)
}

fn decode(body: &[u8], req: &SigV4Request) -> Result<Vec<u8>, SigV4Error> {
    sigv4::decode_streaming_body(body, req, SECRET, &SigningKeyCache::default())
}

#[test]
fn streaming_round_trip() {
    let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let (parts, body, req) = streaming_request(&payload, 8192);
    assert_eq!(req.payload, PayloadHash::Streaming);
    assert_eq!(check(&parts, &body, T), Ok(()));
    assert_eq!(decode(&body, &req).unwrap(), payload);
    // Empty payload: only the final chunk.
    let (_, body, req) = streaming_request(b"", 8192);
    assert_eq!(decode(&body, &req).unwrap(), b"");
}

#[test]
fn streaming_tampering() {
    let payload = vec![7u8; 10_000];
    let (_, body, req) = streaming_request(&payload, 4096);

    // Flip one payload byte in the second chunk.
    let mut flipped = body.clone();
    let second = flipped.windows(2).position(|w| w == b"\r\n").unwrap() + 2 + 4096 + 100;
    let pos = second + 90;
    flipped[pos] ^= 1;
    assert_eq!(
        decode(&flipped, &req),
        Err(SigV4Error::ChunkSignatureMismatch)
    );

    // Truncated anywhere: never Ok.
    for cut in [1, 50, 4000, body.len() - 90, body.len() - 2, body.len() - 1] {
        let err = decode(&body[..cut], &req).unwrap_err();
        assert!(
            matches!(err, SigV4Error::IncompleteBody | SigV4Error::MalformedChunk),
            "cut {cut}: {err:?}"
        );
    }

    // Final 0-length chunk dropped.
    let last = body.len() - (2 + 64 + 2 + 2 + "0;chunk-signature=".len());
    assert_eq!(decode(&body[..last], &req), Err(SigV4Error::IncompleteBody));

    // Trailing garbage after the terminator.
    let mut extra = body.clone();
    extra.extend_from_slice(b"junk");
    assert_eq!(decode(&extra, &req), Err(SigV4Error::MalformedChunk));

    // Chunk declared larger than the body.
    let mut oversized = body.clone();
    oversized[..4].copy_from_slice(b"ffff");
    assert_eq!(decode(&oversized, &req), Err(SigV4Error::IncompleteBody));

    // Size that is not hex / absurdly long.
    let mut bad = body.clone();
    bad[0] = b'g';
    assert_eq!(decode(&bad, &req), Err(SigV4Error::MalformedChunk));
    let mut huge = b"fffffffffffffffff;chunk-signature=".to_vec();
    huge.extend_from_slice(&[b'0'; 64]);
    huge.extend_from_slice(b"\r\n");
    assert_eq!(decode(&huge, &req), Err(SigV4Error::MalformedChunk));

    // Chunks reordered: the chain breaks.
    let (_, body2, req2) = streaming_request(&payload, 4096);
    assert_eq!(body2, body, "signing is deterministic");
    let mut wrong_seed = req2;
    wrong_seed.signature = "0".repeat(64);
    assert_eq!(
        decode(&body, &wrong_seed),
        Err(SigV4Error::ChunkSignatureMismatch)
    );
}

#[test]
fn streaming_decoded_length() {
    let (_, body, mut req) = streaming_request(b"hello world", 4);
    req.decoded_content_length = Some(12);
    let err = decode(&body, &req).unwrap_err();
    assert_eq!(err, SigV4Error::DecodedLengthMismatch);
    assert_eq!(err.aws_error(ProtocolFamily::RestXml).1, "IncompleteBody");
    req.payload = PayloadHash::FromBody;
    assert_eq!(decode(&body, &req), Err(SigV4Error::NotStreaming));
}

#[test]
fn unsigned_trailer_decodes() {
    let mut req = Request::put("http://localhost/bucket/key")
        .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        .header("x-amz-trailer", "x-amz-checksum-crc32")
        .header("x-amz-decoded-content-length", "11")
        .body(Vec::new())
        .unwrap();
    sigv4::sign(&mut req, &params("s3")).unwrap();
    let (parts, _) = parts_of(req);
    let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    assert_eq!(check(&parts, body, T), Ok(()));
    let r = parsed(&parts);
    assert_eq!(decode(body, &r).unwrap(), b"hello world");
    assert_eq!(
        decode(&body[..body.len() - 2], &r),
        Err(SigV4Error::IncompleteBody)
    );
}

#[test]
fn caller_reported_errors_per_family() {
    use ProtocolFamily::*;
    let table: &[(SigV4Error, ProtocolFamily, u16, &str)] = &[
        (
            SigV4Error::UnknownAccessKey,
            Query,
            403,
            "InvalidClientTokenId",
        ),
        (
            SigV4Error::UnknownAccessKey,
            Json,
            400,
            "UnrecognizedClientException",
        ),
        (
            SigV4Error::UnknownAccessKey,
            RestXml,
            403,
            "InvalidAccessKeyId",
        ),
        (
            SigV4Error::UnknownAccessKey,
            RestJson,
            403,
            "UnrecognizedClientException",
        ),
        (SigV4Error::ExpiredToken, Query, 403, "ExpiredToken"),
        (SigV4Error::ExpiredToken, Json, 400, "ExpiredTokenException"),
        (SigV4Error::ExpiredToken, RestXml, 400, "ExpiredToken"),
        (SigV4Error::InvalidToken, RestXml, 400, "InvalidToken"),
        (
            SigV4Error::SignatureDoesNotMatch,
            Query,
            403,
            "SignatureDoesNotMatch",
        ),
        (
            SigV4Error::SignatureDoesNotMatch,
            Json,
            400,
            "InvalidSignatureException",
        ),
        (
            SigV4Error::SignatureDoesNotMatch,
            RestXml,
            403,
            "SignatureDoesNotMatch",
        ),
        (
            SigV4Error::MissingAuthentication,
            Json,
            400,
            "MissingAuthenticationTokenException",
        ),
    ];
    for (err, family, status, code) in table {
        let (s, c, _) = err.aws_error(*family);
        assert_eq!((s, c), (*status, *code), "{err:?} {family:?}");
    }
    assert_eq!(
        SigV4Error::UnknownAccessKey.aws_error(Query).2,
        "The security token included in the request is invalid."
    );
    assert_eq!(
        SigV4Error::ExpiredToken.aws_error(Query).2,
        "The security token included in the request is expired"
    );
    assert_eq!(
        SigV4Error::SignatureDoesNotMatch.aws_error(Query).2,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    );
}

#[test]
fn messages_never_leak_the_expected_signature() {
    let (parts, body) = parts_of(sts_request(STS_BODY));
    let good = parsed(&parts).signature;
    let mut req = parsed(&parts);
    req.signature = "0".repeat(64);
    let err =
        sigv4::verify(&parts, &body, &req, SECRET, T, &SigningKeyCache::default()).unwrap_err();
    for family in [
        ProtocolFamily::Query,
        ProtocolFamily::Json,
        ProtocolFamily::RestXml,
        ProtocolFamily::RestJson,
    ] {
        let (_, _, msg) = err.aws_error(family);
        assert!(!msg.contains(&good) && !msg.contains(SECRET), "{msg}");
    }
}

#[test]
fn signing_key_cache_is_bounded() {
    let cache = SigningKeyCache::with_capacity(2);
    let (parts, body) = parts_of(sts_request(STS_BODY));
    let req = parsed(&parts);
    for secret in ["a", "b", "c", SECRET] {
        let _ = sigv4::verify(&parts, &body, &req, secret, T, &cache);
        assert!(cache.len() <= 2);
    }
    assert_eq!(
        sigv4::verify(&parts, &body, &req, SECRET, T, &cache),
        Ok(())
    );
}
