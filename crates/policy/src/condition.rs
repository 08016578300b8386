//! Condition operators and their evaluation.
//!
//! Rules (IAM User Guide, "IAM JSON policy elements: Condition operators" and
//! "Condition keys with multiple values / set operators"):
//! - Multiple operators in a block, and multiple keys in an operator, are ANDed; multiple
//!   values for one key are ORed.
//! - A key missing from the request makes the condition false, except: negated operators
//!   (`StringNotEquals`, `StringNotLike`, `ArnNotLike`, ...) are true; `...IfExists` is true;
//!   `Null` tests presence itself.
//! - `ForAnyValue:` is true when at least one request value matches; false when the key is
//!   missing or its value set is empty.
//! - `ForAllValues:` is true when every request value matches; true when the key is missing
//!   or its value set is empty.
//! - A negated operator with a set qualifier negates per request value: for
//!   `ForAllValues:StringNotEquals` no request value may equal any policy value.

use crate::context::Context;
use crate::pattern::{split_arn, ArnPattern, Glob, Subject};
use crate::variables::{Template, Unresolved};
use std::net::IpAddr;

/// A condition operator, without qualifier or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPERATORS: &[(&str, Operator)] = &[
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        Operator::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericNotEquals", Operator::NumericNotEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("DateEquals", Operator::DateEquals),
    ("DateNotEquals", Operator::DateNotEquals),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
    ("BinaryEquals", Operator::BinaryEquals),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("ArnEquals", Operator::ArnEquals),
    ("ArnLike", Operator::ArnLike),
    ("ArnNotEquals", Operator::ArnNotEquals),
    ("ArnNotLike", Operator::ArnNotLike),
    ("Null", Operator::Null),
];

impl Operator {
    /// Looks up an operator name (case-insensitive, as IAM accepts).
    pub fn from_name(s: &str) -> Option<Operator> {
        OPERATORS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, o)| *o)
    }

    pub fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| n)
    }

    /// Negated operators are true when the key is missing.
    pub fn is_negated(self) -> bool {
        use Operator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Whether a policy variable in this operator's values is filled in. AWS (IAM User
    /// Guide, "Variables and tags", Condition element): with the string and ARN operators,
    /// and Bool ("You can use a policy variable with the Boolean condition operator"), not
    /// with the Numeric, Date, Binary, IP address or Null operators, where `${...}` stays
    /// literal text (which then matches nothing).
    pub fn takes_variables(self) -> bool {
        use Operator::*;
        matches!(
            self.positive(),
            StringEquals | StringEqualsIgnoreCase | StringLike | ArnEquals | ArnLike | Bool
        )
    }

    /// The positive operator a negated one negates (itself if not negated).
    fn positive(self) -> Operator {
        use Operator::*;
        match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            o => o,
        }
    }
}

/// The set qualifier of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// A policy value compiled for its operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Compiled {
    Str(String),
    Glob(Glob),
    Num(Option<f64>),
    Date(Option<i128>),
    Bool(Option<bool>),
    Ip(Option<(IpAddr, u8)>),
    Arn(Option<ArnPattern>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondValue {
    pub(crate) raw: String,
    pub(crate) template: Option<Template>,
    pub(crate) compiled: Compiled,
}

/// One `operator: { key: values }` test.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub(crate) op: Operator,
    pub(crate) qualifier: Qualifier,
    pub(crate) if_exists: bool,
    /// The operator as written, for explanations.
    pub(crate) op_name: String,
    pub(crate) key: String,
    pub(crate) values: Vec<CondValue>,
    pub(crate) has_templates: bool,
}

impl Condition {
    pub(crate) fn new(
        op: Operator,
        qualifier: Qualifier,
        if_exists: bool,
        op_name: &str,
        key: &str,
        raw_values: Vec<String>,
        variables: bool,
    ) -> Condition {
        let values: Vec<CondValue> = raw_values
            .into_iter()
            .map(|raw| {
                let template = if variables && op.takes_variables() {
                    Template::parse(&raw)
                } else {
                    None
                };
                let compiled = compile(op, &raw);
                CondValue {
                    raw,
                    template,
                    compiled,
                }
            })
            .collect();
        let has_templates = values.iter().any(|v| v.template.is_some());
        Condition {
            op,
            qualifier,
            if_exists,
            op_name: op_name.to_owned(),
            key: key.to_owned(),
            values,
            has_templates,
        }
    }

