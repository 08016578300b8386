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

/// One CloudTrail event record.
pub fn event(account: &str, region: &str, micros: i64, event_id: &str) -> Vec<u8> {
    event_prefix(account, region)
        .u64(newest_first(micros))
        .str(event_id)
        .finish()
}

/// Events of one account and region, newest first.
pub fn event_prefix(account: &str, region: &str) -> Key {
    Key::new().str("ev").str(account).str(region)
}

/// Bound of an event scan at `micros` (all events at that time or earlier sort after it).
pub fn event_time_bound(prefix: Key, micros: i64) -> Vec<u8> {
    prefix.u64(newest_first(micros)).finish()
}

/// A lookup-attribute index entry.
pub fn event_index(
    account: &str,
    region: &str,
    attribute: &str,
    value: &str,
    micros: i64,
    event_id: &str,
) -> Vec<u8> {
    event_index_prefix(account, region, attribute, value)
        .u64(newest_first(micros))
        .str(event_id)
        .finish()
}

/// Index entries of one attribute value, newest first.
pub fn event_index_prefix(account: &str, region: &str, attribute: &str, value: &str) -> Key {
    Key::new()
        .str("evx")
        .str(account)
        .str(region)
        .str(attribute)
        .str(value)
}

/// The event key an index entry points at: same account and region, and the entry's
/// own trailing (time, event id).
pub fn event_key_from_index(account: &str, region: &str, index_key: &[u8]) -> Option<Vec<u8>> {
    let parts = palisade_store::keys::decode(index_key).ok()?;
    let mut tail = parts.into_iter().rev();
    let id = match tail.next()? {
        palisade_store::keys::Part::Str(s) => s,
        _ => return None,
    };
    let time = match tail.next()? {
        palisade_store::keys::Part::U64(t) => t,
        _ => return None,
    };
    Some(event_prefix(account, region).u64(time).str(&id).finish())
}
