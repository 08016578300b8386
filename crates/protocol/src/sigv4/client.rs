//! Client-side signing, for tests, benchmarks and end-to-end tooling. Shares the
//! canonicalisation code with the verifier.

use aws_lc_rs::hmac;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use time::OffsetDateTime;

use super::canonical::{
    build_canonical_request, build_string_to_sign, is_s3, push_scope, sha256_hex, uri_encode,
    CanonicalInput, EMPTY_SHA256,
};
use super::{
    derive_signing_key, format_amz_date, format_scope_date, CredentialScope, SigV4Error, ALGORITHM,
    STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    UNSIGNED_PAYLOAD,
};

/// Credentials and scope for signing.
#[derive(Debug, Clone)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials; sent as `X-Amz-Security-Token`, signed.
    pub security_token: Option<&'a str>,
    /// Region of the scope.
    pub region: &'a str,
    /// Service signing name.
    pub service: &'a str,
    /// Signing time.
    pub time: OffsetDateTime,
}

impl SigningParams<'_> {
    fn scope(&self) -> CredentialScope {
        CredentialScope {
            date: format_scope_date(self.time),
            region: self.region.to_owned(),
            service: self.service.to_owned(),
        }
    }
}

/// Headers botocore never signs.
const UNSIGNED_HEADERS: [&str; 6] = [
    "authorization",
    "user-agent",
    "expect",
    "transfer-encoding",
    "x-amzn-trace-id",
    "connection",
];

fn bad_input(name: &str) -> SigV4Error {
    SigV4Error::MissingAuthorizationParams {
        missing: Vec::new(),
        missing_date: false,
        authorization: format!("<client input: invalid {name}>"),
    }
}

/// Signs `request` in place the way botocore does: sets `host` (from the URI when
/// absent), `x-amz-date`, `x-amz-security-token` (when given), for S3
/// `x-amz-content-sha256`, and `Authorization`, signing every header except the usual
/// hop-by-hop and user-agent ones.
///
/// A pre-set `x-amz-content-sha256` keyword (`UNSIGNED-PAYLOAD`, `STREAMING-...`) is
/// honoured; the returned string is the signature (the seed for [`sign_chunked_body`]).
pub fn sign<B: AsRef<[u8]>>(
    request: &mut http::Request<B>,
    params: &SigningParams<'_>,
) -> Result<String, SigV4Error> {
    let amz_date = format_amz_date(params.time);
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    let headers = request.headers_mut();
    headers.remove(AUTHORIZATION);
    if !headers.contains_key(HOST) {
        let host = authority.as_deref().ok_or_else(|| bad_input("host"))?;
        headers.insert(
            HOST,
            HeaderValue::from_str(host).map_err(|_| bad_input("host"))?,
        );
    }
    headers.insert(
        HeaderName::from_static("x-amz-date"),
        HeaderValue::from_str(&amz_date).map_err(|_| bad_input("date"))?,
    );
    if let Some(token) = params.security_token {
        headers.insert(
            HeaderName::from_static("x-amz-security-token"),
            HeaderValue::from_str(token).map_err(|_| bad_input("security token"))?,
        );
    }
    let preset = request
        .headers()
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            matches!(
                *v,
                UNSIGNED_PAYLOAD
                    | STREAMING_PAYLOAD
                    | STREAMING_PAYLOAD_TRAILER
                    | STREAMING_UNSIGNED_PAYLOAD_TRAILER
            )
        })
        .map(str::to_owned);
    let payload_hash = match preset {
        Some(k) => k,
        None => sha256_hex(request.body().as_ref()),
    };
    if is_s3(params.service) && !request.headers().contains_key("x-amz-content-sha256") {
        request.headers_mut().insert(
            HeaderName::from_static("x-amz-content-sha256"),
            HeaderValue::from_str(&payload_hash).map_err(|_| bad_input("payload hash"))?,
        );
    }
    let mut signed_headers: Vec<String> = request
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| !UNSIGNED_HEADERS.contains(&k.as_str()))
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();

    let scope = params.scope();
    let creq = build_canonical_request(&CanonicalInput {
        method: request.method().as_str(),
        wire_path: request.uri().path(),
        raw_query: request.uri().query(),
        headers: request.headers(),
        authority: authority.as_deref(),
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
        service: params.service,
        presigned: false,
    });
    let sts = build_string_to_sign(&amz_date, &scope.date, params.region, params.service, &creq);
    let key = derive_signing_key(params.secret_access_key, &scope);
    let signature = hex::encode(hmac::sign(&key, sts.as_bytes()).as_ref());

    let mut auth = String::with_capacity(200);
    auth.push_str(ALGORITHM);
    auth.push_str(" Credential=");
    auth.push_str(params.access_key_id);
    auth.push('/');
    push_scope(&mut auth, &scope.date, params.region, params.service);
    auth.push_str(", SignedHeaders=");
    auth.push_str(&signed_headers.join(";"));
    auth.push_str(", Signature=");
    auth.push_str(&signature);
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&auth).map_err(|_| bad_input("access key id"))?,
    );
    Ok(signature)
}

