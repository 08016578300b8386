//! The IAM policy language: parse, validate, evaluate, explain.
//!
//! Pure: no IO, no async, no global state. Evaluation answers, it does not fail: it returns
//! a decision plus diagnostics. Parsing and validation return rich errors with JSON paths.
//!
//! # Using the engine
//!
//! 1. Parse each policy once, when it is stored or loaded:
//!    [`Policy::parse`]`(text, `[`PolicyKind`]`)` returns a compiled [`Policy`] (statements
//!    indexed by action service prefix, patterns and condition values precompiled) or a
//!    [`ParseError`] with a JSON path. `Policy` is an `Arc` inside: clone it freely.
//! 2. Per request, build a [`Context`] (case-insensitive, multi-valued keys) and a
//!    [`Request`], and gather the applicable policies in a [`PolicySet`] (identity
//!    policies, the resource's policy with its [`ResourcePolicyType`], permissions
//!    boundary, session policies, SCP levels, RCP levels).
//! 3. [`evaluate`] returns an [`Evaluation`]: the [`Decision`], the statements that
//!    applied, and a [`DenialReason`]; [`access_denied_message`] (or
//!    [`Evaluation::denial_message`]) renders AWS's AccessDenied text.
//!    [`evaluate_traced`] additionally records failed conditions, for explanations.
//!
//! The evaluation rules and their sources in AWS's documentation are in [`eval`].
//!
//! This crate must never do IO, spawn, or panic on any input.

pub mod cli;
pub mod condition;
pub mod context;
pub mod eval;
mod json;
mod pattern;
pub mod policy;
pub mod validate;
mod variables;

pub use condition::{Condition, Operator, Qualifier};
pub use context::Context;
pub use eval::{
    access_denied_message, evaluate, evaluate_traced, is_sts, ConditionFailure, Decision,
    DenialReason, Evaluation, MatchedStatement, PolicySet, PolicySource, Request, ResourcePolicy,
    ResourcePolicyType,
};
pub use pattern::split_arn;
pub use policy::{Effect, ParseError, Policy, PolicyKind, Statement, Version};
