//! Data-driven corpus: every `tests/corpus/*.json` file holds
//! `{"cases":[{"name","rule","request","expect"}]}` where `request` is a CONTRACT.md
//! "Policy tool" request (an object, or a raw string for malformed-input cases) and `expect`
//! is `allowed` | `explicitDeny` | `implicitDeny` | `inputError`.
//!
//! Every case runs through `palisade_policy::cli::eval`; all mismatches are reported together.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MIN_CASES: usize = 250;

struct Case {
    file: String,
    name: String,
    rule: String,
    input: String,
    expect: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

fn load() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        let doc: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let list = doc["cases"]
            .as_array()
            .unwrap_or_else(|| panic!("{file}: no \"cases\" array"));
        for (i, c) in list.iter().enumerate() {
            let field = |k: &str| -> String {
                c[k].as_str()
                    .unwrap_or_else(|| panic!("{file}: case {i}: missing string field {k:?}"))
                    .to_owned()
            };
            let input = match &c["request"] {
                serde_json::Value::String(raw) => raw.clone(),
                serde_json::Value::Object(_) => c["request"].to_string(),
                other => {
                    panic!("{file}: case {i}: request must be an object or a string, got {other}")
                }
            };
            let expect = field("expect");
            assert!(
                matches!(
                    expect.as_str(),
                    "allowed" | "explicitDeny" | "implicitDeny" | "inputError"
                ),
                "{file}: case {i}: bad expect {expect:?}"
            );
            cases.push(Case {
                file: file.clone(),
                name: field("name"),
                rule: field("rule"),
                input,
                expect,
            });
        }
    }
    cases
}

#[test]
fn corpus_matches_aws() {
    let cases = load();
    assert!(
        cases.len() >= MIN_CASES,
        "corpus has {} cases, expected at least {MIN_CASES}",
        cases.len()
    );
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert((c.file.as_str(), c.name.as_str())),
            "{}: duplicate case name {:?}",
            c.file,
            c.name
        );
    }

    let mut failures = String::new();
    let mut failed = 0usize;
    for c in &cases {
        let (got, explanation) = match palisade_policy::cli::eval(&c.input) {
            Ok(v) => (
                v["decision"].as_str().unwrap_or("<no decision>").to_owned(),
                v["explanation"].as_str().unwrap_or("").to_owned(),
            ),
            Err(e) => ("inputError".to_owned(), e.to_string()),
        };
        if got != c.expect {
            failed += 1;
            let _ = writeln!(
                failures,
                "\n[{}] {}\n  expected: {}\n  got:      {}\n  rule:     {}\n  explanation: {}",
                c.file, c.name, c.expect, got, c.rule, explanation
            );
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} corpus cases disagree with the expected AWS decision:{failures}",
        cases.len()
    );
    eprintln!("corpus: {} cases, all match", cases.len());
}

/// The benchmark policy sets shared with `tests/crosscheck/bench.mjs` (iam-simulate) must
/// decide as their files say, so both benches time the same, correct evaluation.
#[test]
fn bench_sets_decide_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crosscheck/bench");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("tests/crosscheck/bench exists") {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let set: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let out = palisade_policy::cli::eval(&set["request"].to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            out["decision"],
            set["expect"],
            "{}: {}",
            path.display(),
            out["explanation"]
        );
        n += 1;
    }
    assert!(n >= 2, "expected the typical and large bench sets");
}
