//! Generated tables of IAM facts (actions, resource types, condition keys per service). Do not edit: `cargo xtask gen-iam-data`.
