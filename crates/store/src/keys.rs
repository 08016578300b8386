//! Order-preserving tuple encoding of keys (after FoundationDB's tuple layer).
//!
//! A key is a tuple of typed parts; the byte order of encoded keys equals the tuple order,
//! and the encoding of a tuple prefix is a byte prefix of the encoding of every longer
//! tuple. So `Range::prefix(&Key::new().str("iam").str(account).finish(), ..)` lists
//! exactly that account's children, in order.
//!
//! Layout of each part: one type byte, then
//! - `bytes` / `str`: the bytes with every `0x00` written as `0x00 0xFF`, then `0x00`;
//! - `u64`: 8 bytes big-endian; `u64_desc`: 8 bytes big-endian of `!v` (newest first).
//!
//! Type bytes are all below `0xFF`, so a terminated string sorts before any longer string
//! it is a prefix of, whatever follows it. This module must never depend on a backend.

use std::fmt;

const BYTES: u8 = 0x01;
const STR: u8 = 0x02;
const U64: u8 = 0x15;
const U64_DESC: u8 = 0x16;
const ESCAPE: u8 = 0xFF;

/// Builder of an encoded key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Key {
    buf: Vec<u8>,
}

impl Key {
    pub fn new() -> Self {
        Key {
            buf: Vec::with_capacity(64),
        }
    }

    /// Continues an already encoded key (e.g. a prefix kept in a constant).
    pub fn from_encoded(prefix: &[u8]) -> Self {
        Key {
            buf: prefix.to_vec(),
        }
    }

    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.buf.push(BYTES);
        escape_into(&mut self.buf, b);
        self.buf.push(0x00);
        self
    }

    pub fn str(mut self, s: &str) -> Self {
        self.buf.push(STR);
        escape_into(&mut self.buf, s.as_bytes());
        self.buf.push(0x00);
        self
    }

    /// A string part without its terminator: only as the last part of a scan prefix, to
    /// list every key whose string part at this position starts with `s` (e.g. IAM
    /// `PathPrefix`). Never store a key ending like this.
    pub fn str_prefix(mut self, s: &str) -> Self {
        self.buf.push(STR);
        escape_into(&mut self.buf, s.as_bytes());
        self
    }

    pub fn u64(mut self, v: u64) -> Self {
        self.buf.push(U64);
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Sorts larger values first: for newest-first listings by timestamp.
    pub fn u64_desc(mut self, v: u64) -> Self {
        self.buf.push(U64_DESC);
        self.buf.extend_from_slice(&(!v).to_be_bytes());
        self
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

fn escape_into(buf: &mut Vec<u8>, b: &[u8]) {
    buf.reserve(b.len() + 1);
    for &c in b {
        buf.push(c);
        if c == 0x00 {
            buf.push(ESCAPE);
        }
    }
}

/// One decoded part of a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Bytes(Vec<u8>),
    Str(String),
    U64(u64),
    /// Decoded back to the original value.
    U64Desc(u64),
}

/// A key that is not a well-formed tuple (or not the expected one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Byte offset where decoding failed.
    pub at: usize,
    pub reason: &'static str,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed key at byte {}: {}", self.at, self.reason)
    }
}

impl std::error::Error for KeyError {}

impl From<KeyError> for crate::StoreError {
    fn from(e: KeyError) -> Self {
        crate::StoreError::Other(e.to_string())
    }
}

