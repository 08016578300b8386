//! The CloudTrail event history: one record per call AWS would log, written in the same
//! transaction as the call's effect, and the indexes `LookupEvents` reads.
//!
//! Layout (see [`crate::keyspace`]): the event itself under
//! `ev/<account>/<region>/<newest-first time>/<event id>`, and one index entry per lookup
//! attribute under `evx/<account>/<region>/<attribute>/<value>/<time>/<event id>` whose
//! value is the event's key. Every `LookupEvents` query is one range scan.

use crate::{context::RequestContext, error::ApiError, keyspace, registry::ServiceInfo, Reply};
use palisade_store::keys::{Decoder, Key};
use palisade_store::{ReadTx, StoreError, WriteTx};
use serde_json::Value;
use std::borrow::Cow;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// The lookup attributes AWS supports, by their `AttributeKey` names.
pub const LOOKUP_ATTRIBUTES: &[&str] = &[
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

/// What `LookupEvents` returns about one event (besides the full record).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub read_only: bool,
    pub access_key_id: String,
    pub username: String,
    pub event_time_micros: i64,
    pub resources: Vec<(String, String)>,
    /// The CloudTrail record as JSON text, exactly as `CloudTrailEvent` returns it.
    pub cloud_trail_event: String,
}

/// One call's facts, as the pipeline knows them after the operation ran (or was refused).
pub struct Call<'a> {
    pub ctx: &'a RequestContext,
    pub service: &'a ServiceInfo,
    pub event_name: &'a str,
    pub read_only: bool,
    pub request_parameters: Option<Value>,
    pub outcome: Result<&'a Reply, &'a ApiError>,
    /// Other accounts whose resources the call touched: each records its own copy of the
    /// event (AWS logs both sides of a cross-account call, linked by `sharedEventID`).
    pub resource_accounts: Vec<String>,
}

/// The region an event is recorded in: global services log to us-east-1.
pub fn event_region<'a>(service: &ServiceInfo, ctx: &'a RequestContext) -> &'a str {
    if service.global {
        "us-east-1"
    } else {
        ctx.region.as_str()
    }
}

/// CloudTrail's `userIdentity`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    access_key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    /// Temporary credentials: how they were obtained.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContextJson<'a>>,
    /// A call a service made for the caller (KMS used by Secrets Manager): that service.
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

impl<'a> UserIdentity<'a> {
    fn of(p: &'a crate::Principal, invoked_by: Option<&'a str>) -> Self {
        UserIdentity {
            kind: p.kind.as_str(),
            principal_id: &p.principal_id,
            arn: &p.arn,
            account_id: &p.account_id,
            access_key_id: &p.access_key_id,
            user_name: (p.kind == crate::PrincipalKind::IAMUser).then_some(p.user_name.as_str()),
            session_context: SessionContextJson::of(p),
            invoked_by,
        }
    }
}

/// CloudTrail's `eventTime`: whole seconds, RFC 3339.
pub fn event_time(now: OffsetDateTime) -> String {
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// CloudTrail's `userIdentity.sessionContext`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContextJson<'a> {
    /// Empty (`{}`) for sessions of an IAM user or root (GetSessionToken).
    #[serde(serialize_with = "issuer_or_empty")]
    session_issuer: Option<SessionIssuerJson<'a>>,
    web_id_federation_data: serde_json::Map<String, Value>,
    attributes: SessionAttributesJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_identity: Option<&'a str>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuerJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_name: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionAttributesJson<'a> {
    creation_date: &'a str,
    mfa_authenticated: &'static str,
}

fn issuer_or_empty<S: serde::Serializer>(
    issuer: &Option<SessionIssuerJson<'_>>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    match issuer {
        Some(i) => i.serialize(ser),
        None => serde_json::Map::new().serialize(ser),
    }
}

impl<'a> SessionContextJson<'a> {
    fn of(p: &'a crate::Principal) -> Option<Self> {
        let s = p.session.as_deref()?;
        // Role and federated-user sessions name their issuer; an IAM user's or root's
        // own session (GetSessionToken) shows an empty `sessionIssuer`.
        let named = matches!(
            p.kind,
            crate::PrincipalKind::AssumedRole | crate::PrincipalKind::FederatedUser
        );
        Some(SessionContextJson {
            session_issuer: named.then(|| SessionIssuerJson {
                kind: &s.issuer_type,
                principal_id: &s.issuer_id,
                arn: &s.issuer_arn,
                account_id: arn_account(&s.issuer_arn).unwrap_or(&p.account_id),
                user_name: &s.issuer_name,
            }),
            web_id_federation_data: serde_json::Map::new(),
            attributes: SessionAttributesJson {
                creation_date: &s.creation_date,
                mfa_authenticated: if s.mfa_authenticated { "true" } else { "false" },
            },
            source_identity: s.source_identity.as_deref(),
        })
    }
}

/// The account an ARN names (its fifth field), when it names one: a resource's
/// `accountId` in a record is its owner's (another account's key used across accounts).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[derive(serde::Serialize)]
struct ResourceRef<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "ARN")]
    arn: &'a str,
}

/// One CloudTrail record, fields in AWS's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<Cow<'a, str>>,
    request_parameters: Option<&'a Value>,
    response_elements: Option<&'a Value>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<ResourceRef<'a>>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
}

/// Largest `requestParameters` or `responseElements` a record keeps, in bytes of JSON.
/// AWS documents that CloudTrail truncates a field over its maximum size and marks it
/// `omitted`; the maximum of these two is 100 KB (policies of 102,401 characters or more
/// are logged as "requestParameters too large", per field reports).
const MAX_ELEMENTS_BYTES: usize = 100 * 1024;

