//! The whole key layout of Palisade's state, in one place. Every key starts with a short
//! table tag; within a table, components go from coarse to fine so that prefix scans list
//! exactly what a query needs.

use palisade_store::keys::Key;

/// `meta` singletons: bootstrap record, business clock offset.
pub fn meta(name: &str) -> Vec<u8> {
    Key::new().str("meta").str(name).finish()
}

/// Access keys by id.
pub fn credential(access_key_id: &str) -> Vec<u8> {
    Key::new().str("cred").str(access_key_id).finish()
}

/// Accounts by id.
pub fn account(account_id: &str) -> Vec<u8> {
    accounts_table().str(account_id).finish()
}

/// Every account record (a prefix).
pub fn accounts() -> Vec<u8> {
    accounts_table().finish()
}

fn accounts_table() -> Key {
    Key::new().str("acct")
}

/// Newest-first order for event times: later times sort first.
fn newest_first(micros: i64) -> u64 {
    // Shifting into u64 keeps pre-1970 times ordered too.
    u64::MAX - (micros as u64 ^ (1 << 63))
}

/// The inverse of [`newest_first`].
fn from_newest_first(v: u64) -> i64 {
    ((u64::MAX - v) ^ (1 << 63)) as i64
}

/// One chunk of a CloudTrail posting list (see `audit::index_pending`): the events of
/// one account and region with one lookup attribute value (code 0: every event), keyed
/// by the chunk's newest event time, newest first, then its first log sequence number.
pub fn event_chunk(
    account: &str,
    region: &str,
    attribute: u64,
    value: &str,
    newest_micros: i64,
    first_seq: u64,
) -> Vec<u8> {
    event_chunk_prefix(account, region, attribute, value)
        .u64(newest_first(newest_micros))
        .u64_desc(first_seq)
        .finish()
}

/// The chunks of one posting list, newest first.
pub fn event_chunk_prefix(account: &str, region: &str, attribute: u64, value: &str) -> Key {
    Key::new()
        .str("evp")
        .str(account)
        .str(region)
        .u64(attribute)
        .str(value)
}

/// Where chunks whose newest event is at or before `micros` begin.
pub fn event_chunk_bound(prefix: Key, micros: i64) -> Vec<u8> {
    prefix.u64(newest_first(micros)).finish()
}

/// Every posting list's chunks (for retention's walk over the lists).
pub fn event_chunks_all() -> Vec<u8> {
    Key::new().str("evp").finish()
}

/// The posting-list prefix of a chunk key: (account, region, attribute, value).
pub fn event_chunk_list(key: &[u8]) -> Option<Key> {
    use palisade_store::keys::Part;
    let parts = palisade_store::keys::decode(key).ok()?;
    match parts.as_slice() {
        [Part::Str(evp), Part::Str(account), Part::Str(region), Part::U64(code), Part::Str(value), ..]
            if evp == "evp" =>
        {
            Some(event_chunk_prefix(account, region, *code, value))
        }
        _ => None,
    }
}

/// The newest event time of a chunk key.
pub fn event_chunk_newest(key: &[u8]) -> Option<i64> {
    let mut parts = palisade_store::keys::decode(key).ok()?;
    parts.pop()?;
    match parts.pop()? {
        palisade_store::keys::Part::U64(t) => Some(from_newest_first(t)),
        _ => None,
    }
}

/// Event keys written before events moved to the store's log (see
/// `audit::migrate_legacy_events`): `ev/` holds whole records, `evx/` their indexes.
pub fn legacy_event_tables() -> [Vec<u8>; 2] {
    [
        Key::new().str("ev").finish(),
        Key::new().str("evx").finish(),
    ]
}

/// Where an IAM user or role ARN is named as a principal of a stored policy (role trust
/// policies, KMS key policies): one entry per (principal, policy), the policy in the
/// value. See `iam::principals`.
pub fn principal_reference(principal_arn: &str, policy: &str) -> Vec<u8> {
    principal_references(principal_arn).str(policy).finish()
}

/// Every stored policy that named `principal_arn`.
pub fn principal_references(principal_arn: &str) -> Key {
    Key::new().str("pref").str(principal_arn)
}
