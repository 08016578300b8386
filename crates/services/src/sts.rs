//! AWS Security Token Service (awsQuery). For now: GetCallerIdentity.

use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use palisade_store::ReadTx;

/// The STS actions Palisade implements.
#[derive(Debug)]
pub enum Operation {
    GetCallerIdentity,
}

/// Decodes one STS action; `None` when it is not an STS action Palisade knows.
pub fn decode(
    action: &str,
    _input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "GetCallerIdentity" => Operation::GetCallerIdentity,
        _ => return None,
    };
    Some(Ok(Box::new(op)))
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityResult {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// Who the caller is. AWS needs no permission for this call, and neither do we.
pub fn get_caller_identity(ctx: &RequestContext) -> GetCallerIdentityResult {
    let p = &ctx.principal;
    GetCallerIdentityResult {
        user_id: p.principal_id.clone(),
        account: p.account_id.clone(),
        arn: p.arn.clone(),
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    fn read_only(&self) -> bool {
        true
    }

    fn authz(&self, _ctx: &RequestContext) -> Vec<AuthzCheck> {
        match self {
            // "No permissions are required to perform this operation." (STS API reference)
            Operation::GetCallerIdentity => Vec::new(),
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        None
    }

    fn read(&self, _tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let _ = self.name();
        match self {
            Operation::GetCallerIdentity => Ok(Reply::new(get_caller_identity(ctx))),
        }
    }
}
