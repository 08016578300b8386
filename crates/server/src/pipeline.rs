//! The request pipeline: authenticate -> route and decode -> authorize -> run -> audit.
//!
//! Architecture invariant: no operation reads or changes state before every check it
//! lists has been allowed. The call's effect and its CloudTrail record are written by one
//! store job, and the response is built only after that job's commit is durable.

use crate::{
    app::App,
    wire::{self, HttpResponse},
};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use palisade_protocol::{
    query,
    sigv4::{self, ProtocolFamily, SigV4Error, SigV4Request},
};
use palisade_services::{
    audit::{self, Call},
    registry, ApiError, AuthzDecision, Input, Operation, PrincipalKind, Protocol, RequestContext,
    ServiceInfo,
};
use palisade_store::StoreError;
use std::{net::SocketAddr, sync::Arc};
use tokio::sync::oneshot;

/// Services whose writes can change an authorization decision.
const AUTHZ_SERVICES: &[&str] = &["iam", "organizations"];

/// Largest request body accepted (AWS's query and JSON APIs stay far below this).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A failed request, with what is needed to answer it in the right protocol.
struct Failure {
    family: ProtocolFamily,
    protocol: Option<Protocol>,
    xmlns: Option<&'static str>,
    error: ApiError,
}

impl Failure {
    fn new(family: ProtocolFamily, protocol: Option<Protocol>, error: ApiError) -> Self {
        Failure {
            family,
            protocol,
            xmlns: None,
            error,
        }
    }

    /// Answers in `service`'s protocol and namespace.
    fn of(service: &'static ServiceInfo, error: ApiError) -> Self {
        Failure {
            family: wire::family(service.protocol),
            protocol: Some(service.protocol),
            xmlns: service.xml_namespace,
            error,
        }
    }
}

pub async fn handle(
    app: Arc<App>,
    req: hyper::Request<Incoming>,
    remote: SocketAddr,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    if parts.uri.path().starts_with("/_palisade/") {
        let body = match collect(body).await {
            Ok(b) => b,
            Err(e) => {
                return wire::admin_json(
                    e.status,
                    serde_json::json!({"__type": e.code, "message": e.message}),
                    &request_id,
                )
            }
        };
        return crate::admin::handle(&app, &parts, &body, remote, &request_id).await;
    }
    let guess = guess_family(&parts);
    if let Some(e) = declared_too_large(&parts) {
        return wire::error(guess.0, guess.1, None, &e, &request_id);
    }
    let body = match collect(body).await {
        Ok(b) => b,
        Err(e) => return wire::error(guess.0, guess.1, None, &e, &request_id),
    };
    match api(&app, &parts, &body, remote, &request_id).await {
        Ok(resp) => resp,
        Err(f) => {
            if f.error.is_internal() {
                tracing::error!(request_id, code = %f.error.code, "request failed");
            }
            wire::error(f.family, f.protocol, f.xmlns, &f.error, &request_id)
        }
    }
}

/// Refuses a body whose declared length is over the limit before reading any of it.
fn declared_too_large(parts: &http::request::Parts) -> Option<ApiError> {
    let len = parts
        .headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse::<u64>()
        .ok()?;
    (len > MAX_BODY as u64).then(too_large)
}

fn too_large() -> ApiError {
    ApiError::new(
        "RequestEntityTooLarge",
        413,
        format!("Request body must be no larger than {MAX_BODY} bytes."),
    )
}

async fn collect(body: Incoming) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(ApiError::new(
                    "IncompleteBody",
                    400,
                    "The request body could not be read.",
                ))
            }
        }
    }
}

/// The protocol family to answer in before the service is known.
fn guess_family(parts: &http::request::Parts) -> (ProtocolFamily, Option<Protocol>) {
    if let Some((svc, _)) = target(parts).and_then(registry::by_target) {
        return (wire::family(svc.protocol), Some(svc.protocol));
    }
    if parts.headers.contains_key("x-amz-target") {
        return (ProtocolFamily::Json, Some(Protocol::Json11));
    }
    (ProtocolFamily::Query, Some(Protocol::Query))
}

fn target(parts: &http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
}

fn sig_failure_of(service: &'static ServiceInfo, e: &SigV4Error) -> Failure {
    let (status, code, mut message) = e.aws_error(wire::family(service.protocol));
    // IAM words InvalidClientTokenId without the final period STS and the others give it
    // ("The security token included in the request is invalid", as AWS CLI users see it).
    if service.signing_name == "iam"
        && matches!(e, SigV4Error::UnknownAccessKey | SigV4Error::InvalidToken)
    {
        message.truncate(message.trim_end_matches('.').len());
    }
    Failure::of(service, ApiError::new(code, status, message))
}

