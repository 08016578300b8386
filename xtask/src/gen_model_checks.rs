//! `gen-model-checks`: the input constraints of botocore's service models (lengths, value
//! ranges, patterns, enums, required members), for the services whose model violations
//! AWS answers in its framework's words ("N validation errors detected: Value ... at
//! '...' failed to satisfy constraint: ..."), into
//! crates/services/src/model_checks.json. `palisade_services::model_checks` walks a
//! request against it before authorization.
//!
//! Only the shapes reachable from an operation's input are kept, each with just what the
//! checks need. One line per shape keeps diffs readable when botocore changes.

use anyhow::{bail, Context, Result};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// botocore directory names. Organizations and CloudTrail answer model violations with
/// their own exceptions (InvalidInputException, InvalidParameterException and kin), which
/// their decoders produce; they are not here.
const SERVICES: &[&str] = &["iam", "kms", "secretsmanager", "ssm", "sts"];

pub fn run(args: &[String]) -> Result<()> {
    let data = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => crate::gen_service_models::botocore_data_dir()?,
    };
    let mut out = String::from("{\n");
    for (i, name) in SERVICES.iter().enumerate() {
        let text = crate::gen_service_models::load_text(&data, name)?;
        let model: Value = serde_json::from_str(&text)?;
        let order = member_order(&text)?;
        let (ops, shapes) = service(&model, &order).with_context(|| format!("service {name}"))?;
        writeln!(out, "  {}: {{", json!(name))?;
        writeln!(out, "    \"ops\": {},", Value::Object(ops))?;
        out.push_str("    \"shapes\": [\n");
        for (j, shape) in shapes.iter().enumerate() {
            let sep = if j + 1 < shapes.len() { "," } else { "" };
            writeln!(out, "      {shape}{sep}")?;
        }
        out.push_str("    ]\n");
        let sep = if i + 1 < SERVICES.len() { "," } else { "" };
        writeln!(out, "  }}{sep}")?;
    }
    out.push_str("}\n");
    let dest = crate::workspace_root().join("crates/services/src/model_checks.json");
    std::fs::write(&dest, out).with_context(|| format!("writing {}", dest.display()))?;
    println!("wrote {} ({} services)", dest.display(), SERVICES.len());
    Ok(())
}

/// The operations (name -> input shape index) and the shapes of one service model.
fn service(model: &Value, order: &MemberOrder) -> Result<(Map<String, Value>, Vec<Value>)> {
    let all = model
        .get("shapes")
        .and_then(Value::as_object)
        .context("shapes")?;
    let operations = model
        .get("operations")
        .and_then(Value::as_object)
        .context("operations")?;
    let mut names: Vec<&String> = operations.keys().collect();
    names.sort();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut shapes: Vec<Value> = Vec::new();
    let mut ops = Map::new();
    for op in names {
        let Some(input) = operations
            .get(op)
            .and_then(|o| o.get("input"))
            .and_then(|i| i.get("shape"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let at = intern(input, all, order, &mut index, &mut shapes)?;
        ops.insert(op.clone(), json!(at));
    }
    Ok((ops, shapes))
}

/// The index of shape `name`, adding it (and everything it reaches) when new.
fn intern(
    name: &str,
    all: &Map<String, Value>,
    order: &MemberOrder,
    index: &mut HashMap<String, usize>,
    shapes: &mut Vec<Value>,
) -> Result<usize> {
    if let Some(&at) = index.get(name) {
        return Ok(at);
    }
    let shape = all.get(name).with_context(|| format!("shape {name}"))?;
    let at = shapes.len();
    index.insert(name.to_owned(), at);
    shapes.push(Value::Null);
    let kind = shape.get("type").and_then(Value::as_str).context("type")?;
    let mut out = Map::new();
    out.insert("k".into(), json!(kind));
    for bound in ["min", "max"] {
        if let Some(n) = shape.get(bound) {
            // Ranges of doubles are not integers; none of these services' inputs has one
            // that Palisade would need, and a truncated bound would be wrong.
            let Some(n) = n.as_i64() else {
                bail!("{name}: non-integer {bound}");
            };
            out.insert(bound.into(), json!(n));
        }
    }
    if let Some(p) = shape.get("pattern") {
        out.insert("p".into(), p.clone());
    }
    if let Some(e) = shape.get("enum") {
        out.insert("e".into(), e.clone());
    }
    if shape.get("sensitive").and_then(Value::as_bool) == Some(true) {
        out.insert("s".into(), json!(true));
    }
    match kind {
        "structure" => {
            let required: Vec<&str> = shape
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut members = Vec::new();
            if let Some(m) = shape.get("members").and_then(Value::as_object) {
                let names = order.get(name).map(Vec::as_slice).unwrap_or_default();
                for member in names {
                    let spec = m.get(member).context("member")?;
                    let target = spec
                        .get("shape")
                        .and_then(Value::as_str)
                        .context("member")?;
                    let to = intern(target, all, order, index, shapes)?;
                    members.push(json!([member, to, required.contains(&member.as_str())]));
                }
            }
            out.insert("m".into(), Value::Array(members));
        }
        "list" => {
            let target = shape
                .pointer("/member/shape")
                .and_then(Value::as_str)
                .context("list member")?;
            let to = intern(target, all, order, index, shapes)?;
            out.insert("el".into(), json!(to));
        }
        _ => {}
    }
    if let Some(slot) = shapes.get_mut(at) {
        *slot = Value::Object(out);
    }
    Ok(at)
}

/// Structure shape name -> its member names in the model's order (AWS reports violations
/// in member order; `serde_json::Value` objects are sorted by name).
type MemberOrder = HashMap<String, Vec<String>>;

fn member_order(text: &str) -> Result<MemberOrder> {
    #[derive(serde::Deserialize)]
    struct RawModel<'a> {
        #[serde(borrow)]
        shapes: HashMap<String, &'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct RawShape {
        #[serde(default)]
        members: Option<Keys>,
    }
    let raw: RawModel<'_> = serde_json::from_str(text)?;
    let mut out = HashMap::new();
    for (name, shape) in raw.shapes {
        let shape: RawShape = serde_json::from_str(shape.get())?;
        if let Some(Keys(keys)) = shape.members {
            out.insert(name, keys);
        }
    }
    Ok(out)
}

/// A JSON object's keys, in document order.
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(KeysVisitor)
    }
}
