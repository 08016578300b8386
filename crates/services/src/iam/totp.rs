//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP: HMAC-SHA1, 30-second
//! steps, 6 digits, as AWS virtual MFA devices use) and the checks other services make
//! with them (STS `SerialNumber` + `TokenCode`).
//!
//! Codes are checked against two clocks: the business clock (`ctx.now`), so tests that
//! move it can compute codes for the time they set, and the wall clock, so a real
//! authenticator app (or `pyotp.TOTP(seed).now()`) keeps working after the business clock
//! moved, as it would on AWS, which has only real time. Each clock keeps its own last
//! accepted step, and the device remembers its recent accepted steps: a code works once,
//! whichever clock it is current on. A seed is only ever in clear in memory: at
//! rest it is sealed under the master key, bound to the device's serial number.

use super::{error::IamError, model};
use crate::error::ApiError;
use base64::Engine as _;
use palisade_store::{seal::MasterKey, ReadTx, WriteTx};
use time::OffsetDateTime;

/// Seconds per TOTP time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Bytes of a new seed (AWS's seeds are 40 bytes: 64 base32 characters).
pub const SEED_BYTES: usize = 40;
/// Steps either side of now a code may be from (clock skew), as AWS allows.
pub const WINDOW: u64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, without padding (seeds are whole multiples of 5 bytes).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = ((buffer >> bits) & 31) as usize;
            out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        let idx = ((buffer << (5 - bits)) & 31) as usize;
        out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
    }
    out
}

/// Decodes RFC 4648 base32 (case-insensitive, `=` padding and spaces ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        if c == b'=' || c == b' ' {
            continue;
        }
        let v = BASE32.iter().position(|&a| a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// RFC 4226 HOTP value of `counter` with `digits` digits (HMAC-SHA1, dynamic truncation).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = aws_lc_rs::hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0F);
    let word = mac
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0)
        & 0x7FFF_FFFF;
    word % 10u32.pow(digits)
}

/// The 6-digit code of a time step, zero-padded.
pub fn code(secret: &[u8], step: u64) -> String {
    format!("{:06}", hotp(secret, step, DIGITS))
}

/// The TOTP time step of an instant (T0 = 0).
pub fn time_step(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp().div_euclid(STEP_SECONDS)).unwrap_or(0)
}

fn is_code(text: &str) -> bool {
    text.len() == DIGITS as usize && text.bytes().all(|b| b.is_ascii_digit())
}

fn code_matches(secret: &[u8], step: u64, given: &str) -> bool {
    let expected = code(secret, step);
    aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_ok()
}

/// The earliest step in `from..=to` that `usable` allows and whose code is `given`.
pub fn find_step(
    secret: &[u8],
    given: &str,
    from: u64,
    to: u64,
    usable: impl Fn(u64) -> bool,
) -> Option<u64> {
    if !is_code(given) {
        return None;
    }
    (from..=to).find(|&s| usable(s) && code_matches(secret, s, given))
}

/// The step `s` where `code1` is the code of `s` and `code2` that of `s + 1`, with `s + 1`
/// in `center - window ..= center + window`.
pub fn find_consecutive(
    secret: &[u8],
    code1: &str,
    code2: &str,
    center: u64,
    window: u64,
) -> Option<u64> {
    if !is_code(code1) || !is_code(code2) {
        return None;
    }
    let from = center.saturating_sub(window).max(1);
    (from..=center.saturating_add(window))
        .find(|&s2| code_matches(secret, s2 - 1, code1) && code_matches(secret, s2, code2))
        .map(|s2| s2 - 1)
}

/// Seals a seed for the device `serial_number` (base64 of the sealed bytes).
pub fn seal_seed(master: &MasterKey, serial_number: &str, seed: &[u8]) -> Result<String, ApiError> {
    let aad = serial_number.to_lowercase();
    Ok(base64::engine::general_purpose::STANDARD.encode(master.seal(aad.as_bytes(), seed)?))
}

/// Opens a seed sealed by [`seal_seed`].
pub fn open_seed(
    master: &MasterKey,
    serial_number: &str,
    sealed: &str,
) -> Result<Vec<u8>, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(ApiError::internal)?;
    let aad = serial_number.to_lowercase();
    Ok(master.open(aad.as_bytes(), &bytes)?)
}

