//! The admin plane under `/_palisade/`: health (open), reset, clock and rotation hooks
//! (SigV4, service name `palisade`, root or an administrator of the management account
//! only).

use crate::{app::App, wire};
use hyper::body::Bytes;
use palisade_protocol::sigv4;
use palisade_services::{accounts, secrets::hooks};
use serde_json::json;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

fn denied(request_id: &str, message: &str) -> wire::HttpResponse {
    wire::admin_json(
        403,
        json!({"__type": "AccessDenied", "message": message}),
        request_id,
    )
}

fn bad_request(request_id: &str, message: &str) -> wire::HttpResponse {
    wire::admin_json(
        400,
        json!({"__type": "ValidationException", "message": message}),
        request_id,
    )
}

fn internal(request_id: &str) -> wire::HttpResponse {
    wire::admin_json(
        500,
        json!({"__type": "InternalFailure", "message": "The request processing has failed."}),
        request_id,
    )
}

pub async fn handle(
    app: &Arc<App>,
    parts: &http::request::Parts,
    body: &Bytes,
    remote: std::net::SocketAddr,
    request_id: &str,
) -> wire::HttpResponse {
    let path = parts.uri.path();
    if path == "/_palisade/health" && parts.method == http::Method::GET {
        return wire::admin_json(200, json!({"status": "ok"}), request_id);
    }
    let caller = match authenticate(app, parts, body, remote, request_id) {
        Ok(caller) => caller,
        Err(message) => return denied(request_id, &message),
    };
    // Rotation hooks run commands on this machine: the management root's alone.
    if path.starts_with("/_palisade/rotation-hooks") && caller != Caller::Root {
        return denied(request_id, "Access to the Palisade admin plane is denied.");
    }
    let env = app.env.clone();
    match (parts.method.clone(), path) {
        (http::Method::POST, "/_palisade/reset") => {
            let app2 = app.clone();
            let done = tokio::task::spawn_blocking(move || {
                accounts::reset(&app2.env, &app2.root_access_key_id)
            })
            .await;
            match done {
                Ok(Ok(())) => {
                    env.authorizer.invalidate();
                    env.credentials.clear();
                    // The wiped keys' last uses are gone: the next use of each is written.
                    app.key_use.lock().clear();
                    wire::admin_json(200, json!({"status": "reset"}), request_id)
                }
                _ => internal(request_id),
            }
        }
        (http::Method::POST, "/_palisade/clock") => {
            let req: serde_json::Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => return bad_request(request_id, "The body must be a JSON object."),
            };
            use palisade_services::clock::Clock;
            let out_of_range = || {
                bad_request(
                    request_id,
                    "The business clock must stay between 1970-01-01T00:00:00Z and 9000-01-01T00:00:00Z.",
                )
            };
            let offset = match (req.get("advance_seconds"), req.get("set")) {
                (Some(secs), None) => match secs.as_f64() {
                    Some(s) => match env.clock.offset_after(s) {
                        Some(offset) => offset,
                        None => return out_of_range(),
                    },
                    None => return bad_request(request_id, "advance_seconds must be a number."),
                },
                (None, Some(set)) => {
                    match set
                        .as_str()
                        .and_then(|s| time::OffsetDateTime::parse(s, &Rfc3339).ok())
                    {
                        Some(t) => match Clock::offset_for(t) {
                            Some(offset) => offset,
                            None => return out_of_range(),
                        },
                        None => {
                            return bad_request(request_id, "set must be an RFC 3339 date-time.")
                        }
                    }
                }
                _ => {
                    return bad_request(
                        request_id,
                        "Give exactly one of advance_seconds (number) or set (RFC 3339).",
                    )
                }
            };
            let env2 = env.clone();
            let set = move || {
                accounts::set_clock(&env2, offset)?;
                // Work the new business time makes due (secret and key rotations, expiries)
                // runs before the clock call answers.
                if let Err(e) = palisade_services::scheduler::run_due(&env2) {
                    tracing::error!(error = %e, "scheduled work after a clock change failed");
                }
                Ok::<(), palisade_services::ApiError>(())
            };
            match tokio::task::spawn_blocking(set).await {
                Ok(Ok(())) => clock_body(&env, request_id),
                _ => internal(request_id),
            }
        }
        (http::Method::GET, "/_palisade/clock") => clock_body(&env, request_id),
        (http::Method::POST, "/_palisade/rotation-hooks") => {
            let hook = match hooks::parse(body) {
                Ok(h) => h,
                Err(message) => return bad_request(request_id, &message),
            };
            match tokio::task::spawn_blocking(move || hooks::register(&env, hook)).await {
                Ok(Ok(Ok(hook))) => wire::admin_json(200, json!(hook), request_id),
                Ok(Ok(Err(message))) => bad_request(request_id, &message),
                _ => internal(request_id),
            }
        }
        (http::Method::GET, "/_palisade/rotation-hooks") => {
            match tokio::task::spawn_blocking(move || hooks::list(&env)).await {
                Ok(Ok(list)) => wire::admin_json(200, json!({"hooks": list}), request_id),
                _ => internal(request_id),
            }
        }
        (http::Method::DELETE, p) if p.starts_with("/_palisade/rotation-hooks/") => {
            let name = p
                .trim_start_matches("/_palisade/rotation-hooks/")
                .to_owned();
            let name2 = name.clone();
            match tokio::task::spawn_blocking(move || hooks::delete(&env, &name2)).await {
                Ok(Ok(true)) => wire::admin_json(200, json!({"deleted": name}), request_id),
                Ok(Ok(false)) => wire::admin_json(
                    404,
                    json!({"__type": "ResourceNotFoundException", "message": format!("No rotation hook named {name}.")}),
                    request_id,
                ),
                _ => internal(request_id),
            }
        }
        _ => wire::admin_json(
            404,
            json!({"__type": "NotFound", "message": "No such admin endpoint."}),
            request_id,
        ),
    }
}

