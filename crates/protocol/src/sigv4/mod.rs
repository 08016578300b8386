//! AWS Signature Version 4 verification, exactly as AWS performs it.
//!
//! [`parse`] reads the authentication a request carries (Authorization header or
//! presigned query string) so the caller can route by service and look up the access
//! key; [`verify`] then checks scope, clock, payload hash and signature against the
//! secret; [`decode_streaming_body`] checks and strips `aws-chunked` framing. [`sign`]
//! and [`presign_url`] are the client side, for tests and tooling.
//!
//! This module must never do IO, block, or know about any service beyond the URI
//! encoding rule S3 is exempt from. Failures are [`SigV4Error`]s, mapped to AWS's wire
//! errors in one place ([`SigV4Error::aws_error`]); no error ever carries the expected
//! signature or anything derived from the secret.

mod canonical;
mod chunked;
mod client;
mod error;

use std::collections::HashMap;
use std::sync::RwLock;

use aws_lc_rs::hmac;
use http::header::{AUTHORIZATION, DATE};
use http::request::Parts;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

pub use canonical::{canonical_query, canonical_uri, EMPTY_SHA256};
pub use chunked::decode_streaming_body;
pub use client::{presign_url, sign, sign_chunked_body, SigningParams};
pub use error::{ProtocolFamily, SigV4Error};

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// Longest presigned validity AWS allows (7 days), in seconds.
pub const MAX_PRESIGNED_EXPIRES: u32 = 604_800;
/// Allowed clock skew between `X-Amz-Date` and the server's wall clock.
pub const MAX_SKEW: Duration = Duration::minutes(15);

/// `x-amz-content-sha256` keyword for an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` keyword for signed aws-chunked payloads.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// Signed aws-chunked payload with a signed trailer.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// Unsigned aws-chunked payload with a trailer (newer SDKs, S3).
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

const HTTP_DATE_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// `date/region/service` of `Credential=AKID/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// Region name, e.g. `us-east-1`.
    pub region: String,
    /// Signing name of the service, e.g. `sts`, `s3`, `kms`.
    pub service: String,
}

impl CredentialScope {
    /// `date/region/service/aws4_request`.
    pub fn to_scope_string(&self) -> String {
        let mut s = String::with_capacity(48);
        canonical::push_scope(&mut s, &self.date, &self.region, &self.service);
        s
    }
}

