//! The IAM policy language: parse, validate, evaluate, explain.
//!
//! Pure: no IO, no async, no global state. Evaluation answers, it does not fail: it returns
//! a decision plus diagnostics. Parsing and validation return rich errors with JSON paths.

pub mod validate;
