//! awsQuery request decoding: form parameters into typed inputs (serde).
//!
//! Two steps. [`parse_form`] turns an `application/x-www-form-urlencoded` body (or a GET
//! query string) into `(name, value)` pairs. [`from_params`] then drives a serde
//! `Deserializer` over those pairs, shaped by the target type, following the awsQuery
//! conventions botocore uses when it serializes a request:
//!
//! - struct members are `Prefix.Member` (top level: `Member`);
//! - lists are `Prefix.member.N` (1-based; the first gap ends the list, as in AWS), an empty
//!   list is `Prefix=` with an empty value, and flattened lists `Prefix.N` are accepted too;
//! - maps are `Prefix.entry.N.key` / `Prefix.entry.N.value` (SNS's `MessageAttributes`
//!   uses `Name` / `Value` as the entry member names; both spellings are accepted);
//! - scalars are strings: bools are exactly `true` / `false`, numbers are parsed, blobs are
//!   base64.
//!
//! Indexes are never parsed out of parameter names: the decoder asks "is there a
//! `Prefix.member.1`? a `Prefix.member.2`?" of a sorted index, so a name like
//! `Tags.member.99999999999` costs nothing and no input can make it allocate more than the
//! capped parameter count allows. This module never panics on any input.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// Most parameters one request may carry (AWS rejects far smaller bodies long before this).
pub const MAX_PARAMS: usize = 10_000;
/// Highest list member / map entry index decoded; a list that would continue past it is
/// rejected rather than truncated.
pub const MAX_MEMBERS: usize = 1_000;
/// Longest value echoed back in an error message.
const MAX_ECHOED_VALUE: usize = 256;

/// Why a query request could not be turned into a typed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// A required member is absent. `param` is the full wire name, e.g. `UserName` or
    /// `Tags.member.1.Key`.
    Missing { param: String },
    /// A member is present but its value does not fit the member's type or constraint.
    /// `expected` is the constraint in AWS's words ("Member must ...").
    Invalid {
        param: String,
        value: String,
        expected: String,
    },
    /// The request as a whole cannot be decoded (bad encoding, too many parameters, ...).
    Malformed(String),
}

impl std::error::Error for QueryError {}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The exact sentence IAM and STS return for an absent required member.
            QueryError::Missing { param } => write!(
                f,
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
                 Member must not be null",
                validation_path(param)
            ),
            QueryError::Invalid {
                param,
                value,
                expected,
            } => write!(
                f,
                "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}",
                echo(value),
                validation_path(param),
                expected
            ),
            QueryError::Malformed(msg) => f.write_str(msg),
        }
    }
}

impl QueryError {
    /// The awsQuery error this becomes on the wire: `(HTTP status, Code, Message)`.
    ///
    /// IAM and STS report absent and ill-typed members as `ValidationError` 400 with the
    /// "1 validation error detected: ..." message (the common-errors page also lists
    /// `MissingParameter`, but IAM's front end answers with `ValidationError`).
    /// `MalformedQueryString` is 404 as the AWS common-errors reference documents it.
    pub fn aws_error(&self) -> (u16, &'static str, String) {
        match self {
            QueryError::Missing { .. } | QueryError::Invalid { .. } => {
                (400, "ValidationError", self.to_string())
            }
            QueryError::Malformed(_) => (404, "MalformedQueryString", self.to_string()),
        }
    }
}

/// `Tags.member.1.Key` -> `tags.1.member.key`: the form AWS's validation messages use
/// (member names in lowerCamelCase, the index before `member`).
fn validation_path(param: &str) -> String {
    let mut out = String::with_capacity(param.len());
    let mut segs = param.split('.').peekable();
    let mut first = true;
    while let Some(seg) = segs.next() {
        let swap = (seg == "member" || seg == "entry")
            && segs
                .peek()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let mut emit = |s: &str, out: &mut String| {
            if !first {
                out.push('.');
            }
            first = false;
            let mut chars = s.chars();
            if let Some(c) = chars.next() {
                out.extend(c.to_lowercase());
                out.push_str(chars.as_str());
            }
        };
        if swap {
            if let Some(index) = segs.next() {
                emit(index, &mut out);
            }
        }
        emit(seg, &mut out);
    }
    out
}

fn echo(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_ECHOED_VALUE {
        return Cow::Borrowed(value);
    }
    let mut end = MAX_ECHOED_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", value.get(..end).unwrap_or("")))
}

// ---------------------------------------------------------------------------------------
// Form parsing
// ---------------------------------------------------------------------------------------