fn sig_failure(family: ProtocolFamily, protocol: Option<Protocol>, e: &SigV4Error) -> Failure {
    let (status, code, message) = e.aws_error(family);
    Failure::new(family, protocol, ApiError::new(code, status, message))
}

async fn api(
    app: &Arc<App>,
    parts: &http::request::Parts,
    body: &Bytes,
    remote: SocketAddr,
    request_id: &str,
) -> Result<HttpResponse, Failure> {
    let (family, protocol) = guess_family(parts);
    // 1. Authenticate.
    let sig = match sigv4::parse(parts) {
        Ok(Some(sig)) => sig,
        Ok(None) => {
            return Err(sig_failure(
                family,
                protocol,
                &SigV4Error::MissingAuthentication,
            ))
        }
        Err(e) => return Err(sig_failure(family, protocol, &e)),
    };
    if resolve_service(parts, &sig).is_none() {
        if let Some(model) = registry::model_by_signing_name(&sig.scope.service) {
            // A real AWS service Palisade does not serve yet: say so in its protocol.
            let family = match model.protocol {
                "query" => ProtocolFamily::Query,
                "rest-xml" => ProtocolFamily::RestXml,
                "rest-json" => ProtocolFamily::RestJson,
                _ => ProtocolFamily::Json,
            };
            return Err(Failure::new(
                family,
                protocol,
                registry::not_implemented(model.signing_name, ""),
            ));
        }
    }
    let service = resolve_service(parts, &sig).ok_or_else(|| {
        Failure::new(
            family,
            protocol,
            ApiError::new(
                if family == ProtocolFamily::Query {
                    "InvalidAction"
                } else {
                    "UnknownOperationException"
                },
                400,
                format!(
                    "Palisade does not implement the service '{}'.",
                    sig.scope.service
                ),
            ),
        )
    })?;
    let family = wire::family(service.protocol);
    let env = &app.env;
    let cred = authenticate(app, parts, body, &sig).map_err(|e| match e {
        AuthFailure::Sig(e) => sig_failure_of(service, &e),
        AuthFailure::Store(e) => Failure::of(service, e),
    })?;
    let now = env.clock.now();
    if service.signing_name == "iam" && !cred.principal.may_call_iam() {
        return Err(sig_failure_of(service, &SigV4Error::InvalidToken));
    }

    // 2. Route and decode.
    let params;
    let (action, input) = match service.protocol {
        Protocol::Query => {
            params = query_params(parts, body).map_err(|e| Failure::of(service, e))?;
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    Failure::of(
                        service,
                        ApiError::new("MissingAction", 400, "Missing Action"),
                    )
                })?;
            // Query APIs find an operation by Action and Version: another version has no
            // such operation (AWS: "Could not find operation X for version V"). A request
            // without a Version is served as the current one.
            if let Some((_, version)) = params
                .iter()
                .find(|(k, v)| k == "Version" && v != service.api_version)
            {
                return Err(Failure::of(
                    service,
                    ApiError::new(
                        "InvalidAction",
                        400,
                        format!(
                            "Could not find operation {} for version {}",
                            registry::truncate(&action, 64),
                            registry::truncate(version, 64)
                        ),
                    ),
                ));
            }
            (action, Input::Query(&params))
        }
        Protocol::Json10 | Protocol::Json11 => {
            let action = match target(parts).and_then(registry::by_target) {
                Some((svc, action)) if std::ptr::eq(svc, service) => action.to_owned(),
                _ => {
                    return Err(Failure::of(
                        service,
                        ApiError::new("UnknownOperationException", 400, ""),
                    ))
                }
            };
            (action, Input::Json(body))
        }
        Protocol::RestXml | Protocol::RestJson => {
            return Err(Failure::of(service, service.unknown_operation("")));
        }
    };
    let ctx = RequestContext {
        request_id: request_id.to_owned(),
        principal: cred.principal.clone(),
        // IAM and Organizations have one endpoint, in us-east-1: that is their calls'
        // region (aws:RequestedRegion, CloudTrail's awsRegion) whatever the client signed.
        region: if service.global {
            "us-east-1".to_owned()
        } else {
            sig.scope.region.clone()
        },
        source_ip: remote.ip().to_string(),
        user_agent: parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        now,
        secure_transport: false,
        invoked: Default::default(),
    };
    let op = match service.decode(&action, &input) {
        Ok(op) => op,
        Err(e) => {
            // AWS records calls its front end refused as invalid (ValidationException,
            // SerializationException...) when they name a real operation.
            let real = service
                .model()
                .is_some_and(|m| m.operations.binary_search(&action.as_str()).is_ok());
            if real && e.status < 500 {
                let name = action.clone();
                let read_only = ["Get", "List", "Describe", "Lookup"]
                    .iter()
                    .any(|p| action.starts_with(p));
                let refusal = Refusal {
                    name,
                    read_only,
                    params: None,
                    error: e.clone(),
                    resource_accounts: Vec::new(),
                };
                record_failure(app, service, &ctx, refusal)
                    .await
                    .map_err(|e| Failure::of(service, e))?;
            }
            return Err(Failure::of(service, e));
        }
    };

    // 3. Refusals that depend on the credentials alone, then every authorization check,
    // all before the operation touches state.
    let checks = op.authz(&ctx);
    let resource_accounts: Vec<String> = checks
        .iter()
        .filter_map(|c| c.resource_account.clone())
        .filter(|a| *a != ctx.principal.account_id)
        .collect();
    let refused = match op.precheck(&ctx) {
        Err(e) => Some((e, Vec::new())),
        Ok(()) => checks
            .iter()
            .find_map(|check| match env.authorizer.authorize(check, &ctx) {
                AuthzDecision::Deny { message } => Some(
                    check
                        .denied_as
                        .clone()
                        .unwrap_or_else(|| access_denied(family, message)),
                ),
                AuthzDecision::Allow => None,
            })
            .map(|denied| (denied, resource_accounts.clone())),
    };
    if let Some((error, resource_accounts)) = refused {
        let refusal = Refusal {
            name: op.name().to_owned(),
            read_only: op.audit_read_only(),
            params: op.request_parameters(),
            error: error.clone(),
            resource_accounts,
        };
        record_failure(app, service, &ctx, refusal)
            .await
            .map_err(|e| Failure::of(service, e))?;
        return Err(Failure::of(service, error));
    }

    // 4 + 5. Run and audit in one durable job.
    let reply = run(app, service, ctx, op, resource_accounts).await;
    let reply = reply.map_err(|e| Failure::of(service, e))?;
    wire::reply(service, &action, reply.output.as_deref(), request_id)
        .map_err(|e| Failure::of(service, e))
}

