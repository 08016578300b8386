//! Checks of the Condition block: operators, keys (against the Service Authorization
//! Reference), and values against the operator's type.

use super::check::{child, index, type_name, Ctx};
use super::codes::*;
use palisade_iam_data::ValueType;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Date,
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

impl Kind {
    /// Whether keys of type `t` can be compared with operators of this kind.
    fn accepts(self, t: ValueType) -> bool {
        match self {
            Kind::Null => true,
            Kind::String => matches!(t, ValueType::String | ValueType::Arn),
            // AWS's own policies use ArnLike on String keys (kms:EncryptionContext:aws:s3:arn).
            Kind::Arn => matches!(t, ValueType::Arn | ValueType::String),
            Kind::Numeric => t == ValueType::Numeric,
            Kind::Date => t == ValueType::Date,
            Kind::Bool => t == ValueType::Bool,
            Kind::Binary => t == ValueType::Binary,
            Kind::Ip => t == ValueType::IpAddress,
        }
    }

    /// Operator kinds that suit a key of type `t`, for messages.
    fn for_type(t: ValueType) -> &'static str {
        match t {
            ValueType::String => "String",
            ValueType::Arn => "ARN or String",
            ValueType::Bool => "Bool",
            ValueType::Numeric => "Numeric",
            ValueType::Date => "Date",
            ValueType::IpAddress => "IpAddress",
            ValueType::Binary => "Binary",
        }
    }
}

struct Operator {
    kind: Kind,
    /// `StringEquals`-like operators that do not interpret wildcards.
    exact_string: bool,
    for_all_values: bool,
}

const OPERATORS: [(&str, Kind); 29] = [
    ("StringEquals", Kind::String),
    ("StringNotEquals", Kind::String),
    ("StringEqualsIgnoreCase", Kind::String),
    ("StringNotEqualsIgnoreCase", Kind::String),
    ("StringLike", Kind::String),
    ("StringNotLike", Kind::String),
    ("NumericEquals", Kind::Numeric),
    ("NumericNotEquals", Kind::Numeric),
    ("NumericLessThan", Kind::Numeric),
    ("NumericLessThanEquals", Kind::Numeric),
    ("NumericGreaterThan", Kind::Numeric),
    ("NumericGreaterThanEquals", Kind::Numeric),
    ("DateEquals", Kind::Date),
    ("DateNotEquals", Kind::Date),
    ("DateLessThan", Kind::Date),
    ("DateLessThanEquals", Kind::Date),
    ("DateGreaterThan", Kind::Date),
    ("DateGreaterThanEquals", Kind::Date),
    ("Bool", Kind::Bool),
    ("BinaryEquals", Kind::Binary),
    ("IpAddress", Kind::Ip),
    ("NotIpAddress", Kind::Ip),
    ("ArnEquals", Kind::Arn),
    ("ArnNotEquals", Kind::Arn),
    ("ArnLike", Kind::Arn),
    ("ArnNotLike", Kind::Arn),
    ("Null", Kind::Null),
    // Not operators of their own, but accepted by IAM as aliases.
    ("ArnNotLikeIfExists", Kind::Arn),
    ("StringNotLikeIfExists", Kind::String),
];

/// Parses `[ForAllValues:|ForAnyValue:]<operator>[IfExists]`; `Err` is the finding code.
fn parse_operator(op: &str) -> Result<Operator, &'static str> {
    let (for_all_values, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (true, r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (false, r)
    } else {
        (false, op)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let kind = OPERATORS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, k)| *k)
        .ok_or(INVALID_CONDITION_OPERATOR)?;
    if kind == Kind::Null && if_exists {
        return Err(NULL_WITH_IF_EXISTS);
    }
    let exact_string = matches!(
        base,
        "StringEquals" | "StringNotEquals" | "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase"
    );
    Ok(Operator {
        kind,
        exact_string,
        for_all_values,
    })
}

pub(super) fn check_condition(
    cx: &mut Ctx,
    path: &str,
    cond: &Value,
    _actions: &[(String, String)],
    allow: bool,
) {
    let Value::Object(ops) = cond else {
        cx.error(
            DATA_TYPE_MISMATCH,
            path,
            format!("Condition must be an object, not {}.", type_name(cond)),
        );
        return;
    };
    if ops.is_empty() {
        cx.suggestion(
            EMPTY_OBJECT_CONDITION,
            path,
            "The Condition object is empty.".to_string(),
        );
    }
    for (op_name, block) in ops {
        let op_path = child(path, op_name);
        let op = match parse_operator(op_name) {
            Ok(op) => op,
            Err(code) => {
                let msg = if code == NULL_WITH_IF_EXISTS {
                    "The Null operator cannot take IfExists.".to_string()
                } else {
                    format!("The condition operator {op_name:?} is not valid.")
                };
                cx.error(code, &op_path, msg);
                continue;
            }
        };
        let Value::Object(keys) = block else {
            cx.error(
                DATA_TYPE_MISMATCH,
                &op_path,
                format!(
                    "The {op_name} block must be an object of keys, not {}.",
                    type_name(block)
                ),
            );
            continue;
        };
        if keys.is_empty() {
            cx.suggestion(
                EMPTY_OBJECT_CONDITION,
                &op_path,
                format!("The {op_name} block is empty."),
            );
        }
        for (key, values) in keys {
            let key_path = child(&op_path, key);
            check_key(cx, &key_path, op_name, &op, key, allow);
            check_values(cx, &key_path, op_name, &op, values);
        }
    }
}

