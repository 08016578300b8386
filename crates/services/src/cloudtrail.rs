//! AWS CloudTrail (awsJson1.1). For now: LookupEvents over the event history that the
//! pipeline records for every call (see [`crate::audit`]).

use crate::{
    audit::{self, StoredEvent, LOOKUP_ATTRIBUTES},
    authz::AuthzCheck,
    context::RequestContext,
    env::Env,
    error::ApiError,
    input::Input,
    Reply,
};
use base64::Engine as _;
use palisade_store::ReadTx;

/// The CloudTrail actions Palisade implements.
#[derive(Debug)]
pub enum Operation {
    LookupEvents(LookupEventsInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "LookupEvents" => input
            .parse::<LookupEventsInput>()
            .and_then(|i| check_input(&i).map(|()| Operation::LookupEvents(i))),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupAttribute {
    pub attribute_key: String,
    pub attribute_value: String,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsInput {
    #[serde(default)]
    pub lookup_attributes: Option<Vec<LookupAttribute>>,
    /// awsJson timestamps are epoch seconds.
    #[serde(default)]
    pub start_time: Option<f64>,
    #[serde(default)]
    pub end_time: Option<f64>,
    #[serde(default)]
    pub event_category: Option<String>,
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    pub resource_type: String,
    pub resource_name: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    pub event_id: String,
    pub event_name: String,
    /// A string in AWS's model ("true" / "false").
    pub read_only: String,
    pub access_key_id: String,
    pub event_time: f64,
    pub event_source: String,
    pub username: String,
    pub resources: Vec<Resource>,
    pub cloud_trail_event: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsOutput {
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn invalid(code: &'static str, message: &str) -> ApiError {
    ApiError::new(code, 400, message)
}

/// The checks of a LookupEvents request that need nothing but the request, made at decode:
/// before authorization, like the model's own (a caller without permission gets them too).
fn check_input(input: &LookupEventsInput) -> Result<(), ApiError> {
    let max = input.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(invalid(
            "InvalidMaxResultsException",
            "Value for MaxResults is invalid. It must be between 1 and 50.",
        ));
    }
    if let Some(cat) = &input.event_category {
        if cat != "insight" {
            return Err(invalid(
                "InvalidEventCategoryException",
                "Event category is invalid.",
            ));
        }
    }
    let attrs = input.lookup_attributes.as_deref().unwrap_or_default();
    if attrs.len() > 1 {
        return Err(invalid(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let attr = attrs.first();
    if let Some(a) = attr {
        if !LOOKUP_ATTRIBUTES.contains(&a.attribute_key.as_str()) {
            return Err(invalid(
                "InvalidLookupAttributesException",
                "Lookup attribute key is invalid.",
            ));
        }
        // The model: '_', ' ', ',' and '\n' count as two characters toward the 2000.
        let len = a.attribute_value.chars().count()
            + a.attribute_value
                .chars()
                .filter(|c| matches!(c, '_' | ' ' | ',' | '\n'))
                .count();
        if a.attribute_value.is_empty() || len > 2000 {
            return Err(invalid(
                "ValidationException",
                "1 validation error detected: Value at 'lookupAttributes.1.member.attributeValue' failed to satisfy constraint: Member must have length between 1 and 2000",
            ));
        }
    }
    let start = input.start_time.map(from_epoch).transpose()?;
    let end = input.end_time.map(from_epoch).transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(invalid(
                "InvalidTimeRangeException",
                "Start date must be earlier than end date.",
            ));
        }
    }
    Ok(())
}

/// LookupEvents: the caller's account and region, newest first, within the last 90 days.
/// The request was checked at decode ([`check_input`]).
pub fn lookup_events(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    input: &LookupEventsInput,
) -> Result<LookupEventsOutput, ApiError> {
    let nothing = || LookupEventsOutput {
        events: Vec::new(),
        next_token: None,
    };
    if input.event_category.is_some() {
        // Insights events are not produced: an insight lookup finds nothing.
        return Ok(nothing());
    }
    let max = input.max_results.unwrap_or(50);
    let attr = input
        .lookup_attributes
        .as_deref()
        .unwrap_or_default()
        .first();
    let now = ctx.now;
    let oldest = now - audit::RETENTION;
    let end = match input.end_time {
        Some(e) => from_epoch(e)?,
        None => now,
    };
    let start = match input.start_time {
        Some(s) => from_epoch(s)?,
        None => oldest,
    };
    if start > end {
        // A start after the end (now, when no end is given).
        return Err(invalid(
            "InvalidTimeRangeException",
            "Start date must be earlier than end date.",
        ));
    }
    let start = start.max(oldest);
    if start > end {
        // A range wholly older than the 90 days: valid, and nothing is kept there.
        return Ok(nothing());
    }
    // An event's time is shown in whole seconds, and the range is taken on that time:
    // an event shown at T is found by StartTime T and by EndTime T ("after or at",
    // "before or at"), whatever its fraction of a second.
    const SECOND: i64 = 1_000_000;
    let (start, end) = (audit::micros(start), audit::micros(end));
    let start = start.div_euclid(SECOND) * SECOND
        + if start.rem_euclid(SECOND) > 0 {
            SECOND
        } else {
            0
        };
    let end = end
        .div_euclid(SECOND)
        .saturating_mul(SECOND)
        .saturating_add(SECOND - 1);
    if start > end {
        return Ok(nothing());
    }
    // The token is the (time, log sequence) position of the next page's first event and a
    // tag of the lookup attribute and time range: AWS refuses a token "previously used in
    // a request with different parameters".
    let tag = token_tag(attr, input.start_time, input.end_time);
    let from = match &input.next_token {
        Some(t) => {
            let pos = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|raw| {
                    let (time, rest) = raw.split_at_checked(8)?;
                    let (seq, given) = rest.split_at_checked(8)?;
                    let time = i64::from_be_bytes(time.try_into().ok()?);
                    let seq = u64::from_be_bytes(seq.try_into().ok()?);
                    (given == tag.as_slice() && (start..=end).contains(&time))
                        .then_some((time, seq))
                })
                .ok_or_else(|| {
                    invalid(
                        "InvalidNextTokenException",
                        "A token you provided is invalid.",
                    )
                })?;
            Some(pos)
        }
        None => None,
    };
    let limit = usize::try_from(max).unwrap_or(50);
    let query = audit::Query {
        attribute: attr.map(|a| (a.attribute_key.as_str(), a.attribute_value.as_str())),
        start,
        end,
        from,
    };
    let mut found = audit::find(
        tx,
        &ctx.principal.account_id,
        &ctx.region,
        &query,
        limit + 1,
    )?;
    let next_token = if found.len() > limit {
        found.pop().map(|((time, seq), _)| {
            let mut raw = time.to_be_bytes().to_vec();
            raw.extend_from_slice(&seq.to_be_bytes());
            raw.extend_from_slice(&tag);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        })
    } else {
        None
    };
    let events = found.into_iter().map(|(_, ev)| to_event(ev)).collect();
    Ok(LookupEventsOutput { events, next_token })
}

/// 8 bytes naming a LookupEvents request's lookup attribute and time range as given,
/// carried in its tokens.
fn token_tag(attr: Option<&LookupAttribute>, start: Option<f64>, end: Option<f64>) -> [u8; 8] {
    let mut d = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    if let Some(a) = attr {
        d.update(a.attribute_key.as_bytes());
        d.update(&[0]);
        d.update(a.attribute_value.as_bytes());
    }
    for t in [start, end] {
        d.update(&[u8::from(t.is_some())]);
        d.update(&t.unwrap_or_default().to_bits().to_be_bytes());
    }
    let mut tag = [0u8; 8];
    for (t, b) in tag.iter_mut().zip(d.finish().as_ref()) {
        *t = *b;
    }
    tag
}

fn from_epoch(secs: f64) -> Result<time::OffsetDateTime, ApiError> {
    if !secs.is_finite() {
        return Err(invalid("InvalidTimeRangeException", "Time is invalid."));
    }
    let nanos = (secs * 1e9) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| invalid("InvalidTimeRangeException", "Time is out of range."))
}

fn to_event(ev: StoredEvent) -> Event {
    Event {
        event_id: ev.event_id,
        event_name: ev.event_name,
        read_only: if ev.read_only { "true" } else { "false" }.to_owned(),
        access_key_id: ev.access_key_id,
        event_time: (ev.event_time_micros / 1_000_000) as f64,
        event_source: ev.event_source,
        username: ev.username,
        resources: ev
            .resources
            .into_iter()
            .map(|(resource_type, resource_name)| Resource {
                resource_type,
                resource_name,
            })
            .collect(),
        cloud_trail_event: ev.cloud_trail_event,
    }
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::LookupEvents(_) => "LookupEvents",
        }
    }

    fn read_only(&self) -> bool {
        true
    }

    fn authz(&self, _ctx: &RequestContext) -> Vec<AuthzCheck> {
        match self {
            // LookupEvents has no resource type in the Service Authorization Reference.
            Operation::LookupEvents(_) => vec![AuthzCheck::new("cloudtrail:LookupEvents", "*")],
        }
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::LookupEvents(i) => {
                let mut params = serde_json::Map::new();
                if let Some(a) = &i.lookup_attributes {
                    params.insert(
                        "lookupAttributes".into(),
                        serde_json::Value::Array(
                            a.iter()
                                .map(|a| serde_json::json!({"attributeKey": a.attribute_key, "attributeValue": a.attribute_value}))
                                .collect(),
                        ),
                    );
                }
                if let Some(m) = i.max_results {
                    params.insert("maxResults".into(), m.into());
                }
                Some(serde_json::Value::Object(params))
            }
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        match self {
            Operation::LookupEvents(input) => Ok(Reply::new(lookup_events(tx, ctx, input)?)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::context::Principal;
    use crate::keyspace;
    use palisade_store::sqlite::{SqliteOptions, SqliteStore};
    use palisade_store::Range;
    use palisade_store::{write_blocking, Store};
    use std::sync::Arc;

    const ACCOUNT: &str = "111122223333";

    fn ctx(n: i64) -> RequestContext {
        RequestContext {
            request_id: format!("req-{n}"),
            principal: Principal::root(ACCOUNT, "AKIAEXAMPLE"),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            now: time::OffsetDateTime::from_unix_timestamp(1_800_000_000 + n / 3).unwrap(),
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    /// Records `n` calls: every third is a `GetUser`, the rest `GetCallerIdentity`; three
    /// share each second, so the (time, id) order inside one second is exercised too. Odd
    /// calls are recorded as the pipeline records calls that change nothing (appended
    /// stream), even ones inside a write job (the log), so lookups merge both.
    fn record(store: &Arc<dyn Store>, from: i64, n: i64) {
        let sts = crate::registry::by_signing_name("sts").unwrap();
        let mut in_job = Vec::new();
        for i in from..from + n {
            let c = ctx(i);
            let reply = Reply::new(());
            let prepared = audit::prepare(audit::Call {
                ctx: &c,
                service: sts,
                event_name: if i % 3 == 0 {
                    "GetUser"
                } else {
                    "GetCallerIdentity"
                },
                read_only: true,
                request_parameters: None,
                outcome: Ok(&reply),
                resource_accounts: vec!["444455556666".into()],
            })
            .unwrap();
            if i % 2 == 0 {
                in_job.push(prepared);
            } else {
                let (tx, rx) = std::sync::mpsc::channel();
                store.append(
                    prepared.into_records(),
                    Box::new(move |r| tx.send(r).unwrap()),
                );
                rx.recv().unwrap().unwrap();
            }
        }
        write_blocking(
            store.as_ref(),
            Box::new(move |tx| {
                for p in &in_job {
                    audit::append(tx, p)?;
                }
                Ok(())
            }),
        )
        .unwrap();
    }

    /// Every logged event of both streams, with its position.
    fn every_event(store: &Arc<dyn Store>) -> Vec<(u64, crate::audit::LoggedEvent)> {
        let mut out = Vec::new();
        store
            .read(&mut |tx| {
                for (seq, raw) in tx.log_read(0, 10_000)? {
                    out.push((seq, crate::audit::LoggedEvent::decode(&raw)?));
                }
                for (pos, raw) in tx.appended_read(0, 10_000)?.0 {
                    out.push((
                        pos | audit::APPENDED,
                        crate::audit::LoggedEvent::decode(&raw)?,
                    ));
                }
                Ok(())
            })
            .unwrap();
        out
    }

    fn store_in(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default()).unwrap())
    }

    fn index(store: &Arc<dyn Store>, limit: usize) -> usize {
        let (tx, rx) = std::sync::mpsc::channel();
        write_blocking(
            store.as_ref(),
            Box::new(move |w| {
                tx.send(audit::index_pending(w, limit)?).unwrap();
                Ok(())
            }),
        )
        .unwrap();
        rx.recv().unwrap()
    }

    /// Pages through every event (optionally of one event name) with `page`-sized pages.
    fn all(store: &Arc<dyn Store>, page: i64, name: Option<&str>) -> Vec<Event> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let input = LookupEventsInput {
                lookup_attributes: name.map(|n| {
                    vec![LookupAttribute {
                        attribute_key: "EventName".into(),
                        attribute_value: n.into(),
                    }]
                }),
                max_results: Some(page),
                next_token: token.take(),
                ..LookupEventsInput::default()
            };
            let got = run(store, &input);
            out.extend(got.events);
            match got.next_token {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn lookups_merge_indexed_events_and_the_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        record(&store, 0, 40);
        // Index part of the log: lookups must see indexed and unindexed events alike,
        // and a page boundary may fall anywhere between the two.
        assert_eq!(index(&store, 17), 17);
        record(&store, 40, 20);
        // The clock went back: these are older than events already indexed, and their
        // chunk overlaps earlier ones in time.
        record(&store, 3, 12);
        assert_eq!(index(&store, 50), 50);
        let expect = |name: Option<&str>| -> Vec<String> {
            let mut evs: Vec<(i64, u64, String)> = Vec::new();
            for (seq, l) in every_event(&store) {
                if l.account == ACCOUNT && name.is_none_or(|n| l.event.event_name == n) {
                    evs.push((l.event.event_time_micros, seq, l.event.event_id));
                }
            }
            // Newest first; within one time, latest logged first.
            evs.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
            evs.into_iter().map(|e| e.2).collect()
        };
        for stage in 0..3 {
            for page in [1, 7, 50] {
                let ids: Vec<String> = all(&store, page, None)
                    .into_iter()
                    .map(|e| e.event_id)
                    .collect();
                assert_eq!(ids.len(), 72, "stage {stage} page {page}");
                assert_eq!(ids, expect(None), "stage {stage} page {page}");
                let gets: Vec<Event> = all(&store, page, Some("GetUser"));
                assert_eq!(gets.len(), 24);
                assert!(gets.iter().all(|e| e.event_name == "GetUser"));
                let ids: Vec<String> = gets.into_iter().map(|e| e.event_id).collect();
                assert_eq!(ids, expect(Some("GetUser")));
            }
            // Stage 1: everything indexed; stage 2: indexed twice over (no-op).
            index(&store, 1000);
        }
        // Time windows: every event in [start, end] and no other, paged or not.
        let t = |i: i64| crate::audit::micros(ctx(i).now);
        for (lo, hi) in [(0, 71), (9, 30), (30, 30), (50, 12), (61, 100)] {
            let (start, end) = (t(lo), t(hi));
            let mut want: Vec<(i64, u64)> = Vec::new();
            for (seq, l) in every_event(&store) {
                let time = l.event.event_time_micros;
                if l.account == ACCOUNT && (start..=end).contains(&time) {
                    want.push((time, seq));
                }
            }
            want.sort_by(|a, b| b.cmp(a));
            for page in [1, 4, 100] {
                let mut got = Vec::new();
                let mut from = None;
                loop {
                    let q = audit::Query {
                        attribute: None,
                        start,
                        end,
                        from,
                    };
                    let mut hits = Vec::new();
                    store
                        .read(&mut |tx| {
                            hits = audit::find(tx, ACCOUNT, "us-east-1", &q, page + 1)?;
                            Ok(())
                        })
                        .unwrap();
                    from = (hits.len() > page).then(|| hits.pop().unwrap().0);
                    got.extend(hits.into_iter().map(|h| h.0));
                    if from.is_none() {
                        break;
                    }
                }
                assert_eq!(got, want, "window {lo}..{hi} page {page}");
            }
        }
        // The other account got its own copy of each event.
        let mut copies = 0;
        for (_, l) in every_event(&store) {
            if l.account == "444455556666" {
                assert!(l.event.cloud_trail_event.contains("\"sharedEventID\""));
                copies += 1;
            }
        }
        assert_eq!(copies, 72);
        store.shutdown();
    }

    #[test]
    fn the_indexer_goes_idle_after_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let due = |store: &Arc<dyn Store>| {
            let mut due = false;
            store
                .read(&mut |tx| {
                    due = audit::index_due(tx)?;
                    Ok(())
                })
                .unwrap();
            due
        };
        record(&store, 0, 6);
        assert!(due(&store));
        // What reset does to the event history: every key (watermarks included) and both
        // streams.
        write_blocking(
            store.as_ref(),
            Box::new(|tx| {
                tx.delete_range(&[], None)?;
                tx.log_truncate(u64::MAX)?;
                tx.appended_truncate(u64::MAX)
            }),
        )
        .unwrap();
        assert_eq!(index(&store, 100), 0);
        assert!(!due(&store), "nothing left to index after a reset");
        assert!(all(&store, 50, None).is_empty());
        record(&store, 6, 4);
        assert_eq!(index(&store, 100), 4 * 2);
        assert!(!due(&store));
        assert_eq!(all(&store, 50, None).len(), 4);
        store.shutdown();
    }

    #[test]
    fn events_past_ninety_days_are_pruned_from_both_streams() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let later = 3 * 86_400 * 100; // ctx(later) is 100 days after ctx(0)
        record(&store, 0, 10);
        record(&store, later, 4);
        // The clock was set back: an old event behind newer ones.
        record(&store, 10, 1);
        assert_eq!(index(&store, 1000), 15 * 2);
        let before: Vec<u64> = every_event(&store).iter().map(|e| e.0).collect();
        let cutoff = crate::audit::micros(ctx(later).now - audit::RETENTION);
        let prune = |max: usize| {
            let (tx, rx) = std::sync::mpsc::channel();
            write_blocking(
                store.as_ref(),
                Box::new(move |w| {
                    tx.send(audit::prune(w, cutoff, max)?).unwrap();
                    Ok(())
                }),
            )
            .unwrap();
            rx.recv().unwrap()
        };
        // A small batch removes only what it read.
        assert_eq!(prune(3), 6);
        assert_eq!(prune(4096), 20 - 6);
        assert_eq!(prune(4096), 0);
        let left = every_event(&store);
        // Every event inside the window stays, and the old one recorded after them too.
        assert_eq!(left.len(), 5 * 2);
        let old_left: Vec<i64> = left
            .iter()
            .map(|e| e.1.event.event_time_micros)
            .filter(|t| *t < cutoff)
            .collect();
        assert_eq!(old_left.len(), 2);
        assert!(left.iter().all(|e| before.contains(&e.0)));
        // Lookups of the window still find the young events.
        let q = audit::Query {
            attribute: None,
            start: cutoff,
            end: i64::MAX,
            from: None,
        };
        let mut hits = Vec::new();
        store
            .read(&mut |tx| {
                hits = audit::find(tx, ACCOUNT, "us-east-1", &q, 50)?;
                Ok(())
            })
            .unwrap();
        assert_eq!(hits.len(), 4);
        // The index chunks of expired events go too, a list at a time, and lookups by
        // attribute still find the young events.
        let chunk_times = |store: &Arc<dyn Store>| {
            let mut times = Vec::new();
            let all = keyspace::event_chunks_all();
            let mut end = Vec::new();
            store
                .read(&mut |tx| {
                    for (k, _) in tx.scan(&Range::prefix(&all, &mut end), usize::MAX)? {
                        times.push(keyspace::event_chunk_newest(&k).unwrap());
                    }
                    Ok(())
                })
                .unwrap();
            times
        };
        assert!(chunk_times(&store).iter().any(|t| *t < cutoff));
        let young_chunks = chunk_times(&store).iter().filter(|t| **t >= cutoff).count();
        let mut walks = 0;
        loop {
            walks += 1;
            let (tx, rx) = std::sync::mpsc::channel();
            write_blocking(
                store.as_ref(),
                Box::new(move |w| {
                    tx.send(audit::prune_index(w, cutoff, 1)?).unwrap();
                    Ok(())
                }),
            )
            .unwrap();
            if rx.recv().unwrap() {
                break;
            }
        }
        assert!(walks > 3, "one list per job");
        let left_times = chunk_times(&store);
        // Chunks holding the old event recorded after the young ones (clock set back)
        // are old too: they go with the rest; its record stays until it expires in order.
        assert!(left_times.iter().all(|t| *t >= cutoff));
        assert_eq!(left_times.len(), young_chunks);
        let q = audit::Query {
            attribute: Some(("EventName", "GetCallerIdentity")),
            start: cutoff,
            end: i64::MAX,
            from: None,
        };
        store
            .read(&mut |tx| {
                hits = audit::find(tx, ACCOUNT, "us-east-1", &q, 50)?;
                Ok(())
            })
            .unwrap();
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|h| h.1.event_name == "GetCallerIdentity"));
        // Log numbering goes on after the removal (the last record was kept).
        let last_before = before
            .iter()
            .filter(|s| *s & audit::APPENDED == 0)
            .max()
            .copied();
        record(&store, later + 10, 2);
        let newest = every_event(&store)
            .iter()
            .map(|e| e.0)
            .filter(|s| s & audit::APPENDED == 0)
            .max();
        assert!(newest > last_before);
        store.shutdown();
    }

