//! External-hook rotation: the Lambda rotation contract without Lambda.
//!
//! An operator registers a hook by name (admin plane, `/_palisade/rotation-hooks`): an
//! `http://` URL or a command. A secret selects it the AWS way, with a RotationLambdaARN
//! whose function name is the hook's name (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`),
//! so unmodified SDKs configure it. Rotating such a secret sends the hook the four steps
//! of a rotation Lambda in order (createSecret, setSecret, testSecret, finishSecret), each
//! with the Lambda event `{"Step", "SecretId", "ClientRequestToken", "RotationToken"}`;
//! the hook does the work by calling Secrets Manager back (GetSecretValue, PutSecretValue
//! with AWSPENDING, UpdateSecretVersionStage), exactly as an AWS rotation function does.
//!
//! - HTTP hook: the event JSON is POSTed to the URL; a 2xx answer is success, anything
//!   else, or no answer within the hook's timeout (30 s by default), is failure.
//! - Command hook: the event JSON is the command's standard input; exit status 0 is
//!   success. Its environment has `AWS_ENDPOINT_URL` (this server), `AWS_REGION` /
//!   `AWS_DEFAULT_REGION` (the secret's region) and, with a `role_arn`, the temporary
//!   credentials of a session of that role, as a Lambda function gets its execution
//!   role's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`). The
//!   role's trust policy must allow `sts:AssumeRole` to the service principal
//!   `lambda.amazonaws.com`, checked at registration and again at every rotation.
//!
//! Hooks never run inside a store write job (one writer thread serves the whole server,
//! and the hook calls back into it). A rotation commits a "started" state (the secret's
//! `hook_run` and an `smrun` index entry, plus the empty AWSPENDING version AWS creates);
//! the [`Dispatcher`] thread finds started runs (woken by [`kick`], and by polling, so a
//! run only starts once its commit is visible) and runs each on its own thread; the
//! outcome is recorded by `finish_hook_run` in a write job. A run interrupted by a
//! shutdown is started again, with the same ClientRequestToken, on the next start (the
//! Lambda contract makes every step idempotent for exactly this).

use super::{finish_hook_run, RunJob};
use crate::{
    accounts::write_blocking,
    context::{Principal, RequestContext},
    env::Env,
    error::ApiError,
};
use palisade_store::{keys::Key, Range, ReadTx, WriteTx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::{
    collections::HashSet,
    io::{Read as _, Write as _},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex,
    },
    time::{Duration, Instant},
};

/// How long a hook may take for one step unless its registration says otherwise.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
/// Lambda's own limit.
const MAX_TIMEOUT_SECONDS: u64 = 900;
/// The Lambda rotation steps, in order.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// A registered hook.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HookRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub timeout_seconds: u64,
}

fn hook_key(name: &str) -> Vec<u8> {
    Key::new().str("smhook").str(name).finish()
}

/// The registered hook called `name`.
pub fn get(tx: &dyn ReadTx, name: &str) -> Result<Option<HookRecord>, ApiError> {
    tx.get(&hook_key(name))?
        .map(|raw| serde_json::from_slice(&raw).map_err(ApiError::internal))
        .transpose()
}

/// Every registered hook, by name.
pub fn list(env: &Env) -> Result<Vec<HookRecord>, ApiError> {
    let mut out = Vec::new();
    env.store.read(&mut |tx| {
        let prefix = Key::new().str("smhook").finish();
        let mut end = Vec::new();
        out = tx
            .scan(&Range::prefix(&prefix, &mut end), usize::MAX)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        Ok(())
    })?;
    Ok(out)
}

/// A Lambda function name: 1 to 64 letters, digits, hyphens and underscores.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `http://host[:port][/path]` split into ("host:port", "/path"); `None` for anything
/// else (https, credentials in the URL, characters that do not belong in a request line).
fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    if url.len() > 2048 || !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port: u16 = match port {
        Some(p) => p.parse().ok().filter(|p| *p != 0)?,
        None => 80,
    };
    Some((format!("{host}:{port}"), path))
}

