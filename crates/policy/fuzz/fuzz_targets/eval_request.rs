//! Any bytes as a `palisade policy eval` request: an answer or an InputError, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = palisade_policy::cli::eval(text);
    }
});
