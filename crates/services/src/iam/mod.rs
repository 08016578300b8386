//! AWS Identity and Access Management (awsQuery, global: one namespace per account,
//! events recorded in us-east-1).
//!
//! One submodule per area, each with its own `enum Operation` and `decode` function;
//! [`decode`] tries them in turn. Shared pieces: [`model`] (records, keys, paging,
//! name rules) and [`error::IamError`].

pub mod access_keys;
pub mod account;
pub mod attach;
pub mod credential_report;
pub mod error;
pub mod groups;
pub mod inline;
pub mod instance_profiles;
pub mod login_profiles;
pub mod mfa;
pub mod model;
mod name_members;
pub mod policies;
pub mod principals;
pub mod providers;
pub mod roles;
pub mod service_linked;
pub mod simulate;
pub mod tags;
pub mod totp;
pub mod users;

use crate::{error::ApiError, input::Input, Operation};
use serde::Serialize;
use serde_json::Value;

pub use error::IamError;

/// Decodes one IAM action; `None` when no IAM area knows it.
pub fn decode(action: &str, input: &Input<'_>) -> Option<Result<Box<dyn Operation>, ApiError>> {
    let areas: &[crate::registry::Decoder] = &[
        users::decode,
        access_keys::decode,
        login_profiles::decode,
        mfa::decode,
        credential_report::decode,
        providers::decode,
        groups::decode,
        roles::decode,
        service_linked::decode,
        attach::decode,
        policies::decode,
        inline::decode,
        tags::decode,
        instance_profiles::decode,
        account::decode,
        simulate::decode,
    ];
    let decoded = areas.iter().find_map(|decode| decode(action, input))?;
    Some(decoded.and_then(|op| check_names(action, input).map(|()| op)))
}

/// Whether IAM's decoder checks `member` of `action` as a name ([`check_names`]).
#[cfg(test)]
pub(crate) fn checks_name(action: &str, member: &str) -> bool {
    name_members::NAME_MEMBERS
        .iter()
        .any(|(op, m, _)| *op == action && *m == member)
}

/// Every name member of the call against its model shape, for reads, updates and
/// deletes as much as for creates: IAM answers a malformed name with ValidationError,
/// never NoSuchEntity. The pattern's wording is IAM's own (model_checks leaves it here);
/// markers, paths, path prefixes and MaxItems are model_checks' alone.
fn check_names(action: &str, input: &Input<'_>) -> Result<(), ApiError> {
    let Input::Query(params) = input else {
        return Ok(());
    };
    let table = name_members::NAME_MEMBERS;
    let from = table.partition_point(|(op, _, _)| *op < action);
    let rows = table.get(from..).unwrap_or_default();
    for (_, member, max) in rows.iter().take_while(|(op, _, _)| *op == action) {
        if let Some((_, value)) = params.iter().find(|(k, _)| k == member) {
            model::validate_name(&crate::input::lower_camel(member), value, *max)?;
        }
    }
    Ok(())
}

/// CloudTrail records IAM members in lowerCamelCase (`userName`, `policyArn`).
pub fn camel_json<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok().map(camel_keys)
}

fn camel_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (crate::input::lower_camel(&k), camel_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// The resource ARN IAM's authorization uses for an entity path + name.
pub fn resource_arn(account: &str, kind: &str, path: Option<&str>, name: &str) -> String {
    model::arn(account, kind, path.unwrap_or("/"), name)
}
