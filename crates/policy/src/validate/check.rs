//! The document and statement checks.

use super::codes::*;
use super::condition;
use super::{Finding, PolicyType, Severity};
use serde_json::{Map, Value};

/// Collects findings while walking one document.
pub(super) struct Ctx {
    pub ty: PolicyType,
    /// `Version` is `2012-10-17`: policy variables are substituted.
    pub variables_supported: bool,
    pub findings: Vec<Finding>,
    /// The first rule of IAM's own grammar the document breaks, in IAM's words: what IAM
    /// answers as MalformedPolicyDocument (only for IAM's policy types).
    pub iam_rejection: Option<String>,
}

impl Ctx {
    pub fn push(&mut self, severity: Severity, code: &str, path: &str, message: String) {
        self.findings.push(Finding {
            severity,
            code: code.to_string(),
            message,
            path: path.to_string(),
        });
    }
    pub fn error(&mut self, code: &str, path: &str, message: String) {
        self.push(Severity::Error, code, path, message);
    }
    pub fn warning(&mut self, code: &str, path: &str, message: String) {
        self.push(Severity::Warning, code, path, message);
    }
    pub fn suggestion(&mut self, code: &str, path: &str, message: String) {
        self.push(Severity::Suggestion, code, path, message);
    }
    /// Records IAM's answer for a document IAM refuses; the first one found is kept.
    pub fn iam_reject(&mut self, message: impl FnOnce() -> String) {
        if self.ty.is_iam() && self.iam_rejection.is_none() {
            self.iam_rejection = Some(message());
        }
    }
}

/// `$.a` or `$["a:b"]`.
pub(super) fn child(path: &str, key: &str) -> String {
    let simple = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn check_document(text: &str, doc: &Value, ty: PolicyType) -> Vec<Finding> {
    walk(text, doc, ty).findings
}

/// Walks the whole document once, collecting findings and IAM's first rejection.
pub(super) fn walk(text: &str, doc: &Value, ty: PolicyType) -> Ctx {
    let mut cx = Ctx {
        ty,
        variables_supported: false,
        findings: Vec::new(),
        iam_rejection: None,
    };
    check_size(&mut cx, text);
    let Value::Object(top) = doc else {
        cx.error(
            DATA_TYPE_MISMATCH,
            "$",
            format!("A policy must be a JSON object, not {}.", type_name(doc)),
        );
        return cx;
    };
    for key in top.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            cx.error(
                INVALID_POLICY_ELEMENT,
                &child("$", key),
                format!("The policy element {key} is not valid (expected Version, Id, Statement)."),
            );
        }
    }
    match top.get("Version") {
        None => cx.warning(
            MISSING_VERSION,
            "$",
            "Add a Version element set to \"2012-10-17\"; without it IAM uses 2008-10-17, which \
             has no policy variables."
                .to_string(),
        ),
        Some(Value::String(v)) if v == "2012-10-17" => cx.variables_supported = true,
        Some(Value::String(v)) if v == "2008-10-17" => {}
        Some(Value::String(v)) => cx.error(
            INVALID_VERSION,
            "$.Version",
            format!("The policy version {v} is not valid; use \"2012-10-17\"."),
        ),
        Some(other) => cx.error(
            DATA_TYPE_MISMATCH,
            "$.Version",
            format!("Version must be a string, not {}.", type_name(other)),
        ),
    }
    if let Some(id) = top.get("Id") {
        if !id.is_string() {
            cx.error(
                DATA_TYPE_MISMATCH,
                "$.Id",
                format!("Id must be a string, not {}.", type_name(id)),
            );
        }
    }
    let statements: Vec<(String, &Value)> = match top.get("Statement") {
        None => {
            cx.error(
                MISSING_STATEMENT,
                "$",
                "Add a Statement element to the policy.".to_string(),
            );
            Vec::new()
        }
        Some(Value::Array(list)) => {
            if list.is_empty() {
                cx.error(
                    MISSING_STATEMENT,
                    "$.Statement",
                    "The Statement array is empty; add at least one statement.".to_string(),
                );
            }
            list.iter()
                .enumerate()
                .map(|(i, s)| (index("$.Statement", i), s))
                .collect()
        }
        Some(s @ Value::Object(_)) => vec![("$.Statement".to_string(), s)],
        Some(other) => {
            cx.error(
                DATA_TYPE_MISMATCH,
                "$.Statement",
                format!(
                    "Statement must be an object or an array of objects, not {}.",
                    type_name(other)
                ),
            );
            Vec::new()
        }
    };
    let mut seen_sids: Vec<(String, String)> = Vec::new();
    let mut seen_bodies: Vec<(String, Map<String, Value>)> = Vec::new();
    for (path, st) in statements {
        let Value::Object(st) = st else {
            cx.error(
                DATA_TYPE_MISMATCH,
                &path,
                format!("A statement must be an object, not {}.", type_name(st)),
            );
            continue;
        };
        check_statement(&mut cx, &path, st);
        if let Some(Value::String(sid)) = st.get("Sid") {
            if !sid.is_empty() {
                if let Some((first, _)) = seen_sids.iter().find(|(_, s)| s == sid) {
                    let (sev, code) = if cx.ty.is_identity_like() {
                        cx.iam_reject(|| {
                            "Statement IDs (SID) in a single policy must be unique.".to_string()
                        });
                        (Severity::Error, UNIQUE_SIDS_REQUIRED)
                    } else {
                        (Severity::Warning, UNIQUE_SIDS_RECOMMENDED)
                    };
                    let msg = format!(
                        "Duplicate Sid {sid:?}, also used at {first}; Sids must be unique."
                    );
                    cx.push(sev, code, &child(&path, "Sid"), msg);
                } else {
                    seen_sids.push((path.clone(), sid.clone()));
                }
            }
        }
        let mut body = st.clone();
        body.remove("Sid");
        if let Some((first, _)) = seen_bodies.iter().find(|(_, b)| *b == body) {
            let msg = format!("This statement repeats the statement at {first}; remove one.");
            cx.suggestion(REDUNDANT_STATEMENT, &path, msg);
        } else {
            seen_bodies.push((path.clone(), body));
        }
    }
    cx
}