/// Why a signed request's credentials were refused.
pub(crate) enum AuthFailure {
    Sig(SigV4Error),
    /// The credential could not be read.
    Store(ApiError),
}

/// The credentials of a parsed signature: an active access key, its session token when it
/// is temporary (compared in constant time), the signature itself (wall-clock skew), and
/// the expiry of temporary credentials (business clock).
pub(crate) fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    sig: &sigv4::SigV4Request,
) -> Result<Arc<palisade_services::credentials::Credential>, AuthFailure> {
    let env = &app.env;
    let cred = env
        .credentials
        .lookup(env, &sig.access_key_id)
        .map_err(AuthFailure::Store)?
        .filter(|c| c.active)
        .ok_or(AuthFailure::Sig(SigV4Error::UnknownAccessKey))?;
    match (&cred.session_token, &sig.security_token) {
        (None, None) => {}
        (Some(expected), Some(given))
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                given.as_bytes(),
            )
            .is_ok() => {}
        _ => return Err(AuthFailure::Sig(SigV4Error::InvalidToken)),
    }
    sigv4::verify(
        parts,
        body,
        sig,
        &cred.secret_access_key,
        time::OffsetDateTime::now_utc(),
        &app.signing_keys,
    )
    .map_err(AuthFailure::Sig)?;
    if cred.expiration.is_some_and(|exp| exp <= env.clock.now()) {
        return Err(AuthFailure::Sig(SigV4Error::ExpiredToken));
    }
    Ok(cred)
}

fn resolve_service(
    parts: &http::request::Parts,
    sig: &SigV4Request,
) -> Option<&'static ServiceInfo> {
    registry::by_signing_name(&sig.scope.service).or_else(|| {
        target(parts)
            .and_then(registry::by_target)
            .map(|(s, _)| s)
            .filter(|s| s.signing_name == sig.scope.service)
    })
}

fn access_denied(family: ProtocolFamily, message: String) -> ApiError {
    match family {
        ProtocolFamily::Query | ProtocolFamily::RestXml => {
            ApiError::new("AccessDenied", 403, message)
        }
        ProtocolFamily::Json | ProtocolFamily::RestJson => {
            ApiError::new("AccessDeniedException", 400, message)
        }
    }
}