/// What the request says about its payload hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// A hex SHA-256 digest the client sent in `x-amz-content-sha256`.
    Literal(String),
    /// No `x-amz-content-sha256`: the hash of the body is signed (every service but S3).
    FromBody,
    /// `UNSIGNED-PAYLOAD` (S3 only).
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed aws-chunked body (S3 only).
    Streaming,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` (S3 only).
    StreamingTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (S3 only).
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    fn parse(value: &str) -> Result<Self, SigV4Error> {
        Ok(match value {
            UNSIGNED_PAYLOAD => Self::Unsigned,
            STREAMING_PAYLOAD => Self::Streaming,
            STREAMING_PAYLOAD_TRAILER => Self::StreamingTrailer,
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => Self::StreamingUnsignedTrailer,
            v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Self::Literal(v.to_ascii_lowercase())
            }
            _ => return Err(SigV4Error::InvalidContentSha256),
        })
    }

    /// The keyword that goes into the canonical request, for the non-literal forms.
    fn keyword(&self) -> Option<&'static str> {
        match self {
            Self::Unsigned => Some(UNSIGNED_PAYLOAD),
            Self::Streaming => Some(STREAMING_PAYLOAD),
            Self::StreamingTrailer => Some(STREAMING_PAYLOAD_TRAILER),
            Self::StreamingUnsignedTrailer => Some(STREAMING_UNSIGNED_PAYLOAD_TRAILER),
            Self::Literal(_) | Self::FromBody => None,
        }
    }

    /// Whether the body is aws-chunked and must go through [`decode_streaming_body`].
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::Streaming | Self::StreamingTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

/// The SigV4 authentication a request carries, as parsed by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Request {
    /// Access key id from the credential.
    pub access_key_id: String,
    /// `X-Amz-Security-Token` (header or query), for temporary credentials.
    pub security_token: Option<String>,
    /// `X-Amz-Date` (or the `Date` header).
    pub amz_date: OffsetDateTime,
    /// Credential scope.
    pub scope: CredentialScope,
    /// `SignedHeaders`, as sent.
    pub signed_headers: Vec<String>,
    /// The signature the client sent (hex).
    pub signature: String,
    /// `X-Amz-Expires` for presigned requests; `None` for header authentication.
    pub presigned_expires: Option<u32>,
    /// Payload hash mode.
    pub payload: PayloadHash,
    /// `x-amz-decoded-content-length`, for aws-chunked bodies.
    pub decoded_content_length: Option<u64>,
}

impl SigV4Request {
    /// Whether this came from a presigned query string.
    pub fn is_presigned(&self) -> bool {
        self.presigned_expires.is_some()
    }
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (hand-rolled: this is on the hot path).
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = format_scope_date(t);
    s.push('T');
    for v in [t.hour(), t.minute(), t.second()] {
        push_two_digits(&mut s, v);
    }
    s.push('Z');
    s
}

fn push_two_digits(s: &mut String, v: u8) {
    s.push(char::from(b'0' + (v / 10) % 10));
    s.push(char::from(b'0' + v % 10));
}

fn format_scope_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = String::with_capacity(16);
    let year = t.year();
    if (0..=9999).contains(&year) {
        let y = u16::try_from(year).unwrap_or_default();
        push_two_digits(&mut s, u8::try_from(y / 100).unwrap_or_default());
        push_two_digits(&mut s, u8::try_from(y % 100).unwrap_or_default());
    } else {
        s.push_str(&year.to_string());
    }
    push_two_digits(&mut s, u8::from(t.month()));
    push_two_digits(&mut s, t.day());
    s
}

fn parse_amz_date(value: &str) -> Result<OffsetDateTime, SigV4Error> {
    let malformed = || SigV4Error::MalformedDate {
        value: value.to_owned(),
    };
    let b = value.as_bytes();
    let shape_ok = b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(malformed());
    }
    let num = |range: std::ops::Range<usize>| -> u16 {
        b.get(range)
            .unwrap_or_default()
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let small = |range| u8::try_from(num(range)).map_err(|_| malformed());
    let month = time::Month::try_from(small(4..6)?).map_err(|_| malformed())?;
    let date = time::Date::from_calendar_date(i32::from(num(0..4)), month, small(6..8)?)
        .map_err(|_| malformed())?;
    let time = time::Time::from_hms(small(9..11)?, small(11..13)?, small(13..15)?)
        .map_err(|_| malformed())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

fn parse_http_date(value: &str) -> Result<OffsetDateTime, SigV4Error> {
    PrimitiveDateTime::parse(value, HTTP_DATE_FORMAT)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| SigV4Error::MalformedDate {
            value: value.to_owned(),
        })
}

fn header_str<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, SigV4Error> {
    let mut values = parts.headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigV4Error::DuplicateParameter {
            name: name.to_owned(),
        });
    }
    Ok(Some(first.to_str().map_err(|_| {
        SigV4Error::MalformedDate {
            value: String::from_utf8_lossy(first.as_bytes()).into_owned(),
        }
    })?))
}

/// Region and service names are lowercase letters, digits and dashes.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn parse_credential(
    credential: &str,
    presigned: bool,
) -> Result<(String, CredentialScope), SigV4Error> {
    let mut it = credential.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(term), None) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_owned(),
            presigned,
        });
    };
    if akid.is_empty() || date.is_empty() || service.is_empty() {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_owned(),
            presigned,
        });
    }
    if term != TERMINATOR {
        return Err(SigV4Error::InvalidTerminator {
            terminator: term.to_owned(),
            presigned,
        });
    }
    if !is_name(region) {
        return Err(SigV4Error::InvalidRegion {
            region: region.to_owned(),
            presigned,
        });
    }
    if !is_name(service) {
        return Err(SigV4Error::MalformedCredential {
            credential: credential.to_owned(),
            presigned,
        });
    }
    Ok((
        akid.to_owned(),
        CredentialScope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        },
    ))
}

fn parse_signed_headers(value: &str) -> Vec<String> {
    value
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().to_owned())
        .collect()
}

fn parse_decoded_length(parts: &Parts) -> Result<Option<u64>, SigV4Error> {
    match header_str(parts, "x-amz-decoded-content-length") {
        Ok(None) => Ok(None),
        Ok(Some(v)) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| SigV4Error::MalformedChunk),
        Err(_) => Err(SigV4Error::MalformedChunk),
    }
}

/// Reads the SigV4 authentication of a request.
///
/// Returns `Ok(None)` when the request carries no authentication at all (the caller
/// answers `MissingAuthenticationToken`, or serves an anonymous operation). Only the
/// structure is checked here; [`verify`] checks dates, scope and signature.
pub fn parse(parts: &Parts) -> Result<Option<SigV4Request>, SigV4Error> {
    let mut auth_values = parts.headers.get_all(AUTHORIZATION).iter();
    let auth = auth_values.next();
    if auth_values.next().is_some() {
        return Err(SigV4Error::DuplicateParameter {
            name: "Authorization".to_owned(),
        });
    }
    let query = parts.uri.query();
    let has_query_auth = query.is_some_and(|q| {
        canonical::query_pairs(q).any(|(k, _)| {
            matches!(
                k.as_slice(),
                b"X-Amz-Algorithm" | b"X-Amz-Credential" | b"X-Amz-Signature"
            )
        })
    });
    match (auth, query) {
        (Some(_), Some(_)) if has_query_auth => Err(SigV4Error::ConflictingAuthentication),
        (Some(h), _) => {
            parse_authorization(parts, &String::from_utf8_lossy(h.as_bytes())).map(Some)
        }
        (None, Some(q)) if has_query_auth => parse_presigned(parts, q).map(Some),
        (None, _) => Ok(None),
    }
}

fn parse_authorization(parts: &Parts, authorization: &str) -> Result<SigV4Request, SigV4Error> {
    let trimmed = authorization.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    let amz_date_header = header_str(parts, "x-amz-date")?;
    let date_header = match amz_date_header {
        Some(_) => None,
        None => header_str(parts, DATE.as_str())?,
    };
    let missing_date = amz_date_header.is_none() && date_header.is_none();
    if algorithm != ALGORITHM {
        if algorithm == "AWS" || algorithm.starts_with("AWS4-") {
            return Err(SigV4Error::UnsupportedAlgorithm {
                algorithm: algorithm.to_owned(),
            });
        }
        return Err(SigV4Error::MissingAuthorizationParams {
            missing: vec!["Credential", "Signature", "SignedHeaders"],
            missing_date,
            authorization: authorization.to_owned(),
        });
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',') {
        let component = component.trim();
        if component.is_empty() {
            continue;
        }
        let Some((key, value)) = component.split_once('=') else {
            return Err(SigV4Error::MalformedAuthorizationPair {
                pair: component.to_owned(),
                authorization: authorization.to_owned(),
            });
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(SigV4Error::DuplicateParameter {
                name: key.trim().to_owned(),
            });
        }
    }
    let signed_headers = signed_headers
        .map(parse_signed_headers)
        .filter(|v| !v.is_empty());
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Credential");
    }
    if signature.is_none() {
        missing.push("Signature");
    }
    if signed_headers.is_none() {
        missing.push("SignedHeaders");
    }
    let (Some(credential), Some(signature), Some(signed_headers), false) =
        (credential, signature, signed_headers, missing_date)
    else {
        return Err(SigV4Error::MissingAuthorizationParams {
            missing,
            missing_date,
            authorization: authorization.to_owned(),
        });
    };
    let (access_key_id, scope) = parse_credential(credential, false)?;
    let amz_date = match (amz_date_header, date_header) {
        (Some(v), _) => parse_amz_date(v)?,
        (None, Some(v)) => parse_http_date(v)?,
        (None, None) => {
            return Err(SigV4Error::MissingAuthorizationParams {
                missing: Vec::new(),
                missing_date: true,
                authorization: authorization.to_owned(),
            })
        }
    };
    let security_token = header_str(parts, "x-amz-security-token")?.map(str::to_owned);
    let payload = match header_str(parts, "x-amz-content-sha256") {
        Ok(Some(v)) => PayloadHash::parse(v.trim())?,
        Ok(None) if canonical::is_s3(&scope.service) => {
            return Err(SigV4Error::MissingContentSha256)
        }
        Ok(None) => PayloadHash::FromBody,
        Err(_) => return Err(SigV4Error::InvalidContentSha256),
    };
    let decoded_content_length = parse_decoded_length(parts)?;
    Ok(SigV4Request {
        access_key_id,
        security_token,
        amz_date,
        scope,
        signed_headers,
        signature: signature.to_owned(),
        presigned_expires: None,
        payload,
        decoded_content_length,
    })
}

fn parse_presigned(parts: &Parts, query: &str) -> Result<SigV4Request, SigV4Error> {
    const NAMES: [&str; 8] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    ];
    let mut values: [Option<String>; 8] = Default::default();
    for (k, v) in canonical::query_pairs(query) {
        let Some(idx) = NAMES.iter().position(|n| n.as_bytes() == k.as_slice()) else {
            continue;
        };
        let v = String::from_utf8_lossy(&v).into_owned();
        if let Some(slot) = values.get_mut(idx) {
            if slot.replace(v).is_some() {
                return Err(SigV4Error::DuplicateParameter {
                    name: NAMES.get(idx).copied().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    let [algorithm, credential, signature, signed_headers, date, expires, token, content_sha] =
        values;
    let missing: Vec<&'static str> = [
        (&algorithm, NAMES[0]),
        (&credential, NAMES[1]),
        (&signature, NAMES[2]),
        (&signed_headers, NAMES[3]),
        (&date, NAMES[4]),
        (&expires, NAMES[5]),
    ]
    .into_iter()
    .filter(|(v, _)| v.as_deref().is_none_or(str::is_empty))
    .map(|(_, n)| n)
    .collect();
    let (
        Some(algorithm),
        Some(credential),
        Some(signature),
        Some(signed_headers),
        Some(date),
        Some(expires),
        true,
    ) = (
        algorithm,
        credential,
        signature,
        signed_headers,
        date,
        expires,
        missing.is_empty(),
    )
    else {
        return Err(SigV4Error::MissingQueryParams { missing });
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm { algorithm });
    }
    let (access_key_id, scope) = parse_credential(&credential, true)?;
    let amz_date = parse_amz_date(&date)?;
    let expires_secs: i64 = expires
        .trim()
        .parse()
        .map_err(|_| SigV4Error::InvalidExpires {
            value: expires.clone(),
        })?;
    if expires_secs < 0 {
        return Err(SigV4Error::InvalidExpires { value: expires });
    }
    let expires_secs = u32::try_from(expires_secs)
        .ok()
        .filter(|e| *e <= MAX_PRESIGNED_EXPIRES)
        .ok_or(SigV4Error::ExpiresTooLarge)?;
    let payload = match content_sha {
        Some(v) => PayloadHash::parse(&v)?,
        None => match header_str(parts, "x-amz-content-sha256") {
            Ok(Some(v)) => PayloadHash::parse(v.trim())?,
            Ok(None) if canonical::is_s3(&scope.service) => PayloadHash::Unsigned,
            Ok(None) => PayloadHash::FromBody,
            Err(_) => return Err(SigV4Error::InvalidContentSha256),
        },
    };
    Ok(SigV4Request {
        access_key_id,
        security_token: token,
        amz_date,
        scope,
        signed_headers: parse_signed_headers(&signed_headers),
        signature,
        presigned_expires: Some(expires_secs),
        payload,
        decoded_content_length: parse_decoded_length(parts)?,
    })
}

/// Derived signing keys, cached per (secret, date, region, service).
///
/// Thread-safe and bounded: when full it is cleared (keys are cheap to re-derive and
/// change daily, so a simple reset beats bookkeeping on the hot path).
pub struct SigningKeyCache {
    keys: RwLock<HashMap<String, hmac::Key>>,
    capacity: usize,
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::with_capacity(4096)
    }
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` derived keys (minimum 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            keys: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SigV4 signing key for `secret` and `scope`.
    pub fn signing_key(&self, secret: &str, scope: &CredentialScope) -> hmac::Key {
        // Region and service are validated names (no '/'), the date has no '/', and the
        // secret comes last, so this key is unambiguous.
        let mut id = String::with_capacity(
            scope.date.len() + scope.region.len() + scope.service.len() + secret.len() + 3,
        );
        canonical::push_scope(&mut id, &scope.date, &scope.region, &scope.service);
        id.push('/');
        id.push_str(secret);
        if let Some(k) = self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return k.clone();
        }
        let key = derive_signing_key(secret, scope);
        let mut map = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(id, key.clone());
        key
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &str, scope: &CredentialScope) -> hmac::Key {
    let mut k_secret = String::with_capacity(secret.len() + 4);
    k_secret.push_str("AWS4");
    k_secret.push_str(secret);
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, k_secret.as_bytes());
    for part in [
        scope.date.as_str(),
        scope.region.as_str(),
        scope.service.as_str(),
        TERMINATOR,
    ] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// The payload hash that goes into the canonical request, after checking a literal
