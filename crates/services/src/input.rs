//! Wire input, authenticated but not yet typed, and its decoding into typed inputs.

use crate::error::ApiError;
use serde::de::DeserializeOwned;

/// The body of one API call as its protocol carries it.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// awsQuery form parameters (Action and Version included).
    Query(&'a [(String, String)]),
    /// awsJson 1.0 / 1.1 body.
    Json(&'a [u8]),
}

impl Input<'_> {
    /// Decodes the typed input of an operation, with AWS's error for each protocol.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        match self {
            Input::Query(params) => palisade_protocol::query::from_params(params).map_err(|e| {
                let (status, code, message) = e.aws_error();
                ApiError::new(code, status, message)
            }),
            Input::Json(body) => {
                let first = body.iter().find(|b| !b.is_ascii_whitespace());
                let body: &[u8] = match first {
                    None => b"{}",
                    Some(b'{') => body,
                    // serde would fill a struct from an array by position; AWS takes an
                    // object only (a JSON null or scalar is no request either).
                    Some(_) => return Err(ApiError::new(
                        "SerializationException",
                        400,
                        "The request body contains a value of the wrong type or an unknown value.",
                    )),
                };
                serde_json::from_slice(body).map_err(json_error)
            }
        }
    }
}

/// Maps a serde_json error to what AWS's JSON services answer: a missing member is a
/// `ValidationException`, anything else a `SerializationException`.
fn json_error(e: serde_json::Error) -> ApiError {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ApiError::new(
            "ValidationException",
            400,
            format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(field)
            ),
        );
    }
    // AWS does not echo parser internals; a generic message keeps input out of logs.
    ApiError::new("SerializationException", 400, serialization_message(&e))
}

fn serialization_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            "Unexpected character or end of input while parsing the request body.".into()
        }
        Category::Data => {
            "The request body contains a value of the wrong type or an unknown value.".into()
        }
    }
}

/// `KeyId` -> `keyId`, as AWS's validation messages and CloudTrail name members.
pub fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