/// awsQuery parameters: the URL's query string, then the form body.
fn query_params(
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = Vec::new();
    if let Some(q) = parts.uri.query() {
        params = query::parse_form(q.as_bytes()).map_err(|e| {
            let (status, code, message) = e.aws_error();
            ApiError::new(code, status, message)
        })?;
    }
    if !body.is_empty() {
        let form = query::parse_form(body).map_err(|e| {
            let (status, code, message) = e.aws_error();
            ApiError::new(code, status, message)
        })?;
        params.extend(form);
    }
    Ok(params)
}

/// Runs `job` on the store's writer and waits, without blocking the runtime, until its
/// group commit is durable.
async fn commit<T: Send + 'static>(
    app: &App,
    job: impl FnOnce(&mut dyn palisade_store::WriteTx) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    commit_then(app, job, || {}).await
}

/// [`commit`], running `after` once the commit is durable and before anyone is told: on
/// the store's side, so that a client that hangs up (dropping this future) cannot skip it.
async fn commit_then<T: Send + 'static>(
    app: &App,
    job: impl FnOnce(&mut dyn palisade_store::WriteTx) -> Result<T, StoreError> + Send + 'static,
    after: impl FnOnce() + Send + 'static,
) -> Result<T, ApiError> {
    let (result_tx, result_rx) = oneshot::channel::<T>();
    let (done_tx, done_rx) = oneshot::channel::<Result<(), StoreError>>();
    app.env.store.submit(
        Box::new(move |tx| {
            let value = job(tx)?;
            let _ = result_tx.send(value);
            Ok(())
        }),
        Box::new(move |r| {
            after();
            let _ = done_tx.send(r);
        }),
    );
    done_rx
        .await
        .map_err(|_| ApiError::internal("writer dropped a job"))??;
    result_rx
        .await
        .map_err(|_| ApiError::internal("write job produced no result"))
}

/// A call refused before its operation ran, as its audit record needs it.
struct Refusal {
    name: String,
    read_only: bool,
    params: Option<serde_json::Value>,
    error: ApiError,
    resource_accounts: Vec<String>,
}

/// Records a call refused before it ran (authorization, or invalid input).
async fn record_failure(
    app: &App,
    service: &'static ServiceInfo,
    ctx: &RequestContext,
    refusal: Refusal,
) -> Result<(), ApiError> {
    let Refusal {
        name,
        read_only,
        params,
        error,
        resource_accounts,
    } = refusal;
    let prepared = audit::prepare(Call {
        ctx,
        service,
        event_name: &name,
        read_only,
        request_parameters: params,
        outcome: Err(&error),
        resource_accounts,
    })?;
    record_audit_only(app, key_use_due(app, service, ctx), prepared).await
}

/// Commits the audit record of a call that changed nothing (and its key use, if due).
/// Without key use this is a bare log append: no job, no savepoint.
async fn record_audit_only(
    app: &App,
    key_use: Option<KeyUse>,
    prepared: audit::Prepared,
) -> Result<(), ApiError> {
    if key_use.is_some() {
        return commit(app, move |tx| {
            record_key_use(tx, key_use.as_ref())?;
            audit::append(tx, &prepared)
        })
        .await;
    }
    let (done_tx, done_rx) = oneshot::channel::<Result<(), StoreError>>();
    app.env.store.append(
        prepared.into_records(),
        Box::new(move |r| {
            let _ = done_tx.send(r);
        }),
    );
    done_rx
        .await
        .map_err(|_| ApiError::internal("writer dropped an append"))??;
    Ok(())
}