/// Longest `errorMessage` (and `userAgent`) a record keeps, in characters. AWS's records
/// cut longer error messages to 1,021 characters and "..." (observed in delivered events;
/// not documented). AWS documents no limit for the user agent; Palisade cuts it the same
/// way so that a request header cannot grow a record, and its copies in other accounts,
/// without bound.
const MAX_TEXT_CHARS: usize = 1024;

/// `text` as a record keeps it ([`MAX_TEXT_CHARS`]).
fn capped_text(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = text
                .char_indices()
                .nth(MAX_TEXT_CHARS - 3)
                .map_or(text.len(), |(at, _)| at);
            Cow::Owned(format!("{}...", &text[..keep]))
        }
    }
}

/// What a record holds instead of a `field` whose JSON is over [`MAX_ELEMENTS_BYTES`]:
/// AWS's marker, `{"reason": "<field> too large", "omitted": true, "originalSize": N}`.
fn omitted_if_large(field: &str, value: &Value) -> Result<Option<Value>, StoreError> {
    let size = serde_json::to_vec(value)
        .map_err(|e| StoreError::Other(e.to_string()))?
        .len();
    Ok((size > MAX_ELEMENTS_BYTES).then(|| {
        serde_json::json!({
            "reason": format!("{field} too large"),
            "omitted": true,
            "originalSize": size,
        })
    }))
}

/// The JSON of `record`, with oversized request parameters and response elements replaced
/// by their [`omitted_if_large`] marker. A record under the limit as a whole is written as
/// is, without measuring its fields.
fn encode_record(record: Record<'_>) -> Result<String, StoreError> {
    let to_json =
        |r: &Record<'_>| serde_json::to_string(r).map_err(|e| StoreError::Other(e.to_string()));
    let json = to_json(&record)?;
    if json.len() <= MAX_ELEMENTS_BYTES {
        return Ok(json);
    }
    let request = match record.request_parameters {
        Some(v) => omitted_if_large("requestParameters", v)?,
        None => None,
    };
    let response = match record.response_elements {
        Some(v) => omitted_if_large("responseElements", v)?,
        None => None,
    };
    if request.is_none() && response.is_none() {
        return Ok(json);
    }
    let mut record = record;
    if let Some(v) = &request {
        record.request_parameters = Some(v);
    }
    if let Some(v) = &response {
        record.response_elements = Some(v);
    }
    to_json(&record)
}

/// A call's CloudTrail records, built and ready to append: one for the caller's account
/// and one copy per other account whose resources the call touched. Building them is pure
/// work, so callers do it before their store job when they can (the writer is one thread;
/// every microsecond spent there is spent serially).
pub struct Prepared {
    records: Vec<Vec<u8>>,
}

/// Builds the CloudTrail record of `call` and appends it to the event log (see
/// [`prepare`] and [`append`]).
pub fn record(tx: &mut dyn WriteTx, call: Call<'_>) -> Result<(), StoreError> {
    append(tx, &prepare(call)?)
}

impl Prepared {
    /// The log records, for [`palisade_store::Store::append`].
    pub fn into_records(self) -> Vec<Vec<u8>> {
        self.records
    }
}

/// Appends prepared records to the store's log, in the caller's transaction. The lookup
/// indexes follow in batches ([`index_pending`]); until then `LookupEvents` reads the
/// log's unindexed tail directly.
pub fn append(tx: &mut dyn WriteTx, prepared: &Prepared) -> Result<(), StoreError> {
    for r in &prepared.records {
        tx.log_append(r)?;
    }
    Ok(())
}