/// Validates a registration body (`{"name", "url" | "command", "role_arn"?,
/// "timeout_seconds"?}`); the error is the admin plane's 400 message.
pub fn parse(body: &[u8]) -> Result<HookRecord, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "The body must be a JSON object.".to_owned())?;
    let o = v
        .as_object()
        .ok_or_else(|| "The body must be a JSON object.".to_owned())?;
    for k in o.keys() {
        if !["name", "url", "command", "role_arn", "timeout_seconds"].contains(&k.as_str()) {
            return Err(format!(
                "Unknown field {k:?}: use name, url or command, role_arn, timeout_seconds."
            ));
        }
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or("name (string) is required.")?
        .to_owned();
    if !valid_name(&name) {
        return Err(
            "name must be a Lambda function name: 1 to 64 letters, digits, hyphens or underscores."
                .into(),
        );
    }
    if name.starts_with(super::ROTATOR_PREFIX) {
        return Err(format!(
            "Names starting with {} are reserved for the built-in rotators.",
            super::ROTATOR_PREFIX
        ));
    }
    let url = match o.get("url") {
        None => None,
        Some(u) => {
            let u = u.as_str().ok_or("url must be a string.")?;
            if split_url(u).is_none() {
                return Err(
                    "url must be an http:// URL (http://host[:port]/path); https is not supported."
                        .into(),
                );
            }
            Some(u.to_owned())
        }
    };
    let command = match o.get("command") {
        None => None,
        Some(c) => {
            let argv: Option<Vec<String>> = c
                .as_array()
                .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_owned)).collect());
            let argv = argv
                .filter(|a| !a.is_empty() && a.len() <= 256)
                .filter(|a| a.iter().all(|x| !x.contains('\0')))
                .ok_or("command must be a non-empty array of strings (program, then arguments).")?;
            if argv.first().is_some_and(String::is_empty) {
                return Err("command's program must not be empty.".into());
            }
            Some(argv)
        }
    };
    if url.is_some() == command.is_some() {
        return Err("Give exactly one of url or command.".into());
    }
    let role_arn = match o.get("role_arn") {
        None | Some(Value::Null) => None,
        Some(r) => {
            let r = r.as_str().ok_or("role_arn must be a string.")?;
            if crate::sts::parse_role_arn(r).is_none() {
                return Err(format!("role_arn {r:?} is not an IAM role ARN."));
            }
            if url.is_some() {
                return Err(
                    "role_arn is for command hooks: an HTTP hook brings its own credentials."
                        .into(),
                );
            }
            Some(r.to_owned())
        }
    };
    let timeout_seconds = match o.get("timeout_seconds") {
        None => DEFAULT_TIMEOUT_SECONDS,
        Some(t) => t
            .as_u64()
            .filter(|t| (1..=MAX_TIMEOUT_SECONDS).contains(t))
            .ok_or(format!(
                "timeout_seconds must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECONDS}."
            ))?,
    };
    Ok(HookRecord {
        name,
        url,
        command,
        role_arn,
        timeout_seconds,
    })
}

