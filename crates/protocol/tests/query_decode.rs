//! Decoding request bodies exactly as botocore's QuerySerializer produced them (the
//! `.form` fixtures were generated with botocore 1.43 from the real service models).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, HashMap};

use palisade_protocol::query::{from_params, parse_form, QueryError};
use serde::Deserialize;

fn decode<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, QueryError> {
    from_params(&parse_form(body.as_bytes())?)
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct CreateUserRequest {
    path: Option<String>,
    user_name: String,
    permissions_boundary: Option<String>,
    tags: Option<Vec<Tag>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct TagUserRequest {
    user_name: String,
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct MessageAttributeValue {
    data_type: String,
    string_value: Option<String>,
    binary_value: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct PublishInput {
    topic_arn: Option<String>,
    message: String,
    subject: Option<String>,
    message_attributes: Option<HashMap<String, MessageAttributeValue>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct CreateTopicInput {
    name: String,
    attributes: Option<BTreeMap<String, String>>,
    tags: Option<Vec<Tag>>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct Dimension {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize, PartialEq)]
enum StandardUnit {
    Seconds,
    Milliseconds,
    Count,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct MetricDatum {
    metric_name: String,
    dimensions: Option<Vec<Dimension>>,
    timestamp: Option<String>,
    value: Option<f64>,
    values: Option<Vec<f64>>,
    counts: Option<Vec<f64>>,
    unit: Option<StandardUnit>,
    storage_resolution: Option<i32>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct PutMetricDataInput {
    namespace: String,
    metric_data: Vec<MetricDatum>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct PolicyDescriptorType {
    arn: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
struct AssumeRoleRequest {
    role_arn: String,
    role_session_name: String,
    policy_arns: Option<Vec<PolicyDescriptorType>>,
    duration_seconds: Option<i32>,
    transitive_tag_keys: Option<Vec<String>>,
    external_id: Option<String>,
}

#[test]
fn iam_create_user() {
    let got: CreateUserRequest =
        decode(include_str!("query_fixtures/iam_create_user.form")).unwrap();
    assert_eq!(
        got,
        CreateUserRequest {
            path: Some("/eng/".into()),
            user_name: "bob".into(),
            permissions_boundary: None,
            tags: Some(vec![
                Tag {
                    key: "team".into(),
                    value: "a&b c".into()
                },
                Tag {
                    key: "cost=center".into(),
                    value: "ünï".into()
                },
            ]),
        }
    );
}

#[test]
fn iam_tag_user_with_empty_list() {
    let got: TagUserRequest =
        decode(include_str!("query_fixtures/iam_tag_user_empty_tags.form")).unwrap();
    assert_eq!(
        got,
        TagUserRequest {
            user_name: "bob".into(),
            tags: vec![]
        }
    );
    // Without the `Tags=` botocore sends, a required list is missing.
    let err = decode::<TagUserRequest>("Action=TagUser&UserName=bob").unwrap_err();
    assert_eq!(
        err.aws_error(),
        (
            400,
            "ValidationError",
            "1 validation error detected: Value null at 'tags' failed to satisfy constraint: \
             Member must not be null"
                .to_string()
        )
    );
}

#[test]
fn sns_publish_message_attributes() {
    let got: PublishInput = decode(include_str!("query_fixtures/sns_publish.form")).unwrap();
    assert_eq!(
        got.topic_arn.as_deref(),
        Some("arn:aws:sns:us-east-1:123456789012:t")
    );
    assert_eq!(got.message, "hello + world\n");
    assert_eq!(got.subject, None);
    let attrs = got.message_attributes.unwrap();
    assert_eq!(attrs.len(), 2);
    assert_eq!(
        attrs["color"],
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some("red".into()),
            binary_value: None
        }
    );
    assert_eq!(attrs["raw"].binary_value.as_deref(), Some("AP9oaQ=="));
}

#[test]
fn sns_create_topic_attributes_map() {
    let got: CreateTopicInput =
        decode(include_str!("query_fixtures/sns_create_topic.form")).unwrap();
    assert_eq!(
        got,
        CreateTopicInput {
            name: "t".into(),
            attributes: Some(BTreeMap::from([
                ("DisplayName".into(), "D".into()),
                ("FifoTopic".into(), "false".into()),
            ])),
            tags: Some(vec![Tag {
                key: "k".into(),
                value: "v".into()
            }]),
        }
    );
}

#[test]
fn cloudwatch_put_metric_data_nested_lists() {
    let got: PutMetricDataInput =
        decode(include_str!("query_fixtures/cw_put_metric_data.form")).unwrap();
    assert_eq!(got.namespace, "App");
    assert_eq!(
        got.metric_data,
        vec![
            MetricDatum {
                metric_name: "Latency".into(),
                dimensions: Some(vec![Dimension {
                    name: "Op".into(),
                    value: "Get".into()
                }]),
                timestamp: Some("2024-01-02T03:04:05Z".into()),
                value: Some(1.25),
                values: None,
                counts: None,
                unit: Some(StandardUnit::Milliseconds),
                storage_resolution: Some(1),
            },
            MetricDatum {
                metric_name: "Count".into(),
                dimensions: None,
                timestamp: None,
                value: None,
                values: Some(vec![1.0, 2.0]),
                counts: Some(vec![3.0, 4.0]),
                unit: None,
                storage_resolution: None,
            },
        ]
    );
}

#[test]
fn sts_assume_role() {
    let got: AssumeRoleRequest =
        decode(include_str!("query_fixtures/sts_assume_role.form")).unwrap();
    assert_eq!(
        got,
        AssumeRoleRequest {
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            role_session_name: "ss".into(),
            policy_arns: Some(vec![PolicyDescriptorType {
                arn: Some("arn:aws:iam::aws:policy/ReadOnlyAccess".into())
            }]),
            duration_seconds: Some(900),
            transitive_tag_keys: Some(vec!["a".into(), "b".into()]),
            external_id: None,
        }
    );
}

#[test]
fn get_query_string_decodes_the_same() {
    // GET ?Action=...: the same codec reads the URL query string.
    let got: AssumeRoleRequest = decode(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr\
         &RoleSessionName=s%20s&DurationSeconds=3600&X-Amz-Signature=abc",
    )
    .unwrap();
    assert_eq!(got.role_session_name, "s s");
    assert_eq!(got.duration_seconds, Some(3600));
}
