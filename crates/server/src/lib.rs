//! Palisade's HTTP front: one port for every service.
//!
//! Each request goes through one pipeline ([`pipeline`]): authenticate (SigV4) ->
//! route and decode -> authorize (every check the operation lists) -> run -> audit.
//! The operation's effect and its CloudTrail record commit in one store transaction, and
//! the response leaves only after that commit is durable.
//!
//! This crate owns HTTP; services never see it. The admin plane lives under
//! `/_palisade/` ([`admin`]).

mod admin;
mod app;
mod indexer;
mod pipeline;
mod wire;

pub use app::{App, Config, StartError};
pub use palisade_store::sqlite::Durability;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Binds, prints the ready line, and serves until `shutdown` resolves; then stops
/// accepting, lets in-flight requests finish, flushes the store and returns.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let app = Arc::new(App::open(&config)?);
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen.clone(), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen.clone(), e))?;
    eprintln!("palisade listening on http://{local}");
    // AWS-LC seeds its own random generator on first use from CPU jitter entropy (tens of
    // milliseconds of CPU): do it now, off the request path, rather than in the first call
    // that signs or generates a key pair. Nothing before the ready line needs it (see
    // `palisade_store::seal::fill_random`).
    let _ = std::thread::Builder::new()
        .name("seed-aws-lc".into())
        .spawn(|| {
            let mut b = [0u8; 1];
            let _ = aws_lc_rs::rand::fill(&mut b);
        });

    let scheduler = spawn_scheduler(app.clone());
    let indexer = indexer::Indexer::spawn(app.env.clone()).map_err(StartError::Thread)?;
    // Rotation hooks run outside the store writer, on their own threads (they call back
    // into this server at its own URL).
    let hooks = palisade_services::secrets::hooks::Dispatcher::spawn(
        app.env.clone(),
        format!("http://{local}"),
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |req| handle(app.clone(), req, remote)),
                    );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    graceful.shutdown().await;
    scheduler.abort();
    let _ = scheduler.await;
    hooks.stop();
    indexer.stop();
    app.shutdown();
    Ok(())
}

/// The business-clock scheduler: about every second of wall time, runs the work that is
/// due (secret rotations) in a store write job. Stopped at shutdown before the store.
fn spawn_scheduler(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let env = app.env.clone();
            match tokio::task::spawn_blocking(move || palisade_services::scheduler::run_due(&env))
                .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled work failed"),
                Err(e) => tracing::error!(error = %e, "scheduler task failed"),
            }
        }
    })
}

async fn handle(
    app: Arc<App>,
    req: hyper::Request<Incoming>,
    remote: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    Ok(pipeline::handle(app, req, remote).await)
}