/// Checks that `role_arn` exists and that its trust policy lets `lambda.amazonaws.com`
/// assume it (as a Lambda execution role must).
fn lambda_may_assume(tx: &dyn ReadTx, role_arn: &str) -> Result<(), String> {
    use palisade_policy::{
        evaluate, Context, Policy, PolicyKind, PolicySet, Request, ResourcePolicy,
        ResourcePolicyType,
    };
    let (account, _, name) =
        crate::sts::parse_role_arn(role_arn).ok_or(format!("{role_arn} is not a role ARN."))?;
    let key = crate::iam::model::entity_key(account, "role", name);
    let role = crate::iam::model::get::<crate::iam::model::Role>(tx, &key)
        .map_err(|e| e.message)?
        .filter(|r| r.arn == role_arn)
        .ok_or(format!("The role {role_arn} does not exist."))?;
    let policy = Policy::parse(&role.assume_role_policy_document, PolicyKind::Resource)
        .map_err(|e| format!("The trust policy of {role_arn} cannot be read: {e}"))?;
    let mut context = Context::new();
    context.insert("aws:PrincipalServiceName", "lambda.amazonaws.com");
    let request = Request {
        principal: "lambda.amazonaws.com",
        principal_account: None,
        action: "sts:AssumeRole",
        resource: role_arn,
        resource_account: Some(account),
        context: &context,
    };
    let set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &policy,
            kind: ResourcePolicyType::RoleTrust,
        }),
        ..PolicySet::default()
    };
    if evaluate(&request, &set).decision.is_allowed() {
        Ok(())
    } else {
        Err(format!(
            "The trust policy of {role_arn} does not allow lambda.amazonaws.com to assume it (sts:AssumeRole)."
        ))
    }
}

/// Registers (or replaces) a hook. The outer error is a store failure; the inner one a
/// bad registration (the admin plane's 400), with nothing written.
pub fn register(env: &Arc<Env>, hook: HookRecord) -> Result<Result<HookRecord, String>, ApiError> {
    write_blocking(env.store.as_ref(), move |tx| {
        if let Some(role) = &hook.role_arn {
            if let Err(e) = lambda_may_assume(&*tx, role) {
                return Ok(Err(e));
            }
        }
        let raw = serde_json::to_vec(&hook).map_err(ApiError::internal)?;
        tx.put(&hook_key(&hook.name), &raw)?;
        Ok(Ok(hook))
    })
}

/// Removes a hook; false when there was none by that name.
pub fn delete(env: &Arc<Env>, name: &str) -> Result<bool, ApiError> {
    let name = name.to_owned();
    write_blocking(env.store.as_ref(), move |tx| {
        let key = hook_key(&name);
        if tx.get(&key)?.is_none() {
            return Ok(false);
        }
        tx.delete(&key)?;
        Ok(true)
    })
}

// ---------------------------------------------------------------- the run index

fn run_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    Key::new()
        .str("smrun")
        .str(account)
        .str(region)
        .str(name)
        .finish()
}

pub(super) fn put_run(tx: &mut dyn WriteTx, job: &RunJob) -> Result<(), ApiError> {
    let raw = serde_json::to_vec(job).map_err(ApiError::internal)?;
    tx.put(&run_key(&job.account, &job.region, &job.name), &raw)?;
    Ok(())
}

pub(super) fn delete_run(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    name: &str,
) -> Result<(), ApiError> {
    tx.delete(&run_key(account, region, name))?;
    Ok(())
}

fn started_runs(env: &Env) -> Result<Vec<RunJob>, ApiError> {
    let mut out = Vec::new();
    env.store.read(&mut |tx| {
        let prefix = Key::new().str("smrun").finish();
        let mut end = Vec::new();
        out = tx
            .scan(&Range::prefix(&prefix, &mut end), usize::MAX)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        Ok(())
    })?;
    Ok(out)
}

/// Whether `job` is still the secret's started run (not finished, cancelled or reset).
fn still_started(env: &Env, job: &RunJob) -> bool {
    let mut current = false;
    let _ = env.store.read(&mut |tx| {
        current = tx
            .get(&run_key(&job.account, &job.region, &job.name))?
            .and_then(|raw| serde_json::from_slice::<RunJob>(&raw).ok())
            .is_some_and(|j| j.token == job.token && j.arn == job.arn);
        Ok(())
    });
    current
}

// ---------------------------------------------------------------- dispatch

struct Kick {
    generation: Mutex<u64>,
    wake: Condvar,
}

static KICK: Kick = Kick {
    generation: Mutex::new(0),
    wake: Condvar::new(),
};

/// Wakes the dispatcher: a run was started (in a job that may not have committed yet;
/// the dispatcher polls briefly until it sees it). Only a hint: correctness comes from
/// the store.
pub(super) fn kick() {
    if let Ok(mut g) = KICK.generation.lock() {
        *g = g.wrapping_add(1);
    }
    KICK.wake.notify_all();
}

