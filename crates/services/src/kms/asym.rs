//! Asymmetric key material with aws-lc-rs: RSA (2048/3072/4096) and ECC (NIST P-256/384/521,
//! secp256k1) key pairs as PKCS#8 v1 DER (stored only sealed), their X.509
//! SubjectPublicKeyInfo public keys, Sign/Verify (RSASSA-PSS and PKCS#1 v1.5 with SHA-2,
//! ECDSA; RAW messages or precomputed DIGESTs) and RSAES-OAEP (SHA-1 / SHA-256).

use aws_lc_rs::{
    digest,
    encoding::AsDer,
    rsa::{
        KeyPair as RsaKeyPair, KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
        PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
    },
    signature::{self as sig, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey},
};

/// The RSA key specs.
pub fn is_rsa(spec: &str) -> bool {
    matches!(spec, "RSA_2048" | "RSA_3072" | "RSA_4096")
}

/// The elliptic-curve key specs Palisade supports.
pub fn is_ecc(spec: &str) -> bool {
    matches!(
        spec,
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1"
    )
}

pub fn is_asymmetric(spec: &str) -> bool {
    is_rsa(spec) || is_ecc(spec)
}

fn ecdsa_alg(spec: &str) -> Option<&'static sig::EcdsaSigningAlgorithm> {
    Some(match spec {
        "ECC_NIST_P256" => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        "ECC_NIST_P384" => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
        "ECC_NIST_P521" => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
        "ECC_SECG_P256K1" => &sig::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        _ => return None,
    })
}

fn ecdsa_verify_alg(spec: &str) -> Option<&'static sig::EcdsaVerificationAlgorithm> {
    Some(match spec {
        "ECC_NIST_P256" => &sig::ECDSA_P256_SHA256_ASN1,
        "ECC_NIST_P384" => &sig::ECDSA_P384_SHA384_ASN1,
        "ECC_NIST_P521" => &sig::ECDSA_P521_SHA512_ASN1,
        "ECC_SECG_P256K1" => &sig::ECDSA_P256K1_SHA256_ASN1,
        _ => return None,
    })
}

/// A new key pair of `spec` as PKCS#8 v1 DER; `None` for unknown specs or RNG failure.
pub fn generate(spec: &str) -> Option<Vec<u8>> {
    let size = match spec {
        "RSA_2048" => KeySize::Rsa2048,
        "RSA_3072" => KeySize::Rsa3072,
        "RSA_4096" => KeySize::Rsa4096,
        _ => {
            let kp = EcdsaKeyPair::generate(ecdsa_alg(spec)?).ok()?;
            return Some(kp.to_pkcs8v1().ok()?.as_ref().to_vec());
        }
    };
    let kp = RsaKeyPair::generate(size).ok()?;
    let der = kp.as_der().ok()?;
    Some(der.as_ref().to_vec())
}

/// The DER SubjectPublicKeyInfo of a PKCS#8 private key of `spec`.
pub fn public_key_der(spec: &str, pkcs8: &[u8]) -> Option<Vec<u8>> {
    if is_rsa(spec) {
        let kp = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
        let der = kp.public_key().as_der().ok()?;
        Some(der.as_ref().to_vec())
    } else {
        let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec)?, pkcs8).ok()?;
        let der = kp.public_key().as_der().ok()?;
        Some(der.as_ref().to_vec())
    }
}

/// The signing algorithms of a SIGN_VERIFY key spec.
pub fn signing_algorithms(spec: &str) -> Vec<String> {
    let algs: &[&str] = match spec {
        s if is_rsa(s) => &[
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
        ],
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => &["ECDSA_SHA_256"],
        "ECC_NIST_P384" => &["ECDSA_SHA_384"],
        "ECC_NIST_P521" => &["ECDSA_SHA_512"],
        _ => &[],
    };
    algs.iter().map(|s| (*s).to_owned()).collect()
}

pub const RSA_ENCRYPTION_ALGORITHMS: &[&str] = &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"];

/// The digest a signing algorithm uses.
pub fn digest_alg(alg: &str) -> Option<&'static digest::Algorithm> {
    Some(match alg.rsplit('_').next()? {
        "256" => &digest::SHA256,
        "384" => &digest::SHA384,
        "512" => &digest::SHA512,
        _ => return None,
    })
}