/// Reads the parts of an encoded key in order, checking each part's type.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    key: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(key: &'a [u8]) -> Self {
        Decoder { key, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.key.len()
    }

    /// The encoded bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.key.get(self.pos..).unwrap_or_default()
    }

    fn err(&self, reason: &'static str) -> KeyError {
        KeyError {
            at: self.pos,
            reason,
        }
    }

    fn expect_type(&mut self, t: u8) -> Result<(), KeyError> {
        match self.key.get(self.pos) {
            Some(&c) if c == t => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.err("unexpected part type")),
            None => Err(self.err("missing part")),
        }
    }

    fn unescape(&mut self) -> Result<Vec<u8>, KeyError> {
        let mut out = Vec::new();
        loop {
            // Copy up to the next 0x00 at once: either an escaped 0x00 or the terminator.
            let rest = self.key.get(self.pos..).unwrap_or_default();
            let Some(zero) = rest.iter().position(|&b| b == 0x00) else {
                self.pos = self.key.len();
                return Err(self.err("unterminated string"));
            };
            out.extend_from_slice(rest.get(..zero).unwrap_or_default());
            if rest.get(zero + 1) == Some(&ESCAPE) {
                out.push(0x00);
                self.pos += zero + 2;
            } else {
                self.pos += zero + 1;
                return Ok(out);
            }
        }
    }

    fn fixed8(&mut self) -> Result<u64, KeyError> {
        let Some(b) = self.key.get(self.pos..self.pos + 8) else {
            return Err(self.err("truncated integer"));
        };
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        self.pos += 8;
        Ok(u64::from_be_bytes(a))
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, KeyError> {
        self.expect_type(BYTES)?;
        self.unescape()
    }

    pub fn str(&mut self) -> Result<String, KeyError> {
        let start = self.pos;
        self.expect_type(STR)?;
        let b = self.unescape()?;
        String::from_utf8(b).map_err(|_| KeyError {
            at: start,
            reason: "string part is not UTF-8",
        })
    }

    /// [`Decoder::str`] borrowing from the key when the string holds no escaped byte.
    pub fn str_cow(&mut self) -> Result<std::borrow::Cow<'a, str>, KeyError> {
        let start = self.pos;
        let rest = self.key.get(start + 1..).unwrap_or_default();
        let plain = match rest.iter().position(|&b| b == 0x00) {
            Some(zero)
                if self.key.get(start) == Some(&STR) && rest.get(zero + 1) != Some(&ESCAPE) =>
            {
                rest.get(..zero)
            }
            _ => None,
        };
        let Some(plain) = plain else {
            return self.str().map(std::borrow::Cow::Owned);
        };
        let s = std::str::from_utf8(plain).map_err(|_| KeyError {
            at: start,
            reason: "string part is not UTF-8",
        })?;
        self.pos = start + 1 + plain.len() + 1;
        Ok(std::borrow::Cow::Borrowed(s))
    }

    pub fn u64(&mut self) -> Result<u64, KeyError> {
        self.expect_type(U64)?;
        self.fixed8()
    }

    pub fn u64_desc(&mut self) -> Result<u64, KeyError> {
        self.expect_type(U64_DESC)?;
        Ok(!self.fixed8()?)
    }

    /// The next part, whatever its type; `None` at the end.
    pub fn part(&mut self) -> Result<Option<Part>, KeyError> {
        Ok(Some(match self.key.get(self.pos) {
            None => return Ok(None),
            Some(&BYTES) => Part::Bytes(self.bytes()?),
            Some(&STR) => Part::Str(self.str()?),
            Some(&U64) => Part::U64(self.u64()?),
            Some(&U64_DESC) => Part::U64Desc(self.u64_desc()?),
            Some(_) => return Err(self.err("unknown part type")),
        }))
    }

    /// Fails unless every byte was read.
    pub fn end(&self) -> Result<(), KeyError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err("trailing bytes"))
        }
    }
}

/// Every part of `key`.
pub fn decode(key: &[u8]) -> Result<Vec<Part>, KeyError> {
    let mut d = Decoder::new(key);
    let mut parts = Vec::new();
    while let Some(p) = d.part()? {
        parts.push(p);
    }
    Ok(parts)
}

/// Encodes `parts` (the inverse of [`decode`]).
pub fn encode(parts: &[Part]) -> Vec<u8> {
    parts
        .iter()
        .fold(Key::new(), |k, p| match p {
            Part::Bytes(b) => k.bytes(b),
            Part::Str(s) => k.str(s),
            Part::U64(v) => k.u64(*v),
            Part::U64Desc(v) => k.u64_desc(*v),
        })
        .finish()
}