fn check_size(cx: &mut Ctx, text: &str) {
    if matches!(
        cx.ty,
        PolicyType::Identity
            | PolicyType::UserInline
            | PolicyType::RoleInline
            | PolicyType::GroupInline
            | PolicyType::RoleTrust
    ) {
        if let Some((offset, c)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
        {
            cx.error(
                INVALID_CHARACTER,
                "$",
                format!(
                    "IAM policy documents may contain only tab, line feed, carriage return and \
                     U+0020 to U+00FF; found U+{:04X} at character {offset}.",
                    u32::from(c)
                ),
            );
        }
    }
    let Some((quota, whitespace_counts)) = cx.ty.size_quota() else {
        return;
    };
    let size = if whitespace_counts {
        text.chars().count()
    } else {
        text.chars().filter(|c| !c.is_whitespace()).count()
    };
    if size > quota {
        let code = match cx.ty {
            PolicyType::ServiceControl => POLICY_SIZE_EXCEEDS_SCP_QUOTA,
            PolicyType::ResourceControl => POLICY_SIZE_EXCEEDS_RCP_QUOTA,
            PolicyType::RoleTrust | PolicyType::Resource => {
                POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA
            }
            _ => POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA,
        };
        let what = if whitespace_counts {
            "characters"
        } else {
            "non-whitespace characters"
        };
        cx.error(
            code,
            "$",
            format!(
                "The policy has {size} {what}, over the {quota}-character quota for a {} policy.",
                cx.ty
            ),
        );
    }
}

const STATEMENT_ELEMENTS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn check_statement(cx: &mut Ctx, path: &str, st: &Map<String, Value>) {
    for key in st.keys() {
        if !STATEMENT_ELEMENTS.contains(&key.as_str()) {
            let hint = STATEMENT_ELEMENTS
                .iter()
                .find(|e| e.eq_ignore_ascii_case(key))
                .map(|e| format!(" (element names are case-sensitive: {e})"))
                .unwrap_or_default();
            cx.error(
                INVALID_POLICY_ELEMENT,
                &child(path, key),
                format!("The statement element {key} is not valid{hint}."),
            );
        }
    }
    check_sid(cx, path, st.get("Sid"));

    let effect = match st.get("Effect") {
        None => {
            cx.error(
                MISSING_EFFECT,
                path,
                "Add an Effect element (Allow or Deny).".to_string(),
            );
            None
        }
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => Some(e.as_str()),
        Some(Value::String(e)) => {
            cx.error(
                INVALID_EFFECT,
                &child(path, "Effect"),
                format!(
                    "The effect {e:?} is not valid; use \"Allow\" or \"Deny\" (case-sensitive)."
                ),
            );
            None
        }
        Some(other) => {
            cx.error(
                DATA_TYPE_MISMATCH,
                &child(path, "Effect"),
                format!("Effect must be a string, not {}.", type_name(other)),
            );
            None
        }
    };
    let allow = effect == Some("Allow");

    // Action / NotAction.
    let actions = match (st.get("Action"), st.get("NotAction")) {
        (None, None) => {
            cx.error(
                MISSING_ACTION,
                path,
                "Add an Action or NotAction element.".to_string(),
            );
            Vec::new()
        }
        (Some(_), Some(_)) => {
            cx.error(
                UNSUPPORTED_ELEMENT_COMBINATION,
                path,
                "A statement cannot have both Action and NotAction.".to_string(),
            );
            Vec::new()
        }
        (Some(a), None) => string_list(cx, &child(path, "Action"), a, EMPTY_ARRAY_ACTION),
        (None, Some(a)) => {
            if allow {
                cx.warning(
                    ALLOW_WITH_NOT_ACTION,
                    &child(path, "NotAction"),
                    "Allow with NotAction allows every action not listed, including actions AWS \
                     adds later; list the allowed actions instead."
                        .to_string(),
                );
            }
            string_list(cx, &child(path, "NotAction"), a, EMPTY_ARRAY_ACTION)
        }
    };
    for (p, a) in &actions {
        check_action(cx, p, a);
    }
    redundant(cx, &actions, REDUNDANT_ACTION, "action", |a, b| {
        action_covers(a, b)
    });

    // Resource / NotResource.
    let resources = match (st.get("Resource"), st.get("NotResource")) {
        (None, None) => {
            if cx.ty != PolicyType::RoleTrust {
                cx.error(
                    MISSING_RESOURCE,
                    path,
                    "Add a Resource or NotResource element.".to_string(),
                );
            }
            Vec::new()
        }
        (Some(_), Some(_)) => {
            cx.error(
                UNSUPPORTED_ELEMENT_COMBINATION,
                path,
                "A statement cannot have both Resource and NotResource.".to_string(),
            );
            Vec::new()
        }
        (Some(r), None) => string_list(cx, &child(path, "Resource"), r, EMPTY_ARRAY_RESOURCE),
        (None, Some(r)) => {
            if allow {
                cx.warning(
                    ALLOW_WITH_NOT_RESOURCE,
                    &child(path, "NotResource"),
                    "Allow with NotResource allows every resource not listed, including ones \
                     created later; list the allowed resources instead."
                        .to_string(),
                );
            }
            string_list(cx, &child(path, "NotResource"), r, EMPTY_ARRAY_RESOURCE)
        }
    };
    if cx.ty == PolicyType::RoleTrust
        && (st.contains_key("Resource") || st.contains_key("NotResource"))
    {
        let field = if st.contains_key("Resource") {
            "Resource"
        } else {
            "NotResource"
        };
        cx.iam_reject(|| format!("Has prohibited field {field}"));
        cx.error(
            INVALID_POLICY_ELEMENT,
            path,
            "A role trust policy cannot have Resource or NotResource: the role is the resource."
                .to_string(),
        );
    }
    for (p, r) in &resources {
        check_resource(cx, p, r);
    }
    redundant(cx, &resources, REDUNDANT_RESOURCE, "resource", |a, b| {
        a == "*" || glob(a, b, false)
    });

    // iam:PassRole on every role.
    if allow
        && cx.ty.is_identity_like()
        && cx.ty != PolicyType::ServiceControl
        && st.contains_key("Action")
        && actions
            .iter()
            .any(|(_, a)| action_covers(a, "iam:PassRole"))
        && resources.iter().any(|(_, r)| r == "*")
        && st.contains_key("Resource")
    {
        cx.push(
            Severity::SecurityWarning,
            PASS_ROLE_WITH_STAR_IN_RESOURCE,
            &child(path, "Resource"),
            "Allowing iam:PassRole on \"*\" lets the principal pass any role to any service; \
             name the roles in Resource."
                .to_string(),
        );
    }

    check_principal(cx, path, st, allow);

    if let Some(c) = st.get("Condition") {
        condition::check_condition(cx, &child(path, "Condition"), c, &actions, allow);
    }

    if cx.ty == PolicyType::ResourceControl && allow {
        let full = |k: &str| {
            matches!(st.get(k), Some(Value::String(s)) if s == "*")
                || matches!(st.get(k), Some(Value::Array(a)) if a.len() == 1 && a.first().and_then(Value::as_str) == Some("*"))
        };
        if !(full("Action") && full("Resource") && !st.contains_key("Condition")) {
            cx.error(
                RCP_SYNTAX_ERROR,
                path,
                "In a resource control policy an Allow statement can only grant full access \
                 (Principal, Action and Resource \"*\", no Condition); restrict with Deny."
                    .to_string(),
            );
        }
    }
}

fn check_sid(cx: &mut Ctx, path: &str, sid: Option<&Value>) {
    let Some(sid) = sid else { return };
    let p = child(path, "Sid");
    let Value::String(s) = sid else {
        cx.error(
            DATA_TYPE_MISMATCH,
            &p,
            format!("Sid must be a string, not {}.", type_name(sid)),
        );
        return;
    };
    if s.is_empty() {
        cx.suggestion(
            EMPTY_SID_VALUE,
            &p,
            "Remove the empty Sid or give it a value.".to_string(),
        );
    } else if (cx.ty.is_identity_like() || cx.ty == PolicyType::RoleTrust)
        && !s.chars().all(|c| c.is_ascii_alphanumeric())
    {
        cx.iam_reject(|| {
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the \
             regular expression [0-9A-Za-z]*"
                .to_string()
        });
        cx.error(
            UNSUPPORTED_SID,
            &p,
            format!("The Sid {s:?} may only contain A-Z, a-z and 0-9 in this policy type."),
        );
    }
}

/// A string or a non-empty array of strings; returns the strings with their paths.
fn string_list(cx: &mut Ctx, path: &str, v: &Value, empty_code: &str) -> Vec<(String, String)> {
    match v {
        Value::String(s) => vec![(path.to_string(), s.clone())],
        Value::Array(items) => {
            if items.is_empty() {
                cx.suggestion(
                    empty_code,
                    path,
                    "The array is empty, so this statement matches nothing; remove it or add \
                     values."
                        .to_string(),
                );
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = index(path, i);
                match item {
                    Value::String(s) => out.push((p, s.clone())),
                    other => cx.error(
                        DATA_TYPE_MISMATCH,
                        &p,
                        format!("Expected a string, not {}.", type_name(other)),
                    ),
                }
            }
            out
        }
        other => {
            cx.error(
                DATA_TYPE_MISMATCH,
                path,
                format!(
                    "Expected a string or an array of strings, not {}.",
                    type_name(other)
                ),
            );
            Vec::new()
        }
    }
}

fn redundant(
    cx: &mut Ctx,
    items: &[(String, String)],
    code: &str,
    what: &str,
    covers: impl Fn(&str, &str) -> bool,
) {
    // Only a wildcard pattern or an equal value can cover another: test just those, so a
    // policy with thousands of literal actions stays linear-ish.
    let coverers: Vec<usize> = (0..items.len())
        .filter(|&j| items.get(j).is_some_and(|(_, w)| w.contains(['*', '?'])))
        .collect();
    for (i, (p, v)) in items.iter().enumerate() {
        let mut by = coverers
            .iter()
            .filter_map(|&j| items.get(j).map(|(_, w)| (j, w)))
            .find(|(j, w)| *j != i && covers(w, v) && (!covers(v, w) || *j < i));
        if by.is_none() {
            by = items
                .iter()
                .enumerate()
                .take(i)
                .find(|(_, (_, w))| w.eq_ignore_ascii_case(v) && covers(w, v) && covers(v, w))
                .map(|(j, (_, w))| (j, w));
        }
        if let Some((_, w)) = by {
            cx.suggestion(
                code,
                p,
                format!("The {what} {v:?} is redundant: {w:?} already covers it."),
            );
        }
    }
}

/// Case-insensitive (actions) or case-sensitive (resources) glob with `*` and `?`.
pub(super) fn glob(pattern: &str, s: &str, ignore_case: bool) -> bool {
    if pattern.is_ascii() && s.is_ascii() {
        glob_units(pattern.as_bytes(), s.as_bytes(), |a, b| {
            if ignore_case {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        })
    } else {
        // `?` matches one character, so compare characters, not bytes.
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = s.chars().collect();
        glob_units(&p, &t, |a, b| {
            if ignore_case {
                a.to_lowercase().eq(b.to_lowercase())
            } else {
                a == b
            }
        })
    }
}

trait GlobUnit: Copy + PartialEq {
    const STAR: Self;
    const QUESTION: Self;
}
impl GlobUnit for u8 {
    const STAR: u8 = b'*';
    const QUESTION: u8 = b'?';
}
impl GlobUnit for char {
    const STAR: char = '*';
    const QUESTION: char = '?';
}

/// Iterative matcher with one backtrack point: O(len(p) * len(t)) worst case, no recursion.
fn glob_units<T: GlobUnit>(p: &[T], t: &[T], eq: impl Fn(T, T) -> bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some(&pc), _) if pc == T::STAR => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(&pc), Some(&tc)) if pc == T::QUESTION || eq(pc, tc) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == T::STAR))
}

