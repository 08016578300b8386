//! AWS CloudTrail (awsJson1.1). For now: LookupEvents over the event history that the
//! pipeline records for every call (see [`crate::audit`]).

use crate::{
    audit::{self, StoredEvent, LOOKUP_ATTRIBUTES},
    authz::AuthzCheck,
    context::RequestContext,
    env::Env,
    error::ApiError,
    input::Input,
    keyspace, Reply,
};
use base64::Engine as _;
use palisade_store::{Range, ReadTx};
use std::ops::Bound;
use time::Duration;

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
        "LookupEvents" => input.parse().map(Operation::LookupEvents),
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

/// LookupEvents: the caller's account and region, newest first, within the last 90 days.
pub fn lookup_events(
    tx: &dyn ReadTx,
    ctx: &RequestContext,
    input: &LookupEventsInput,
) -> Result<LookupEventsOutput, ApiError> {
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
        // Insights events are not produced: an insight lookup finds nothing.
        return Ok(LookupEventsOutput {
            events: Vec::new(),
            next_token: None,
        });
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
    }
    let now = ctx.now;
    let oldest = now - Duration::days(90);
    let start = match input.start_time {
        Some(s) => from_epoch(s)?.max(oldest),
        None => oldest,
    };
    let end = match input.end_time {
        Some(e) => from_epoch(e)?,
        None => now,
    };
    if start > end {
        return Err(invalid(
            "InvalidTimeRangeException",
            "Start date must be earlier than end date.",
        ));
    }
    let account = &ctx.principal.account_id;
    let prefix = match attr {
        Some(a) => {
            keyspace::event_index_prefix(account, &ctx.region, &a.attribute_key, &a.attribute_value)
        }
        None => keyspace::event_prefix(account, &ctx.region),
    };
    let lower = keyspace::event_time_bound(prefix.clone(), audit::micros(end));
    let upper = keyspace::event_time_bound(prefix.clone(), audit::micros(start) - 1);
    let prefix_bytes = prefix.finish();
    let token_key = match &input.next_token {
        Some(t) => {
            let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .filter(|k| k.starts_with(&prefix_bytes) && *k >= lower && *k <= upper)
                .ok_or_else(|| {
                    invalid(
                        "InvalidNextTokenException",
                        "A token you provided is invalid.",
                    )
                })?;
            Some(k)
        }
        None => None,
    };
    let from = token_key.as_deref().unwrap_or(&lower);
    let range = Range {
        start: Bound::Included(from),
        end: Bound::Excluded(&upper),
        reverse: false,
    };
    let limit = usize::try_from(max).unwrap_or(50) + 1;
    let entries = tx.scan(&range, limit)?;
    let mut events = Vec::with_capacity(entries.len());
    let mut next_token = None;
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i + 1 == limit {
            next_token = Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key));
            break;
        }
        let raw = if attr.is_some() {
            let main = keyspace::event_key_from_index(account, &ctx.region, &key)
                .ok_or_else(|| ApiError::internal("malformed event index key"))?;
            match tx.get(&main)? {
                Some(raw) => raw,
                None => continue,
            }
        } else {
            value
        };
        let ev = StoredEvent::decode(&raw)?;
        events.push(to_event(ev));
    }
    Ok(LookupEventsOutput { events, next_token })
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
