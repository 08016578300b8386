//! The CloudTrail event history: one record per call AWS would log, written in the same
//! transaction as the call's effect, and the indexes `LookupEvents` reads.
//!
//! Layout (see [`crate::keyspace`]): the event itself under
//! `ev/<account>/<region>/<newest-first time>/<event id>`, and one index entry per lookup
//! attribute under `evx/<account>/<region>/<attribute>/<value>/<time>/<event id>` whose
//! value is the event's key. Every `LookupEvents` query is one range scan.

use crate::{context::RequestContext, error::ApiError, keyspace, registry::ServiceInfo, Reply};
use palisade_store::{StoreError, WriteTx};
use serde_json::Value;
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
                account_id: s.issuer_arn.split(':').nth(4).unwrap_or(&p.account_id),
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
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
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

/// Builds the CloudTrail record of `call` and writes it with its lookup indexes.
pub fn record(tx: &mut dyn WriteTx, call: Call<'_>) -> Result<StoredEvent, StoreError> {
    let ctx = call.ctx;
    let p = &ctx.principal;
    let event_id = uuid::Uuid::new_v4().to_string();
    let region = event_region(call.service, ctx);
    let (reply, error) = match call.outcome {
        Ok(reply) => (Some(reply), None),
        Err(err) => (None, Some(err)),
    };
    let resources: Vec<(String, String)> = reply.map(|r| r.resources.clone()).unwrap_or_default();
    let record = Record {
        event_version: "1.09",
        user_identity: UserIdentity {
            kind: p.kind.as_str(),
            principal_id: &p.principal_id,
            arn: &p.arn,
            account_id: &p.account_id,
            access_key_id: &p.access_key_id,
            user_name: (p.kind == crate::PrincipalKind::IAMUser).then_some(p.user_name.as_str()),
            session_context: SessionContextJson::of(p),
        },
        event_time: ctx
            .now
            .replace_nanosecond(0)
            .unwrap_or(ctx.now)
            .format(&Rfc3339)
            .unwrap_or_default(),
        event_source: call.service.event_source,
        event_name: call.event_name,
        aws_region: region,
        source_ip_address: &ctx.source_ip,
        user_agent: &ctx.user_agent,
        error_code: error.map(|e| e.code.as_ref()),
        // Internal failures carry AWS's generic message only, never the detail.
        error_message: error.map(|e| e.message.as_str()),
        request_parameters: call.request_parameters.as_ref(),
        response_elements: reply.and_then(|r| r.response_elements.as_ref()),
        request_id: &ctx.request_id,
        event_id: &event_id,
        read_only: call.read_only,
        resources: resources
            .iter()
            .map(|(kind, arn)| ResourceRef {
                account_id: &p.account_id,
                kind,
                arn,
            })
            .collect(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: &p.account_id,
        event_category: "Management",
    };
    let cloud_trail_event =
        serde_json::to_string(&record).map_err(|e| StoreError::Other(e.to_string()))?;
    let stored = StoredEvent {
        event_id,
        event_name: call.event_name.to_owned(),
        event_source: call.service.event_source.to_owned(),
        read_only: call.read_only,
        access_key_id: p.access_key_id.clone(),
        username: p.user_name.clone(),
        event_time_micros: micros(ctx.now),
        resources,
        cloud_trail_event,
    };
    write_event(tx, &p.account_id, region, &stored)?;
    let mut others: Vec<&String> = call
        .resource_accounts
        .iter()
        .filter(|a| **a != p.account_id)
        .collect();
    others.sort();
    others.dedup();
    if !others.is_empty() {
        let mut copy: Value = serde_json::from_str(&stored.cloud_trail_event)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        for account in others {
            let copy_id = uuid::Uuid::new_v4().to_string();
            if let Some(obj) = copy.as_object_mut() {
                obj.insert("eventID".into(), Value::String(copy_id.clone()));
                obj.insert("recipientAccountId".into(), Value::String(account.clone()));
                obj.insert(
                    "sharedEventID".into(),
                    Value::String(stored.event_id.clone()),
                );
            }
            let copy_event = StoredEvent {
                event_id: copy_id,
                cloud_trail_event: copy.to_string(),
                ..stored.clone()
            };
            write_event(tx, account, region, &copy_event)?;
        }
    }
    Ok(stored)
}

impl StoredEvent {
    /// The stored form: the username, a NUL, then the CloudTrail record as JSON. Every
    /// other lookup field is in the record, so nothing is stored twice (the writer's
    /// cost grows with the bytes it writes).
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.username.len() + 1 + self.cloud_trail_event.len());
        out.extend_from_slice(self.username.as_bytes());
        out.push(0);
        out.extend_from_slice(self.cloud_trail_event.as_bytes());
        out
    }

    /// Reads what [`StoredEvent::encode`] wrote.
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

fn write_event(
    tx: &mut dyn WriteTx,
    account: &str,
    region: &str,
    ev: &StoredEvent,
) -> Result<(), StoreError> {
    let key = keyspace::event(account, region, ev.event_time_micros, &ev.event_id);
    tx.put(&key, &ev.encode())?;
    let read_only = if ev.read_only { "true" } else { "false" };
    // Index entries carry no value: the event's key is rebuilt from the entry's own
    // time and id (see `keyspace::event_key_from_index`).
    let mut index = |attr: &str, value: &str| -> Result<(), StoreError> {
        tx.put(
            &keyspace::event_index(
                account,
                region,
                attr,
                value,
                ev.event_time_micros,
                &ev.event_id,
            ),
            &[],
        )
    };
    index("EventId", &ev.event_id)?;
    index("EventName", &ev.event_name)?;
    index("ReadOnly", read_only)?;
    index("Username", &ev.username)?;
    index("EventSource", &ev.event_source)?;
    index("AccessKeyId", &ev.access_key_id)?;
    for (ty, name) in &ev.resources {
        index("ResourceType", ty)?;
        index("ResourceName", name)?;
    }
    Ok(())
}

/// Time in microseconds since the epoch, clamped to i64.
pub fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}