    pub fn operator(&self) -> Operator {
        self.op
    }
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn operator_name(&self) -> &str {
        &self.op_name
    }

    /// Evaluates against the request context. A value whose variable does not resolve
    /// (no value, no default) matches no request value; the condition's other values are
    /// still compared, so their order does not matter (AWS: the values of a key are ORed).
    pub(crate) fn eval(&self, ctx: &Context) -> bool {
        let vals = ctx.get(&self.key);
        if self.op == Operator::Null {
            let present = vals.is_some_and(|v| !v.is_empty());
            return self.values.iter().any(|v| match v.compiled {
                Compiled::Bool(Some(true)) => !present,
                Compiled::Bool(Some(false)) => present,
                _ => false,
            });
        }
        let vals = match vals {
            Some(v) if !v.is_empty() => v,
            _ => {
                return match self.qualifier {
                    Qualifier::ForAllValues => true,
                    Qualifier::ForAnyValue => self.if_exists,
                    Qualifier::None => self.if_exists || self.op.is_negated(),
                }
            }
        };
        let pos = self.op.positive();
        let negated = self.op.is_negated();
        if self.has_templates {
            let rendered: Vec<Compiled> = self
                .values
                .iter()
                .filter_map(|v| match &v.template {
                    Some(t) => compile_rendered(self.op, t, ctx).ok(),
                    None => Some(v.compiled.clone()),
                })
                .collect();
            let any_policy = |cv: &str| rendered.iter().any(|pv| value_matches(pos, pv, cv));
            return self.combine(vals, negated, any_policy);
        }
        let any_policy = |cv: &str| {
            self.values
                .iter()
                .any(|pv| value_matches(pos, &pv.compiled, cv))
        };
        self.combine(vals, negated, any_policy)
    }

    /// Applies the set qualifier; `any_policy(v)`: request value `v` matches some policy
    /// value under the positive operator.
    fn combine(&self, vals: &[String], negated: bool, any_policy: impl Fn(&str) -> bool) -> bool {
        match self.qualifier {
            Qualifier::None => vals.iter().any(|cv| any_policy(cv)) != negated,
            Qualifier::ForAnyValue => vals.iter().any(|cv| any_policy(cv) != negated),
            Qualifier::ForAllValues => vals.iter().all(|cv| any_policy(cv) != negated),
        }
    }
}

fn compile_rendered(op: Operator, t: &Template, ctx: &Context) -> Result<Compiled, Unresolved> {
    match op.positive() {
        Operator::StringLike => Ok(Compiled::Glob(Glob::from_toks(t.render_toks(ctx, false)?))),
        Operator::ArnEquals | Operator::ArnLike => Ok(Compiled::Arn(arn_pattern(
            ArnPattern::from_toks(t.render_toks(ctx, false)?),
        ))),
        _ => Ok(compile(op, &t.render(ctx)?)),
    }
}

fn arn_pattern(p: ArnPattern) -> Option<ArnPattern> {
    match p {
        ArnPattern::Plain(_) => None,
        p => Some(p),
    }
}

pub(crate) fn compile(op: Operator, raw: &str) -> Compiled {
    use Operator::*;
    match op.positive() {
        StringEquals | StringEqualsIgnoreCase | BinaryEquals => Compiled::Str(raw.to_owned()),
        StringLike => Compiled::Glob(Glob::new(raw, false)),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => Compiled::Num(parse_number(raw)),
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => Compiled::Date(parse_date(raw)),
        Bool | Null => Compiled::Bool(parse_bool(raw)),
        IpAddress => Compiled::Ip(parse_cidr(raw)),
        ArnEquals | ArnLike => Compiled::Arn(arn_pattern(ArnPattern::new(raw))),
        _ => Compiled::Str(raw.to_owned()),
    }
}