fn clock_body(env: &palisade_services::Env, request_id: &str) -> wire::HttpResponse {
    let now = env.clock.now().format(&Rfc3339).unwrap_or_default();
    wire::admin_json(
        200,
        json!({"now": now, "offset_seconds": env.clock.offset_micros() as f64 / 1e6}),
        request_id,
    )
}

/// Who may use the admin plane.
#[derive(Debug, PartialEq, Eq)]
enum Caller {
    /// The management account's root.
    Root,
    /// An administrator of the management account.
    Administrator,
}

/// What an administrator of the management account must be allowed (on `*`): the admin
/// plane itself and IAM's privilege-granting actions, so that no one who could not make
/// themselves an administrator through IAM gets here (`AdministratorAccess` grants them;
/// `PowerUserAccess`, or any `NotAction` allow that leaves IAM out, does not).
const ADMINISTRATOR_ACTIONS: &[&str] = &[
    "palisade:AdminPlane",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:CreateAccessKey",
];

/// Checks the SigV4 signature (service `palisade`) with the credential checks of every API
/// call (token, expiry), that the credentials may call IAM (the admin plane is no less
/// privileged: not a GetFederationToken session, nor a GetSessionToken one without MFA),
/// and that the caller is the management account's root or one of its administrators
/// ([`ADMINISTRATOR_ACTIONS`]). Any failure is the same 403, so nothing leaks.
fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    remote: std::net::SocketAddr,
    request_id: &str,
) -> Result<Caller, String> {
    let generic = "Access to the Palisade admin plane is denied.".to_owned();
    let sig = match sigv4::parse(parts) {
        Ok(Some(sig)) if sig.scope.service == "palisade" => sig,
        _ => return Err(generic),
    };
    let env = &app.env;
    let Ok(cred) = crate::pipeline::authenticate(app, parts, body, &sig) else {
        return Err(generic);
    };
    if cred.principal.account_id != env.management_account || !cred.principal.may_call_iam() {
        return Err(generic);
    }
    if cred.principal.is_root() {
        return Ok(Caller::Root);
    }
    let ctx = palisade_services::RequestContext {
        request_id: request_id.to_owned(),
        principal: cred.principal.clone(),
        region: sig.scope.region.clone(),
        source_ip: remote.ip().to_string(),
        user_agent: String::new(),
        now: env.clock.now(),
        secure_transport: false,
        invoked: Default::default(),
    };
    let allowed = |action: &&str| {
        let check = palisade_services::authz::AuthzCheck::new(*action, "*");
        env.authorizer.authorize(&check, &ctx) == palisade_services::authz::AuthzDecision::Allow
    };
    if ADMINISTRATOR_ACTIONS.iter().all(allowed) {
        Ok(Caller::Administrator)
    } else {
        Err(generic)
    }
}