/// Builds the CloudTrail record of `call`, and its copies for other accounts.
pub fn prepare(call: Call<'_>) -> Result<Prepared, StoreError> {
    let ctx = call.ctx;
    let p = &ctx.principal;
    let event_id = new_event_id(ctx.now);
    let region = event_region(call.service, ctx);
    let (reply, error) = match call.outcome {
        Ok(reply) => (Some(reply), None),
        Err(err) => (None, Some(err)),
    };
    let resources: &[(String, String)] = reply.map(|r| r.resources.as_slice()).unwrap_or_default();
    let record = Record {
        event_version: "1.09",
        user_identity: UserIdentity::of(p, None),
        event_time: event_time(ctx.now),
        event_source: call.service.event_source,
        event_name: call.event_name,
        aws_region: region,
        source_ip_address: &ctx.source_ip,
        user_agent: capped_text(&ctx.user_agent),
        error_code: error.map(|e| e.code.as_ref()),
        // Internal failures carry AWS's generic message only, never the detail.
        error_message: error.map(|e| capped_text(&e.message)),
        request_parameters: call.request_parameters.as_ref(),
        response_elements: reply.and_then(|r| r.response_elements.as_ref()),
        request_id: &ctx.request_id,
        event_id: &event_id,
        read_only: call.read_only,
        resources: resources
            .iter()
            .map(|(kind, arn)| ResourceRef {
                account_id: arn_account(arn).unwrap_or(&p.account_id),
                kind,
                arn,
            })
            .collect(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &p.account_id,
        event_category: "Management",
    };
    let json = encode_record(record)?;
    let head = Header {
        account: Cow::Borrowed(&p.account_id),
        region: Cow::Borrowed(region),
        micros: micros(ctx.now),
        event_id: Cow::Borrowed(&event_id),
        event_name: Cow::Borrowed(call.event_name),
        event_source: Cow::Borrowed(call.service.event_source),
        read_only: call.read_only,
        username: Cow::Borrowed(&p.user_name),
        access_key_id: Cow::Borrowed(&p.access_key_id),
        resources: borrowed(resources),
    };
    let mut records = vec![head.encode(&json)];
    let mut others: Vec<&String> = call
        .resource_accounts
        .iter()
        .filter(|a| **a != p.account_id)
        .collect();
    others.sort();
    others.dedup();
    if !others.is_empty() {
        let mut copy: Value =
            serde_json::from_str(&json).map_err(|e| StoreError::Other(e.to_string()))?;
        for account in others {
            let copy_id = new_event_id(ctx.now);
            if let Some(obj) = copy.as_object_mut() {
                obj.insert("eventID".into(), Value::String(copy_id.clone()));
                obj.insert("recipientAccountId".into(), Value::String(account.clone()));
                obj.insert("sharedEventID".into(), Value::String(event_id.clone()));
            }
            let copy_head = Header {
                account: Cow::Borrowed(account),
                event_id: Cow::Borrowed(&copy_id),
                ..head.clone()
            };
            records.push(copy_head.encode(&copy.to_string()));
        }
    }
    for invoked in ctx.invoked.take() {
        invoked_records(ctx, &invoked, &mut records)?;
    }
    Ok(Prepared { records })
}

/// The records of a call a service made for the request ([`crate::context::InvokedCall`]):
/// the called service's event, with the caller's identity, `invokedBy` and the calling
/// service as source address and user agent, in the caller's account and, when the
/// resource is another account's, in that account too (with `sharedEventID`). The
/// identity is the request's principal: services make these calls only for the caller.
fn invoked_records(
    ctx: &crate::RequestContext,
    c: &crate::context::InvokedCall,
    records: &mut Vec<Vec<u8>>,
) -> Result<(), StoreError> {
    let p = &ctx.principal;
    let event_id = new_event_id(ctx.now);
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut accounts = vec![p.account_id.as_str()];
    if c.resource_account != p.account_id {
        accounts.push(&c.resource_account);
    }
    for (n, account) in accounts.into_iter().enumerate() {
        let id = if n == 0 {
            event_id.clone()
        } else {
            new_event_id(ctx.now)
        };
        let record = Record {
            event_version: "1.09",
            user_identity: UserIdentity::of(p, Some(&c.invoked_by)),
            event_time: event_time(ctx.now),
            event_source: c.event_source,
            event_name: c.event_name,
            aws_region: &c.region,
            source_ip_address: &c.invoked_by,
            user_agent: Cow::Borrowed(&c.invoked_by),
            error_code: c.error.as_ref().map(|e| e.0.as_str()),
            error_message: c.error.as_ref().map(|e| capped_text(&e.1)),
            request_parameters: Some(&c.request_parameters),
            response_elements: c.response_elements.as_ref(),
            request_id: &request_id,
            event_id: &id,
            read_only: c.read_only,
            resources: c
                .resources
                .iter()
                .map(|(kind, arn)| ResourceRef {
                    account_id: &c.resource_account,
                    kind,
                    arn,
                })
                .collect(),
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: account,
            event_category: "Management",
        };
        let mut json = encode_record(record)?;
        if n > 0 {
            // The other account's copy names the event both accounts share.
            let mut v: Value =
                serde_json::from_str(&json).map_err(|e| StoreError::Other(e.to_string()))?;
            if let Some(o) = v.as_object_mut() {
                o.insert("sharedEventID".into(), Value::String(event_id.clone()));
            }
            json = v.to_string();
        }
        let head = Header {
            account: Cow::Borrowed(account),
            region: Cow::Borrowed(&c.region),
            micros: micros(ctx.now),
            event_id: Cow::Borrowed(&id),
            event_name: Cow::Borrowed(c.event_name),
            event_source: Cow::Borrowed(c.event_source),
            read_only: c.read_only,
            username: Cow::Borrowed(&p.user_name),
            access_key_id: Cow::Borrowed(&p.access_key_id),
            resources: borrowed(&c.resources),
        };
        records.push(head.encode(&json));
    }
    Ok(())
}

/// A new id for an event at `time` (the business clock's): a version-7 UUID, whose leading
/// bits are that millisecond, so lookups by id need no index of their own
/// ([`event_id_time`]). AWS's event ids are random (version 4) UUIDs; clients treat them
/// as opaque strings. Times before 1970 get a random id (then indexed).
pub fn new_event_id(time: OffsetDateTime) -> String {
    match u64::try_from(time.unix_timestamp()) {
        Ok(secs) => uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            secs,
            time.nanosecond(),
        ))
        .to_string(),
        Err(_) => uuid::Uuid::new_v4().to_string(),
    }
}

/// An event the service itself emits (`eventType` AwsServiceEvent: rotation outcomes,
/// CreateAccountResult and the like), recorded like a call's.
pub struct ServiceEvent<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub time: OffsetDateTime,
    pub event_version: &'a str,
    pub event_name: &'a str,
    pub event_source: &'a str,
    /// Who acted: `userIdentity.invokedBy`, `sourceIPAddress` and `userAgent`.
    pub invoked_by: &'a str,
    /// `(type, ARN)`; the record has no `resources` when there are none.
    pub resources: &'a [(String, String)],
    /// The event's own members (`additionalEventData`, `serviceEventDetails`,
    /// `requestID`, ...), beside the ones every service event has.
    pub details: serde_json::Map<String, Value>,
}

