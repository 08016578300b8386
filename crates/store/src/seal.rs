//! At-rest encryption of secrets (root secret keys, later KMS key material) with a
//! per-data-dir master key and AES-256-GCM.
//!
//! Sealed format: `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! Nonces are random, which is safe for far more seals than a data dir will ever make
//! (the GCM bound is 2^32 per key). Callers pass as `aad` the identity of the record the
//! secret belongs to (e.g. its storage key), so a sealed value copied onto another record
//! does not open.
//!
//! This module must never log, print or return the master key; `MasterKey`'s `Debug` is
//! redacted on purpose.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use crate::StoreError;

/// File name of the master key inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";
const KEY_LEN: usize = 32;
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// Fills `buf` with random bytes from the operating system's CSPRNG (`getrandom(2)`).
///
/// Used for keys, nonces and ids instead of AWS-LC's generator: that one seeds itself on
/// first use from CPU jitter entropy, which took about 30 ms of CPU, and a new data dir's
/// first start (master key, root key, sealing) would otherwise wait for it before it is
/// ready. AWS-LC still draws on its own generator inside operations that need one (RSA key
/// generation, ECDSA signatures); the server seeds that in the background after start.
pub fn fill_random(buf: &mut [u8]) -> Result<(), StoreError> {
    getrandom::fill(buf).map_err(|_| StoreError::Other("no system randomness".into()))
}

/// The data dir's master key. Cheap to share behind an `Arc`; `seal`/`open` take `&self`.
pub struct MasterKey {
    key: LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Reads `data_dir/master.key`, or creates it (mode 0600, 32 random bytes) when absent.
    ///
    /// Creation writes a private temporary file, syncs it, then hard-links it into place, so
    /// a crash never leaves a truncated key file and two racing processes agree on one key.
    pub fn load_or_create(data_dir: &Path) -> Result<MasterKey, StoreError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        match read_key_file(&path) {
            Ok(k) => return Self::from_bytes(&k),
            Err(StoreError::Io(e)) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut bytes = [0u8; KEY_LEN];
        fill_random(&mut bytes).map_err(|_| StoreError::Other("no system randomness".into()))?;
        let tmp = data_dir.join(format!("{MASTER_KEY_FILE}.tmp.{}", std::process::id()));
        let created = write_private(&tmp, &bytes).and_then(|()| {
            match fs::hard_link(&tmp, &path) {
                Ok(()) => Ok(true),
                // Another process created it first: use theirs.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(StoreError::Io(e)),
            }
        });
        let _ = fs::remove_file(&tmp);
        bytes.fill(0);
        if created? {
            sync_dir(data_dir)?;
            tracing::info!(path = %path.display(), "created a new master key");
        }
        Self::from_bytes(&read_key_file(&path)?)
    }

    fn from_bytes(bytes: &[u8]) -> Result<MasterKey, StoreError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Other("master key has the wrong length".into()))?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Encrypts `plaintext`, binding it to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce).map_err(|_| StoreError::Other("no system randomness".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(1 + NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| StoreError::Other("seal failed".into()))?;
        out.append(&mut body);
        Ok(out)
    }

    /// Decrypts a value made by [`seal`](Self::seal) with the same key and `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(StoreError::Unseal);
        };
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(StoreError::Unseal);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Unseal)?;
        let mut body = body.to_vec();
        let len = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| StoreError::Unseal)?
            .len();
        body.truncate(len);
        Ok(body)
    }
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut f = fs::File::open(path)?;
    let mut buf = Vec::with_capacity(KEY_LEN);
    (&mut f).take(KEY_LEN as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() != KEY_LEN {
        return Err(StoreError::Other(format!(
            "{} must hold exactly {KEY_LEN} bytes",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"),
                "master key file is readable by others; it should be 0600");
        }
    }
    Ok(buf)
}

fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<(), StoreError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        // The umask can only remove bits; set them explicitly before any byte is written.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_persisted_key() {
        let dir = tempfile::tempdir().unwrap();
        let k = MasterKey::load_or_create(dir.path()).unwrap();
        for pt in [&b""[..], b"s", &[0u8; 4096]] {
            let s = k.seal(b"aad", pt).unwrap();
            assert_eq!(s.len(), 1 + 12 + pt.len() + 16);
            assert_eq!(k.open(b"aad", &s).unwrap(), pt);
        }
        let s = k.seal(b"aad", b"secret").unwrap();
        let again = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(b"aad", &s).unwrap(), b"secret");
        // Random nonces: sealing twice differs.
        assert_ne!(k.seal(b"a", b"x").unwrap(), k.seal(b"a", b"x").unwrap());
    }

    #[test]
    fn tampered_or_wrong_aad_or_wrong_key_fails() {
        let dir = tempfile::tempdir().unwrap();
        let k = MasterKey::load_or_create(dir.path()).unwrap();
        let s = k.seal(b"user/alice", b"secret").unwrap();
        for i in 0..s.len() {
            let mut t = s.clone();
            t[i] ^= 0x01;
            assert!(
                matches!(k.open(b"user/alice", &t), Err(StoreError::Unseal)),
                "{i}"
            );
        }
        assert!(matches!(k.open(b"user/bob", &s), Err(StoreError::Unseal)));
        for n in 0..s.len() {
            assert!(matches!(
                k.open(b"user/alice", &s[..n]),
                Err(StoreError::Unseal)
            ));
        }
        let other = tempfile::tempdir().unwrap();
        let k2 = MasterKey::load_or_create(other.path()).unwrap();
        assert!(matches!(
            k2.open(b"user/alice", &s),
            Err(StoreError::Unseal)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_0600_and_32_bytes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path()).unwrap();
        let meta = fs::metadata(dir.path().join(MASTER_KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MASTER_KEY_FILE), b"short").unwrap();
        assert!(MasterKey::load_or_create(dir.path()).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let k = MasterKey::load_or_create(dir.path()).unwrap();
        let raw = fs::read(dir.path().join(MASTER_KEY_FILE)).unwrap();
        let dbg = format!("{k:?} {k:#?}");
        assert_eq!(dbg, "MasterKey(<redacted>) MasterKey(<redacted>)");
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!dbg.contains(&hex));
    }
}