/// The smallest key greater than every key starting with `prefix`; empty when none exists
/// (the prefix is all 0xFF bytes), meaning "unbounded".
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    end
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn str_cow_borrows_plain_strings_and_unescapes_the_rest() {
        use std::borrow::Cow;
        let key = Key::new().str("plain").str("a\0b").str("").u64(7).finish();
        let mut d = Decoder::new(&key);
        assert!(matches!(d.str_cow().unwrap(), Cow::Borrowed("plain")));
        assert!(matches!(d.str_cow().unwrap(), Cow::Owned(s) if s == "a\0b"));
        assert!(matches!(d.str_cow().unwrap(), Cow::Borrowed("")));
        assert!(d.str_cow().is_err(), "a u64 part is not a string");
        assert_eq!(d.u64().unwrap(), 7);
        d.end().unwrap();
        // Truncated and non-UTF-8 strings fail as `str` does.
        assert!(Decoder::new(b"\x02abc").str_cow().is_err());
        assert!(Decoder::new(b"\x02\xff\x00").str_cow().is_err());
    }

    #[test]
    fn layout_table() {
        let cases: &[(Vec<u8>, &[u8])] = &[
            (Key::new().str("iam").finish(), b"\x02iam\x00"),
            (Key::new().str("a\0b").finish(), b"\x02a\x00\xffb\x00"),
            (
                Key::new().bytes(b"\x00\xff").finish(),
                b"\x01\x00\xff\xff\x00",
            ),
            (Key::new().u64(1).finish(), b"\x15\0\0\0\0\0\0\0\x01"),
            (
                Key::new().u64_desc(0).finish(),
                b"\x16\xff\xff\xff\xff\xff\xff\xff\xff",
            ),
            (Key::new().str_prefix("ab").finish(), b"\x02ab"),
        ];
        for (got, want) in cases {
            assert_eq!(got.as_slice(), *want);
        }
    }

    #[test]
    fn round_trip_and_typed_decoder() {
        let k = Key::new()
            .str("iam")
            .str("123456789012")
            .u64_desc(1_700_000_000_000)
            .bytes(b"\x00\x01\xff")
            .u64(7)
            .finish();
        let mut d = Decoder::new(&k);
        assert_eq!(d.str().unwrap(), "iam");
        assert_eq!(d.str().unwrap(), "123456789012");
        assert_eq!(d.u64_desc().unwrap(), 1_700_000_000_000);
        assert_eq!(d.bytes().unwrap(), b"\x00\x01\xff");
        assert_eq!(d.u64().unwrap(), 7);
        d.end().unwrap();
        assert_eq!(encode(&decode(&k).unwrap()), k);
    }

    #[test]
    fn malformed_keys_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"\x02abc",          // unterminated
            b"\x15\x00\x01",     // truncated integer
            b"\x7f",             // unknown type
            b"\x02\xff\xfe\x00", // not UTF-8
        ];
        for c in cases {
            assert!(decode(c).is_err(), "{c:?}");
        }
        let k = Key::new().str("x").finish();
        assert!(Decoder::new(&k).u64().is_err());
        let mut d = Decoder::new(&k);
        assert!(d.str().is_ok());
        assert!(d.str().is_err());
    }

    #[test]
    fn prefix_lists_children_only() {
        let p = Key::new().str("iam").str("acct").finish();
        let child = Key::new().str("iam").str("acct").str("user").finish();
        let sibling = Key::new().str("iam").str("acct2").finish();
        let end = prefix_end(&p);
        assert!(child.starts_with(&p) && child.as_slice() < end.as_slice());
        assert!(!sibling.starts_with(&p));
        assert!(sibling.as_slice() >= end.as_slice());
    }

    #[test]
    fn prefix_end_table() {
        assert_eq!(prefix_end(b"ab"), b"ac");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"");
        assert_eq!(prefix_end(b""), b"");
    }

    #[test]
    fn desc_orders_newest_first() {
        let a = Key::new().str("t").u64_desc(10).finish();
        let b = Key::new().str("t").u64_desc(20).finish();
        assert!(b < a);
    }

    fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            proptest::collection::vec(prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 0..6)
                .prop_map(Part::Bytes),
            "[a\\x00\\x01\\u{ff}b]{0,5}".prop_map(Part::Str),
            prop_oneof![Just(0u64), Just(u64::MAX), 0u64..300, any::<u64>()].prop_map(Part::U64),
        ]
    }

    fn tuple() -> impl Strategy<Value = Vec<Part>> {
        proptest::collection::vec(part(), 0..4)
    }

    proptest! {
        #[test]
        fn byte_order_equals_tuple_order(a in tuple(), b in tuple()) {
            // Part's derived Ord orders by variant first, as the type bytes do.
            prop_assert_eq!(encode(&a).cmp(&encode(&b)), a.cmp(&b));
        }

        #[test]
        fn decode_inverts_encode(a in tuple()) {
            prop_assert_eq!(decode(&encode(&a)).unwrap(), a);
        }

        #[test]
        fn tuple_prefix_is_byte_prefix(a in tuple(), b in tuple()) {
            let mut ab = a.clone();
            ab.extend(b);
            prop_assert!(encode(&ab).starts_with(&encode(&a)));
        }

        #[test]
        fn desc_reverses_order(x: u64, y: u64) {
            let kx = Key::new().u64_desc(x).finish();
            let ky = Key::new().u64_desc(y).finish();
            prop_assert_eq!(kx.cmp(&ky), y.cmp(&x));
        }

        #[test]
        fn decode_never_panics(k in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = decode(&k);
        }
    }
}