/// Appends a service event to the log, in the caller's transaction.
pub fn record_service_event(tx: &mut dyn WriteTx, ev: ServiceEvent<'_>) -> Result<(), StoreError> {
    let event_id = new_event_id(ev.time);
    let mut record = serde_json::json!({
        "eventVersion": ev.event_version,
        "userIdentity": {"accountId": ev.account, "invokedBy": ev.invoked_by},
        "eventTime": event_time(ev.time),
        "eventSource": ev.event_source,
        "eventName": ev.event_name,
        "awsRegion": ev.region,
        "sourceIPAddress": ev.invoked_by,
        "userAgent": ev.invoked_by,
        "requestParameters": null,
        "responseElements": null,
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsServiceEvent",
        "managementEvent": true,
        "recipientAccountId": ev.account,
        "eventCategory": "Management",
    });
    if let Some(members) = record.as_object_mut() {
        if !ev.resources.is_empty() {
            let resources: Vec<Value> = ev
                .resources
                .iter()
                .map(|(kind, arn)| {
                    serde_json::json!({
                        "accountId": arn_account(arn).unwrap_or(ev.account),
                        "type": kind,
                        "ARN": arn,
                    })
                })
                .collect();
            members.insert("resources".into(), resources.into());
        }
        members.extend(ev.details);
    }
    let head = Header {
        account: Cow::Borrowed(ev.account),
        region: Cow::Borrowed(ev.region),
        micros: micros(ev.time),
        event_id: Cow::Borrowed(&event_id),
        event_name: Cow::Borrowed(ev.event_name),
        event_source: Cow::Borrowed(ev.event_source),
        read_only: false,
        username: Cow::Borrowed(""),
        access_key_id: Cow::Borrowed(""),
        resources: borrowed(ev.resources),
    };
    tx.log_append(&head.encode(&record.to_string()))?;
    Ok(())
}

/// The lookup fields of a logged event, stored in front of its JSON so that indexing and
/// lookups never parse the JSON. Decoded, its strings borrow from the record unless they
/// held an escaped byte.
#[derive(Clone)]
struct Header<'a> {
    account: Cow<'a, str>,
    region: Cow<'a, str>,
    micros: i64,
    event_id: Cow<'a, str>,
    event_name: Cow<'a, str>,
    event_source: Cow<'a, str>,
    read_only: bool,
    username: Cow<'a, str>,
    access_key_id: Cow<'a, str>,
    resources: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// (type, name) pairs as a header's borrowed resources.
fn borrowed(resources: &[(String, String)]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    resources
        .iter()
        .map(|(t, n)| (Cow::Borrowed(t.as_str()), Cow::Borrowed(n.as_str())))
        .collect()
}

/// Version tag of the log record format below.
const LOG_FORMAT: u64 = 1;

impl<'a> Header<'a> {
    /// `[format, account, region, time, id, name, source, read-only, username, key id,
    /// resource count, (type, name)...]` as tuple-encoded parts, then the JSON bytes.
    fn encode(&self, json: &str) -> Vec<u8> {
        let mut k = Key::new()
            .u64(LOG_FORMAT)
            .str(&self.account)
            .str(&self.region)
            .u64(self.micros as u64)
            .str(&self.event_id)
            .str(&self.event_name)
            .str(&self.event_source)
            .u64(u64::from(self.read_only))
            .str(&self.username)
            .str(&self.access_key_id)
            .u64(self.resources.len() as u64);
        for (kind, name) in &self.resources {
            k = k.str(kind).str(name);
        }
        let mut out = k.finish();
        out.extend_from_slice(json.as_bytes());
        out
    }

    /// Reads what [`Header::encode`] wrote: the header and the JSON bytes after it.
    fn decode(raw: &'a [u8]) -> Result<(Header<'a>, &'a [u8]), StoreError> {
        let mut d = Decoder::new(raw);
        if d.u64()? != LOG_FORMAT {
            return Err(StoreError::Other("event log record: unknown format".into()));
        }
        let account = d.str_cow()?;
        let region = d.str_cow()?;
        let micros = d.u64()? as i64;
        let event_id = d.str_cow()?;
        let event_name = d.str_cow()?;
        let event_source = d.str_cow()?;
        let read_only = d.u64()? != 0;
        let username = d.str_cow()?;
        let access_key_id = d.str_cow()?;
        let n = d.u64()?;
        let mut resources = Vec::new();
        for _ in 0..n.min(1024) {
            resources.push((d.str_cow()?, d.str_cow()?));
        }
        let head = Header {
            account,
            region,
            micros,
            event_id,
            event_name,
            event_source,
            read_only,
            username,
            access_key_id,
            resources,
        };
        Ok((head, d.rest()))
    }

    /// The (attribute code, value) pairs `LookupEvents` finds this event by through the
    /// index. `EventId` is there only for ids that do not carry their time (see
    /// [`event_id_time`]); time-ordered ids are found by time instead.
    fn indexed_values(&self) -> impl Iterator<Item = (u64, &str)> {
        let fixed = [
            (attribute_code("EventName"), &*self.event_name),
            (
                attribute_code("ReadOnly"),
                if self.read_only { "true" } else { "false" },
            ),
            (attribute_code("Username"), &*self.username),
            (attribute_code("EventSource"), &*self.event_source),
            (attribute_code("AccessKeyId"), &*self.access_key_id),
        ];
        let resources = self.resources.iter().flat_map(|(ty, name)| {
            [
                (attribute_code("ResourceType"), &**ty),
                (attribute_code("ResourceName"), &**name),
            ]
        });
        let event_id = event_id_time(&self.event_id)
            .is_none()
            .then(|| (attribute_code("EventId"), &*self.event_id));
        fixed.into_iter().chain(resources).chain(event_id)
    }
}

/// One logged event, decoded.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub account: String,
    pub region: String,
    pub event: StoredEvent,
}

impl LoggedEvent {
    /// Reads what [`Header::encode`] wrote.
    pub fn decode(raw: &[u8]) -> Result<LoggedEvent, StoreError> {
        let (h, json) = Header::decode(raw)?;
        Ok(LoggedEvent {
            account: h.account.into_owned(),
            region: h.region.into_owned(),
            event: StoredEvent {
                event_id: h.event_id.into_owned(),
                event_name: h.event_name.into_owned(),
                event_source: h.event_source.into_owned(),
                read_only: h.read_only,
                access_key_id: h.access_key_id.into_owned(),
                username: h.username.into_owned(),
                event_time_micros: h.micros,
                resources: h
                    .resources
                    .into_iter()
                    .map(|(t, n)| (t.into_owned(), n.into_owned()))
                    .collect(),
                cloud_trail_event: String::from_utf8_lossy(json).into_owned(),
            },
        })
    }

