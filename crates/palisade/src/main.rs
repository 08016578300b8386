//! `palisade`: the AWS security control plane, running locally as one binary.

use anyhow::Context as _;

use clap::{Parser, Subcommand};
use std::{
    io::{Read as _, Write as _},
    path::PathBuf,
    process::ExitCode,
};

/// mimalloc instead of the system allocator: the request path allocates many short-lived
/// buffers on several threads, and glibc's malloc (with its fastbin consolidation) cost
/// about a fifth of the CPU per request in `bench/run.sh` (see the README's numbers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "The AWS security control plane, running locally: IAM, STS, CloudTrail and more, \
             SigV4-verified and policy-enforced on every call.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service on one port until SIGTERM or Ctrl-C.
    ///
    /// Point clients at it as at AWS: `aws --endpoint-url http://127.0.0.1:4599 ...`,
    /// `boto3.client(..., endpoint_url=...)` or `AWS_ENDPOINT_URL`. A new data dir gets a
    /// management account and a root access key (from PALISADE_ROOT_ACCESS_KEY_ID and
    /// PALISADE_ROOT_SECRET_ACCESS_KEY, or generated into DATA_DIR/root-credentials).
    Serve(ServeArgs),
    /// Evaluate and validate IAM policies offline.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "PALISADE_LISTEN", default_value = "127.0.0.1:4599")]
    listen: String,
    /// Directory holding everything durable (embedded SQLite, master key, root credentials).
    #[arg(long, env = "PALISADE_DATA_DIR", default_value = "./palisade-data")]
    data_dir: PathBuf,
    /// Management account id for a new data dir (12 digits).
    #[arg(long, env = "PALISADE_ACCOUNT_ID", default_value = "000000000000",
          value_parser = parse_account_id)]
    account_id: String,
    /// When a write is acknowledged: `full` after fsync (survives power loss), `normal`
    /// once the OS has it (survives `kill -9` of Palisade, not a power cut; faster).
    #[arg(long, env = "PALISADE_SYNC", default_value = "full", value_parser = ["full", "normal"])]
    sync: String,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Decide one request (JSON, see CONTRACT.md) and print {"decision","matched","explanation"}.
    Eval {
        /// Request file, or `-` for standard input.
        file: String,
    },
    /// Check one policy document and print its findings; exit 1 if any is an ERROR.
    Validate {
        /// Policy file, or `-` for standard input.
        file: String,
        /// Policy type: identity, resource, scp or rcp (or AWS's IDENTITY_POLICY, ...).
        #[arg(long, default_value = "identity")]
        policy_type: String,
    },
}

fn parse_account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("an account id is 12 digits".to_owned())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("palisade: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Policy { command } => policy(command),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let root_key = match (
        std::env::var("PALISADE_ROOT_ACCESS_KEY_ID"),
        std::env::var("PALISADE_ROOT_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => Some((id, secret)),
        _ => None,
    };
    let config = palisade_server::Config {
        listen: args.listen,
        data_dir: args.data_dir,
        account_id: args.account_id,
        root_key,
        durability: if args.sync == "normal" {
            palisade_server::Durability::Normal
        } else {
            palisade_server::Durability::Full
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(palisade_server::serve(config, shutdown_signal()))?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn read_input(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))
    }
}

/// One `palisade policy` run: input text to (JSON output, found errors) or an input error.
type PolicyRun = Box<dyn Fn(&str) -> Result<(serde_json::Value, bool), String>>;

fn policy(command: PolicyCommand) -> ExitCode {
    let (file, run): (String, PolicyRun) = match command {
        PolicyCommand::Eval { file } => (
            file,
            Box::new(|input| {
                palisade_policy::cli::eval(input)
                    .map(|v| (v, false))
                    .map_err(|e| e.to_string())
            }),
        ),
        PolicyCommand::Validate { file, policy_type } => {
            let ty = match policy_type.parse::<palisade_policy::validate::PolicyType>() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("palisade policy validate: {e}");
                    return ExitCode::from(2);
                }
            };
            (
                file,
                Box::new(move |input| {
                    palisade_policy::validate::cli_validate(input, ty).map_err(|e| e.to_string())
                }),
            )
        }
    };
    let input = match read_input(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("palisade policy: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&input) {
        Ok((value, has_errors)) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let text = serde_json::to_string_pretty(&value).unwrap_or_default();
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            if has_errors {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("palisade policy: {e}");
            ExitCode::from(2)
        }
    }
}