/// Whether action pattern `a` matches everything action pattern `b` matches (approximately:
/// `b` taken as a literal).
fn action_covers(a: &str, b: &str) -> bool {
    a == "*" || glob(a, b, true)
}

fn check_action(cx: &mut Ctx, path: &str, action: &str) {
    if action == "*" {
        return;
    }
    let Some((prefix, name)) = action.split_once(':') else {
        cx.error(
            INVALID_ACTION_FORMAT,
            path,
            format!(
                "The action {action:?} must be \"*\" or <service>:<action>, e.g. s3:GetObject."
            ),
        );
        return;
    };
    let valid_chars = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    };
    if !valid_chars(prefix, &['-', '*', '?', '.']) || !valid_chars(name, &['*', '?', '-', '_', '.'])
    {
        cx.error(
            INVALID_ACTION_FORMAT,
            path,
            format!("The action {action:?} is not of the form <service>:<action>."),
        );
        return;
    }
    if prefix.contains(['*', '?']) {
        cx.suggestion(
            WILDCARD_IN_SERVICE_NAME,
            path,
            format!("Avoid wildcards in the service name of {action:?}; name the service."),
        );
        return;
    }
    let Some(svc) = palisade_iam_data::service(prefix) else {
        cx.warning(
            INVALID_SERVICE_IN_ACTION,
            path,
            format!("The service prefix {prefix:?} in {action:?} is not in the Service Authorization Reference."),
        );
        return;
    };
    let known = if name.contains(['*', '?']) {
        svc.actions().iter().any(|a| glob(name, a.name, true))
    } else {
        svc.action(name).is_some()
    };
    if !known {
        cx.warning(
            INVALID_ACTION,
            path,
            format!(
                "The action {action:?} does not exist in {} ({prefix}).",
                svc.name
            ),
        );
    } else if cx.ty == PolicyType::ResourceControl && !svc.rcp_supported {
        cx.error(
            RCP_SYNTAX_ERROR,
            path,
            format!(
                "Resource control policies do not apply to {} ({prefix}).",
                svc.name
            ),
        );
    }
}

