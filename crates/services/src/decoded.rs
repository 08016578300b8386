//! Decoded copies of stored records, keyed by the record's bytes.
//!
//! Hot records (a KMS key on every Encrypt/Decrypt and every Secrets Manager or SSM read,
//! a secret on every GetSecretValue) are read and decoded several times per request: once
//! for authorization, once for the operation. Decoding the JSON was a fifth of a
//! GetSecretValue's instructions. The cache maps the raw bytes to the decoded value, so it
//! needs no invalidation: a record that changed has other bytes and misses; a stale entry
//! is just never asked for again and goes at the next clear. It holds no plaintext secret
//! (key material and secret values stay sealed in the records they are decoded from).

use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

/// Raw bytes kept before the cache is cleared and starts over.
const MAX_BYTES: usize = 16 << 20;

/// Records at most this long are cached; longer ones are decoded each time.
const MAX_RECORD: usize = 64 << 10;

pub struct DecodeCache<T> {
    inner: RwLock<Inner<T>>,
}

struct Inner<T> {
    map: HashMap<Box<[u8]>, Arc<T>, ahash::RandomState>,
    bytes: usize,
}

impl<T: DeserializeOwned> DecodeCache<T> {
    pub fn new() -> Self {
        DecodeCache {
            inner: RwLock::new(Inner {
                map: HashMap::with_hasher(ahash::RandomState::new()),
                bytes: 0,
            }),
        }
    }

    /// `raw` decoded as JSON, from the cache when these bytes were decoded before.
    pub fn decode(&self, raw: &[u8]) -> Result<Arc<T>, serde_json::Error> {
        if raw.len() > MAX_RECORD {
            return serde_json::from_slice::<T>(raw).map(Arc::new);
        }
        if let Some(v) = self.inner.read().map.get(raw) {
            return Ok(Arc::clone(v));
        }
        let value = Arc::new(serde_json::from_slice::<T>(raw)?);
        {
            let mut inner = self.inner.write();
            if inner.bytes + raw.len() > MAX_BYTES {
                inner.map.clear();
                inner.bytes = 0;
            }
            if inner.map.insert(raw.into(), Arc::clone(&value)).is_none() {
                inner.bytes += raw.len();
            }
        }
        Ok(value)
    }

    /// Drops every entry (a reset: what was deleted leaves memory too).
    pub fn clear(&self) {
        let mut inner = self.inner.write();
        inner.map.clear();
        inner.bytes = 0;
    }
}

impl<T: DeserializeOwned> Default for DecodeCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct R {
        a: String,
    }

    #[test]
    fn same_bytes_share_one_value_and_changed_bytes_decode_again() {
        let c: DecodeCache<R> = DecodeCache::new();
        let one = c.decode(br#"{"a":"x"}"#).unwrap();
        let again = c.decode(br#"{"a":"x"}"#).unwrap();
        assert!(Arc::ptr_eq(&one, &again));
        let changed = c.decode(br#"{"a":"y"}"#).unwrap();
        assert_eq!(changed.a, "y");
        assert!(c.decode(b"{").is_err());
    }

    #[test]
    fn the_cache_starts_over_past_its_budget() {
        let c: DecodeCache<R> = DecodeCache::new();
        let records = MAX_BYTES / (MAX_RECORD - 64) + 8;
        for i in 0..records {
            let raw = format!(r#"{{"a":"{i:08}{}"}}"#, "z".repeat(MAX_RECORD - 64));
            c.decode(raw.as_bytes()).unwrap();
            assert!(c.inner.read().bytes <= MAX_BYTES);
        }
        // It was cleared on the way: fewer entries than records decoded.
        assert!(c.inner.read().map.len() < records);
        c.clear();
        assert_eq!((c.inner.read().map.len(), c.inner.read().bytes), (0, 0));
        // A record over the size limit decodes and is not kept.
        let huge = format!(r#"{{"a":"{}"}}"#, "h".repeat(MAX_RECORD));
        assert_eq!(c.decode(huge.as_bytes()).unwrap().a.len(), MAX_RECORD);
        assert_eq!(c.inner.read().map.len(), 0);
    }
}
