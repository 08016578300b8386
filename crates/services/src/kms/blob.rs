//! The symmetric ciphertext blob: self-describing and authenticated.
//!
//! Format version 1 (all integers big-endian):
//!
//! ```text
//! 0x01 | u16 n | key ARN (n bytes, UTF-8) | u32 key material version | nonce (12) | AES-256-GCM ciphertext + tag (16)
//! ```
//!
//! The associated data is `"palisade-kms-ciphertext/1"`, then the whole header (everything
//! before the nonce: format, key ARN, material version), then the canonical encryption
//! context (pairs sorted by key, each string as u32 length + UTF-8 bytes). Moving a blob to
//! another key or material version, or changing the context, fails authentication.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use std::collections::BTreeMap;

pub const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;
const AAD_LABEL: &[u8] = b"palisade-kms-ciphertext/1";
/// Key material length (AES-256).
pub const MATERIAL_LEN: usize = 32;

/// A parsed (not yet authenticated) blob.
#[derive(Debug, PartialEq, Eq)]
pub struct Blob<'a> {
    pub key_arn: &'a str,
    pub material_version: u32,
    header: &'a [u8],
    nonce: &'a [u8],
    body: &'a [u8],
}

/// Why a blob could not be used: every case is AWS's `InvalidCiphertextException`.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidCiphertext;

/// Splits a blob into its parts; `None` when it is not a well-formed version-1 blob.
pub fn parse(blob: &[u8]) -> Option<Blob<'_>> {
    let (&format, rest) = blob.split_first()?;
    if format != FORMAT_V1 {
        return None;
    }
    let len_bytes = rest.get(..2)?;
    let n = usize::from(u16::from_be_bytes([
        *len_bytes.first()?,
        *len_bytes.get(1)?,
    ]));
    let arn = std::str::from_utf8(rest.get(2..2 + n)?).ok()?;
    if !arn.starts_with("arn:") {
        return None;
    }
    let v = rest.get(2 + n..2 + n + 4)?;
    let material_version = u32::from_be_bytes(v.try_into().ok()?);
    let header_len = 1 + 2 + n + 4;
    let header = blob.get(..header_len)?;
    let nonce = blob.get(header_len..header_len + NONCE_LEN)?;
    let body = blob.get(header_len + NONCE_LEN..)?;
    if body.len() < TAG_LEN {
        return None;
    }
    Some(Blob {
        key_arn: arn,
        material_version,
        header,
        nonce,
        body,
    })
}

/// The canonical encoding of an encryption context.
pub fn canonical_context(ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in ctx {
        for s in [k, v] {
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn aad(header: &[u8], ctx: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + header.len() + 64);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(header);
    aad.extend_from_slice(&canonical_context(ctx));
    aad
}

fn aead_key(material: &[u8]) -> Result<LessSafeKey, InvalidCiphertext> {
    UnboundKey::new(&AES_256_GCM, material)
        .map(LessSafeKey::new)
        .map_err(|_| InvalidCiphertext)
}

/// Encrypts `plaintext` under `material` (version `material_version` of key `key_arn`).
/// `None` only when the system random source or the cipher fails.
pub fn seal(
    key_arn: &str,
    material_version: u32,
    material: &[u8],
    ctx: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    let arn_len = u16::try_from(key_arn.len()).ok()?;
    let mut out =
        Vec::with_capacity(1 + 2 + key_arn.len() + 4 + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(FORMAT_V1);
    out.extend_from_slice(&arn_len.to_be_bytes());
    out.extend_from_slice(key_arn.as_bytes());
    out.extend_from_slice(&material_version.to_be_bytes());
    let aad = aad(&out, ctx);
    let mut nonce = [0u8; NONCE_LEN];
    palisade_store::seal::fill_random(&mut nonce).ok()?;
    out.extend_from_slice(&nonce);
    let key = aead_key(material).ok()?;
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&aad),
        &mut body,
    )
    .ok()?;
    out.append(&mut body);
    Some(out)
}

/// Authenticates and decrypts a parsed blob with its key material and context.
pub fn open(
    blob: &Blob<'_>,
    material: &[u8],
    ctx: &BTreeMap<String, String>,
) -> Result<Vec<u8>, InvalidCiphertext> {
    let key = aead_key(material)?;
    let nonce = Nonce::try_assume_unique_for_key(blob.nonce).map_err(|_| InvalidCiphertext)?;
    let aad = aad(blob.header, ctx);
    let mut body = blob.body.to_vec();
    let len = key
        .open_in_place(nonce, Aad::from(&aad), &mut body)
        .map_err(|_| InvalidCiphertext)?
        .len();
    body.truncate(len);
    Ok(body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn round_trip_and_tamper() {
        let material = [7u8; 32];
        let c = ctx(&[("purpose", "test"), ("a", "b")]);
        let blob = seal(ARN, 1, &material, &c, b"hello").unwrap();
        let parsed = parse(&blob).unwrap();
        assert_eq!(parsed.key_arn, ARN);
        assert_eq!(parsed.material_version, 1);
        assert_eq!(open(&parsed, &material, &c).unwrap(), b"hello");
        // Wrong context, wrong key, tampered byte anywhere, truncation.
        assert!(open(&parsed, &material, &ctx(&[("purpose", "test")])).is_err());
        assert!(open(&parsed, &[8u8; 32], &c).is_err());
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 1;
            if let Some(p) = parse(&t) {
                assert!(open(&p, &material, &c).is_err(), "byte {i}");
            }
        }
        for n in 0..blob.len() {
            if let Some(p) = parse(&blob[..n]) {
                assert!(open(&p, &material, &c).is_err(), "len {n}");
            }
        }
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        assert_ne!(
            canonical_context(&ctx(&[("ab", "c")])),
            canonical_context(&ctx(&[("a", "bc")]))
        );
    }

    #[test]
    fn garbage_does_not_parse() {
        assert!(parse(b"").is_none());
        assert!(parse(b"\x01").is_none());
        assert!(parse(b"\x02\x00\x00").is_none());
        assert!(parse(&[1, 255, 255, 0]).is_none());
    }
}
