//! awsQuery decoding of untrusted bytes: `parse_form` then `from_params` into a type using
//! every supported shape (structs, lists, maps, options, numbers, bools, enums).
//! `cargo +nightly fuzz run query_decode`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    palisade_protocol::query::fuzzing::decode(data);
});