/// The device's current step: our clock's step moved by the drift ResyncMFADevice learnt.
pub fn device_step(device: &model::VirtualMfaDevice, now: OffsetDateTime) -> u64 {
    let t = time_step(now);
    if device.drift_steps >= 0 {
        t.saturating_add(device.drift_steps.unsigned_abs())
    } else {
        t.saturating_sub(device.drift_steps.unsigned_abs())
    }
}

/// An accepted MFA code: its step, and on which clocks it was current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedStep {
    pub step: u64,
    pub business: bool,
    pub wall: bool,
}

/// How many accepted steps a device remembers ([`model::VirtualMfaDevice::used_steps`]):
/// more than both clocks' windows hold.
const REMEMBERED_STEPS: usize = 16;

/// The steps of the window around `center` after `last`.
fn window_after(center: u64, last: Option<u64>) -> (u64, u64) {
    let earliest = match last {
        Some(last) => last.saturating_add(1).max(center.saturating_sub(WINDOW)),
        None => center.saturating_sub(WINDOW),
    };
    (earliest, center.saturating_add(WINDOW))
}

/// Each clock's current step for `device` and the last step used on it. A device from
/// before the wall clock was checked has only the business one, which also bounds the
/// wall clock unless it lies ahead of it (the business clock was moved forward).
fn clocks(
    device: &model::VirtualMfaDevice,
    now: OffsetDateTime,
    wall_now: OffsetDateTime,
) -> [(u64, Option<u64>); 2] {
    let wall = device_step(device, wall_now);
    let wall_last = device.last_used_wall_step.or(device
        .last_used_step
        .filter(|l| *l <= wall.saturating_add(WINDOW)));
    [
        (device_step(device, now), device.last_used_step),
        (wall, wall_last),
    ]
}

/// Whether `step` was accepted before, on either clock: a code works once.
pub fn step_used(device: &model::VirtualMfaDevice, step: u64) -> bool {
    device.used_steps.contains(&step)
        || device.last_used_step == Some(step)
        || device.last_used_wall_step == Some(step)
}

/// Where `step` falls for `device`: current and unused on the business clock at `now`,
/// on the wall clock at `wall_now`, or both.
pub fn accepted_at(
    device: &model::VirtualMfaDevice,
    step: u64,
    now: OffsetDateTime,
    wall_now: OffsetDateTime,
) -> AcceptedStep {
    let used = step_used(device, step);
    let [business, wall] = clocks(device, now, wall_now).map(|(center, last)| {
        let (earliest, latest) = window_after(center, last);
        !used && (earliest..=latest).contains(&step)
    });
    AcceptedStep {
        step,
        business,
        wall,
    }
}

/// Remembers an accepted step on `device`: the last used step of each clock it was
/// current on moves to it, and it joins the steps never accepted again.
pub fn remember(device: &mut model::VirtualMfaDevice, accepted: AcceptedStep) {
    let later = |last: Option<u64>| Some(last.map_or(accepted.step, |l| l.max(accepted.step)));
    if accepted.business || !accepted.wall {
        device.last_used_step = later(device.last_used_step);
    }
    if accepted.wall {
        device.last_used_wall_step = later(device.last_used_wall_step);
    }
    device.used_steps.push(accepted.step);
    if device.used_steps.len() > REMEMBERED_STEPS {
        device.used_steps.remove(0);
    }
}

/// The first step of two consecutive codes (IAM's EnableMFADevice) current on either
/// clock and not used before.
pub fn find_consecutive_unused(
    device: &model::VirtualMfaDevice,
    seed: &[u8],
    code1: &str,
    code2: &str,
    now: OffsetDateTime,
    wall_now: OffsetDateTime,
) -> Option<u64> {
    clocks(device, now, wall_now)
        .into_iter()
        .find_map(|(center, last)| {
            find_consecutive(seed, code1, code2, center, WINDOW).filter(|first| {
                last.is_none_or(|l| *first > l)
                    && !step_used(device, *first)
                    && !step_used(device, first.saturating_add(1))
            })
        })
}