fn rsa_encoding(alg: &str) -> Option<&'static dyn sig::RsaEncoding> {
    Some(match alg {
        "RSASSA_PSS_SHA_256" => &sig::RSA_PSS_SHA256,
        "RSASSA_PSS_SHA_384" => &sig::RSA_PSS_SHA384,
        "RSASSA_PSS_SHA_512" => &sig::RSA_PSS_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &sig::RSA_PKCS1_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &sig::RSA_PKCS1_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &sig::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_params(alg: &str) -> Option<&'static sig::RsaParameters> {
    Some(match alg {
        "RSASSA_PSS_SHA_256" => &sig::RSA_PSS_2048_8192_SHA256,
        "RSASSA_PSS_SHA_384" => &sig::RSA_PSS_2048_8192_SHA384,
        "RSASSA_PSS_SHA_512" => &sig::RSA_PSS_2048_8192_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &sig::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &sig::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// What to sign: the message itself, or its precomputed digest.
pub enum Message<'a> {
    Raw(&'a [u8]),
    Digest(digest::Digest),
}

/// Signs with a key pair of `spec` (algorithm already checked compatible).
pub fn sign(spec: &str, pkcs8: &[u8], alg: &str, msg: &Message<'_>) -> Option<Vec<u8>> {
    if is_rsa(spec) {
        let kp = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
        let enc = rsa_encoding(alg)?;
        let mut out = vec![0u8; kp.public_modulus_len()];
        match msg {
            Message::Raw(m) => kp
                .sign(enc, &aws_lc_rs::rand::SystemRandom::new(), m, &mut out)
                .ok()?,
            Message::Digest(d) => kp.sign_digest(enc, d, &mut out).ok()?,
        }
        Some(out)
    } else {
        let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec)?, pkcs8).ok()?;
        let s = match msg {
            Message::Raw(m) => kp.sign(&aws_lc_rs::rand::SystemRandom::new(), m).ok()?,
            Message::Digest(d) => kp.sign_digest(d).ok()?,
        };
        Some(s.as_ref().to_vec())
    }
}

/// Verifies a signature with the key pair's public key. `None` when the key cannot be used.
pub fn verify(
    spec: &str,
    pkcs8: &[u8],
    alg: &str,
    msg: &Message<'_>,
    signature: &[u8],
) -> Option<bool> {
    let ok = if is_rsa(spec) {
        let kp = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
        let key = UnparsedPublicKey::new(rsa_params(alg)?, kp.public_key().as_ref());
        match msg {
            Message::Raw(m) => key.verify(m, signature).is_ok(),
            Message::Digest(d) => key.verify_digest(d, signature).is_ok(),
        }
    } else {
        let kp = EcdsaKeyPair::from_pkcs8(ecdsa_alg(spec)?, pkcs8).ok()?;
        let key = UnparsedPublicKey::new(ecdsa_verify_alg(spec)?, kp.public_key().as_ref());
        match msg {
            Message::Raw(m) => key.verify(m, signature).is_ok(),
            Message::Digest(d) => key.verify_digest(d, signature).is_ok(),
        }
    };
    Some(ok)
}

fn oaep(alg: &str) -> Option<&'static aws_lc_rs::rsa::OaepAlgorithm> {
    match alg {
        "RSAES_OAEP_SHA_1" => Some(&OAEP_SHA1_MGF1SHA1),
        "RSAES_OAEP_SHA_256" => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

/// The largest plaintext RSAES-OAEP with `alg` takes for an RSA key spec (as AWS's limits:
/// modulus bytes - 2 * hash length - 2).
pub fn max_oaep_plaintext(spec: &str, alg: &str) -> usize {
    let k: usize = match spec {
        "RSA_2048" => 256,
        "RSA_3072" => 384,
        _ => 512,
    };
    let h = if alg == "RSAES_OAEP_SHA_1" { 20 } else { 32 };
    k - 2 * h - 2
}

pub fn rsa_encrypt(pkcs8: &[u8], alg: &str, plaintext: &[u8]) -> Option<Vec<u8>> {
    let key = PrivateDecryptingKey::from_pkcs8(pkcs8).ok()?;
    let public = OaepPublicEncryptingKey::new(key.public_key()).ok()?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let n = public
        .encrypt(oaep(alg)?, plaintext, &mut out, None)
        .ok()?
        .len();
    out.truncate(n);
    Some(out)
}

pub fn rsa_decrypt(pkcs8: &[u8], alg: &str, ciphertext: &[u8]) -> Option<Vec<u8>> {
    let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(pkcs8).ok()?).ok()?;
    let mut out = vec![0u8; key.min_output_size()];
    let n = key
        .decrypt(oaep(alg)?, ciphertext, &mut out, None)
        .ok()?
        .len();
    out.truncate(n);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_every_spec_and_algorithm() {
        for spec in [
            "RSA_2048",
            "ECC_NIST_P256",
            "ECC_NIST_P384",
            "ECC_NIST_P521",
            "ECC_SECG_P256K1",
        ] {
            let k = generate(spec).unwrap();
            assert!(public_key_der(spec, &k).unwrap().len() > 50);
            for alg in signing_algorithms(spec) {
                let raw = Message::Raw(b"hello");
                let s = sign(spec, &k, &alg, &raw).unwrap();
                assert_eq!(verify(spec, &k, &alg, &raw, &s), Some(true), "{spec} {alg}");
                assert_eq!(
                    verify(spec, &k, &alg, &Message::Raw(b"hellO"), &s),
                    Some(false)
                );
                let d = digest::digest(digest_alg(&alg).unwrap(), b"hello");
                let dm = Message::Digest(
                    digest::Digest::import_less_safe(d.as_ref(), d.algorithm()).unwrap(),
                );
                // A signature over the digest verifies as the raw message's signature.
                let s2 = sign(spec, &k, &alg, &dm).unwrap();
                assert_eq!(
                    verify(spec, &k, &alg, &raw, &s2),
                    Some(true),
                    "{spec} {alg}"
                );
            }
        }
    }

    #[test]
    fn oaep_round_trip_and_limits() {
        let k = generate("RSA_2048").unwrap();
        for alg in RSA_ENCRYPTION_ALGORITHMS {
            let max = max_oaep_plaintext("RSA_2048", alg);
            let pt = vec![7u8; max];
            let c = rsa_encrypt(&k, alg, &pt).unwrap();
            assert_eq!(c.len(), 256);
            assert_eq!(rsa_decrypt(&k, alg, &c).unwrap(), pt);
            assert!(rsa_encrypt(&k, alg, &vec![7u8; max + 1]).is_none());
        }
        assert_eq!(max_oaep_plaintext("RSA_2048", "RSAES_OAEP_SHA_1"), 214);
        assert_eq!(max_oaep_plaintext("RSA_4096", "RSAES_OAEP_SHA_256"), 446);
    }
}