/// Does one request value match one policy value under the positive operator `op`?
fn value_matches(op: Operator, pv: &Compiled, cv: &str) -> bool {
    use Operator::*;
    match (op, pv) {
        (StringEquals, Compiled::Str(p)) => p == cv,
        (BinaryEquals, Compiled::Str(p)) => p.trim() == cv.trim(),
        (StringEqualsIgnoreCase, Compiled::Str(p)) => {
            p.eq_ignore_ascii_case(cv) || (!p.is_ascii() && p.to_lowercase() == cv.to_lowercase())
        }
        (StringLike, Compiled::Glob(g)) => g.matches(cv),
        (_, Compiled::Num(Some(p))) => match parse_number(cv) {
            Some(c) => compare(op, c.partial_cmp(p)),
            None => false,
        },
        (_, Compiled::Date(Some(p))) => match parse_date(cv) {
            Some(c) => compare(op, Some(c.cmp(p))),
            None => false,
        },
        (Bool, Compiled::Bool(Some(p))) => parse_bool(cv) == Some(*p),
        (IpAddress, Compiled::Ip(Some((net, bits)))) => match cv.trim().parse::<IpAddr>() {
            Ok(ip) => in_cidr(ip, *net, *bits),
            Err(_) => false,
        },
        (ArnEquals | ArnLike, Compiled::Arn(Some(p))) => {
            split_arn(cv).is_some() && p.matches(&Subject::new(cv))
        }
        _ => false,
    }
}

fn compare(op: Operator, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use Operator::*;
    match (op, ord) {
        (_, None) => false,
        (NumericEquals | DateEquals, Some(o)) => o == Equal,
        (NumericLessThan | DateLessThan, Some(o)) => o == Less,
        (NumericLessThanEquals | DateLessThanEquals, Some(o)) => o != Greater,
        (NumericGreaterThan | DateGreaterThan, Some(o)) => o == Greater,
        (NumericGreaterThanEquals | DateGreaterThanEquals, Some(o)) => o != Less,
        _ => false,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("nan") || s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses `a.b.c.d`, `a.b.c.d/n`, IPv6 and IPv6 CIDR. A bare address is a /32 or /128.
pub(crate) fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let s = s.trim();
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return None;
    }
    Some((ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        // An IPv4-mapped IPv6 request address against an IPv4 network.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_cidr(IpAddr::V4(v4), net, bits)),
        _ => false,
    }
}

/// Parses a date as AWS accepts it in Date conditions: ISO 8601 (date, date-time with
/// optional seconds, fraction and zone; no zone means UTC) or epoch seconds (UNIX time).
/// Returns nanoseconds since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if is_epoch(s) {
        let f: f64 = s.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        return Some((f * 1e9) as i128);
    }
    parse_iso8601(s)
}