/// Parses an `application/x-www-form-urlencoded` body or a URL query string.
///
/// `+` is a space, `%XX` is a byte; a `%` not followed by two hex digits is kept as is (as
/// browsers and AWS do). Pairs without `=` get an empty value, empty pairs are skipped.
/// Decoded names and values must be UTF-8. At most [`MAX_PARAMS`] pairs.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, QueryError> {
    let mut out = Vec::new();
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if out.len() >= MAX_PARAMS {
            return Err(QueryError::Malformed(format!(
                "The request has more than {MAX_PARAMS} parameters."
            )));
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (
                pair.get(..i).unwrap_or_default(),
                pair.get(i + 1..).unwrap_or_default(),
            ),
            None => (pair, &[][..]),
        };
        out.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(out)
}

fn decode_component(raw: &[u8]) -> Result<String, QueryError> {
    let bytes: Cow<'_, [u8]> = if raw.iter().any(|&b| b == b'+' || b == b'%') {
        let mut buf = Vec::with_capacity(raw.len());
        let mut i = 0;
        while let Some(&b) = raw.get(i) {
            match b {
                b'+' => buf.push(b' '),
                b'%' => {
                    let hi = raw.get(i + 1).and_then(|&h| hex_val(h));
                    let lo = raw.get(i + 2).and_then(|&l| hex_val(l));
                    if let (Some(hi), Some(lo)) = (hi, lo) {
                        buf.push(hi << 4 | lo);
                        i += 2;
                    } else {
                        buf.push(b'%');
                    }
                }
                _ => buf.push(b),
            }
            i += 1;
        }
        Cow::Owned(buf)
    } else {
        Cow::Borrowed(raw)
    };
    match bytes {
        Cow::Owned(v) => String::from_utf8(v).map_err(|_| invalid_utf8()),
        Cow::Borrowed(v) => std::str::from_utf8(v)
            .map(str::to_owned)
            .map_err(|_| invalid_utf8()),
    }
}

fn invalid_utf8() -> QueryError {
    QueryError::Malformed("The request contains a parameter that is not valid UTF-8.".into())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Typed decoding
// ---------------------------------------------------------------------------------------

/// Decodes flat awsQuery parameters into `T`, shaped by `T` (see the module docs).
/// Unknown parameters (including `Action` and `Version`) are ignored; when a name repeats,
/// the first occurrence wins.
pub fn from_params<T: DeserializeOwned>(params: &[(String, String)]) -> Result<T, QueryError> {
    if params.len() > MAX_PARAMS {
        return Err(QueryError::Malformed(format!(
            "The request has more than {MAX_PARAMS} parameters."
        )));
    }
    let index = Index::new(params);
    let de = ValueDe {
        index: &index,
        path: "",
    };
    T::deserialize(de).map_err(|e| e.into_query_error(""))
}

/// Parameters sorted by name, for exact and prefix lookups in O(log n).
struct Index<'a> {
    sorted: Vec<(&'a str, &'a str)>,
}

impl<'a> Index<'a> {
    fn new(params: &'a [(String, String)]) -> Self {
        let mut sorted: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Stable: among equal names the first stays first, and dedup keeps it.
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        sorted.dedup_by(|later, earlier| later.0 == earlier.0);
        Index { sorted }
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.sorted
            .binary_search_by(|(k, _)| (*k).cmp(name))
            .ok()
            .and_then(|i| self.sorted.get(i))
            .map(|(_, v)| *v)
    }

    /// Whether `path` itself or anything under `path.` is present. The root always is.
    fn exists(&self, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        let start = self.sorted.partition_point(|(k, _)| *k < path);
        let rest = self.sorted.get(start..).unwrap_or_default();
        if rest.first().is_some_and(|(k, _)| *k == path) {
            return true;
        }
        let child = rest.partition_point(|(k, _)| sorts_before_child(k, path));
        rest.get(child).is_some_and(|(k, _)| {
            k.len() > path.len()
                && k.starts_with(path)
                && k.as_bytes().get(path.len()) == Some(&b'.')
        })
    }
}

/// `k < path + "."` without building `path + "."`.
fn sorts_before_child(k: &str, path: &str) -> bool {
    let mut kb = k.bytes();
    for pc in path.bytes().chain(std::iter::once(b'.')) {
        match kb.next() {
            None => return true,
            Some(kc) if kc != pc => return kc < pc,
            Some(_) => {}
        }
    }
    false
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        return name.to_owned();
    }
    let mut s = String::with_capacity(prefix.len() + 1 + name.len());
    s.push_str(prefix);
    s.push('.');
    s.push_str(name);
    s
}

