//! The business clock: wall-clock time plus an offset moved by `/_palisade/clock`.
//!
//! Expiry, rotation, deletion windows, key ages and event times use it; SigV4 skew never
//! does (it uses the wall clock).

use std::sync::atomic::{AtomicI64, Ordering};
use time::{macros::datetime, Duration, OffsetDateTime};

/// The business clock stays in this range. Services add deadlines of up to a few years
/// (KMS rotation periods: 2560 days) to it, and dates past year 9999 cannot be computed
/// with or written in AWS's formats; ending at 9000 keeps every deadline representable.
pub const EARLIEST: OffsetDateTime = datetime!(1970-01-01 0:00 UTC);
pub const LATEST: OffsetDateTime = datetime!(9000-01-01 0:00 UTC);

#[derive(Debug, Default)]
pub struct Clock {
    offset_micros: AtomicI64,
}

impl Clock {
    /// Business time: the wall clock plus the offset, kept within [`EARLIEST`, `LATEST`].
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        match OffsetDateTime::now_utc().checked_add(offset) {
            Some(t) => t.clamp(EARLIEST, LATEST),
            None if offset.is_negative() => EARLIEST,
            None => LATEST,
        }
    }

    pub fn offset_micros(&self) -> i64 {
        self.offset_micros.load(Ordering::Relaxed)
    }

    pub fn set_offset_micros(&self, micros: i64) {
        self.offset_micros.store(micros, Ordering::Relaxed);
    }

    /// The offset that makes `now()` equal `target`; `None` when `target` is outside
    /// [`EARLIEST`, `LATEST`].
    pub fn offset_for(target: OffsetDateTime) -> Option<i64> {
        if !(EARLIEST..=LATEST).contains(&target) {
            return None;
        }
        let delta = target - OffsetDateTime::now_utc();
        i64::try_from(delta.whole_microseconds()).ok()
    }

    /// The offset after moving business time by `seconds`; `None` when that leaves
    /// [`EARLIEST`, `LATEST`] (or `seconds` is not finite).
    pub fn offset_after(&self, seconds: f64) -> Option<i64> {
        if !seconds.is_finite() || seconds.abs() >= 1e11 {
            return None;
        }
        let target = self
            .now()
            .checked_add(Duration::microseconds((seconds * 1e6) as i64))?;
        Self::offset_for(target)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn business_time_stays_in_range() {
        let c = Clock::default();
        assert!(c.offset_after(1e10).is_some(), "317 years on");
        assert!(c.offset_after(2.2e11).is_none(), "past year 9000");
        assert!(c.offset_after(-1e10).is_none(), "before 1970");
        assert!(c.offset_after(f64::NAN).is_none());
        assert!(Clock::offset_for(datetime!(9999-12-31 23:59 UTC)).is_none());
        let o = Clock::offset_for(datetime!(8999-12-31 0:00 UTC)).unwrap();
        c.set_offset_micros(o);
        assert!(c.offset_after(86_400.0 * 2.0).is_none());
        // An offset stored by an older build, out of range: clamped, never a panic.
        c.set_offset_micros(i64::MAX);
        assert_eq!(c.now(), LATEST);
        c.set_offset_micros(i64::MIN);
        assert_eq!(c.now(), EARLIEST);
    }
}
