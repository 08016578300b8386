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
                let error = ApiError::new(code, status, message);
                match e {
                    // An absent member is the model's to report, with the others.
                    palisade_protocol::query::QueryError::Missing { .. } => error,
                    _ => error.malformed(),
                }
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
                palisade_protocol::json::from_slice(body).map_err(json_error)
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

/// AWS's validation message when a tag key given to an untag operation (IAM `Untag*`,
/// Secrets Manager `UntagResource`, SSM `RemoveTagsFromResource`) breaks the model's tag
/// key shape: 1..=128 characters and, where the service's model has one, its `pattern`
/// (as the model writes it; the characters are [`is_tag_text`]'s). `None` when all keys
/// hold. Each service answers it with its own code.
pub fn untag_keys_violation(keys: &[String], pattern: Option<&str>) -> Option<String> {
    let bad = keys.iter().any(|k| {
        let n = k.chars().count();
        n == 0 || n > 128 || (pattern.is_some() && !is_tag_text(k))
    });
    bad.then(|| {
        let rule = pattern
            .map(|p| format!(", Member must satisfy regular expression pattern: {p}"))
            .unwrap_or_default();
        format!(
            "1 validation error detected: Value '[{}]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1{rule}]",
            keys.join(", ")
        )
    })
}

/// Whether `s` is made of what AWS's tag patterns allow, `[\p{L}\p{Z}\p{N}_.:/=+\-@]`:
/// letters, separators (Unicode category Z: spaces, not tabs or newlines), numbers and
/// `_.:/=+-@` (IAM, Organizations and SSM tag keys and values).
pub fn is_tag_text(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_alphabetic()
            || c.is_numeric()
            || "_.:/=+-@".contains(c)
            || matches!(
                c,
                '\u{20}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
                    ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
            )
    })
}

#[cfg(test)]
mod tests {
    use super::is_tag_text;

    #[test]
    fn tag_text() {
        for ok in [
            "",
            "team",
            "Cost Center",
            "a_b.c:d/e=f+g-h@i",
            "été",
            "日本",
            "x\u{3000}y",
            "42",
        ] {
            assert!(is_tag_text(ok), "{ok:?}");
        }
        for bad in [
            "a!b",
            "b!ad",
            "tab\there",
            "nl\n",
            "nul\0",
            "a,b",
            "a*b",
            "<x>",
        ] {
            assert!(!is_tag_text(bad), "{bad:?}");
        }
    }
}
