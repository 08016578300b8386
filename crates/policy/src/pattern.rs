//! Wildcard patterns (`*` any run of characters, `?` exactly one character) and ARN
//! matching. Matching is iterative (single backtrack point), so it is O(n*m) in the worst
//! case and never recurses.

/// One token of a compiled pattern. Literal bytes are kept as bytes; `?` consumes one
/// whole UTF-8 character of the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Byte(u8),
    Star,
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Vec<Tok>,
    /// True when the pattern holds no wildcard: matching is a plain comparison.
    literal: bool,
    /// The (lowercased when compiled so) source text.
    src: String,
}

impl Glob {
    /// Compiles `s`, treating `*` and `?` as wildcards. When `lower` is set, literal bytes
    /// are ASCII-lowercased (used with [`Glob::matches_ci`]).
    pub(crate) fn new(s: &str, lower: bool) -> Glob {
        let mut toks = Vec::with_capacity(s.len());
        let mut literal = true;
        for &b in s.as_bytes() {
            toks.push(match b {
                b'*' => {
                    literal = false;
                    Tok::Star
                }
                b'?' => {
                    literal = false;
                    Tok::One
                }
                _ if lower => Tok::Byte(b.to_ascii_lowercase()),
                _ => Tok::Byte(b),
            });
        }
        let src = if lower {
            s.to_ascii_lowercase()
        } else {
            s.to_owned()
        };
        Glob { toks, literal, src }
    }

    /// Builds a pattern from tokens (used after policy-variable substitution, where
    /// substituted text is literal).
    pub(crate) fn from_toks(toks: Vec<Tok>) -> Glob {
        let literal = toks.iter().all(|t| matches!(t, Tok::Byte(_)));
        let src = String::from_utf8_lossy(
            &toks
                .iter()
                .map(|t| match t {
                    Tok::Byte(b) => *b,
                    Tok::Star => b'*',
                    Tok::One => b'?',
                })
                .collect::<Vec<u8>>(),
        )
        .into_owned();
        Glob { toks, literal, src }
    }

    /// How an action pattern (compiled lowercased) can be indexed.
    pub(crate) fn action_kind(&self) -> crate::policy::PatternKind<'_> {
        use crate::policy::PatternKind;
        let Some(colon) = self.toks.iter().position(|t| *t == Tok::Byte(b':')) else {
            return PatternKind::AnyService;
        };
        let svc_literal = self
            .toks
            .get(..colon)
            .is_some_and(|t| !t.is_empty() && t.iter().all(|t| matches!(t, Tok::Byte(_))));
        let Some(service) = self.src.get(..colon).filter(|_| svc_literal) else {
            return PatternKind::AnyService;
        };
        if self.literal {
            PatternKind::Exact {
                service,
                action: &self.src,
            }
        } else {
            PatternKind::Service(service)
        }
    }

    pub(crate) fn toks(&self) -> &[Tok] {
        &self.toks
    }

    /// Case-sensitive match.
    pub(crate) fn matches(&self, s: &str) -> bool {
        if self.literal {
            return self.toks.len() == s.len()
                && self
                    .toks
                    .iter()
                    .zip(s.as_bytes())
                    .all(|(t, b)| *t == Tok::Byte(*b));
        }
        glob_match(&self.toks, s.as_bytes(), false)
    }

    /// ASCII case-insensitive match; the pattern must have been compiled with `lower`.
    pub(crate) fn matches_ci(&self, s: &str) -> bool {
        if self.literal {
            return self.src.eq_ignore_ascii_case(s);
        }
        glob_match(&self.toks, s.as_bytes(), true)
    }
}

fn char_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Classic greedy wildcard matching with one backtrack point. `ci` lowercases subject
/// bytes (pattern bytes are already lowercased by the caller).
pub(crate) fn glob_match(p: &[Tok], s: &[u8], ci: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let sb = match s.get(si) {
            Some(b) if ci => b.to_ascii_lowercase(),
            Some(b) => *b,
            None => return false,
        };
        match p.get(pi) {
            Some(Tok::Star) => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some(Tok::One) => {
                pi += 1;
                si += char_len(sb);
                continue;
            }
            Some(Tok::Byte(b)) if *b == sb => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, ss)) => {
                let first = s.get(ss).copied().unwrap_or(0);
                let next = ss + char_len(first);
                star = Some((sp, next));
                pi = sp + 1;
                si = next;
            }
            None => return false,
        }
    }
    // A `?` may have stepped past the end on a truncated character: treat as no match.
    if si > s.len() {
        return false;
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|t| *t == Tok::Star))
}