/// The thread that starts hook runs. Stop it with [`Dispatcher::stop`] before the store.
pub struct Dispatcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts dispatching; `endpoint` is this server's own URL (`http://127.0.0.1:PORT`),
    /// given to command hooks as `AWS_ENDPOINT_URL`.
    pub fn spawn(env: Arc<Env>, endpoint: String) -> Dispatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rotation-hooks".into())
            .spawn(move || dispatch(&env, &endpoint, &stop2))
            .map_err(|e| tracing::error!(error = %e, "cannot start the rotation hook dispatcher"))
            .ok();
        Dispatcher { stop, thread }
    }

    /// Stops starting runs (runs in progress finish on their own threads; one cut short
    /// by the process ending starts again on the next start).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        kick();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn dispatch(env: &Arc<Env>, endpoint: &str, stop: &AtomicBool) {
    let running: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    let mut last_kick: Option<Instant> = None;
    let mut seen = KICK.generation.lock().map(|g| *g).unwrap_or(0);
    while !stop.load(Ordering::SeqCst) {
        match started_runs(env) {
            Ok(jobs) => {
                for job in jobs {
                    let id = (job.arn.clone(), job.token.clone());
                    let fresh = running
                        .lock()
                        .map(|mut r| r.insert(id.clone()))
                        .unwrap_or(false);
                    if !fresh {
                        continue;
                    }
                    let (env, endpoint, running) =
                        (env.clone(), endpoint.to_owned(), running.clone());
                    let spawned = std::thread::Builder::new()
                        .name("rotation-hook-run".into())
                        .spawn(move || {
                            run(&env, &endpoint, &job);
                            if let Ok(mut r) = running.lock() {
                                r.remove(&id);
                            }
                        });
                    if let Err(e) = spawned {
                        tracing::error!(error = %e, "cannot start a rotation hook run");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list started rotation hook runs"),
        }
        // Poll quickly for a second after a kick (the starting job may still be
        // committing), slowly otherwise.
        let quick = last_kick.is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        let wait = Duration::from_millis(if quick { 25 } else { 500 });
        let Ok(g) = KICK.generation.lock() else {
            std::thread::sleep(wait);
            continue;
        };
        let before = seen;
        if let Ok((g, _)) = KICK.wake.wait_timeout_while(g, wait, |g| *g == before) {
            seen = *g;
        }
        if seen != before {
            last_kick = Some(Instant::now());
        }
    }
}

/// Runs the four steps of one started run, then records the outcome.
fn run(env: &Arc<Env>, endpoint: &str, job: &RunJob) {
    let outcome = execute(env, endpoint, job);
    if let Err(reason) = &outcome {
        tracing::warn!(secret = %job.arn, hook = %job.hook, %reason, "rotation hook failed");
    }
    let (env2, job2) = (env.clone(), job.clone());
    let done = write_blocking(env.store.as_ref(), move |tx| {
        let now = env2.clock.now();
        finish_hook_run(tx, &env2, &job2, outcome, now)
    });
    if let Err(e) = done {
        tracing::error!(error = %e, secret = %job.arn, "cannot record a rotation hook outcome");
    }
}

/// Temporary credentials of the hook's role, the way Lambda gets its execution role's:
/// an STS AssumeRole session named after the function, made by the service.
struct SessionCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

fn role_session(
    env: &Arc<Env>,
    hook: &HookRecord,
    role_arn: &str,
    region: &str,
) -> Result<SessionCredentials, String> {
    let (env2, role, name, region) = (
        env.clone(),
        role_arn.to_owned(),
        hook.name.clone(),
        region.to_owned(),
    );
    let out = write_blocking(env.store.as_ref(), move |tx| {
        if let Err(e) = lambda_may_assume(&*tx, &role) {
            return Ok(Err(e));
        }
        let account = crate::sts::parse_role_arn(&role)
            .map(|(a, _, _)| a.to_owned())
            .unwrap_or_default();
        let mut principal = Principal::root(&account, "");
        principal.principal_id = "lambda.amazonaws.com".into();
        let ctx = RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            principal,
            region,
            source_ip: "lambda.amazonaws.com".into(),
            user_agent: "lambda.amazonaws.com".into(),
            now: env2.clock.now(),
            secure_transport: true,
            invoked: Default::default(),
        };
        let input: crate::sts::AssumeRoleInput =
            serde_json::from_value(json!({"RoleArn": role, "RoleSessionName": name}))
                .map_err(ApiError::internal)?;
        let reply = match crate::sts::assume_role(tx, &env2, &ctx, &input) {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("AssumeRole {role}: {}", e.message))),
        };
        let out = match reply.output {
            Some(o) => serde_json::to_value(&*o).map_err(ApiError::internal)?,
            None => Value::Null,
        };
        Ok(Ok(out))
    })
    .map_err(|e| e.message)??;
    let field = |k: &str| {
        out.pointer(&format!("/Credentials/{k}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "AssumeRole returned no credentials".to_owned())
    };
    Ok(SessionCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: field("SessionToken")?,
    })
}