const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

fn has_wild_or_var(s: &str) -> bool {
    s.contains(['*', '?']) || s.contains("${")
}

pub(super) fn check_variables(cx: &mut Ctx, path: &str, s: &str) {
    let mut rest = s;
    let mut any = false;
    while let Some(start) = rest.find("${") {
        any = true;
        let after = rest.get(start + 2..).unwrap_or("");
        match after.find('}') {
            None => {
                cx.error(
                    MISSING_BRACE_IN_VARIABLE,
                    path,
                    format!("The policy variable in {s:?} has no closing brace."),
                );
                return;
            }
            Some(0) => cx.error(
                EMPTY_VARIABLE,
                path,
                format!("Empty policy variable ${{}} in {s:?}."),
            ),
            Some(_) => {}
        }
        rest = after;
    }
    if any && !cx.variables_supported {
        cx.error(
            VARIABLE_UNSUPPORTED_IN_VERSION,
            path,
            format!(
                "Policy variables in {s:?} need \"Version\": \"2012-10-17\"; otherwise they are \
                 taken literally."
            ),
        );
    }
}

pub(super) fn check_resource(cx: &mut Ctx, path: &str, r: &str) {
    if r == "*" {
        return;
    }
    if let Some(m) = iam_resource_error(r) {
        cx.iam_reject(|| m);
    }
    check_variables(cx, path, r);
    if !r.starts_with("arn:") {
        cx.error(
            INVALID_ARN_PREFIX,
            path,
            format!("The resource {r:?} must be \"*\" or an ARN starting with \"arn:\"."),
        );
        return;
    }
    check_arn(cx, path, r, "resource");
}