    #[test]
    fn pruning_passes_unreadable_records_between_expired_events_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        let junk = |store: &Arc<dyn Store>, what: &'static [u8]| {
            write_blocking(
                store.as_ref(),
                Box::new(move |tx| tx.log_append(what).map(|_| ())),
            )
            .unwrap();
        };
        let later = 3 * 86_400 * 100;
        record(&store, 0, 1);
        junk(&store, b"junk-between");
        record(&store, 2, 1);
        junk(&store, b"junk-before-young");
        record(&store, later, 2);
        let cutoff = crate::audit::micros(ctx(later).now - audit::RETENTION);
        write_blocking(
            store.as_ref(),
            Box::new(move |w| audit::prune(w, cutoff, 4096).map(|_| ())),
        )
        .unwrap();
        let mut log = Vec::new();
        store
            .read(&mut |tx| {
                log = tx.log_read(0, 100)?;
                Ok(())
            })
            .unwrap();
        assert!(log.iter().all(|r| r.1 != b"junk-between".to_vec()));
        assert_eq!(
            log.first().map(|r| r.1.clone()),
            Some(b"junk-before-young".to_vec())
        );
        assert_eq!(log.len(), 1 + 2);
        store.shutdown();
    }

    fn lookup(store: &Arc<dyn Store>, key: &str, value: &str) -> Vec<Event> {
        let input = LookupEventsInput {
            lookup_attributes: Some(vec![LookupAttribute {
                attribute_key: key.into(),
                attribute_value: value.into(),
            }]),
            ..LookupEventsInput::default()
        };
        run(store, &input).events
    }

    /// One LookupEvents call on a snapshot, as of the test's "now".
    fn run(store: &Arc<dyn Store>, input: &LookupEventsInput) -> LookupEventsOutput {
        let mut got = None;
        store
            .read(&mut |tx| {
                got = Some(lookup_events(tx, &ctx(10_000), input).unwrap());
                Ok(())
            })
            .unwrap();
        got.unwrap()
    }

    #[test]
    fn event_ids_are_found_by_their_time_and_legacy_events_migrate() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        // An event as builds before the log stored it: a random (v4) id, the record under
        // `ev/`, an index entry under `evx/`.
        let legacy_id = "5a1e5f0c-8c3b-4d2e-9f6a-0123456789ab";
        let micros: i64 = 1_799_000_000_000_000;
        let newest_first = u64::MAX - (micros as u64 ^ (1 << 63));
        let json = format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"accessKeyId":"AKIAOLD"}},"eventTime":"2027-01-04T18:13:20Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventID":"{legacy_id}","readOnly":false,"resources":[{{"type":"AWS::IAM::User","ARN":"arn:aws:iam::{ACCOUNT}:user/old"}}]}}"#
        );
        let key = palisade_store::keys::Key::new()
            .str("ev")
            .str(ACCOUNT)
            .str("us-east-1")
            .u64(newest_first)
            .str(legacy_id)
            .finish();
        let ix = palisade_store::keys::Key::new()
            .str("evx")
            .str(ACCOUNT)
            .str("us-east-1")
            .str("EventName")
            .str("CreateUser")
            .u64(newest_first)
            .str(legacy_id)
            .finish();
        let value = [b"admin\0".as_slice(), json.as_bytes()].concat();
        write_blocking(
            store.as_ref(),
            Box::new(move |tx| {
                tx.put(&key, &value)?;
                tx.put(&ix, &[])
            }),
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        write_blocking(
            store.as_ref(),
            Box::new(move |w| {
                tx.send(audit::migrate_legacy_events(w)?).unwrap();
                Ok(())
            }),
        )
        .unwrap();
        assert_eq!(rx.recv().unwrap(), 1);
        // The old tables are gone; the event is in the log, found before and after indexing.
        let mut left = 0;
        store
            .read(&mut |tx| {
                for t in keyspace::legacy_event_tables() {
                    let mut end = Vec::new();
                    left += tx.scan(&Range::prefix(&t, &mut end), 10)?.len();
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(left, 0);
        record(&store, 0, 6);
        for round in 0..2 {
            let old = lookup(&store, "EventId", legacy_id);
            assert_eq!(old.len(), 1, "round {round}");
            assert_eq!(old[0].event_name, "CreateUser");
            assert_eq!(old[0].username, "admin");
            assert_eq!(
                old[0].resources[0].resource_name,
                format!("arn:aws:iam::{ACCOUNT}:user/old")
            );
            assert_eq!(lookup(&store, "Username", "admin").len(), 1);
            // Every new event is found by its own (time-ordered) id, and only it.
            for ev in all(&store, 50, Some("GetCallerIdentity")) {
                assert!(audit::event_id_time(&ev.event_id).is_some());
                let hit = lookup(&store, "EventId", &ev.event_id);
                assert_eq!(hit.len(), 1);
                assert_eq!(hit[0].event_id, ev.event_id);
            }
            assert!(lookup(&store, "EventId", &audit::new_event_id(ctx(5).now)).is_empty());
            index(&store, 1000);
        }
        store.shutdown();
    }
}
