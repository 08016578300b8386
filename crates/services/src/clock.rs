//! The business clock: wall-clock time plus an offset moved by `/_palisade/clock`.
//!
//! Expiry, rotation, deletion windows, key ages and event times use it; SigV4 skew never
//! does (it uses the wall clock).

use std::sync::atomic::{AtomicI64, Ordering};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Default)]
pub struct Clock {
    offset_micros: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    pub fn offset_micros(&self) -> i64 {
        self.offset_micros.load(Ordering::Relaxed)
    }

    pub fn set_offset_micros(&self, micros: i64) {
        self.offset_micros.store(micros, Ordering::Relaxed);
    }

    /// The offset that makes `now()` equal `target`.
    pub fn offset_for(target: OffsetDateTime) -> i64 {
        let delta = target - OffsetDateTime::now_utc();
        i64::try_from(delta.whole_microseconds()).unwrap_or(if delta.is_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
    }
}
