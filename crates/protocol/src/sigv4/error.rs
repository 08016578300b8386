//! SigV4 failures and their AWS error code, HTTP status and message per protocol family.
//!
//! The mapping lives here, in one table, so every service answers an authentication
//! failure the way AWS does for its protocol. No message ever contains the expected
//! signature, the canonical request we computed, or any secret: only what the client
//! itself sent.

/// The wire-protocol family of the service a request was addressed to; AWS answers the
/// same SigV4 failure with different codes and statuses per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolFamily {
    /// awsQuery (IAM, STS, SNS, CloudWatch): `<ErrorResponse>` XML.
    Query,
    /// awsJson1.0 / awsJson1.1 (KMS, Secrets Manager, SSM, ...): `__type` JSON.
    Json,
    /// restXml (S3).
    RestXml,
    /// restJson1 (API-Gateway-fronted services).
    RestJson,
}

/// Why a request failed SigV4 authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The request carries no authentication at all (the caller decides whether the
    /// operation may be anonymous).
    #[error("request is missing authentication")]
    MissingAuthentication,
    /// The access key id is not known (reported by the caller, which owns the key store).
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The session token has expired (reported by the caller).
    #[error("security token expired")]
    ExpiredToken,
    /// The session token is malformed or not ours (reported by the caller).
    #[error("security token invalid")]
    InvalidToken,

    /// The Authorization header lacks required components (or the date header).
    #[error("incomplete Authorization header")]
    MissingAuthorizationParams {
        /// Names of the missing components, in AWS's order.
        missing: Vec<&'static str>,
        /// Whether neither `X-Amz-Date` nor `Date` was present.
        missing_date: bool,
        /// The Authorization header as sent (echoed by AWS).
        authorization: String,
    },
    /// A component of the Authorization header is not `key=value`.
    #[error("malformed Authorization component")]
    MalformedAuthorizationPair {
        /// The offending component.
        pair: String,
        /// The Authorization header as sent.
        authorization: String,
    },
    /// A component appears twice in the Authorization header or the query string.
    #[error("duplicate SigV4 parameter {name}")]
    DuplicateParameter {
        /// The duplicated parameter name.
        name: String,
    },
    /// Presigned query string lacks required `X-Amz-*` parameters.
    #[error("incomplete presigned query string")]
    MissingQueryParams {
        /// Missing parameter names.
        missing: Vec<&'static str>,
    },
    /// The signing algorithm is not `AWS4-HMAC-SHA256` (SigV2, SigV4a, anything else).
    #[error("unsupported signing algorithm")]
    UnsupportedAlgorithm {
        /// The algorithm the client named.
        algorithm: String,
    },
    /// Both an Authorization header and presigned query parameters.
    #[error("more than one authentication mechanism")]
    ConflictingAuthentication,
    /// `Credential` is not `AKID/YYYYMMDD/region/service/aws4_request`.
    #[error("malformed credential scope")]
    MalformedCredential {
        /// The credential as sent.
        credential: String,
        /// Whether it came from the presigned query string.
        presigned: bool,
    },
    /// The credential scope terminator is not `aws4_request`.
    #[error("invalid credential scope terminator")]
    InvalidTerminator {
        /// The terminator sent.
        terminator: String,
        /// Whether it came from the presigned query string.
        presigned: bool,
    },
    /// The credential scope region is not a region name.
    #[error("invalid credential scope region")]
    InvalidRegion {
        /// The region sent.
        region: String,
        /// Whether it came from the presigned query string.
        presigned: bool,
    },
    /// `X-Amz-Date` (or `Date`) could not be parsed.
    #[error("malformed request date")]
    MalformedDate {
        /// The value sent.
        value: String,
    },
    /// The credential scope date is not X-Amz-Date's date.
    #[error("credential scope date does not match request date")]
    ScopeDateMismatch {
        /// Date in the credential scope.
        scope_date: String,
        /// `X-Amz-Date` as sent.
        amz_date: String,
        /// Whether it came from the presigned query string.
        presigned: bool,
    },
    /// `SignedHeaders` does not include `host`.
    #[error("host is not a signed header")]
    HostNotSigned,
    /// S3: `x-amz-*` headers present but not signed.
    #[error("x-amz-* headers present but not signed")]
    UnsignedAmzHeaders,
    /// `X-Amz-Expires` is not a non-negative integer.
    #[error("invalid X-Amz-Expires")]
    InvalidExpires {
        /// The value sent.
        value: String,
    },
    /// `X-Amz-Expires` exceeds 604800 seconds (7 days).
    #[error("X-Amz-Expires exceeds 7 days")]
    ExpiresTooLarge,
    /// Header auth outside the 15-minute window. All timestamps are `YYYYMMDDTHHMMSSZ`.
    #[error("request time outside the allowed skew")]
    RequestTimeSkewed {
        /// `X-Amz-Date` of the request.
        amz_date: String,
        /// The server's wall clock.
        now: String,
        /// The bound that was crossed (`now - 15 min` or `now + 15 min`).
        bound: String,
        /// True when the request is from the future.
        future: bool,
    },
    /// Presigned URL past `X-Amz-Date + X-Amz-Expires`.
    #[error("presigned request expired")]
    PresignedExpired {
        /// `X-Amz-Date` of the request.
        amz_date: String,
        /// The server's wall clock.
        now: String,
        /// `now - X-Amz-Expires`.
        bound: String,
        /// `X-Amz-Expires` in seconds.
        expires: u32,
    },
    /// Presigned URL dated more than 15 minutes in the future.
    #[error("presigned request not yet valid")]
    PresignedNotYetValid {
        /// `X-Amz-Date` of the request.
        amz_date: String,
        /// The server's wall clock.
        now: String,
        /// `now + 15 min`.
        bound: String,
    },
    /// `x-amz-content-sha256` is neither a SHA-256 hex digest nor a known keyword.
    #[error("invalid x-amz-content-sha256")]
    InvalidContentSha256,
    /// S3 header auth without `x-amz-content-sha256`.
    #[error("missing x-amz-content-sha256")]
    MissingContentSha256,
    /// `x-amz-content-sha256` does not match the body.
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch,
    /// The signature does not match.
    #[error("signature does not match")]
    SignatureDoesNotMatch,

    /// aws-chunked: a chunk signature (or the trailer signature) does not match.
    #[error("chunk signature does not match")]
    ChunkSignatureMismatch,
    /// aws-chunked: the body ended before the final 0-length chunk.
    #[error("aws-chunked body truncated")]
    IncompleteBody,
    /// aws-chunked: a chunk header or terminator is malformed.
    #[error("malformed aws-chunked body")]
    MalformedChunk,
    /// aws-chunked: decoded size differs from `x-amz-decoded-content-length`.
    #[error("decoded length differs from x-amz-decoded-content-length")]
    DecodedLengthMismatch,
    /// `decode_streaming_body` called for a request whose payload is not streaming.
    #[error("payload is not aws-chunked")]
    NotStreaming,
}