    /// Whether `LookupEvents` with this attribute finds the event.
    pub fn matches(&self, attribute: &str, value: &str) -> bool {
        let ev = &self.event;
        match attribute {
            "EventId" => ev.event_id == value,
            "EventName" => ev.event_name == value,
            "ReadOnly" => (if ev.read_only { "true" } else { "false" }) == value,
            "Username" => ev.username == value,
            "EventSource" => ev.event_source == value,
            "AccessKeyId" => ev.access_key_id == value,
            "ResourceType" => ev.resources.iter().any(|(t, _)| t == value),
            "ResourceName" => ev.resources.iter().any(|(_, n)| n == value),
            _ => false,
        }
    }
}

/// The code of a lookup attribute in index keys (short keys are cheap keys).
pub fn attribute_code(attribute: &str) -> u64 {
    LOOKUP_ATTRIBUTES
        .iter()
        .position(|a| *a == attribute)
        .map_or(u64::MAX, |i| i as u64 + 1)
}

/// The millisecond an event id was made in, for ids Palisade makes ([`new_event_id`]:
/// version-7 UUIDs carry it). `None` for other ids (random ones from older data dirs).
pub fn event_id_time(event_id: &str) -> Option<i64> {
    let id = uuid::Uuid::try_parse(event_id).ok()?;
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    i64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

/// Events appended up to this log sequence number are in the lookup indexes.
pub fn indexed_through(tx: &dyn ReadTx) -> Result<u64, StoreError> {
    watermark(tx, "trail_indexed")
}

/// Records of calls that change nothing are in the store's appended stream; their event
/// positions carry this bit over the stream's position, so that one sequence space orders
/// both (the jobs' log numbers stay below it).
pub const APPENDED: u64 = 1 << 63;

/// The appended stream's position the indexer reads on from.
fn appended_indexed(tx: &dyn ReadTx) -> Result<u64, StoreError> {
    watermark(tx, "trail_indexed_appended")
}

/// One of the indexer's watermarks (0 before the first batch).
fn watermark(tx: &dyn ReadTx, name: &str) -> Result<u64, StoreError> {
    Ok(match tx.get(&keyspace::meta(name))? {
        Some(raw) => raw
            .as_slice()
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Other("bad trail watermark".into()))?,
        None => 0,
    })
}

/// Whether the log or the appended stream holds events not yet indexed.
pub fn index_due(tx: &dyn ReadTx) -> Result<bool, StoreError> {
    Ok(tx.log_last()? > indexed_through(tx)? || tx.appended_end()? > appended_indexed(tx)?)
}

/// Widest span of event times in one index chunk (microseconds). A lookup for events at
/// or before `t` starts at the chunks whose newest event is at most `t + CHUNK_SPAN`.
const CHUNK_SPAN: i64 = 1_000_000;

/// Attribute code of the "every event" posting list (time order without a filter).
const ALL_EVENTS: u64 = 0;