/// `x-amz-content-sha256` against the body.
fn resolve_payload_hash(req: &SigV4Request, body: &[u8]) -> Result<String, SigV4Error> {
    match &req.payload {
        PayloadHash::Literal(claimed) => {
            let actual = canonical::sha256_hex(body);
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                actual.as_bytes(),
                claimed.as_bytes(),
            )
            .is_err()
            {
                return Err(SigV4Error::ContentSha256Mismatch);
            }
            Ok(actual)
        }
        PayloadHash::FromBody => Ok(canonical::sha256_hex(body)),
        // Only S3 honours the unsigned and streaming forms; for every other service the
        // body's own hash is signed, so a client that signed a keyword fails to match.
        other => match other.keyword() {
            Some(k) if canonical::is_s3(&req.scope.service) => Ok(k.to_owned()),
            _ => Ok(canonical::sha256_hex(body)),
        },
    }
}

/// The canonical request for `parts` as the verifier builds it (for diagnostics and
/// tests; never send it to a client).
pub fn canonical_request(
    parts: &Parts,
    body: &[u8],
    req: &SigV4Request,
) -> Result<String, SigV4Error> {
    let payload_hash = resolve_payload_hash(req, body)?;
    let creq = canonical_request_bytes(parts, req, &payload_hash);
    Ok(String::from_utf8_lossy(&creq).into_owned())
}