fn indexed(prefix: &str, mid: &str, i: usize) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(prefix.len() + mid.len() + 8);
    s.push_str(prefix);
    s.push('.');
    if !mid.is_empty() {
        s.push_str(mid);
        s.push('.');
    }
    let _ = write!(s, "{i}");
    s
}

/// The decoder's internal error: carries "field X of the current struct is missing" until
/// the struct that knows its own path turns it into a full `QueryError::Missing`.
#[derive(Debug)]
enum DeError {
    MissingField(&'static str),
    UnknownVariant(String, &'static [&'static str]),
    Custom(String),
    Query(QueryError),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::MissingField(name) => write!(f, "missing field {name}"),
            DeError::UnknownVariant(v, _) => write!(f, "unknown value {v}"),
            DeError::Custom(msg) => f.write_str(msg),
            DeError::Query(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Custom(msg.to_string())
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::MissingField(field)
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::UnknownVariant(variant.to_owned(), expected)
    }
}

impl DeError {
    /// Pins an error raised while decoding the value at `path` to that path.
    fn at(self, index: &Index<'_>, path: &str) -> DeError {
        match self {
            DeError::Query(_) => self,
            DeError::MissingField(field) => DeError::Query(QueryError::Missing {
                param: join(path, field),
            }),
            DeError::UnknownVariant(value, expected) => DeError::Query(QueryError::Invalid {
                param: path.to_owned(),
                value,
                expected: format!(
                    "Member must satisfy enum value set: [{}]",
                    expected.join(", ")
                ),
            }),
            DeError::Custom(msg) => match index.get(path) {
                Some(value) if !path.is_empty() => DeError::Query(QueryError::Invalid {
                    param: path.to_owned(),
                    value: value.to_owned(),
                    expected: msg,
                }),
                _ => DeError::Custom(msg),
            },
        }
    }

    fn into_query_error(self, path: &str) -> QueryError {
        match self {
            DeError::Query(e) => e,
            DeError::MissingField(field) => QueryError::Missing {
                param: join(path, field),
            },
            DeError::UnknownVariant(value, expected) => QueryError::Invalid {
                param: path.to_owned(),
                value,
                expected: format!(
                    "Member must satisfy enum value set: [{}]",
                    expected.join(", ")
                ),
            },
            DeError::Custom(msg) => QueryError::Malformed(msg),
        }
    }
}

/// Deserializes the value rooted at `path`.
struct ValueDe<'i, 'a, 'p> {
    index: &'i Index<'a>,
    path: &'p str,
}

impl<'a> ValueDe<'_, 'a, '_> {
    fn scalar(&self) -> Result<&'a str, DeError> {
        self.index.get(self.path).ok_or_else(|| {
            DeError::Query(QueryError::Missing {
                param: self.path.to_owned(),
            })
        })
    }

    fn invalid(&self, value: &str, expected: &str) -> DeError {
        DeError::Query(QueryError::Invalid {
            param: self.path.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        })
    }

    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, DeError> {
        let v = self.scalar()?;
        v.parse().map_err(|_| self.invalid(v, expected))
    }
}

const INTEGER: &str = "Member must be an integer";
const NUMBER: &str = "Member must be a number";

macro_rules! de_number {
    ($($method:ident $visit:ident $ty:ty, $what:expr;)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n: $ty = self.parse($what)?;
            visitor.$visit(n)
        }
    )*};
}