/// Indexes up to `limit` logged events past the watermark, in the caller's transaction,
/// and moves the watermark. Returns how many were indexed.
///
/// The index is posting lists in chunks: for each (account, region, attribute, value) the
/// batch touches, one row per run of events no wider than [`CHUNK_SPAN`] in time, keyed by
/// its newest event's time and holding every (time, sequence) pair of the run. A batch of
/// thousands of similar calls writes a handful of rows instead of one per event and
/// attribute.
pub fn index_pending(tx: &mut dyn WriteTx, limit: usize) -> Result<usize, StoreError> {
    use std::collections::HashMap;
    let from = indexed_through(tx)?;
    let mut records = tx.log_read(from.saturating_add(1), limit)?;
    let last = records.last().map(|r| r.0);
    let appended_from = appended_indexed(tx)?;
    let (appended, appended_next) =
        tx.appended_read(appended_from, limit.saturating_sub(records.len()))?;
    // Moves even without records: past a reset's truncation point or a gap between
    // segments, so that `index_due` turns false.
    if appended_next != appended_from {
        tx.put(
            &keyspace::meta("trail_indexed_appended"),
            &appended_next.to_be_bytes(),
        )?;
    }
    records.extend(appended.into_iter().map(|(pos, raw)| (pos | APPENDED, raw)));
    if records.is_empty() {
        return Ok(0);
    }
    let decoded: Vec<(u64, Header<'_>)> = records
        .iter()
        .filter_map(|(seq, raw)| match Header::decode(raw) {
            Ok((head, _json)) => Some((*seq, head)),
            Err(e) => {
                // Never wedge the indexer on one bad record; it stays in the log.
                tracing::error!(seq, error = %e, "unreadable event log record; not indexed");
                None
            }
        })
        .collect();
    // (account, region, code, value) -> chunks, each a list of (time, seq) in log order.
    // aHash: this map takes every event's values, and SipHash was a tenth of indexing.
    let mut lists: HashMap<PostingList<'_>, Vec<Chunk>, ahash::RandomState> =
        HashMap::with_hasher(ahash::RandomState::new());
    for (seq, head) in &decoded {
        let pos = (head.micros, *seq);
        let values = std::iter::once((ALL_EVENTS, "")).chain(head.indexed_values());
        for (code, value) in values {
            let chunks = lists
                .entry((&*head.account, &*head.region, code, value))
                .or_default();
            match chunks.last_mut() {
                Some(c) if c.fits(pos.0) => c.push(pos),
                _ => chunks.push(Chunk::new(pos)),
            }
        }
    }
    for ((account, region, code, value), chunks) in lists {
        for mut chunk in chunks {
            chunk.entries.sort_unstable_by(|a, b| b.cmp(a));
            let (newest, first_seq) = (chunk.hi, chunk.first_seq);
            let mut value_bytes = Vec::with_capacity(chunk.entries.len() * 16);
            for (t, sq) in &chunk.entries {
                value_bytes.extend_from_slice(&t.to_be_bytes());
                value_bytes.extend_from_slice(&sq.to_be_bytes());
            }
            tx.put(
                &keyspace::event_chunk(account, region, code, value, newest, first_seq),
                &value_bytes,
            )?;
        }
    }
    if let Some(last) = last {
        tx.put(&keyspace::meta("trail_indexed"), &last.to_be_bytes())?;
    }
    Ok(records.len())
}

/// How long CloudTrail keeps event history ([`prune`]); `LookupEvents` looks no further
/// back.
pub const RETENTION: time::Duration = time::Duration::days(90);

/// Removes from the front of the log and of the appended stream the events older than
/// `cutoff` (microseconds), reading at most `max` records of each, in the caller's
/// transaction. Returns how many were removed.
///
/// Each stream is cut at its first event at or after the cutoff (or the first it cannot
/// read), so an event inside the window is never removed; after the business clock was
/// set back, an old event behind a newer one waits until that one expires. The log's last
/// record always stays, so that its numbering never restarts under the indexer's
/// watermark. Index chunks of removed events stay: lookups never reach past the window,
/// and a posting that finds no event is skipped.
pub fn prune(tx: &mut dyn WriteTx, cutoff: i64, max: usize) -> Result<usize, StoreError> {
    let mut removed = 0;
    let last = tx.log_last()?;
    let records = tx.log_read(0, max)?;
    let keep = records.iter().take_while(|(seq, _)| *seq < last);
    if let Some((n, before)) = expired_prefix(keep.map(|(seq, raw)| (seq + 1, raw)), cutoff) {
        tx.log_truncate(before)?;
        removed += n;
    }
    let (records, next) = tx.appended_read(0, max)?;
    // A record's end is where the next one begins.
    let ends = records
        .iter()
        .skip(1)
        .map(|r| r.0)
        .chain(std::iter::once(next));
    if let Some((n, before)) = expired_prefix(ends.zip(records.iter().map(|r| &r.1)), cutoff) {
        tx.appended_truncate(before)?;
        removed += n;
    }
    Ok(removed)
}

/// Deletes the index chunks holding only events older than `cutoff`, in up to `max`
/// posting lists, going on from where the last call stopped (a cursor in meta) and
/// wrapping around. Returns whether the walk reached the last list. A list's old chunks
/// are its key range's tail (newest first), so each list costs one seek and one range
/// delete, however many chunks it holds.
pub fn prune_index(tx: &mut dyn WriteTx, cutoff: i64, max: usize) -> Result<bool, StoreError> {
    let cursor_key = keyspace::meta("trail_pruned_list");
    let all = keyspace::event_chunks_all();
    let all_end = palisade_store::keys::prefix_end(&all);
    let mut at = tx.get(&cursor_key)?.unwrap_or_else(|| all.clone());
    for _ in 0..max {
        let range = palisade_store::Range {
            start: std::ops::Bound::Included(at.as_slice()),
            end: std::ops::Bound::Excluded(all_end.as_slice()),
            reverse: false,
        };
        let Some((key, _)) = tx.scan(&range, 1)?.into_iter().next() else {
            tx.delete(&cursor_key)?;
            return Ok(true);
        };
        let Some(list) = keyspace::event_chunk_list(&key) else {
            // Not a chunk key: step over it.
            at = key;
            at.push(0);
            continue;
        };
        let list_end = palisade_store::keys::prefix_end(&list.clone().finish());
        let old = keyspace::event_chunk_bound(list, cutoff.saturating_sub(1));
        tx.delete_range(&old, Some(&list_end))?;
        at = list_end;
    }
    tx.put(&cursor_key, &at)?;
    Ok(false)
}

/// Of (end, record) pairs in stream order: how many lead the stream up to its last event
/// older than `cutoff`, and where they end. A record that cannot be read goes with the
/// expired events around it; one before the first event inside the window stays.
fn expired_prefix<'r>(
    records: impl Iterator<Item = (u64, &'r Vec<u8>)>,
    cutoff: i64,
) -> Option<(usize, u64)> {
    let mut cut = None;
    for (i, (end, raw)) in records.enumerate() {
        match Header::decode(raw) {
            Ok((head, _)) if head.micros < cutoff => cut = Some((i + 1, end)),
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable event record; kept unless events after it expire")
            }
        }
    }
    cut
}

/// An event's place in the history: (time in microseconds, log sequence number). Newest
/// first means descending.
pub type Position = (i64, u64);

/// One posting list: (account, region, attribute code, value).
type PostingList<'a> = (&'a str, &'a str, u64, &'a str);

/// A run of one posting list being built: its entries and their time span.
struct Chunk {
    lo: i64,
    hi: i64,
    first_seq: u64,
    entries: Vec<Position>,
}

impl Chunk {
    fn new(pos: Position) -> Self {
        Chunk {
            lo: pos.0,
            hi: pos.0,
            first_seq: pos.1,
            entries: vec![pos],
        }
    }

    /// Whether an event at `time` keeps the chunk within [`CHUNK_SPAN`].
    fn fits(&self, time: i64) -> bool {
        time.max(self.hi).saturating_sub(time.min(self.lo)) <= CHUNK_SPAN
    }

    fn push(&mut self, pos: Position) {
        self.lo = self.lo.min(pos.0);
        self.hi = self.hi.max(pos.0);
        self.first_seq = self.first_seq.min(pos.1);
        self.entries.push(pos);
    }
}