fn execute(env: &Arc<Env>, endpoint: &str, job: &RunJob) -> Result<(), String> {
    let mut hook = None;
    env.store
        .read(&mut |tx| {
            hook = get(tx, &job.hook).map_err(|e| palisade_store::StoreError::Other(e.message))?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let hook =
        hook.ok_or_else(|| format!("The rotation hook {} is no longer registered.", job.hook))?;
    let creds = match (&hook.role_arn, &hook.command) {
        (Some(role), Some(_)) => Some(role_session(env, &hook, role, &job.region)?),
        _ => None,
    };
    for step in STEPS {
        if !still_started(env, job) {
            return Err("The rotation was cancelled.".into());
        }
        let mut event = json!({"Step": step, "SecretId": job.arn, "ClientRequestToken": job.token});
        if let (Some(o), Some(t)) = (event.as_object_mut(), &job.rotation_token) {
            o.insert("RotationToken".into(), t.clone().into());
        }
        let body = event.to_string();
        let timeout = Duration::from_secs(hook.timeout_seconds);
        let r = match (&hook.url, &hook.command) {
            (Some(url), _) => post(url, body.as_bytes(), timeout),
            (None, Some(argv)) => command(
                argv,
                body.as_bytes(),
                timeout,
                endpoint,
                &job.region,
                creds.as_ref(),
            ),
            (None, None) => Err("the hook has neither url nor command".into()),
        };
        r.map_err(|e| {
            format!(
                "The rotation hook {} failed the {step} step: {e}",
                hook.name
            )
        })?;
    }
    Ok(())
}

/// POSTs `body` to an `http://` URL; Ok on a 2xx status. A hand-written HTTP/1.1 client
/// (no TLS): the status line is all it needs.
fn post(url: &str, body: &[u8], timeout: Duration) -> Result<(), String> {
    use std::net::ToSocketAddrs as _;
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer within {} s", timeout.as_secs()))
    };
    let (authority, path) = split_url(url).ok_or("bad hook URL")?;
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, left()?)
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let host = authority.strip_suffix(":80").unwrap_or(&authority);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: palisade-rotation\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .set_write_timeout(Some(left()?))
        .and_then(|()| stream.write_all(head.as_bytes()))
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("cannot send the event: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        if got.len() > 8192 {
            return Err("the answer has no HTTP status line".into());
        }
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|e| e.to_string())?;
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err("the connection closed without an answer".into()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no answer within {} s", timeout.as_secs()))
            }
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        };
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let line = String::from_utf8_lossy(&got);
    let line = line.lines().next().unwrap_or_default();
    let status: u16 = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "the answer has no HTTP status line".to_owned())?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {}", line.get(9..).unwrap_or_default().trim()))
    }
}