fn canonical_request_bytes(parts: &Parts, req: &SigV4Request, payload_hash: &str) -> Vec<u8> {
    canonical::build_canonical_request(&canonical::CanonicalInput {
        method: parts.method.as_str(),
        wire_path: parts.uri.path(),
        raw_query: parts.uri.query(),
        headers: &parts.headers,
        authority: parts.uri.authority().map(http::uri::Authority::as_str),
        signed_headers: &req.signed_headers,
        payload_hash,
        service: &req.scope.service,
        presigned: req.is_presigned(),
    })
}

/// The string to sign for `canonical_request` (for diagnostics and tests).
pub fn string_to_sign(req: &SigV4Request, canonical_request: &str) -> String {
    canonical::build_string_to_sign(
        &format_amz_date(req.amz_date),
        &req.scope.date,
        &req.scope.region,
        &req.scope.service,
        canonical_request.as_bytes(),
    )
}

fn check_time(req: &SigV4Request, now: OffsetDateTime) -> Result<(), SigV4Error> {
    let now = now
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(now);
    let fmt = format_amz_date;
    let lower = now.checked_sub(MAX_SKEW);
    let upper = now.checked_add(MAX_SKEW);
    if upper.is_some_and(|u| req.amz_date > u) {
        let bound = upper.map(fmt).unwrap_or_default();
        return Err(if req.is_presigned() {
            SigV4Error::PresignedNotYetValid {
                amz_date: fmt(req.amz_date),
                now: fmt(now),
                bound,
            }
        } else {
            SigV4Error::RequestTimeSkewed {
                amz_date: fmt(req.amz_date),
                now: fmt(now),
                bound,
                future: true,
            }
        });
    }
    match req.presigned_expires {
        None => {
            if lower.is_some_and(|l| req.amz_date < l) {
                return Err(SigV4Error::RequestTimeSkewed {
                    amz_date: fmt(req.amz_date),
                    now: fmt(now),
                    bound: lower.map(fmt).unwrap_or_default(),
                    future: false,
                });
            }
        }
        Some(expires) => {
            let expires_at = req
                .amz_date
                .checked_add(Duration::seconds(i64::from(expires)));
            if expires_at.is_none_or(|e| now > e) {
                return Err(SigV4Error::PresignedExpired {
                    amz_date: fmt(req.amz_date),
                    now: fmt(now),
                    bound: now
                        .checked_sub(Duration::seconds(i64::from(expires)))
                        .map(fmt)
                        .unwrap_or_default(),
                    expires,
                });
            }
        }
    }
    Ok(())
}

