//! KMS's errors, with AWS's codes and messages (every KMS client error is HTTP 400).

use crate::error::ApiError;

pub fn err(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, 400, message)
}

pub fn key_not_found(arn: &str) -> ApiError {
    err("NotFoundException", format!("Key '{arn}' does not exist"))
}

pub fn alias_not_found(arn: &str) -> ApiError {
    err("NotFoundException", format!("Alias {arn} is not found."))
}

pub fn invalid_key_id(id: &str) -> ApiError {
    err("NotFoundException", format!("Invalid keyId '{id}'"))
}

pub fn disabled(arn: &str) -> ApiError {
    err("DisabledException", format!("{arn} is disabled."))
}

pub fn pending_deletion(arn: &str) -> ApiError {
    err(
        "KMSInvalidStateException",
        format!("{arn} is pending deletion."),
    )
}

pub fn invalid_ciphertext() -> ApiError {
    err("InvalidCiphertextException", "")
}

pub fn incorrect_key() -> ApiError {
    err(
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
    )
}

/// AWS's model-validation message for one member.
pub fn validation(message: impl Into<String>) -> ApiError {
    err("ValidationException", message)
}

pub fn enum_violation(value: &str, member: &str, allowed: &[&str]) -> ApiError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    ))
}

pub fn too_short(member: &str, min: usize) -> ApiError {
    validation(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
    ))
}

pub fn out_of_range(value: i64, member: &str, min: i64, max: i64) -> ApiError {
    if value < min {
        validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        ))
    } else {
        validation(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))
    }
}

/// An asymmetric key where a symmetric encryption key is required (GenerateDataKey, and
/// the services that seal their values under a KMS key).
pub fn not_symmetric(k: &super::KeyRecord) -> ApiError {
    err(
        "InvalidKeyUsageException",
        format!(
            "{} key spec is {}, which is not valid for this operation: a symmetric encryption KMS key is required.",
            k.arn, k.key_spec
        ),
    )
}
