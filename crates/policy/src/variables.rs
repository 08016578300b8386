//! Policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, the special
//! characters `${*}`, `${?}`, `${$}`, and defaults `${aws:username, 'anonymous'}`.
//!
//! AWS (IAM User Guide, "IAM policy elements: Variables and tags"): variables work only
//! with `"Version": "2012-10-17"`; in the Resource element and in condition values. "If
//! there is no value for a variable and no default, the variable does not resolve" and the
//! element does not match: an ARN of a Resource list, or a condition value, whose variable
//! does not resolve matches nothing, while the list's other entries are still compared (a
//! list is ORed, so its order cannot matter). In a Resource ARN, variables are filled in
//! only in the resource part, after the fifth colon ("You can't use a variable to replace
//! parts of the ARN before the fifth colon, such as the service or account").

use crate::context::Context;
use crate::pattern::Tok;

/// A piece of a templated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text in which `*` and `?` are wildcards (where the operator uses them).
    Text(String),
    /// Literal text without wildcard meaning (`${*}`, `${?}`, `${$}`).
    Escaped(char),
    /// A context key, with an optional default.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A string that may contain policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

/// A variable that could not be resolved: the statement does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unresolved;

impl Template {
    /// Parses the variables of a Resource ARN, in its resource part only (module docs):
    /// before the fifth colon, and in a string with fewer colons, `${...}` is literal text.
    pub(crate) fn parse_resource(s: &str) -> Option<Template> {
        let at = s.match_indices(':').nth(4).map(|(i, _)| i + 1)?;
        let (head, tail) = s.split_at(at);
        let mut t = Template::parse(tail)?;
        match t.parts.first_mut() {
            Some(Part::Text(text)) => text.insert_str(0, head),
            _ => t.parts.insert(0, Part::Text(head.to_owned())),
        }
        Some(t)
    }

    /// Parses `${...}` references. Returns `None` when the string has none (the caller keeps
    /// its precompiled literal form). A `${` without a closing `}` stays literal text.
    pub(crate) fn parse(s: &str) -> Option<Template> {
        if !s.contains("${") {
            return None;
        }
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            let (before, after) = rest.split_at(start);
            text.push_str(before);
            let inner_and_tail = after.get(2..).unwrap_or("");
            let Some(end) = inner_and_tail.find('}') else {
                text.push_str(after);
                rest = "";
                break;
            };
            let inner = inner_and_tail.get(..end).unwrap_or("");
            rest = inner_and_tail.get(end + 1..).unwrap_or("");
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(parse_var(inner));
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Some(Template { parts })
    }

    /// The context keys the template's variables read.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Substitutes into plain text (wildcards in the template text stay as they are;
    /// substituted values are literal).
    pub(crate) fn render(&self, ctx: &Context) -> Result<String, Unresolved> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Escaped(c) => out.push(*c),
                Part::Var { key, default } => out.push_str(resolve(key, default.as_deref(), ctx)?),
            }
        }
        Ok(out)
    }

    /// Substitutes into wildcard tokens: template text keeps `*`/`?` as wildcards,
    /// substituted values and escapes are literal bytes.
    pub(crate) fn render_toks(&self, ctx: &Context, lower: bool) -> Result<Vec<Tok>, Unresolved> {
        let mut out = Vec::new();
        let lit = |out: &mut Vec<Tok>, s: &str| {
            out.extend(
                s.bytes()
                    .map(|b| Tok::Byte(if lower { b.to_ascii_lowercase() } else { b })),
            );
        };
        for p in &self.parts {
            match p {
                Part::Text(t) => {
                    for b in t.bytes() {
                        out.push(match b {
                            b'*' => Tok::Star,
                            b'?' => Tok::One,
                            _ if lower => Tok::Byte(b.to_ascii_lowercase()),
                            _ => Tok::Byte(b),
                        });
                    }
                }
                Part::Escaped(c) => {
                    let mut buf = [0u8; 4];
                    lit(&mut out, c.encode_utf8(&mut buf));
                }
                Part::Var { key, default } => lit(&mut out, resolve(key, default.as_deref(), ctx)?),
            }
        }
        Ok(out)
    }
}

fn resolve<'a>(
    key: &str,
    default: Option<&'a str>,
    ctx: &'a Context,
) -> Result<&'a str, Unresolved> {
    match ctx.get(key) {
        // A multi-valued key cannot be substituted into one string.
        Some([one]) => Ok(one.as_str()),
        _ => default.ok_or(Unresolved),
    }
}

fn parse_var(inner: &str) -> Part {
    match inner.trim() {
        "*" => return Part::Escaped('*'),
        "?" => return Part::Escaped('?'),
        "$" => return Part::Escaped('$'),
        _ => {}
    }
    // `${key, 'default'}`: the default is a single-quoted string after a comma.
    if let Some((key, def)) = inner.split_once(',') {
        let def = def.trim();
        let unquoted = def
            .strip_prefix('\'')
            .and_then(|d| d.strip_suffix('\''))
            .unwrap_or(def);
        return Part::Var {
            key: key.trim().to_owned(),
            default: Some(unquoted.to_owned()),
        };
    }
    Part::Var {
        key: inner.trim().to_owned(),
        default: None,
    }
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
    fn parse_and_render() {
        let ctx = Context::new().with("aws:username", "alice");
        let t = Template::parse("home/${aws:username}/*").unwrap();
        assert_eq!(t.render(&ctx).unwrap(), "home/alice/*");
        let t = Template::parse("${aws:PrincipalTag/team, 'none'}-${*}${?}${$}").unwrap();
        assert_eq!(t.render(&ctx).unwrap(), "none-*?$");
        let t = Template::parse("${aws:userid}").unwrap();
        assert_eq!(t.render(&ctx), Err(Unresolved));
        assert!(Template::parse("plain").is_none());
        let t = Template::parse("a${b").unwrap();
        assert_eq!(t.render(&ctx).unwrap(), "a${b");
        let toks = Template::parse("${*}*")
            .unwrap()
            .render_toks(&ctx, false)
            .unwrap();
        assert_eq!(toks, vec![Tok::Byte(b'*'), Tok::Star]);
    }
}