/// S3 rejects `x-amz-*` headers that are present but not signed.
fn check_amz_headers_signed(parts: &Parts, req: &SigV4Request) -> Result<(), SigV4Error> {
    for name in parts.headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-")
            && n != "x-amz-user-agent"
            && !req.signed_headers.iter().any(|s| s.eq_ignore_ascii_case(n))
        {
            return Err(SigV4Error::UnsignedAmzHeaders);
        }
    }
    Ok(())
}

/// Verifies a parsed request against the secret access key.
///
/// Checks, in order: credential scope date against `X-Amz-Date`; the clock (15-minute
/// skew on `now_wall_clock` for header authentication; for presigned URLs, not more
/// than 15 minutes early and not after `X-Amz-Date + X-Amz-Expires`); that `host` is
/// signed (and, for S3, every `x-amz-*` header); a literal `x-amz-content-sha256`
/// against the body; and finally the signature, compared in constant time. For
/// aws-chunked bodies `body` is ignored here: the seed signature covers the keyword,
/// and [`decode_streaming_body`] checks the chunks.
pub fn verify(
    parts: &Parts,
    body: &[u8],
    req: &SigV4Request,
    secret_access_key: &str,
    now_wall_clock: OffsetDateTime,
    keys: &SigningKeyCache,
) -> Result<(), SigV4Error> {
    let amz_date = format_amz_date(req.amz_date);
    if req.scope.date != format_scope_date(req.amz_date) {
        return Err(SigV4Error::ScopeDateMismatch {
            scope_date: req.scope.date.clone(),
            amz_date,
            presigned: req.is_presigned(),
        });
    }
    check_time(req, now_wall_clock)?;
    if !req.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::HostNotSigned);
    }
    if canonical::is_s3(&req.scope.service) {
        check_amz_headers_signed(parts, req)?;
    }
    let payload_hash = resolve_payload_hash(req, body)?;
    let creq = canonical_request_bytes(parts, req, &payload_hash);
    let sts = canonical::build_string_to_sign(
        &amz_date,
        &req.scope.date,
        &req.scope.region,
        &req.scope.service,
        &creq,
    );
    let key = keys.signing_key(secret_access_key, &req.scope);
    if verify_hex_signature(&key, sts.as_bytes(), &req.signature).is_ok() {
        return Ok(());
    }
    // Presigned URLs for services other than S3 are signed by some clients with the
    // empty body's hash (botocore) and by others with UNSIGNED-PAYLOAD (S3-style
    // signers); with no body the two say the same, so either is accepted.
    if req.is_presigned() && body.is_empty() && matches!(req.payload, PayloadHash::FromBody) {
        let creq = canonical_request_bytes(parts, req, UNSIGNED_PAYLOAD);
        let sts = canonical::build_string_to_sign(
            &amz_date,
            &req.scope.date,
            &req.scope.region,
            &req.scope.service,
            &creq,
        );
        if verify_hex_signature(&key, sts.as_bytes(), &req.signature).is_ok() {
            return Ok(());
        }
    }
    Err(SigV4Error::SignatureDoesNotMatch)
}

/// Constant-time check of a hex signature against `HMAC(key, data)`.
pub(crate) fn verify_hex_signature(key: &hmac::Key, data: &[u8], hex_sig: &str) -> Result<(), ()> {
    let mut provided = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut provided).map_err(|_| ())?;
    hmac::verify(key, data, &provided).map_err(|_| ())
}
