//! Untrusted KMS ciphertext blobs through the blob decoder: `blob::parse` answers `None` or
//! a parsed blob, and `blob::open` on a parsed blob answers plaintext or InvalidCiphertext,
//! never a panic. The first input byte picks the encryption context; a blob sealed from the
//! input round-trips and any one-byte change to it fails authentication.
//! Run: see crates/FUZZING.md (`cargo +nightly fuzz run kms_blob` from crates/services).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_services::kms::blob;
use std::collections::BTreeMap;

const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const MATERIAL: [u8; 32] = [7u8; 32];

fuzz_target!(|data: &[u8]| {
    let mut ctx = BTreeMap::new();
    if data.first().is_some_and(|b| b & 1 == 1) {
        ctx.insert("purpose".to_owned(), "fuzz".to_owned());
    }
    if let Some(parsed) = blob::parse(data) {
        let _ = parsed.key_arn.len();
        let _ = blob::open(&parsed, &MATERIAL, &ctx);
        let _ = blob::open(&parsed, &[0u8; 31], &ctx);
    }
    // Round trip with the input as plaintext (at most KMS's 4096 bytes).
    let plaintext = data.get(..data.len().min(4096)).unwrap_or_default();
    if let Some(sealed) = blob::seal(ARN, 3, &MATERIAL, &ctx, plaintext) {
        let parsed = blob::parse(&sealed).expect("a sealed blob parses");
        assert_eq!(parsed.key_arn, ARN);
        assert_eq!(parsed.material_version, 3);
        assert_eq!(
            blob::open(&parsed, &MATERIAL, &ctx).expect("a sealed blob opens"),
            plaintext
        );
        if !sealed.is_empty() {
            let mut tampered = sealed.clone();
            let i = usize::from(*data.first().unwrap_or(&0)) % tampered.len();
            tampered[i] ^= 0x40;
            if let Some(p) = blob::parse(&tampered) {
                assert!(blob::open(&p, &MATERIAL, &ctx).is_err(), "tamper at {i}");
            }
        }
    }
});