impl<'a> de::Deserializer<'a> for ValueDe<'_, 'a, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Without a type there is no telling a list from a struct; a plain value is a string.
        match self.index.get(self.path) {
            Some(v) => visitor.visit_borrowed_str(v),
            None if self.index.exists(self.path) => Err(DeError::Query(QueryError::Malformed(
                format!("Parameter {} cannot be decoded without a type.", self.path),
            ))),
            None => Err(DeError::Query(QueryError::Missing {
                param: self.path.to_owned(),
            })),
        }
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            v => Err(self.invalid(v, "Member must be true or false")),
        }
    }

    de_number! {
        deserialize_i8 visit_i8 i8, INTEGER;
        deserialize_i16 visit_i16 i16, INTEGER;
        deserialize_i32 visit_i32 i32, INTEGER;
        deserialize_i64 visit_i64 i64, INTEGER;
        deserialize_i128 visit_i128 i128, INTEGER;
        deserialize_u8 visit_u8 u8, INTEGER;
        deserialize_u16 visit_u16 u16, INTEGER;
        deserialize_u32 visit_u32 u32, INTEGER;
        deserialize_u64 visit_u64 u64, INTEGER;
        deserialize_u128 visit_u128 u128, INTEGER;
        deserialize_f32 visit_f32 f32, NUMBER;
        deserialize_f64 visit_f64 f64, NUMBER;
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = self.scalar()?;
        let mut chars = v.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(self.invalid(v, "Member must be a single character")),
        }
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let v = self.scalar()?;
        visitor.visit_borrowed_str(v)
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        use base64::Engine as _;
        let v = self.scalar()?;
        match base64::engine::general_purpose::STANDARD.decode(v) {
            Ok(bytes) => visitor.visit_byte_buf(bytes),
            Err(_) => Err(self.invalid(v, "Member must be base64-encoded binary data")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.index.exists(self.path) {
            visitor.visit_some(self)
        } else {
            visitor.visit_none()
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        // `Prefix.member.N` unless the list is sent flattened (`Prefix.N`). Neither present
        // (with or without `Prefix=`) is the empty list.
        let mid = if !self.index.exists(&indexed(self.path, "member", 1))
            && self.index.exists(&indexed(self.path, "", 1))
        {
            ""
        } else {
            "member"
        };
        visitor.visit_seq(ListAccess {
            index: self.index,
            prefix: self.path,
            mid,
            next: 1,
        })
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(EntryAccess {
            index: self.index,
            prefix: self.path,
            next: 1,
            value_path: None,
        })
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let index = self.index;
        let path = self.path;
        visitor
            .visit_map(StructAccess {
                index,
                prefix: path,
                fields: fields.iter(),
                value_path: None,
            })
            .map_err(|e| match e {
                DeError::MissingField(field) => DeError::Query(QueryError::Missing {
                    param: join(path, field),
                }),
                other => other,
            })
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let v = self.scalar()?;
        visitor
            .visit_enum(v.into_deserializer())
            .map_err(|e: DeError| e.at(self.index, self.path))
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// Yields the members of a struct that are present, so serde reports absent required
/// members through `missing_field` and fills absent `Option`s with `None`.
struct StructAccess<'i, 'a, 'p> {
    index: &'i Index<'a>,
    prefix: &'p str,
    fields: std::slice::Iter<'static, &'static str>,
    value_path: Option<String>,
}

impl<'a> de::MapAccess<'a> for StructAccess<'_, 'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for field in self.fields.by_ref() {
            let path = join(self.prefix, field);
            if self.index.exists(&path) {
                self.value_path = Some(path);
                return seed
                    .deserialize(de::value::BorrowedStrDeserializer::<DeError>::new(field))
                    .map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let path = self.value_path.take().unwrap_or_default();
        decode_at(self.index, &path, seed)
    }
}

fn decode_at<'a, S: DeserializeSeed<'a>>(
    index: &Index<'a>,
    path: &str,
    seed: S,
) -> Result<S::Value, DeError> {
    seed.deserialize(ValueDe { index, path })
        .map_err(|e| e.at(index, path))
}

struct ListAccess<'i, 'a, 'p> {
    index: &'i Index<'a>,
    prefix: &'p str,
    mid: &'static str,
    next: usize,
}

impl<'a> de::SeqAccess<'a> for ListAccess<'_, 'a, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let path = indexed(self.prefix, self.mid, self.next);
        if !self.index.exists(&path) {
            return Ok(None);
        }
        if self.next > MAX_MEMBERS {
            return Err(DeError::Query(QueryError::Malformed(format!(
                "Parameter {} has more than {MAX_MEMBERS} members.",
                self.prefix
            ))));
        }
        self.next += 1;
        decode_at(self.index, &path, seed).map(Some)
    }
}

struct EntryAccess<'i, 'a, 'p> {
    index: &'i Index<'a>,
    prefix: &'p str,
    next: usize,
    value_path: Option<String>,
}

impl<'a> de::MapAccess<'a> for EntryAccess<'_, 'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let entry = indexed(self.prefix, "entry", self.next);
        if !self.index.exists(&entry) {
            return Ok(None);
        }
        if self.next > MAX_MEMBERS {
            return Err(DeError::Query(QueryError::Malformed(format!(
                "Parameter {} has more than {MAX_MEMBERS} entries.",
                self.prefix
            ))));
        }
        self.next += 1;
        // botocore's default member names are `key` / `value`; SNS's MessageAttributeMap
        // names them `Name` / `Value`.
        let (key_path, value_path) = if self.index.exists(&join(&entry, "Name")) {
            (join(&entry, "Name"), join(&entry, "Value"))
        } else {
            (join(&entry, "key"), join(&entry, "value"))
        };
        self.value_path = Some(value_path);
        decode_at(self.index, &key_path, seed).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let path = self.value_path.take().unwrap_or_default();
        decode_at(self.index, &path, seed)
    }
}