/// A `LookupEvents` query of one account and region.
pub struct Query<'a> {
    /// The lookup attribute and value, if any.
    pub attribute: Option<(&'a str, &'a str)>,
    /// Events at or after this time (microseconds)...
    pub start: i64,
    /// ...and at or before this one.
    pub end: i64,
    /// Resume at this (time, sequence) position, inclusive (a page token).
    pub from: Option<(i64, u64)>,
}

/// Up to `limit` events of `account` and `region` matching `q`, newest first, each with
/// its (time, sequence) position. Reads the index, then the log's unindexed tail.
pub fn find(
    tx: &dyn ReadTx,
    account: &str,
    region: &str,
    q: &Query<'_>,
    limit: usize,
) -> Result<Vec<(Position, StoredEvent)>, StoreError> {
    let (mut start, mut end) = (q.start, q.end);
    // Palisade's event ids carry their millisecond: an EventId lookup reads that
    // millisecond of the time order. Other ids are in the index.
    let (code, value, by_id) = match q.attribute {
        Some(("EventId", id)) => match event_id_time(id) {
            Some(ms) => {
                start = start.max(ms.saturating_mul(1000));
                end = end.min(ms.saturating_mul(1000).saturating_add(999));
                (ALL_EVENTS, "", Some(id))
            }
            None => (attribute_code("EventId"), id, None),
        },
        Some((attr, value)) => (attribute_code(attr), value, None),
        None => (ALL_EVENTS, "", None),
    };
    let bound = match q.from {
        Some((t, s)) if t <= end => (t, s),
        _ => (end, u64::MAX),
    };
    // An id lookup filters after loading: keep every candidate of its millisecond.
    let cap = if by_id.is_some() { usize::MAX } else { limit };
    let wanted = |pos: (i64, u64)| pos.0 >= start && pos <= bound;
    let mut hits: Vec<(i64, u64)> = Vec::new();
    if start <= end {
        let prefix = keyspace::event_chunk_prefix(account, region, code, value);
        let lower = keyspace::event_chunk_bound(prefix.clone(), bound.0.saturating_add(CHUNK_SPAN));
        let prefix_end = palisade_store::keys::prefix_end(&prefix.clone().finish());
        let mut scan_from = lower;
        let mut first = true;
        // Chunks come newest-first by their newest event; a buffered hit is final once
        // it is newer than the next chunk's newest event.
        let mut buffer: Vec<(i64, u64)> = Vec::new();
        'scan: loop {
            let range = palisade_store::Range {
                start: if first {
                    std::ops::Bound::Included(scan_from.as_slice())
                } else {
                    std::ops::Bound::Excluded(scan_from.as_slice())
                },
                end: if prefix_end.is_empty() {
                    std::ops::Bound::Unbounded
                } else {
                    std::ops::Bound::Excluded(prefix_end.as_slice())
                },
                reverse: false,
            };
            first = false;
            let rows = tx.scan(&range, 64)?;
            let done = rows.len() < 64;
            for (key, value) in &rows {
                let newest = keyspace::event_chunk_newest(key)
                    .ok_or_else(|| StoreError::Other("malformed event index key".into()))?;
                flush(&mut buffer, &mut hits, Some(newest));
                if hits.len() >= cap || newest < start {
                    break 'scan;
                }
                for entry in value.chunks_exact(16) {
                    let (t, sq) = entry.split_at(8);
                    let pos = (
                        i64::from_be_bytes(t.try_into().unwrap_or_default()),
                        u64::from_be_bytes(sq.try_into().unwrap_or_default()),
                    );
                    if wanted(pos) {
                        buffer.push(pos);
                    }
                }
            }
            match rows.last() {
                Some((k, _)) if !done => scan_from = k.clone(),
                _ => break,
            }
        }
        flush(&mut buffer, &mut hits, None);
    }
    let mut found: Vec<(Position, StoredEvent)> = Vec::with_capacity(limit.min(hits.len()));
    for pos in hits {
        if found.len() >= limit && by_id.is_none() {
            break;
        }
        if let Some(ev) = load_event(tx, pos.1)? {
            if by_id.is_none_or(|id| ev.event_id == id) {
                found.push((pos, ev));
            }
        }
    }
    // The unindexed tails: the last moments' events, which the indexer has not reached,
    // in the log and in the appended stream.
    let mut next = indexed_through(tx)?.saturating_add(1);
    let mut next_appended = appended_indexed(tx)?;
    loop {
        let mut tail = tx.log_read(next, 1024)?;
        if let Some(last) = tail.last().map(|r| r.0) {
            next = last.saturating_add(1);
        } else {
            let (appended, after) = tx.appended_read(next_appended, 1024)?;
            next_appended = after;
            tail = appended
                .into_iter()
                .map(|(pos, raw)| (pos | APPENDED, raw))
                .collect();
        }
        if tail.is_empty() {
            break;
        }
        for (seq, raw) in tail {
            let Ok(logged) = LoggedEvent::decode(&raw) else {
                continue;
            };
            let pos = (logged.event.event_time_micros, seq);
            if logged.account == account
                && logged.region == region
                && wanted(pos)
                && q.attribute.is_none_or(|(a, v)| logged.matches(a, v))
            {
                found.push((pos, logged.event));
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.truncate(limit);
    Ok(found)
}

/// Moves buffered hits newer than `below` (all of them when `None`) to `hits`, newest
/// first.
fn flush(buffer: &mut Vec<(i64, u64)>, hits: &mut Vec<(i64, u64)>, below: Option<i64>) {
    buffer.sort_unstable_by(|a, b| b.cmp(a));
    let n = match below {
        Some(t) => buffer.iter().take_while(|p| p.0 > t).count(),
        None => buffer.len(),
    };
    hits.extend(buffer.drain(..n));
}

/// The logged event with sequence number `seq`, if the log still holds it.
pub fn load_event(tx: &dyn ReadTx, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
    let found = if seq & APPENDED != 0 {
        let pos = seq & !APPENDED;
        tx.appended_read(pos, 1)?
            .0
            .into_iter()
            .next()
            .map(|(p, raw)| (p | APPENDED, raw))
    } else {
        tx.log_read(seq, 1)?.into_iter().next()
    };
    Ok(match found {
        Some((s, raw)) if s == seq => Some(LoggedEvent::decode(&raw)?.event),
        _ => None,
    })
}

/// Whether the data dir holds events in the layout of builds before the log (see
/// [`migrate_legacy_events`]).
pub fn legacy_events_present(tx: &dyn ReadTx) -> Result<bool, StoreError> {
    for table in keyspace::legacy_event_tables() {
        let mut end = Vec::new();
        if !tx
            .scan(&palisade_store::Range::prefix(&table, &mut end), 1)?
            .is_empty()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Moves events recorded by builds that kept them as keys (`ev/`, `evx/`) into the log,
/// where the indexer picks them up, and deletes the old keys. Runs at startup; a data dir
/// without such keys costs one empty scan. Returns how many events moved.
pub fn migrate_legacy_events(tx: &mut dyn WriteTx) -> Result<usize, StoreError> {
    let [events, indexes] = keyspace::legacy_event_tables();
    let events_end = palisade_store::keys::prefix_end(&events);
    let mut moved = 0;
    let mut from = events.clone();
    loop {
        let range = palisade_store::Range {
            start: std::ops::Bound::Excluded(from.as_slice()),
            end: std::ops::Bound::Excluded(events_end.as_slice()),
            reverse: false,
        };
        let batch = tx.scan(&range, 1000)?;
        let Some(last) = batch.last().map(|e| e.0.clone()) else {
            break;
        };
        for (key, value) in &batch {
            let mut d = Decoder::new(key);
            let (_, account, region) = (d.str()?, d.str()?, d.str()?);
            let ev = StoredEvent::decode(value)?;
            let head = Header {
                account: account.as_str().into(),
                region: region.as_str().into(),
                micros: ev.event_time_micros,
                event_id: ev.event_id.as_str().into(),
                event_name: ev.event_name.as_str().into(),
                event_source: ev.event_source.as_str().into(),
                read_only: ev.read_only,
                username: ev.username.as_str().into(),
                access_key_id: ev.access_key_id.as_str().into(),
                resources: borrowed(&ev.resources),
            };
            tx.log_append(&head.encode(&ev.cloud_trail_event))?;
            moved += 1;
        }
        from = last;
    }
    if moved > 0 {
        tx.delete_range(&events, Some(&events_end))?;
    }
    tx.delete_range(&indexes, Some(&palisade_store::keys::prefix_end(&indexes)))?;
    Ok(moved)
}

impl StoredEvent {
    /// Reads an event stored by earlier versions: the username, a NUL, then the
    /// CloudTrail record as JSON.
    pub fn decode(raw: &[u8]) -> Result<StoredEvent, StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Identity {
            #[serde(default)]
            access_key_id: String,
        }
        #[derive(serde::Deserialize)]
        struct Res {
            #[serde(rename = "type")]
            kind: String,
            #[serde(rename = "ARN")]
            arn: String,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            user_identity: Identity,
            event_time: String,
            event_source: String,
            event_name: String,
            #[serde(rename = "eventID")]
            event_id: String,
            read_only: bool,
            #[serde(default)]
            resources: Vec<Res>,
        }
        let bad = |what: &str| StoreError::Other(format!("event record: {what}"));
        let split = raw
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| bad("no separator"))?;
        let (user, rest) = raw.split_at(split);
        let json = rest.get(1..).unwrap_or_default();
        let head: Head = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
        let time =
            OffsetDateTime::parse(&head.event_time, &Rfc3339).map_err(|e| bad(&e.to_string()))?;
        Ok(StoredEvent {
            event_id: head.event_id,
            event_name: head.event_name,
            event_source: head.event_source,
            read_only: head.read_only,
            access_key_id: head.user_identity.access_key_id,
            username: String::from_utf8_lossy(user).into_owned(),
            event_time_micros: micros(time),
            resources: head
                .resources
                .into_iter()
                .map(|r| (r.kind, r.arn))
                .collect(),
            cloud_trail_event: String::from_utf8_lossy(json).into_owned(),
        })
    }
}

/// Time in microseconds since the epoch, clamped to i64.
pub fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_cut_at_1024_characters_on_a_char_boundary() {
        let short = "é".repeat(MAX_TEXT_CHARS);
        assert!(matches!(capped_text(&short), Cow::Borrowed(_)));
        let long = "é".repeat(MAX_TEXT_CHARS + 1);
        let cut = capped_text(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS);
        assert!(cut.ends_with("é..."));
        assert_eq!(cut.matches('é').count(), MAX_TEXT_CHARS - 3);
    }

    #[test]
    fn only_fields_over_100_kb_are_replaced_by_the_omitted_marker() {
        let small = serde_json::json!({"policyName": "p"});
        assert_eq!(omitted_if_large("requestParameters", &small).unwrap(), None);
        let at_limit = Value::String("x".repeat(MAX_ELEMENTS_BYTES - 2));
        assert_eq!(
            omitted_if_large("requestParameters", &at_limit).unwrap(),
            None
        );
        let over = Value::String("x".repeat(MAX_ELEMENTS_BYTES - 1));
        assert_eq!(
            omitted_if_large("responseElements", &over).unwrap(),
            Some(serde_json::json!({
                "reason": "responseElements too large",
                "omitted": true,
                "originalSize": MAX_ELEMENTS_BYTES + 1,
            }))
        );
    }
}