/// Checks an MFA code (STS `TokenCode`) for the device `serial_number` of `account`.
///
/// `Some` when the device exists, is enabled (assigned to a user) and `code` is its code
/// for a step within one step of now, on the business clock (`now`) or the wall clock
/// (`wall_now`), never accepted before; `None` for a wrong, old or already used code, or
/// no such (enabled) device. A caller that accepts the code then calls
/// [`record_mfa_use`] in the same transaction, so it works once.
pub fn verify_mfa_token(
    tx: &dyn ReadTx,
    master_key: &MasterKey,
    account: &str,
    serial_number: &str,
    code: &str,
    now: OffsetDateTime,
    wall_now: OffsetDateTime,
) -> Result<Option<AcceptedStep>, ApiError> {
    let Some(device) =
        model::get::<model::VirtualMfaDevice>(tx, &model::virtual_mfa_key(account, serial_number))?
    else {
        return Ok(None);
    };
    if device.user_name.is_none() || device.enable_date.is_none() {
        return Ok(None);
    }
    let seed = open_seed(master_key, &device.serial_number, &device.sealed_seed)?;
    for (center, last) in clocks(&device, now, wall_now) {
        let (earliest, latest) = window_after(center, last);
        if let Some(step) = find_step(&seed, code, earliest, latest, |s| !step_used(&device, s)) {
            return Ok(Some(accepted_at(&device, step, now, wall_now)));
        }
    }
    Ok(None)
}

/// Records that the accepted code's step was used ([`remember`]). Fails with
/// `InvalidAuthenticationCode` when it was already used, so a code never works twice.
/// Callers other than IAM map that error to their own.
pub fn record_mfa_use(
    tx: &mut dyn WriteTx,
    account: &str,
    serial_number: &str,
    accepted: AcceptedStep,
) -> Result<(), ApiError> {
    let key = model::virtual_mfa_key(account, serial_number);
    let Some(mut device) = model::get::<model::VirtualMfaDevice>(tx, &key)? else {
        return Err(IamError::NoSuchEntity(format!(
            "MFA Device with serial number {serial_number} does not exist."
        ))
        .into());
    };
    if step_used(&device, accepted.step) || !(accepted.business || accepted.wall) {
        return Err(IamError::InvalidAuthenticationCode(
            "Authentication code for device is not valid.".into(),
        )
        .into());
    }
    remember(&mut device, accepted);
    model::put(tx, &key, &device)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(
                hotp(RFC_SECRET, counter as u64, 6),
                *want,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA1 column (8 digits).
        let table: &[(i64, u32)] = &[
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for &(t, want) in table {
            let step = u64::try_from(t / STEP_SECONDS).unwrap();
            assert_eq!(hotp(RFC_SECRET, step, 8), want, "time {t}");
            let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
            assert_eq!(time_step(now), step);
            assert_eq!(code(RFC_SECRET, step), format!("{:06}", want % 1_000_000));
        }
    }

    #[test]
    fn base32_round_trip_and_rfc4648_vectors() {
        for (clear, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(clear.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), clear.as_bytes());
        }
        assert_eq!(base32_decode("mzxw6ytboi======").unwrap(), b"foobar");
        assert!(base32_decode("MZ1").is_none());
        let seed: Vec<u8> = (0..40).collect();
        let text = base32_encode(&seed);
        assert_eq!(text.len(), 64);
        assert_eq!(base32_decode(&text).unwrap(), seed);
    }

    #[test]
    fn windows_and_consecutive_codes() {
        let t = 1_000_000u64;
        let c = |s| code(RFC_SECRET, s);
        assert_eq!(
            find_step(RFC_SECRET, &c(t), t - 1, t + 1, |_| true),
            Some(t)
        );
        // A step the caller may not use is skipped.
        assert_eq!(find_step(RFC_SECRET, &c(t), t - 1, t + 1, |s| s != t), None);
        assert_eq!(
            find_step(RFC_SECRET, &c(t - 5), t - 1, t + 1, |_| true),
            None
        );
        assert_eq!(find_step(RFC_SECRET, "12345", t - 1, t + 1, |_| true), None);
        assert_eq!(
            find_step(RFC_SECRET, "abcdef", t - 1, t + 1, |_| true),
            None
        );
        assert_eq!(
            find_consecutive(RFC_SECRET, &c(t - 1), &c(t), t, 1),
            Some(t - 1)
        );
        assert_eq!(find_consecutive(RFC_SECRET, &c(t), &c(t - 1), t, 1), None);
        assert_eq!(
            find_consecutive(RFC_SECRET, &c(t - 9), &c(t - 8), t, 1),
            None
        );
        assert_eq!(
            find_consecutive(RFC_SECRET, &c(t - 9), &c(t - 8), t, 10),
            Some(t - 9)
        );
    }
}