/// IAM's own check of a Resource or NotResource value, in its words (the answers AWS gives,
/// as recorded in moto's `test_iam_policies.py`). IAM reads the text after the first colon
/// as the partition whatever comes before it, and Palisade is the `aws` partition: any
/// other partition (`aws-cn`, a typo, an unsubstituted `${...}`) is refused; a wildcard
/// that matches `aws` is not (AWS managed policies use `arn:*:`).
fn iam_resource_error(r: &str) -> Option<String> {
    let Some((_, rest)) = r.split_once(':') else {
        return Some(format!("Resource {r} must be in ARN format or \"*\"."));
    };
    let (partition, after) = match rest.split_once(':') {
        Some((p, a)) => (p, Some(a)),
        None => (rest, None),
    };
    if !glob(partition, "aws", false) {
        // IAM names the resource with its missing fields filled in by `*`.
        let parts: Vec<&str> = after.unwrap_or("").splitn(4, ':').collect();
        let field = |i: usize| parts.get(i).copied();
        let service = match field(0) {
            Some("") if parts.len() == 1 => "*",
            Some(s) => s,
            None => "*",
        };
        return Some(format!(
            "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{service}:{}:{}:{}\".",
            field(1).unwrap_or("*"),
            field(2).unwrap_or("*"),
            field(3).unwrap_or("*"),
        ));
    }
    if after.is_none() {
        return Some("Resource vendor must be fully qualified and cannot contain regexes.".into());
    }
    None
}

