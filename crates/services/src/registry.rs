//! The services Palisade answers for, with the wire facts from AWS's service models
//! (`botocore/data/<service>/<version>/service-2.json` metadata), and decoding of a call
//! into its service's [`Operation`](crate::Operation).

use crate::{
    error::ApiError,
    input::Input,
    service_models::{ServiceModel, SERVICE_MODELS},
    Operation,
};

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
            Some(Ok(op)) => {
                crate::model_checks::check(self.signing_name, action, input)?;
                Ok(op)
            }
            // A body that is no request at all (bad JSON or form encoding, a value of the
            // wrong type) is refused as such, before any constraint is looked at.
            Some(Err(e))
                if e.malformed
                    || matches!(
                        e.code.as_ref(),
                        "SerializationException" | "MalformedQueryString"
                    ) =>
            {
                Err(e)
            }
            // AWS's framework checks the model's constraints, all of them at once, before
            // the service looks at the request: a model violation is the answer even when
            // the service's own decoding refused something too (a missing member, a
            // combination it does not accept).
            Some(Err(e)) => {
                crate::model_checks::check(self.signing_name, action, input)?;
                Err(e)
            }
            None => Err(self.unknown_operation(action)),
        }
    }

    /// This service's botocore model (generated into [`crate::service_models`]).
    pub fn model(&self) -> Option<&'static ServiceModel> {
        model_by_signing_name(self.signing_name)
    }

    pub fn unknown_operation(&self, action: &str) -> ApiError {
        if self
            .model()
            .is_some_and(|m| m.operations.binary_search(&action).is_ok())
        {
            return not_implemented(self.signing_name, action);
        }
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

/// `s` cut to its first `max` characters (names echoed in error messages).
pub fn truncate(s: &str, max: usize) -> &str {
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
    ServiceInfo {
        signing_name: "kms",
        protocol: Protocol::Json11,
        target_prefix: Some("TrentService"),
        xml_namespace: None,
        api_version: "2014-11-01",
        event_source: "kms.amazonaws.com",
        global: false,
        decode: crate::kms::decode,
    },
    ServiceInfo {
        signing_name: "organizations",
        protocol: Protocol::Json11,
        target_prefix: Some("AWSOrganizationsV20161128"),
        xml_namespace: None,
        api_version: "2016-11-28",
        event_source: "organizations.amazonaws.com",
        global: true,
        decode: crate::organizations::decode,
    },
    ServiceInfo {
        signing_name: "secretsmanager",
        protocol: Protocol::Json11,
        target_prefix: Some("secretsmanager"),
        xml_namespace: None,
        api_version: "2017-10-17",
        event_source: "secretsmanager.amazonaws.com",
        global: false,
        decode: crate::secrets::decode,
    },
    ServiceInfo {
        signing_name: "ssm",
        protocol: Protocol::Json11,
        target_prefix: Some("AmazonSSM"),
        xml_namespace: None,
        api_version: "2014-11-06",
        event_source: "ssm.amazonaws.com",
        global: false,
        decode: crate::ssm::decode,
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

/// The botocore model of a service by its SigV4 signing name.
pub fn model_by_signing_name(name: &str) -> Option<&'static ServiceModel> {
    SERVICE_MODELS.iter().find(|m| m.signing_name == name)
}

/// A real AWS operation (or service) that Palisade does not implement yet: 501, named.
pub fn not_implemented(service: &str, action: &str) -> ApiError {
    let what = if action.is_empty() {
        format!("the {service} service")
    } else {
        format!("{service}:{}", truncate(action, 64))
    };
    ApiError::new(
        "NotImplemented",
        501,
        format!("Palisade does not implement {what} yet."),
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    /// The hand-written routing facts agree with botocore's models.
    #[test]
    fn services_match_their_botocore_models() {
        for s in SERVICES {
            let m = s
                .model()
                .unwrap_or_else(|| panic!("no model for {}", s.signing_name));
            let protocol = match s.protocol {
                Protocol::Query => "query",
                Protocol::Json10 | Protocol::Json11 => "json",
                Protocol::RestXml => "rest-xml",
                Protocol::RestJson => "rest-json",
            };
            assert!(
                m.protocols.contains(&protocol),
                "{}: {protocol} not in {:?}",
                s.signing_name,
                m.protocols
            );
            assert_eq!(s.target_prefix, m.target_prefix, "{}", s.signing_name);
            assert_eq!(s.xml_namespace, m.xml_namespace, "{}", s.signing_name);
            assert_eq!(s.api_version, m.api_version, "{}", s.signing_name);
            if s.protocol == Protocol::Json10 {
                assert_eq!(m.json_version, Some("1.0"));
            }
            if s.protocol == Protocol::Json11 {
                assert_eq!(m.json_version, Some("1.1"));
            }
        }
    }

    #[test]
    fn operation_lists_are_sorted_for_binary_search() {
        for m in SERVICE_MODELS {
            assert!(m.operations.windows(2).all(|w| w[0] < w[1]), "{}", m.name);
        }
    }

    /// Each service implements some of its model's operations, unknown names are
    /// refused as AWS does, and model operations not implemented answer NotImplemented.
    #[test]
    fn decoding_follows_the_models() {
        for s in SERVICES {
            let m = s.model().unwrap();
            let implemented = m
                .operations
                .iter()
                .filter(|op| (s.decode)(op, &Input::Json(b"{}")).is_some())
                .count();
            assert!(implemented > 0, "{} implements nothing", s.signing_name);
            assert!((s.decode)("NoSuchActionAnywhere", &Input::Json(b"{}")).is_none());
            let unknown = s
                .decode("NoSuchActionAnywhere", &Input::Json(b"{}"))
                .err()
                .unwrap();
            assert_eq!(unknown.status, 400);
            if let Some(missing) = m
                .operations
                .iter()
                .find(|op| (s.decode)(op, &Input::Json(b"{}")).is_none())
            {
                let e = s.decode(missing, &Input::Json(b"{}")).err().unwrap();
                assert_eq!((e.code.as_ref(), e.status), ("NotImplemented", 501));
            }
        }
    }
}
