//! The error every operation answers with: AWS's code, HTTP status and message.

use std::borrow::Cow;

/// An AWS error as the client will see it. Services build these from their own error
/// enums; the server encodes them for the protocol in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: u16,
    /// `Sender` (client's fault) or `Receiver` in awsQuery error bodies.
    pub sender_fault: bool,
    /// The `Reason` member some JSON errors carry (Organizations'
    /// ConstraintViolationException, InvalidInputException, ...).
    pub reason: Option<String>,
    /// An awsQuery request that could not be read as one (a value of the wrong type, a
    /// malformed form), answered before the model's constraint checks
    /// (`ServiceInfo::decode`, which also answers JSON's SerializationException first).
    pub malformed: bool,
}

impl ApiError {
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        ApiError {
            code: Cow::Borrowed(code),
            message: message.into(),
            status,
            sender_fault: status < 500,
            reason: None,
            malformed: false,
        }
    }

    /// Marks a refusal of a request that could not be read as one.
    pub fn malformed(mut self) -> Self {
        self.malformed = true;
        self
    }

    /// Adds the modelled `Reason` member.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// An unexpected failure: logged with its detail, answered without it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal failure");
        ApiError {
            code: Cow::Borrowed("InternalFailure"),
            message: "The request processing has failed because of an unknown error, exception or failure.".into(),
            status: 500,
            sender_fault: false,
            reason: None,
            malformed: false,
        }
    }

    pub fn is_internal(&self) -> bool {
        self.status >= 500
    }
}

impl From<palisade_store::StoreError> for ApiError {
    fn from(e: palisade_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}
