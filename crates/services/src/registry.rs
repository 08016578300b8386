//! The services Palisade answers for, with the wire facts from AWS's service models
//! (`botocore/data/<service>/<version>/service-2.json` metadata), and decoding of a call
//! into its service's [`Operation`](crate::Operation).

use crate::{error::ApiError, input::Input, Operation};

/// AWS wire protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Query,
    Json10,
    Json11,
    RestXml,
    RestJson,
}

/// A service's action decoder: `None` when the action is not one of its own.
pub type Decoder = fn(&str, &Input<'_>) -> Option<Result<Box<dyn Operation>, ApiError>>;

/// One AWS service as clients address it.
#[derive(Debug)]
pub struct ServiceInfo {
    /// SigV4 signing name (credential scope service), e.g. `sts`.
    pub signing_name: &'static str,
    pub protocol: Protocol,
    /// awsJson `X-Amz-Target` prefix.
    pub target_prefix: Option<&'static str>,
    /// awsQuery response namespace.
    pub xml_namespace: Option<&'static str>,
    pub api_version: &'static str,
    /// CloudTrail `eventSource`.
    pub event_source: &'static str,
    /// Global services record their events in us-east-1, whatever the signing region.
    pub global: bool,
    /// Decodes an action of this service; `None` when the action is unknown.
    decode: Decoder,
}

impl ServiceInfo {
    /// Decodes `action`, answering AWS's unknown-operation error for this protocol.
    pub fn decode(&self, action: &str, input: &Input<'_>) -> Result<Box<dyn Operation>, ApiError> {
        match (self.decode)(action, input) {
            Some(result) => result,
            None => Err(self.unknown_operation(action)),
        }
    }

    pub fn unknown_operation(&self, action: &str) -> ApiError {
        match self.protocol {
            Protocol::Query => ApiError::new(
                "InvalidAction",
                400,
                format!(
                    "Could not find operation {} for version {}",
                    truncate(action, 64),
                    self.api_version
                ),
            ),
            _ => ApiError::new("UnknownOperationException", 400, ""),
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

// Facts from botocore's service-2.json metadata (apiVersion, protocol, targetPrefix,
// xmlNamespace); eventSource is `<endpointPrefix>.amazonaws.com` as CloudTrail logs it.
static SERVICES: &[ServiceInfo] = &[
    ServiceInfo {
        signing_name: "iam",
        protocol: Protocol::Query,
        target_prefix: None,
        xml_namespace: Some("https://iam.amazonaws.com/doc/2010-05-08/"),
        api_version: "2010-05-08",
        event_source: "iam.amazonaws.com",
        global: true,
        decode: crate::iam::decode,
    },
    ServiceInfo {
        signing_name: "sts",
        protocol: Protocol::Query,
        target_prefix: None,
        xml_namespace: Some("https://sts.amazonaws.com/doc/2011-06-15/"),
        api_version: "2011-06-15",
        event_source: "sts.amazonaws.com",
        global: false,
        decode: crate::sts::decode,
    },
    ServiceInfo {
        signing_name: "cloudtrail",
        protocol: Protocol::Json11,
        target_prefix: Some("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"),
        xml_namespace: None,
        api_version: "2013-11-01",
        event_source: "cloudtrail.amazonaws.com",
        global: false,
        decode: crate::cloudtrail::decode,
    },
];

/// Looks a service up by its SigV4 signing name.
pub fn by_signing_name(name: &str) -> Option<&'static ServiceInfo> {
    SERVICES.iter().find(|s| s.signing_name == name)
}

/// Looks a service up by the prefix of an `X-Amz-Target` header (`Prefix.Action`).
/// CloudTrail also accepts its short prefix `CloudTrail_20131101`, as AWS does.
pub fn by_target(target: &str) -> Option<(&'static ServiceInfo, &str)> {
    let (prefix, action) = target.rsplit_once('.')?;
    SERVICES
        .iter()
        .find(|s| {
            s.target_prefix.is_some_and(|p| {
                p == prefix || p.rsplit_once('.').is_some_and(|(_, short)| short == prefix)
            })
        })
        .map(|s| (s, action))
}