/// Splits an ARN-shaped string into its first five colon-separated segments and the rest
/// (the resource part, which may itself contain colons). Returns `None` unless the string
/// starts with `arn:` and has at least six segments.
pub fn split_arn(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let a = it.next()?;
    let b = it.next()?;
    let c = it.next()?;
    let d = it.next()?;
    let e = it.next()?;
    let f = it.next()?;
    if a != "arn" {
        return None;
    }
    Some([a, b, c, d, e, f])
}

/// A compiled resource pattern (the `Resource` element or an `Arn*` condition value).
///
/// AWS: "You can use wildcard characters (* and ?) within the individual segments of an
/// ARN (the parts separated by colons) ... If the * wildcard is the last character of a
/// resource ARN segment, it can expand to match beyond the colon boundaries."
/// (IAM User Guide, IAM JSON policy elements: Resource, "Using wildcards in resource
/// ARNs".) So each of the first five segments is matched on its own, the sixth (the
/// resource part, which may contain colons) against the rest of the subject, and a last
/// pattern segment that ends with `*` absorbs everything after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// `*` alone.
    Any,
    /// Segmented ARN pattern. The last segment may end in `*` and swallow the rest.
    Segments(SegPattern),
    /// Not ARN-shaped: matched as one plain wildcard pattern over the whole string.
    Plain(Glob),
}

impl ArnPattern {
    pub(crate) fn new(s: &str) -> ArnPattern {
        if s == "*" {
            return ArnPattern::Any;
        }
        if s.starts_with("arn:") {
            let segs: Vec<Glob> = s.splitn(6, ':').map(|p| Glob::new(p, false)).collect();
            return ArnPattern::Segments(SegPattern::new(segs));
        }
        ArnPattern::Plain(Glob::new(s, false))
    }

    /// Builds from already tokenized text (variables substituted).
    pub(crate) fn from_toks(toks: Vec<Tok>) -> ArnPattern {
        if toks == [Tok::Star] {
            return ArnPattern::Any;
        }
        let is_arn = toks.len() >= 4
            && toks.get(..4)
                == Some(&[
                    Tok::Byte(b'a'),
                    Tok::Byte(b'r'),
                    Tok::Byte(b'n'),
                    Tok::Byte(b':'),
                ]);
        if !is_arn {
            return ArnPattern::Plain(Glob::from_toks(toks));
        }
        let mut segs = Vec::with_capacity(6);
        let mut cur = Vec::new();
        for t in toks {
            if t == Tok::Byte(b':') && segs.len() < 5 {
                segs.push(Glob::from_toks(std::mem::take(&mut cur)));
            } else {
                cur.push(t);
            }
        }
        segs.push(Glob::from_toks(cur));
        ArnPattern::Segments(SegPattern::new(segs))
    }