async fn run(
    app: &Arc<App>,
    service: &'static ServiceInfo,
    ctx: RequestContext,
    op: Box<dyn Operation>,
    resource_accounts: Vec<String>,
) -> Result<palisade_services::Reply, ApiError> {
    let env = app.env.clone();
    // A call that usually writes nothing is answered from a snapshot when it can be.
    let read_first = if op.reads_first() {
        let mut result = None;
        env.store.read(&mut |tx| {
            result = op.read_if_unchanged(tx, &env, &ctx);
            Ok(())
        })?;
        result
    } else {
        None
    };
    if op.read_only() || read_first.is_some() {
        // Reads run on a snapshot; only the audit record is written (appended stream).
        let result = if let Some(r) = read_first {
            r
        } else if op.reads_state() {
            let mut result = None;
            env.store.read(&mut |tx| {
                result = Some(op.read(tx, &env, &ctx));
                Ok(())
            })?;
            result.unwrap_or_else(|| Err(ApiError::internal("read did not run")))
        } else {
            op.read(&palisade_store::EmptyState, &env, &ctx)
        };
        // The record is built here, on this request's thread; the writer only appends it.
        let prepared = audit::prepare(call_of(
            &ctx,
            service,
            op.as_ref(),
            result.as_ref(),
            resource_accounts,
        ))?;
        record_audit_only(app, key_use_due(app, service, &ctx), prepared).await?;
        return result;
    }
    let key_use = key_use_due(app, service, &ctx);
    // A write that can change a decision drops the cached policies and credentials once
    // it is durable, before the answer leaves, so the caller's next request sees it. The
    // credentials too: a request that read a key's credential before the commit may have
    // cached it after the job dropped it (a renamed user's key, a deactivated key).
    let changes_authz = AUTHZ_SERVICES.contains(&service.signing_name);
    let after_env = env.clone();
    let after = move || {
        if changes_authz {
            after_env.authorizer.invalidate();
            after_env.credentials.clear();
        }
    };
    commit_then(
        app,
        move |tx| {
            record_key_use(tx, key_use.as_ref())?;
            let mut result = None;
            // Calls to other services from an earlier attempt (the snapshot try of a
            // `reads_first` operation) are made again by this one.
            ctx.invoked.clear();
            tx.nested(&mut |tx| {
                let r = op.write(tx, &env, &ctx);
                let ok = r.is_ok();
                result = Some(r);
                ok
            })?;
            let result = result.unwrap_or_else(|| Err(ApiError::internal("operation did not run")));
            audit::record(
                tx,
                call_of(
                    &ctx,
                    service,
                    op.as_ref(),
                    result.as_ref(),
                    resource_accounts,
                ),
            )?;
            Ok(result)
        },
        after,
    )
    .await?
}

/// The audit facts of an operation that ran.
fn call_of<'a>(
    ctx: &'a RequestContext,
    service: &'a ServiceInfo,
    op: &'a dyn Operation,
    outcome: Result<&'a palisade_services::Reply, &'a ApiError>,
    resource_accounts: Vec<String>,
) -> Call<'a> {
    Call {
        ctx,
        service,
        event_name: op.name(),
        read_only: op.audit_read_only(),
        request_parameters: op.request_parameters(),
        outcome,
        resource_accounts,
    }
}

/// A long-term key's use to record: (account, user or root marker, key id, service,
/// region, time).
struct KeyUse {
    account: String,
    user: String,
    access_key_id: String,
    service: &'static str,
    region: String,
    now: time::OffsetDateTime,
}

/// Whether this call's key use should be written: long-term keys only, and only when the
/// service or region changed or a business minute passed since the last write.
fn key_use_due(app: &App, service: &'static ServiceInfo, ctx: &RequestContext) -> Option<KeyUse> {
    let p = &ctx.principal;
    if p.session.is_some() || !matches!(p.kind, PrincipalKind::IAMUser | PrincipalKind::Root) {
        return None;
    }
    let region = audit::event_region(service, ctx).to_owned();
    let minute = ctx.now.unix_timestamp() / 60;
    let mut seen = app.key_use.lock();
    let fresh = seen
        .get(&p.access_key_id)
        .is_some_and(|(svc, reg, m)| svc == service.signing_name && *reg == region && *m == minute);
    if fresh {
        return None;
    }
    if seen.len() > 100_000 {
        seen.clear();
    }
    seen.insert(
        p.access_key_id.clone(),
        (service.signing_name.to_owned(), region.clone(), minute),
    );
    Some(KeyUse {
        account: p.account_id.clone(),
        user: if p.is_root() {
            palisade_services::iam::access_keys::ROOT_KEYS.to_owned()
        } else {
            p.user_name.clone()
        },
        access_key_id: p.access_key_id.clone(),
        service: service.signing_name,
        region,
        now: ctx.now,
    })
}

fn record_key_use(
    tx: &mut dyn palisade_store::WriteTx,
    key_use: Option<&KeyUse>,
) -> Result<(), StoreError> {
    let Some(k) = key_use else { return Ok(()) };
    palisade_services::iam::access_keys::record_key_use(
        tx,
        &k.account,
        &k.user,
        &k.access_key_id,
        k.service,
        &k.region,
        k.now,
    )
    .map_err(|e| StoreError::Other(e.to_string()))
}