const SIG_MISMATCH_MSG: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const S3_SIG_MISMATCH_MSG: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
const INVALID_TOKEN_MSG: &str = "The security token included in the request is invalid.";
const EXPIRED_TOKEN_MSG: &str = "The security token included in the request is expired";

/// The generic class of a failure, before the per-family spelling.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// InvalidClientTokenId / UnrecognizedClientException.
    BadClient,
    /// SignatureDoesNotMatch / InvalidSignatureException.
    BadSignature,
    /// IncompleteSignature / IncompleteSignatureException.
    Incomplete,
    /// MissingAuthenticationToken / MissingAuthenticationTokenException.
    Missing,
    /// ExpiredToken / ExpiredTokenException.
    Expired,
}

fn spelled(kind: Kind, family: ProtocolFamily, message: String) -> (u16, &'static str, String) {
    use Kind::*;
    use ProtocolFamily::*;
    let (status, code) = match (family, kind) {
        (Query, BadClient) => (403, "InvalidClientTokenId"),
        (Query, BadSignature) => (403, "SignatureDoesNotMatch"),
        (Query, Incomplete) => (400, "IncompleteSignature"),
        (Query, Missing) => (403, "MissingAuthenticationToken"),
        (Query, Expired) => (403, "ExpiredToken"),
        (Json, BadClient) => (400, "UnrecognizedClientException"),
        (Json, BadSignature) => (400, "InvalidSignatureException"),
        (Json, Incomplete) => (400, "IncompleteSignatureException"),
        (Json, Missing) => (400, "MissingAuthenticationTokenException"),
        (Json, Expired) => (400, "ExpiredTokenException"),
        // API-Gateway-fronted restJson services answer authentication failures with 403.
        (RestJson, BadClient) => (403, "UnrecognizedClientException"),
        (RestJson, BadSignature) => (403, "InvalidSignatureException"),
        (RestJson, Incomplete) => (403, "IncompleteSignatureException"),
        (RestJson, Missing) => (403, "MissingAuthenticationTokenException"),
        (RestJson, Expired) => (403, "ExpiredTokenException"),
        // S3 is spelled separately in `s3_error`; this arm only keeps the match total.
        (RestXml, _) => (403, "AccessDenied"),
    };
    (status, code, message)
}