/// Checks ARN syntax (for Resource and ARN-valued principals).
fn check_arn(cx: &mut Ctx, path: &str, arn: &str, what: &str) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.get(1),
        parts.get(2),
        parts.get(3),
        parts.get(4),
        parts.get(5),
    ) else {
        cx.error(
            MISSING_ARN_FIELD,
            path,
            format!("The {what} ARN {arn:?} needs six fields: arn:partition:service:region:account:resource."),
        );
        return;
    };
    if !has_wild_or_var(partition) && !PARTITIONS.contains(partition) {
        cx.error(
            INVALID_PARTITION,
            path,
            format!("The partition {partition:?} in {arn:?} is not valid."),
        );
    }
    // An empty resource part is accepted by IAM (AWS's own AmazonDevOpsGuruOrganizationsAccess
    // has `arn:aws:organizations::*:`); an empty service is not.
    let _ = resource;
    if service.is_empty() {
        cx.error(
            MISSING_ARN_FIELD,
            path,
            format!("The {what} ARN {arn:?} is missing its service."),
        );
    }
    if service.chars().any(|c| c.is_ascii_uppercase()) {
        cx.error(
            INVALID_ARN_SERVICE_CASE,
            path,
            format!("The service {service:?} in {arn:?} must be lower case."),
        );
    }
    if !region.is_empty() && !has_wild_or_var(region) && !is_region(region) {
        cx.error(
            INVALID_REGION,
            path,
            format!("The region {region:?} in {arn:?} is not valid."),
        );
    }
    let account_ok = account.is_empty()
        || has_wild_or_var(account)
        || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || *account == "aws";
    if !account_ok {
        cx.error(
            INVALID_ARN_ACCOUNT,
            path,
            format!("The account {account:?} in {arn:?} must be a 12-digit account ID."),
        );
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`...
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    let Some((last, rest)) = parts.split_last() else {
        return false;
    };
    rest.len() >= 2
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The legacy CloudFront origin access identity principal,
/// `arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity <ID>`, which S3 bucket
/// policies accept although its account is not an account ID (CloudFront Developer Guide,
/// "Restricting access to an Amazon S3 origin": the OAI's ARN in a bucket policy).
fn is_cloudfront_oai(arn: &str) -> bool {
    let Some([_, partition, "iam", "", "cloudfront", res]) = crate::pattern::split_arn(arn) else {
        return false;
    };
    let id = res.strip_prefix("user/CloudFront Origin Access Identity ");
    PARTITIONS.contains(&partition)
        && id.is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn check_principal(cx: &mut Ctx, path: &str, st: &Map<String, Value>, allow: bool) {
    let p = st.get("Principal");
    let np = st.get("NotPrincipal");
    if cx.ty.is_identity_like() {
        for (name, v) in [("Principal", p), ("NotPrincipal", np)] {
            if v.is_some() {
                let (code, msg) = if cx.ty == PolicyType::ServiceControl {
                    (
                        SCP_SYNTAX_ERROR_PRINCIPAL,
                        format!("Service control policies cannot have a {name} element."),
                    )
                } else {
                    (UNSUPPORTED_PRINCIPAL, format!("Identity-based policies cannot have a {name} element: the principal is the identity the policy is attached to."))
                };
                cx.error(code, &child(path, name), msg);
            }
        }
        return;
    }
    match (p, np) {
        (None, None) => cx.error(
            MISSING_PRINCIPAL,
            path,
            format!(
                "A {} policy statement needs a Principal or NotPrincipal element.",
                cx.ty
            ),
        ),
        (Some(_), Some(_)) => cx.error(
            UNSUPPORTED_ELEMENT_COMBINATION,
            path,
            "A statement cannot have both Principal and NotPrincipal.".to_string(),
        ),
        (Some(v), None) => check_principal_value(cx, &child(path, "Principal"), v),
        (None, Some(v)) => {
            if allow {
                cx.warning(
                    ALLOW_WITH_NOT_PRINCIPAL,
                    &child(path, "NotPrincipal"),
                    "AWS does not support NotPrincipal with Allow; name the principals in \
                     Principal instead."
                        .to_string(),
                );
            }
            if cx.ty == PolicyType::ResourceControl {
                cx.error(
                    RCP_SYNTAX_ERROR,
                    &child(path, "NotPrincipal"),
                    "Resource control policies cannot have NotPrincipal.".to_string(),
                );
            }
            check_principal_value(cx, &child(path, "NotPrincipal"), v);
        }
    }
}

fn check_principal_value(cx: &mut Ctx, path: &str, v: &Value) {
    if cx.ty == PolicyType::ResourceControl && v.as_str() != Some("*") {
        cx.error(
            RCP_SYNTAX_ERROR,
            path,
            "In a resource control policy Principal must be \"*\"; narrow it with conditions."
                .to_string(),
        );
        return;
    }
    let map = match v {
        Value::String(s) if s == "*" => return,
        Value::Object(m) => m,
        other => {
            cx.error(
                INVALID_PRINCIPAL_FORMAT,
                path,
                format!(
                    "Principal must be \"*\" or an object such as {{\"AWS\": ...}}, not {}.",
                    match other {
                        Value::String(s) => format!("the string {s:?}"),
                        o => type_name(o).to_string(),
                    }
                ),
            );
            return;
        }
    };
    if map.is_empty() {
        cx.suggestion(
            EMPTY_OBJECT_PRINCIPAL,
            path,
            "The Principal object is empty.".to_string(),
        );
    }
    for (key, val) in map {
        let kp = child(path, key);
        if !matches!(
            key.as_str(),
            "AWS" | "Service" | "Federated" | "CanonicalUser"
        ) {
            cx.error(
                INVALID_PRINCIPAL_KEY,
                &kp,
                format!("The principal key {key:?} is not valid (AWS, Service, Federated, CanonicalUser)."),
            );
            continue;
        }
        for (ip, s) in string_list(cx, &kp, val, EMPTY_ARRAY_PRINCIPAL) {
            check_principal_id(cx, &ip, key, &s);
        }
    }
}

fn check_principal_id(cx: &mut Ctx, path: &str, kind: &str, s: &str) {
    match kind {
        "AWS" => {
            if s == "*" || (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())) {
                return;
            }
            if !s.starts_with("arn:") {
                cx.error(
                    INVALID_PRINCIPAL_FORMAT,
                    path,
                    format!("The AWS principal {s:?} must be \"*\", a 12-digit account ID or an IAM ARN."),
                );
                return;
            }
            if s.contains(['*', '?']) {
                cx.error(
                    UNSUPPORTED_WILDCARD_IN_PRINCIPAL,
                    path,
                    format!("Wildcards are not allowed in the principal ARN {s:?}; use \"*\" with a condition on aws:PrincipalArn."),
                );
                return;
            }
            if is_cloudfront_oai(s) {
                return;
            }
            check_arn(cx, path, s, "principal");
            let resource = s.splitn(6, ':').nth(5).unwrap_or("");
            let svc = s.split(':').nth(2).unwrap_or("");
            let ok = match svc {
                "iam" => {
                    resource == "root"
                        || ["user/", "role/", "federated-user/", "group/"]
                            .iter()
                            .any(|p| resource.starts_with(p))
                }
                "sts" => ["assumed-role/", "federated-user/"]
                    .iter()
                    .any(|p| resource.starts_with(p)),
                _ => false,
            };
            if !ok {
                cx.error(
                    INVALID_PRINCIPAL_FORMAT,
                    path,
                    format!("The principal ARN {s:?} does not name an account root, user, role or session."),
                );
            }
        }
        "Service" => {
            let ok = s == "*"
                || (s.contains('.')
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
                    }));
            if !ok {
                cx.error(
                    INVALID_SERVICE_PRINCIPAL_FORMAT,
                    path,
                    format!("The service principal {s:?} must look like service.amazonaws.com."),
                );
            }
        }
        _ => {
            if s.is_empty() {
                cx.error(
                    INVALID_PRINCIPAL_FORMAT,
                    path,
                    format!("The {kind} principal is empty."),
                );
            }
        }
    }
}