/// Entry point for the `query_decode` fuzz target (and the never-panics property tests):
/// parses `data` as a form body and decodes it into a type that uses every shape the
/// decoder supports. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Input {
        user_name: String,
        path: Option<String>,
        max_items: Option<i32>,
        duration: Option<u64>,
        ratio: Option<f64>,
        enabled: Option<bool>,
        initial: Option<char>,
        status: Option<Status>,
        tags: Option<Vec<Tag>>,
        names: Option<Vec<String>>,
        nested: Option<Vec<Vec<u8>>>,
        attributes: Option<BTreeMap<String, String>>,
        message_attributes: Option<HashMap<String, Tag>>,
        inner: Option<Box<Input>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Tag {
        key: String,
        value: Option<String>,
        data_type: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    enum Status {
        Active,
        Inactive,
    }

    /// Never panics; the result is discarded but must not be optimised away.
    pub fn decode(data: &[u8]) -> bool {
        match super::parse_form(data) {
            Ok(params) => match super::from_params::<Input>(&params) {
                Ok(v) => std::hint::black_box(v).user_name.is_empty(),
                Err(e) => !e.aws_error().2.is_empty(),
            },
            Err(e) => !e.to_string().is_empty(),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::{BTreeMap, HashMap};

    fn params(s: &str) -> Vec<(String, String)> {
        parse_form(s.as_bytes()).unwrap()
    }

    fn decode<T: DeserializeOwned>(s: &str) -> Result<T, QueryError> {
        from_params(&params(s))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Clone, Copy)]
    enum StatusType {
        Active,
        Inactive,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        depth: u32,
        leaf: Option<Box<Inner>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        user_name: String,
        path: Option<String>,
        max_items: Option<i32>,
        enabled: Option<bool>,
        ratio: Option<f64>,
        status: Option<StatusType>,
        tags: Option<Vec<Tag>>,
        names: Option<Vec<String>>,
        attributes: Option<BTreeMap<String, String>>,
        inner: Option<Inner>,
    }

    fn base() -> Input {
        Input {
            user_name: "bob".into(),
            path: None,
            max_items: None,
            enabled: None,
            ratio: None,
            status: None,
            tags: None,
            names: None,
            attributes: None,
            inner: None,
        }
    }

    #[test]
    fn parse_form_table() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&[u8], Result<Pairs, ()>)] = &[
            (b"", Ok(&[])),
            (b"a=1&b=2", Ok(&[("a", "1"), ("b", "2")])),
            (b"a=x+y%20z", Ok(&[("a", "x y z")])),
            (b"a%2Eb=%2B%26%3D", Ok(&[("a.b", "+&=")])),
            (b"flag&&x=", Ok(&[("flag", ""), ("x", "")])),
            (b"a=b=c", Ok(&[("a", "b=c")])),
            (b"a=%zz%4", Ok(&[("a", "%zz%4")])),
            (b"a=%", Ok(&[("a", "%")])),
            (b"n=%C3%A9t%C3%A9", Ok(&[("n", "\u{e9}t\u{e9}")])),
            (b"n=%FF", Err(())),
            (b"n=\xff", Err(())),
            (b"%C3=1", Err(())),
        ];
        for (input, want) in cases {
            let got = parse_form(input);
            match want {
                Ok(pairs) => {
                    let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                    let got: Vec<(&str, &str)> =
                        got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    assert_eq!(&got[..], *pairs, "{input:?}");
                }
                Err(()) => assert!(
                    matches!(got, Err(QueryError::Malformed(_))),
                    "{input:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn parse_form_caps_param_count() {
        let ok = "a=1&".repeat(MAX_PARAMS);
        assert_eq!(parse_form(ok.as_bytes()).unwrap().len(), MAX_PARAMS);
        let too_many = format!("{ok}b=2");
        assert!(matches!(
            parse_form(too_many.as_bytes()),
            Err(QueryError::Malformed(_))
        ));
    }

    #[test]
    fn decode_table() {
        let cases: Vec<(&str, Input)> = vec![
            ("Action=GetUser&Version=2010-05-08&UserName=bob", base()),
            (
                "UserName=bob&Path=%2Fdiv%2F&MaxItems=-5&Enabled=true&Ratio=1.5&Status=Inactive",
                Input {
                    path: Some("/div/".into()),
                    max_items: Some(-5),
                    enabled: Some(true),
                    ratio: Some(1.5),
                    status: Some(StatusType::Inactive),
                    ..base()
                },
            ),
            // Lists of structs, out of order on the wire; missing optional member.
            (
                "UserName=bob&Tags.member.2.Key=b&Tags.member.1.Value=1&Tags.member.1.Key=a",
                Input {
                    tags: Some(vec![
                        Tag {
                            key: "a".into(),
                            value: Some("1".into()),
                        },
                        Tag {
                            key: "b".into(),
                            value: None,
                        },
                    ]),
                    ..base()
                },
            ),
            // A gap ends the list, as in AWS.
            (
                "UserName=bob&Names.member.1=x&Names.member.2=y&Names.member.4=z",
                Input {
                    names: Some(vec!["x".into(), "y".into()]),
                    ..base()
                },
            ),
            // No first member: empty list, present (the prefix exists).
            (
                "UserName=bob&Names.member.2=y",
                Input {
                    names: Some(vec![]),
                    ..base()
                },
            ),
            // botocore's empty list.
            (
                "UserName=bob&Names=",
                Input {
                    names: Some(vec![]),
                    ..base()
                },
            ),
            // Flattened list.
            (
                "UserName=bob&Names.1=x&Names.2=y",
                Input {
                    names: Some(vec!["x".into(), "y".into()]),
                    ..base()
                },
            ),
            // A huge index is just a gap: nothing is allocated for it.
            (
                "UserName=bob&Names.member.99999999999999999999999=x",
                Input {
                    names: Some(vec![]),
                    ..base()
                },
            ),
            (
                "UserName=bob&Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D\
                 &Attributes.entry.2.key=DisplayName&Attributes.entry.2.value=d",
                Input {
                    attributes: Some(BTreeMap::from([
                        ("Policy".into(), "{}".into()),
                        ("DisplayName".into(), "d".into()),
                    ])),
                    ..base()
                },
            ),
            (
                "UserName=bob&Inner.Depth=1&Inner.Leaf.Depth=2&Inner.Leaf.Leaf.Depth=3",
                Input {
                    inner: Some(Inner {
                        depth: 1,
                        leaf: Some(Box::new(Inner {
                            depth: 2,
                            leaf: Some(Box::new(Inner {
                                depth: 3,
                                leaf: None,
                            })),
                        })),
                    }),
                    ..base()
                },
            ),
            // Duplicates: first wins. Unknown params ignored. Empty string is a value.
            (
                "UserName=bob&UserName=alice&Path=&Bogus.member.1=x",
                Input {
                    path: Some(String::new()),
                    ..base()
                },
            ),
        ];
        for (input, want) in cases {
            let got: Input = decode(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn decode_error_table() {
        let cases: &[(&str, QueryError, &str)] = &[
            (
                "Action=GetUser",
                QueryError::Missing {
                    param: "UserName".into(),
                },
                "1 validation error detected: Value null at 'userName' failed to satisfy \
                 constraint: Member must not be null",
            ),
            (
                "UserName=bob&Tags.member.1.Value=v",
                QueryError::Missing {
                    param: "Tags.member.1.Key".into(),
                },
                "1 validation error detected: Value null at 'tags.1.member.key' failed to \
                 satisfy constraint: Member must not be null",
            ),
            (
                "UserName=bob&Inner.Leaf.Depth=2",
                QueryError::Missing {
                    param: "Inner.Depth".into(),
                },
                "1 validation error detected: Value null at 'inner.depth' failed to satisfy \
                 constraint: Member must not be null",
            ),
            (
                "UserName=bob&MaxItems=ten",
                QueryError::Invalid {
                    param: "MaxItems".into(),
                    value: "ten".into(),
                    expected: INTEGER.into(),
                },
                "1 validation error detected: Value 'ten' at 'maxItems' failed to satisfy \
                 constraint: Member must be an integer",
            ),
            (
                "UserName=bob&MaxItems=99999999999",
                QueryError::Invalid {
                    param: "MaxItems".into(),
                    value: "99999999999".into(),
                    expected: INTEGER.into(),
                },
                "1 validation error detected: Value '99999999999' at 'maxItems' failed to \
                 satisfy constraint: Member must be an integer",
            ),
            (
                "UserName=bob&Enabled=True",
                QueryError::Invalid {
                    param: "Enabled".into(),
                    value: "True".into(),
                    expected: "Member must be true or false".into(),
                },
                "1 validation error detected: Value 'True' at 'enabled' failed to satisfy \
                 constraint: Member must be true or false",
            ),
            (
                "UserName=bob&Status=Expired",
                QueryError::Invalid {
                    param: "Status".into(),
                    value: "Expired".into(),
                    expected: "Member must satisfy enum value set: [Active, Inactive]".into(),
                },
                "1 validation error detected: Value 'Expired' at 'status' failed to satisfy \
                 constraint: Member must satisfy enum value set: [Active, Inactive]",
            ),
            (
                "UserName=bob&Attributes.entry.1.value=v",
                QueryError::Missing {
                    param: "Attributes.entry.1.key".into(),
                },
                "1 validation error detected: Value null at 'attributes.1.entry.key' failed to \
                 satisfy constraint: Member must not be null",
            ),
            (
                "UserName=bob&Ratio=abc",
                QueryError::Invalid {
                    param: "Ratio".into(),
                    value: "abc".into(),
                    expected: NUMBER.into(),
                },
                "1 validation error detected: Value 'abc' at 'ratio' failed to satisfy \
                 constraint: Member must be a number",
            ),
        ];
        for (input, want, message) in cases {
            let got = decode::<Input>(input).unwrap_err();
            assert_eq!(&got, want, "{input}");
            assert_eq!(got.to_string(), *message, "{input}");
            assert_eq!(
                got.aws_error(),
                (400, "ValidationError", message.to_string())
            );
        }
    }

    #[test]
    fn list_longer_than_cap_is_rejected() {
        let mut p: Vec<(String, String)> = vec![("UserName".into(), "bob".into())];
        for i in 1..=MAX_MEMBERS {
            p.push((format!("Names.member.{i}"), "x".into()));
        }
        let ok: Input = from_params(&p).unwrap();
        assert_eq!(ok.names.unwrap().len(), MAX_MEMBERS);
        p.push((format!("Names.member.{}", MAX_MEMBERS + 1), "x".into()));
        let err = from_params::<Input>(&p).unwrap_err();
        assert!(matches!(err, QueryError::Malformed(_)), "{err:?}");
        assert_eq!(err.aws_error().1, "MalformedQueryString");
    }

    #[test]
    fn sns_message_attributes_and_hashmap() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct Mav {
            data_type: String,
            string_value: Option<String>,
            binary_value: Option<serde_bytes_like::Bytes>,
        }
        mod serde_bytes_like {
            #[derive(Debug, PartialEq)]
            pub struct Bytes(pub Vec<u8>);
            impl<'de> serde::Deserialize<'de> for Bytes {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    struct V;
                    impl serde::de::Visitor<'_> for V {
                        type Value = Bytes;
                        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                            f.write_str("bytes")
                        }
                        fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
                            Ok(Bytes(v))
                        }
                    }
                    d.deserialize_byte_buf(V)
                }
            }
        }
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct Publish {
            topic_arn: String,
            message: String,
            message_attributes: Option<HashMap<String, Mav>>,
        }
        let got: Publish = decode(
            "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=hi+there\
             &MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=red\
             &MessageAttributes.entry.2.Name=blob&MessageAttributes.entry.2.Value.DataType=Binary\
             &MessageAttributes.entry.2.Value.BinaryValue=aGk%3D",
        )
        .unwrap();
        let attrs = got.message_attributes.unwrap();
        assert_eq!(got.message, "hi there");
        assert_eq!(attrs["color"].string_value.as_deref(), Some("red"));
        assert_eq!(
            attrs["blob"].binary_value,
            Some(serde_bytes_like::Bytes(b"hi".to_vec()))
        );
        let err = decode::<Publish>(
            "TopicArn=t&Message=m&MessageAttributes.entry.1.Name=x\
             &MessageAttributes.entry.1.Value.DataType=Binary\
             &MessageAttributes.entry.1.Value.BinaryValue=%%%",
        )
        .unwrap_err();
        assert_eq!(
            err,
            QueryError::Invalid {
                param: "MessageAttributes.entry.1.Value.BinaryValue".into(),
                value: "%%%".into(),
                expected: "Member must be base64-encoded binary data".into()
            }
        );
    }

    #[test]
    fn validated_newtypes_report_their_constraint() {
        #[derive(Debug, Deserialize)]
        #[serde(try_from = "String")]
        struct UserName(#[allow(dead_code)] String);
        impl TryFrom<String> for UserName {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                if s.len() <= 3 {
                    Ok(UserName(s))
                } else {
                    Err("Member must have length less than or equal to 3".into())
                }
            }
        }
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct In {
            #[allow(dead_code)]
            user_name: UserName,
        }
        let err = decode::<In>("UserName=bobby").unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 validation error detected: Value 'bobby' at 'userName' failed to satisfy \
             constraint: Member must have length less than or equal to 3"
        );
    }

    #[test]
    fn long_values_are_truncated_in_messages() {
        let long = "é".repeat(500);
        let err = QueryError::Invalid {
            param: "A".into(),
            value: long,
            expected: INTEGER.into(),
        };
        let msg = err.to_string();
        assert!(msg.len() < 400, "{}", msg.len());
        assert!(msg.contains("...'"));
    }

    #[test]
    fn validation_path_table() {
        for (param, want) in [
            ("UserName", "userName"),
            ("Tags.member.10.Key", "tags.10.member.key"),
            ("Attributes.entry.2.value", "attributes.2.entry.value"),
            ("Names.1", "names.1"),
            ("member", "member"),
            ("", ""),
        ] {
            assert_eq!(validation_path(param), want);
        }
    }

    #[test]
    fn index_prefix_lookup_is_exact() {
        let p = params("Tags-x=1&Tagsa.member.1=2&Tag.member.1=3&T=4");
        let index = Index::new(&p);
        assert!(!index.exists("Tags"));
        assert!(index.exists("Tag"));
        assert!(index.exists("Tag.member"));
        assert!(index.exists("Tag.member.1"));
        assert!(!index.exists("Tag.member.1.Key"));
        assert!(index.exists("T"));
        assert!(index.exists("Tags-x"));
        assert!(!index.exists("Tagsa.member.2"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Deserialize, PartialEq, Clone)]
        #[serde(rename_all = "PascalCase")]
        struct P {
            name: String,
            count: u64,
            flag: Option<bool>,
            items: Vec<Tag2>,
            // botocore sends nothing for an empty map, so only a defaulted map round-trips.
            #[serde(default)]
            map: BTreeMap<String, String>,
        }

        #[derive(Debug, Deserialize, PartialEq, Clone)]
        #[serde(rename_all = "PascalCase")]
        struct Tag2 {
            key: String,
            value: Option<String>,
        }

        /// What botocore's QuerySerializer sends for a `P`.
        fn encode(p: &P) -> String {
            let enc = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let mut out = vec![
                "Action=Test".to_string(),
                format!("Name={}", enc(&p.name)),
                format!("Count={}", p.count),
            ];
            if let Some(f) = p.flag {
                out.push(format!("Flag={f}"));
            }
            if p.items.is_empty() {
                out.push("Items=".into());
            }
            for (i, t) in p.items.iter().enumerate() {
                out.push(format!("Items.member.{}.Key={}", i + 1, enc(&t.key)));
                if let Some(v) = &t.value {
                    out.push(format!("Items.member.{}.Value={}", i + 1, enc(v)));
                }
            }
            for (i, (k, v)) in p.map.iter().enumerate() {
                out.push(format!("Map.entry.{}.key={}", i + 1, enc(k)));
                out.push(format!("Map.entry.{}.value={}", i + 1, enc(v)));
            }
            out.reverse();
            out.join("&")
        }

        fn arb_p() -> impl Strategy<Value = P> {
            (
                any::<String>(),
                any::<u64>(),
                any::<Option<bool>>(),
                prop::collection::vec(
                    (any::<String>(), any::<Option<String>>())
                        .prop_map(|(key, value)| Tag2 { key, value }),
                    0..12,
                ),
                prop::collection::btree_map(any::<String>(), any::<String>(), 0..6),
            )
                .prop_map(|(name, count, flag, items, map)| P {
                    name,
                    count,
                    flag,
                    items,
                    map,
                })
        }

        proptest! {
            #[test]
            fn round_trip(p in arb_p()) {
                let wire = encode(&p);
                let got: P = from_params(&parse_form(wire.as_bytes()).unwrap()).unwrap();
                prop_assert_eq!(got, p);
            }

            #[test]
            fn never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
                if let Ok(p) = parse_form(&body) {
                    let _ = from_params::<P>(&p);
                }
                crate::query::fuzzing::decode(&body);
            }

            #[test]
            fn never_panics_on_plausible_names(
                parts in prop::collection::vec(
                    (prop::sample::select(vec!["Name", "Count", "Flag", "Items", "Map", "Items.member", "Map.entry", "1", "2", "member", "Key", "Value", "key", "value", "entry", "", "0", "99999999999999999999"]), 1..6usize),
                    0..24),
            ) {
                let body: Vec<String> = parts
                    .iter()
                    .map(|(seg, n)| format!("{}={}", vec![*seg; *n].join("."), n))
                    .collect();
                let body = body.join("&");
                let p = parse_form(body.as_bytes()).unwrap();
                let _ = from_params::<P>(&p);
                crate::query::fuzzing::decode(body.replace("Items", "Tags").replace("Map", "Attributes").as_bytes());
            }
        }
    }
}