    pub(crate) fn matches(&self, subject: &Subject<'_>) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Plain(g) => g.matches(subject.as_str()),
            ArnPattern::Segments(p) => {
                // Cheap rejection: the literal text before the first wildcard must prefix
                // the subject; a pattern without wildcards must equal it.
                let bytes = subject.as_str().as_bytes();
                if p.exact {
                    return bytes == p.prefix.as_slice();
                }
                if !bytes.starts_with(&p.prefix) {
                    return false;
                }
                match_segments(&p.segs, subject)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegPattern {
    segs: Vec<Glob>,
    /// Literal bytes (with the `:` separators) before the first wildcard.
    prefix: Vec<u8>,
    /// No wildcard anywhere and six segments: matching is equality.
    exact: bool,
}

impl SegPattern {
    fn new(segs: Vec<Glob>) -> SegPattern {
        let mut prefix = Vec::new();
        let mut exact = segs.len() == 6;
        'outer: for (i, g) in segs.iter().enumerate() {
            if i > 0 {
                prefix.push(b':');
            }
            for t in g.toks() {
                match t {
                    Tok::Byte(b) => prefix.push(*b),
                    _ => {
                        exact = false;
                        break 'outer;
                    }
                }
            }
        }
        SegPattern {
            segs,
            prefix,
            exact,
        }
    }
}

/// A string split once into ARN segments (the first five colons), so that every pattern
/// matched against it during one evaluation reuses the split.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    s: &'a str,
    /// Byte offsets of the first (up to) five colons.
    colons: [usize; 5],
    n_colons: usize,
}

impl<'a> Subject<'a> {
    pub(crate) fn new(s: &'a str) -> Subject<'a> {
        let mut colons = [0usize; 5];
        let mut n_colons = 0;
        for (i, b) in s.bytes().enumerate() {
            if b == b':' {
                if let Some(slot) = colons.get_mut(n_colons) {
                    *slot = i;
                    n_colons += 1;
                } else {
                    break;
                }
            }
        }
        Subject {
            s,
            colons,
            n_colons,
        }
    }

    pub(crate) fn as_str(&self) -> &'a str {
        self.s
    }

    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            None => 0,
            Some(c) => self.colons.get(c).map_or(self.s.len(), |p| p + 1),
        }
    }

    /// Segment `i` (0-based); the sixth is the rest of the string.
    fn segment(&self, i: usize) -> Option<&'a str> {
        if i > self.n_colons {
            return None;
        }
        let start = self.start(i);
        let end = if i < self.n_colons && i < 5 {
            self.colons.get(i).copied().unwrap_or(self.s.len())
        } else {
            self.s.len()
        };
        self.s.get(start..end)
    }

    /// Everything from segment `i` on.
    fn rest(&self, i: usize) -> Option<&'a str> {
        if i > self.n_colons {
            return None;
        }
        self.s.get(self.start(i)..)
    }
}

fn match_segments(segs: &[Glob], subject: &Subject<'_>) -> bool {
    let n = segs.len();
    for (i, g) in segs.iter().enumerate() {
        if i + 1 == n {
            // The sixth segment is the resource part and may contain colons. An earlier
            // last segment matches the remainder only when it ends in `*` (expands past
            // colons); otherwise the subject must have no further segments.
            if i == 5 || g.toks().last() == Some(&Tok::Star) {
                return subject.rest(i).is_some_and(|r| g.matches(r));
            }
            return subject.n_colons == i && subject.segment(i).is_some_and(|r| g.matches(r));
        }
        match subject.segment(i) {
            Some(seg) if i < subject.n_colons && g.matches(seg) => {}
            _ => return false,
        }
    }
    false
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
    fn globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*a*b", "xaxxb", true),
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abC", false),
            ("a**", "a", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(Glob::new(p, false).matches(s), *want, "{p} vs {s}");
        }
        assert!(Glob::new("S3:Get*", true).matches_ci("s3:GETOBJECT"));
    }

    #[test]
    fn arns() {
        let cases: &[(&str, &str, bool)] = &[
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", false),
            (
                "arn:aws:iam::*:user/*",
                "arn:aws:iam::123456789012:user/a",
                true,
            ),
            (
                "arn:aws:iam::12345678901?:user/a",
                "arn:aws:iam::123456789012:user/a",
                true,
            ),
            ("arn:aws:iam::*", "arn:aws:iam::123456789012:user/a", true),
            ("arn:aws:iam:*:user/a", "arn:aws:iam::123:user/a", false),
            ("arn:aws:*:us-east-1:1:x", "arn:aws:s3:us-east-1:1:x", true),
            ("arn:aws:ec2:us*1:1:x", "arn:aws:ec2:us-east-1:1:x", true),
            ("arn:aws:ec2:u*:1:x", "arn:aws:ec2:us:east:1:x", false),
            (
                "arn:aws:logs:*:*:log-group:g:*",
                "arn:aws:logs:r:1:log-group:g:log-stream:s",
                true,
            ),
            ("*", "anything", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(
                ArnPattern::new(p).matches(&Subject::new(s)),
                *want,
                "{p} vs {s}"
            );
        }
    }
}
