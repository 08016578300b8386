//! Developer chores: code generation from AWS's published models and data.
fn main() {}
