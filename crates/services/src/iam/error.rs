//! IAM's errors, with AWS's codes and HTTP statuses (botocore `iam` model).

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    PasswordPolicyViolation(String),
    #[error("{0}")]
    InvalidAuthenticationCode(String),
    #[error("{0}")]
    EntityTemporarilyUnmodifiable(String),
    #[error("{0}")]
    UnmodifiableEntity(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    PolicyEvaluation(String),
    #[error("{0}")]
    ReportNotPresent(String),
    #[error("{0}")]
    ReportInProgress(String),
    #[error("{0}")]
    PolicyNotAttachable(String),
}

impl IamError {
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::Validation(_) => "ValidationError",
            IamError::PasswordPolicyViolation(_) => "PasswordPolicyViolation",
            IamError::InvalidAuthenticationCode(_) => "InvalidAuthenticationCode",
            IamError::EntityTemporarilyUnmodifiable(_) => "EntityTemporarilyUnmodifiable",
            IamError::UnmodifiableEntity(_) => "UnmodifiableEntity",
            IamError::ConcurrentModification(_) => "ConcurrentModification",
            IamError::PolicyEvaluation(_) => "PolicyEvaluation",
            IamError::ReportNotPresent(_) => "ReportNotPresent",
            IamError::ReportInProgress(_) => "ReportInProgress",
            IamError::PolicyNotAttachable(_) => "PolicyNotAttachable",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::ReportNotPresent(_) => 410,
            IamError::EntityAlreadyExists(_)
            | IamError::LimitExceeded(_)
            | IamError::DeleteConflict(_)
            | IamError::EntityTemporarilyUnmodifiable(_)
            | IamError::ConcurrentModification(_) => 409,
            IamError::InvalidAuthenticationCode(_) => 403,
            IamError::PolicyEvaluation(_) => 500,
            IamError::ReportInProgress(_) => 404,
            IamError::MalformedPolicyDocument(_)
            | IamError::InvalidInput(_)
            | IamError::Validation(_)
            | IamError::PasswordPolicyViolation(_)
            | IamError::UnmodifiableEntity(_)
            | IamError::PolicyNotAttachable(_) => 400,
        }
    }
}

impl From<IamError> for ApiError {
    fn from(e: IamError) -> Self {
        let status = e.http_status();
        let code = e.code();
        ApiError::new(code, status, e.to_string())
    }
}