/// Runs a command hook for one step; Ok on exit status 0.
fn command(
    argv: &[String],
    event: &[u8],
    timeout: Duration,
    endpoint: &str,
    region: &str,
    creds: Option<&SessionCredentials>,
) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // The server's own secrets and credentials are not the hook's.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PALISADE_")
            || matches!(
                k.as_str(),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN" | "AWS_PROFILE"
            )
        {
            cmd.env_remove(&k);
        }
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region);
    if let Some(c) = creds {
        cmd.env("AWS_ACCESS_KEY_ID", &c.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
            .env("AWS_SESSION_TOKEN", &c.session_token);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its input is fine.
        let _ = stdin.write_all(event);
    }
    // Keep the last of stderr for the server log (never CloudTrail: it may hold values).
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = e.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(buf.get(..n).unwrap_or_default());
                if all.len() > 8192 {
                    all.drain(..all.len() - 4096);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("no exit within {} s (killed)", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(format!("cannot wait for {program}: {e}")),
        }
    };
    let err_text = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let status = status?;
    if status.success() {
        return Ok(());
    }
    let tail: String = err_text
        .trim_end()
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if !tail.is_empty() {
        tracing::warn!(program = %program, stderr = %tail, "rotation hook command failed");
    }
    Err(match status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".into(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/rotate?x=1"),
            Some(("127.0.0.1:8080".into(), "/rotate?x=1".into()))
        );
        assert_eq!(
            split_url("http://hooks.local"),
            Some(("hooks.local:80".into(), "/".into()))
        );
        assert_eq!(
            split_url("http://[::1]:9/a"),
            Some(("[::1]:9".into(), "/a".into()))
        );
        for bad in [
            "https://x/",
            "ftp://x",
            "http://",
            "http://x:0/",
            "http://x:99999/",
            "http://u:p@x/",
            "http://x/a b",
            "http://x/\r\nHost: y",
            "x",
        ] {
            assert_eq!(split_url(bad), None, "{bad}");
        }
    }

    #[test]
    fn registrations() {
        let ok = parse(br#"{"name":"db-rotator","url":"http://127.0.0.1:1/"}"#).unwrap();
        assert_eq!(ok.timeout_seconds, DEFAULT_TIMEOUT_SECONDS);
        let ok = parse(br#"{"name":"cmd","command":["python3","r.py"],"role_arn":"arn:aws:iam::000000000000:role/r","timeout_seconds":5}"#).unwrap();
        assert_eq!(ok.command.unwrap().len(), 2);
        for bad in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"url":"http://x/"}"#,
            br#"{"name":"a b","url":"http://x/"}"#,
            br#"{"name":"palisade-rotation-x","url":"http://x/"}"#,
            br#"{"name":"a"}"#,
            br#"{"name":"a","url":"http://x/","command":["x"]}"#,
            br#"{"name":"a","url":"https://x/"}"#,
            br#"{"name":"a","command":[]}"#,
            br#"{"name":"a","command":"x"}"#,
            br#"{"name":"a","command":["x"],"role_arn":"nope"}"#,
            br#"{"name":"a","url":"http://x/","role_arn":"arn:aws:iam::000000000000:role/r"}"#,
            br#"{"name":"a","url":"http://x/","timeout_seconds":0}"#,
            br#"{"name":"a","url":"http://x/","extra":1}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn post_reports_status_and_timeouts() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for answer in ["HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 500 Boom\r\n\r\n", ""] {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).unwrap();
                if answer.is_empty() {
                    std::thread::sleep(Duration::from_millis(1500));
                } else {
                    s.write_all(answer.as_bytes()).unwrap();
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}/hook");
        assert!(post(&url, b"{}", Duration::from_secs(5)).is_ok());
        assert_eq!(
            post(&url, b"{}", Duration::from_secs(5)).unwrap_err(),
            "HTTP 500 Boom"
        );
        assert!(post(&url, b"{}", Duration::from_secs(1))
            .unwrap_err()
            .contains("no answer"));
        server.join().unwrap();
    }
}
