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
    Key::new().str("acct").str(account_id).finish()
}

/// Newest-first order for event times: later times sort first.
fn newest_first(micros: i64) -> u64 {
    // Shifting into u64 keeps pre-1970 times ordered too.
    u64::MAX - (micros as u64 ^ (1 << 63))
}

/// One CloudTrail event's place in time order: its log sequence number is in the key
/// (the record itself is in the store's log), and the value is empty.
pub fn event(account: &str, region: &str, micros: i64, seq: u64) -> Vec<u8> {
    event_prefix(account, region)
        .u64(newest_first(micros))
        .u64_desc(seq)
        .finish()
}

/// Events of one account and region, newest first (then latest logged first).
pub fn event_prefix(account: &str, region: &str) -> Key {
    Key::new().str("ev2").str(account).str(region)
}

/// Bound of an event scan at `micros` (all events at that time or earlier sort after it).
pub fn event_time_bound(prefix: Key, micros: i64) -> Vec<u8> {
    prefix.u64(newest_first(micros)).finish()
}

/// A lookup-attribute index entry: `attribute` is the attribute's code
/// (`audit::attribute_code`); the value is empty.
pub fn event_index(
    account: &str,
    region: &str,
    attribute: u64,
    value: &str,
    micros: i64,
    seq: u64,
) -> Vec<u8> {
    event_index_prefix(account, region, attribute, value)
        .u64(newest_first(micros))
        .u64_desc(seq)
        .finish()
}

/// Index entries of one attribute value, newest first.
pub fn event_index_prefix(account: &str, region: &str, attribute: u64, value: &str) -> Key {
    Key::new()
        .str("evx2")
        .str(account)
        .str(region)
        .u64(attribute)
        .str(value)
}

/// The log sequence number at the end of an `event` or `event_index` key.
pub fn event_seq(key: &[u8]) -> Option<u64> {
    match palisade_store::keys::decode(key).ok()?.pop()? {
        palisade_store::keys::Part::U64Desc(seq) => Some(seq),
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