/// `-?digits(.digits)?`: epoch seconds rather than an ISO 8601 date.
fn is_epoch(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    // Eight digits alone is an ISO 8601 basic date (20240101), not an epoch.
    !int.is_empty()
        && int.len() != 8
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_iso8601(s: &str) -> Option<i128> {
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (s.get(..i)?, Some(s.get(i + 1..)?)),
        None => (s, None),
    };
    let (y, m, d) = if date.len() == 8 && !date.contains('-') {
        (
            num(date.get(0..4)?)?,
            num(date.get(4..6)?)?,
            num(date.get(6..8)?)?,
        )
    } else {
        let mut it = date.split('-');
        let y = num(it.next()?)?;
        let m = num(it.next()?)?;
        let d = num(it.next()?)?;
        if it.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    if !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d) {
        return None;
    }
    // i128: a year may have up to 19 digits (`num` takes any i64), so days * 86 400 *
    // 10^9 overflows i64 but never i128.
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut nanos: i128 = 0;
    if let Some(t) = time {
        // Split off the zone designator.
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, z) = t.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = z.get(1..)?;
            let (hh, mm) = match z.split_once(':') {
                Some((h, m)) => (num(h)?, num(m)?),
                None if z.len() == 4 => (num(z.get(0..2)?)?, num(z.get(2..4)?)?),
                None if z.len() == 2 => (num(z)?, 0),
                None => return None,
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            (c, sign * (hh * 3600 + mm * 60))
        } else {
            (t, 0)
        };
        let (hms, frac) = match clock.split_once(['.', ',']) {
            Some((a, b)) => (a, Some(b)),
            None => (clock, None),
        };
        let parts: Vec<&str> = if hms.contains(':') {
            hms.split(':').collect()
        } else {
            // Basic format: HHMM or HHMMSS.
            (0..hms.len() / 2)
                .filter_map(|i| hms.get(i * 2..i * 2 + 2))
                .collect()
        };
        let (h, mi, se) = match parts.as_slice() {
            [h, m] => (num(h)?, num(m)?, 0),
            [h, m, s] => (num(h)?, num(m)?, num(s)?),
            _ => return None,
        };
        if h > 24 || mi > 59 || se > 60 {
            return None;
        }
        secs += i128::from(h * 3600 + mi * 60 + se - offset);
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits: String = f.chars().take(9).collect();
            let n: i128 = digits.parse().ok()?;
            nanos = n * 10i128.pow(9 - digits.len() as u32);
        }
    }
    Some(secs * 1_000_000_000 + nanos)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i128 {
    let (y, m, d) = (i128::from(y), i128::from(m), i128::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let e = 1_704_067_200i128 * 1_000_000_000; // 2024-01-01T00:00:00Z
        let cases: &[(&str, Option<i128>)] = &[
            ("2024-01-01T00:00:00Z", Some(e)),
            ("2024-01-01", Some(e)),
            ("2024-01-01T00:00Z", Some(e)),
            ("2024-01-01T01:00:00+01:00", Some(e)),
            ("2023-12-31T19:00:00-0500", Some(e)),
            ("2024-01-01T00:00:00.5Z", Some(e + 500_000_000)),
            ("2024-01-01T00:00:00.123456", Some(e + 123_456_000)),
            ("1704067200", Some(e)),
            ("20240101T000000Z", Some(e)),
            ("2024-02-30", None),
            ("yesterday", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_date(s), *want, "{s}");
        }
    }

    /// Fuzz find (parse_policy): a 16-digit year overflowed `days * 86_400` in i64 and
    /// panicked in debug builds (wrapped silently in release).
    #[test]
    fn huge_years_do_not_overflow() {
        let later = parse_date("2044445555666624-01-01T40:00:00Z");
        assert_eq!(later, None, "hour 40 is invalid");
        let huge = parse_date("2044445555666624-01-01T00:00:00Z").unwrap();
        let max = parse_date(&format!("{}-12-31T24:00:00-23:59", i64::MAX)).unwrap();
        let now = parse_date("2024-01-01").unwrap();
        assert!(now < huge && huge < max);
        let doc = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"DateLessThanEquals": {"aws:CurrentTime": "2044445555666624-01-01T40:00:00Z"}}}]}"#;
        for kind in [
            crate::PolicyKind::Identity,
            crate::PolicyKind::Resource,
            crate::PolicyKind::ServiceControl,
        ] {
            let _ = crate::Policy::parse(doc, kind);
        }
    }

    #[test]
    fn cidrs() {
        let (n, b) = parse_cidr("203.0.113.0/24").unwrap();
        assert!(in_cidr("203.0.113.5".parse().unwrap(), n, b));
        assert!(!in_cidr("203.0.114.5".parse().unwrap(), n, b));
        let (n, b) = parse_cidr("2001:db8::/32").unwrap();
        assert!(in_cidr("2001:db8:1::1".parse().unwrap(), n, b));
        assert!(!in_cidr("2001:db9::1".parse().unwrap(), n, b));
        let (n, b) = parse_cidr("0.0.0.0/0").unwrap();
        assert!(in_cidr("1.2.3.4".parse().unwrap(), n, b));
        assert!(parse_cidr("1.2.3.4/33").is_none());
    }
}
