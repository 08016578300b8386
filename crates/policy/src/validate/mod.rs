//! Policy validation and lint, in the manner of IAM Access Analyzer ValidatePolicy.