fn check_key(cx: &mut Ctx, path: &str, op_name: &str, op: &Operator, key: &str, allow: bool) {
    let Some((prefix, name)) = key.split_once(':') else {
        cx.error(
            INVALID_CONDITION_KEY_FORMAT,
            path,
            format!("The condition key {key:?} must be <service>:<key>, e.g. aws:SourceIp."),
        );
        return;
    };
    if prefix.is_empty() || name.is_empty() {
        cx.error(
            INVALID_CONDITION_KEY_FORMAT,
            path,
            format!("The condition key {key:?} must be <service>:<key>, e.g. aws:SourceIp."),
        );
        return;
    }
    let found = palisade_iam_data::condition_key(key);
    let Some(ck) = found else {
        if prefix.eq_ignore_ascii_case("aws") {
            cx.warning(
                INVALID_GLOBAL_CONDITION_KEY,
                path,
                format!("The global condition key {key:?} does not exist."),
            );
        } else {
            cx.warning(
                INVALID_SERVICE_CONDITION_KEY,
                path,
                format!("The condition key {key:?} is not in the Service Authorization Reference."),
            );
        }
        return;
    };
    if !op.kind.accepts(ck.value_type) {
        cx.warning(
            TYPE_MISMATCH,
            path,
            format!(
                "The condition key {key:?} is of type {}; use a {} operator instead of {op_name}.",
                ck.value_type.as_str(),
                Kind::for_type(ck.value_type)
            ),
        );
    }
    if allow && op.for_all_values && !ck.multivalued {
        cx.warning(
            FORALLVALUES_WITH_SINGLE_VALUED_KEY,
            path,
            format!(
                "ForAllValues with the single-valued key {key:?} is true when the key is \
                 missing; use a plain operator."
            ),
        );
    }
}

fn check_values(cx: &mut Ctx, path: &str, op_name: &str, op: &Operator, values: &Value) {
    let items: Vec<(String, &Value)> = match values {
        Value::Array(a) => {
            if a.is_empty() {
                cx.suggestion(
                    EMPTY_ARRAY_CONDITION,
                    path,
                    "The condition has no values.".to_string(),
                );
            }
            a.iter()
                .enumerate()
                .map(|(i, v)| (index(path, i), v))
                .collect()
        }
        v => vec![(path.to_string(), v)],
    };
    if op.kind == Kind::Bool && items.len() > 1 {
        cx.error(
            INVALID_CONDITION_MULTIPLE_BOOLEAN,
            path,
            format!("{op_name} takes one Boolean value, not {}.", items.len()),
        );
    }
    for (p, v) in items {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                cx.error(
                    DATA_TYPE_MISMATCH,
                    &p,
                    format!(
                        "A condition value must be a string, number or boolean, not {}.",
                        type_name(other)
                    ),
                );
                continue;
            }
        };
        if text.contains("${") {
            super::check::check_variables(cx, &p, &text);
            continue;
        }
        let bad = |code: &'static str, want: &str| {
            (
                code,
                format!("{op_name} needs {want}; {text:?} is not one."),
            )
        };
        let problem = match op.kind {
            Kind::Numeric if text.trim().parse::<f64>().is_err() => {
                Some(bad(TYPE_MISMATCH_NUMBER, "a number"))
            }
            Kind::Date if !is_date(&text) => {
                Some(bad(TYPE_MISMATCH_DATE, "an ISO 8601 date or epoch seconds"))
            }
            Kind::Bool | Kind::Null
                if !text.eq_ignore_ascii_case("true") && !text.eq_ignore_ascii_case("false") =>
            {
                Some(bad(TYPE_MISMATCH_BOOLEAN, "\"true\" or \"false\""))
            }
            Kind::Ip if !is_ip_range(&text) => {
                Some(bad(TYPE_MISMATCH_IP_RANGE, "an IP address or CIDR range"))
            }
            Kind::Arn if !(text.starts_with("arn:") || text == "*") => {
                Some(bad(TYPE_MISMATCH_ARN, "an ARN"))
            }
            _ => None,
        };
        if let Some((code, msg)) = problem {
            cx.error(code, &p, msg);
        }
        if op.exact_string && text.contains(['*', '?']) {
            cx.warning(
                WILDCARD_WITHOUT_LIKE_OPERATOR,
                &p,
                format!(
                    "{op_name} compares {text:?} literally; use StringLike to match wildcards."
                ),
            );
        }
    }
}

/// ISO 8601 (`2026-01-01`, `2026-01-01T00:00:00Z`, with offset or fraction) or epoch seconds.
fn is_date(s: &str) -> bool {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return false;
    }
    match b.get(10) {
        None => true,
        Some(b'T') | Some(b't') => {
            digits(11..13)
                && b.get(13) == Some(&b':')
                && digits(14..16)
                && b.get(16..).is_some_and(|rest| {
                    rest.iter()
                        .all(|c| c.is_ascii_digit() || b":.+-Zz".contains(c))
                })
        }
        _ => false,
    }
}

fn is_ip_range(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => true,
        Some(p) => p.parse::<u8>().is_ok_and(|n| n <= max),
    }
}