fn fmt_authorization_missing(
    missing: &[&'static str],
    missing_date: bool,
    authorization: &str,
) -> String {
    let mut m = String::new();
    for name in missing {
        m.push_str("Authorization header requires '");
        m.push_str(name);
        m.push_str("' parameter. ");
    }
    if missing_date {
        m.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    m.push_str("Authorization=");
    m.push_str(authorization);
    m
}

impl SigV4Error {
    /// AWS's `(HTTP status, error code, message)` for this failure in `family`.
    pub fn aws_error(&self, family: ProtocolFamily) -> (u16, &'static str, String) {
        if family == ProtocolFamily::RestXml {
            return self.s3_error();
        }
        use Kind::*;
        use SigV4Error as E;
        let (kind, message) = match self {
            E::MissingAuthentication => (
                Missing,
                if family == ProtocolFamily::Query {
                    "Request is missing Authentication Token".to_owned()
                } else {
                    "Missing Authentication Token".to_owned()
                },
            ),
            E::UnknownAccessKey | E::InvalidToken => (BadClient, INVALID_TOKEN_MSG.to_owned()),
            E::ExpiredToken => (Expired, EXPIRED_TOKEN_MSG.to_owned()),
            E::MissingAuthorizationParams {
                missing,
                missing_date,
                authorization,
            } => (
                Incomplete,
                fmt_authorization_missing(missing, *missing_date, authorization),
            ),
            E::MalformedAuthorizationPair {
                pair,
                authorization,
            } => (
                Incomplete,
                format!(
                    "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
                ),
            ),
            E::DuplicateParameter { name } => (
                Incomplete,
                format!("Duplicate parameter '{name}' in the request's authentication information."),
            ),
            E::MissingQueryParams { missing } => {
                let mut m = String::new();
                for name in missing {
                    m.push_str("AWS query-string parameters must include '");
                    m.push_str(name);
                    m.push_str("'. ");
                }
                m.push_str("Re-examine the query-string parameters.");
                (Incomplete, m)
            }
            E::UnsupportedAlgorithm { algorithm } => (
                Incomplete,
                format!("Unsupported AWS 'algorithm': '{algorithm}'."),
            ),
            E::ConflictingAuthentication => (
                Incomplete,
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".to_owned(),
            ),
            E::MalformedCredential { credential, .. } => (
                Incomplete,
                format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
                ),
            ),
            E::InvalidTerminator { terminator, .. } => (
                BadSignature,
                format!(
                    "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
                ),
            ),
            E::InvalidRegion { region, .. } => (
                BadSignature,
                format!("Credential should be scoped to a valid region, not '{region}'. "),
            ),
            E::MalformedDate { value } => (
                Incomplete,
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
            ),
            E::ScopeDateMismatch {
                scope_date,
                amz_date,
                ..
            } => (
                BadSignature,
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{amz_date}'.",
                    amz_date.get(..8).unwrap_or(amz_date)
                ),
            ),
            E::HostNotSigned => (
                Incomplete,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
            ),
            E::UnsignedAmzHeaders => (BadSignature, SIG_MISMATCH_MSG.to_owned()),
            E::InvalidExpires { value } => (
                Incomplete,
                format!("X-Amz-Expires must be a non-negative integer, got '{value}'."),
            ),
            E::ExpiresTooLarge => (
                Incomplete,
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds".to_owned(),
            ),
            E::RequestTimeSkewed {
                amz_date,
                now,
                bound,
                future,
            } => (
                BadSignature,
                if *future {
                    format!("Signature not yet current: {amz_date} is still later than {bound} ({now} + 15 min.)")
                } else {
                    format!("Signature expired: {amz_date} is now earlier than {bound} ({now} - 15 min.)")
                },
            ),
            E::PresignedExpired {
                amz_date,
                now,
                bound,
                expires,
            } => (
                BadSignature,
                if expires % 60 == 0 {
                    format!(
                        "Signature expired: {amz_date} is now earlier than {bound} ({now} - {} min.)",
                        expires / 60
                    )
                } else {
                    format!("Signature expired: {amz_date} is now earlier than {bound} ({now} - {expires} sec.)")
                },
            ),
            E::PresignedNotYetValid {
                amz_date,
                now,
                bound,
            } => (
                BadSignature,
                format!("Signature not yet current: {amz_date} is still later than {bound} ({now} + 15 min.)"),
            ),
            E::InvalidContentSha256 | E::MissingContentSha256 | E::ContentSha256Mismatch => {
                (BadSignature, SIG_MISMATCH_MSG.to_owned())
            }
            E::SignatureDoesNotMatch | E::ChunkSignatureMismatch => {
                (BadSignature, SIG_MISMATCH_MSG.to_owned())
            }
            E::IncompleteBody | E::MalformedChunk | E::DecodedLengthMismatch | E::NotStreaming => {
                (BadSignature, SIG_MISMATCH_MSG.to_owned())
            }
        };
        spelled(kind, family, message)
    }

    fn s3_error(&self) -> (u16, &'static str, String) {
        use SigV4Error as E;
        let malformed = |detail: &str| {
            (
                400,
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {detail}"),
            )
        };
        let query_error = |detail: String| (400, "AuthorizationQueryParametersError", detail);
        match self {
            E::MissingAuthentication => (403, "AccessDenied", "Access Denied".to_owned()),
            E::UnknownAccessKey => (
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.".to_owned(),
            ),
            E::ExpiredToken => (400, "ExpiredToken", "The provided token has expired.".to_owned()),
            E::InvalidToken => (
                400,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.".to_owned(),
            ),
            E::MissingAuthorizationParams { missing_date, missing, .. } => {
                if missing.is_empty() && *missing_date {
                    (
                        403,
                        "AccessDenied",
                        "AWS authentication requires a valid Date or x-amz-date header".to_owned(),
                    )
                } else {
                    malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
                }
            }
            E::MalformedAuthorizationPair { .. } | E::DuplicateParameter { .. } => {
                malformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
            }
            E::MissingQueryParams { .. } => query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".to_owned(),
            ),
            E::UnsupportedAlgorithm { .. } => (
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".to_owned(),
            ),
            E::ConflictingAuthentication => (
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".to_owned(),
            ),
            E::MalformedCredential { presigned, .. } => {
                let d = "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
                if *presigned {
                    query_error(format!("Error parsing the X-Amz-Credential parameter; {d}"))
                } else {
                    malformed(d)
                }
            }
            E::InvalidTerminator { terminator, presigned } => {
                let d = format!("incorrect terminal '{terminator}'. This endpoint uses 'aws4_request'.");
                if *presigned {
                    query_error(format!("Error parsing the X-Amz-Credential parameter; {d}"))
                } else {
                    malformed(&d)
                }
            }
            E::InvalidRegion { region, presigned } => {
                let d = format!("the region '{region}' is wrong.");
                if *presigned {
                    query_error(format!("Error parsing the X-Amz-Credential parameter; {d}"))
                } else {
                    malformed(&d)
                }
            }
            E::MalformedDate { .. } => (
                403,
                "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header".to_owned(),
            ),
            E::ScopeDateMismatch { presigned, .. } => {
                let d = "Invalid credential date. Date is not the same as X-Amz-Date.";
                if *presigned {
                    query_error(format!("Error parsing the X-Amz-Credential parameter; {d}"))
                } else {
                    malformed(d)
                }
            }
            E::HostNotSigned | E::SignatureDoesNotMatch | E::ChunkSignatureMismatch => {
                (403, "SignatureDoesNotMatch", S3_SIG_MISMATCH_MSG.to_owned())
            }
            E::UnsignedAmzHeaders => (
                403,
                "AccessDenied",
                "There were headers present in the request which were not signed".to_owned(),
            ),
            E::InvalidExpires { .. } => {
                query_error("X-Amz-Expires should be a number".to_owned())
            }
            E::ExpiresTooLarge => query_error(
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds".to_owned(),
            ),
            E::RequestTimeSkewed { .. } => (
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.".to_owned(),
            ),
            E::PresignedExpired { .. } => (403, "AccessDenied", "Request has expired".to_owned()),
            E::PresignedNotYetValid { .. } => {
                (403, "AccessDenied", "Request is not valid yet".to_owned())
            }
            E::InvalidContentSha256 => (
                400,
                "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.".to_owned(),
            ),
            E::MissingContentSha256 => (
                400,
                "InvalidRequest",
                "Missing required header for this request: x-amz-content-sha256".to_owned(),
            ),
            E::ContentSha256Mismatch => (
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.".to_owned(),
            ),
            E::IncompleteBody | E::DecodedLengthMismatch => (
                400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header".to_owned(),
            ),
            E::MalformedChunk | E::NotStreaming => (
                400,
                "InvalidRequest",
                "Invalid chunked upload body: the aws-chunked encoding is malformed.".to_owned(),
            ),
        }
    }
}