/// A presigned URL for `method uri` valid for `expires_in` seconds, signing only `host`
/// (the form `generate_presigned_url` produces). S3 URLs sign `UNSIGNED-PAYLOAD`; other
/// services sign the empty body.
pub fn presign_url(
    method: &http::Method,
    uri: &http::Uri,
    params: &SigningParams<'_>,
    expires_in: u32,
) -> Result<String, SigV4Error> {
    let authority = uri.authority().ok_or_else(|| bad_input("host"))?.as_str();
    let amz_date = format_amz_date(params.time);
    let scope = params.scope();
    let mut credential = String::with_capacity(64);
    credential.push_str(params.access_key_id);
    credential.push('/');
    push_scope(&mut credential, &scope.date, params.region, params.service);

    let mut query = uri.query().unwrap_or_default().to_owned();
    let mut add = |k: &str, v: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&uri_encode(v.as_bytes(), false));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &credential);
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires_in.to_string());
    add("X-Amz-SignedHeaders", "host");
    if let Some(token) = params.security_token {
        add("X-Amz-Security-Token", token);
    }

    let mut headers = http::HeaderMap::new();
    headers.insert(
        HOST,
        HeaderValue::from_str(authority).map_err(|_| bad_input("host"))?,
    );
    let signed_headers = ["host".to_owned()];
    let payload_hash = if is_s3(params.service) {
        UNSIGNED_PAYLOAD
    } else {
        EMPTY_SHA256
    };
    let creq = build_canonical_request(&CanonicalInput {
        method: method.as_str(),
        wire_path: uri.path(),
        raw_query: Some(&query),
        headers: &headers,
        authority: Some(authority),
        signed_headers: &signed_headers,
        payload_hash,
        service: params.service,
        presigned: true,
    });
    let sts = build_string_to_sign(&amz_date, &scope.date, params.region, params.service, &creq);
    let key = derive_signing_key(params.secret_access_key, &scope);
    let signature = hex::encode(hmac::sign(&key, sts.as_bytes()).as_ref());
    let scheme = uri.scheme_str().unwrap_or("http");
    let path = if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    };
    Ok(format!(
        "{scheme}://{authority}{path}?{query}&X-Amz-Signature={signature}"
    ))
}

/// Encodes `payload` as a signed aws-chunked body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`)
/// in chunks of `chunk_size` bytes, chaining from `seed_signature` (what [`sign`]
/// returned for a request whose `x-amz-content-sha256` was preset to the keyword).
pub fn sign_chunked_body(
    payload: &[u8],
    chunk_size: usize,
    seed_signature: &str,
    params: &SigningParams<'_>,
) -> Vec<u8> {
    let scope = params.scope();
    let key = derive_signing_key(params.secret_access_key, &scope);
    let amz_date = format_amz_date(params.time);
    let mut scope_str = String::new();
    push_scope(&mut scope_str, &scope.date, params.region, params.service);
    let mut prev = seed_signature.to_owned();
    let mut out = Vec::with_capacity(payload.len() + 128);
    let chunk_size = chunk_size.max(1);
    let chunks = payload.chunks(chunk_size).chain(std::iter::once(&[][..]));
    for chunk in chunks {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope_str}\n{prev}\n{EMPTY_SHA256}\n{}",
            sha256_hex(chunk)
        );
        let sig = hex::encode(hmac::sign(&key, sts.as_bytes()).as_ref());
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    out
}
