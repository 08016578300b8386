//! awsQuery responses as bytes on the wire. Each expected document is a file in
//! `query_fixtures/`; `query_botocore.py` parses the same files with botocore's real
//! `QueryParser` against the real service models, so these strings are the ones the
//! aws CLI and boto3 are known to accept. Regenerate after an intended change with
//! `BLESS=1 cargo test -p palisade-protocol --test query_xml`, then rerun the Python check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use palisade_protocol::query::{from_params, parse_form, QueryError};
use palisade_protocol::xml::{error_xml, to_xml};
use serde::{Deserialize, Serialize};

const IAM: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const STS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const SNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
const CW: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/query_fixtures")
        .join(format!("{name}.xml"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1)", path.display()));
    assert_eq!(got, want, "{name}");
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetCallerIdentityResponse {
    user_id: String,
    account: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttachedPermissionsBoundary {
    permissions_boundary_type: String,
    permissions_boundary_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    path: String,
    user_name: String,
    user_id: String,
    arn: String,
    create_date: String,
    password_last_used: Option<String>,
    permissions_boundary: Option<AttachedPermissionsBoundary>,
    tags: Option<Vec<Tag>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetUserResponse {
    user: User,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListUsersResponse {
    users: Vec<User>,
    is_truncated: bool,
    marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetAccountSummaryResponse {
    summary_map: BTreeMap<String, i32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetTopicAttributesResponse {
    attributes: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Datapoint {
    timestamp: String,
    sample_count: Option<f64>,
    sum: Option<f64>,
    unit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetMetricStatisticsOutput {
    label: String,
    datapoints: Vec<Datapoint>,
}

fn user(name: &str) -> User {
    User {
        path: "/".into(),
        user_name: name.into(),
        user_id: "AIDAEXAMPLEEXAMPLE01".into(),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        create_date: "2024-05-01T12:00:00Z".into(),
        password_last_used: None,
        permissions_boundary: None,
        tags: None,
    }
}

#[test]
fn sts_get_caller_identity() {
    let got = to_xml(
        "GetCallerIdentity",
        STS,
        Some(&GetCallerIdentityResponse {
            user_id: "123456789012".into(),
            account: "123456789012".into(),
            arn: "arn:aws:iam::123456789012:root".into(),
        }),
        "01234567-89ab-cdef-0123-456789abcdef",
    );
    check("sts_get_caller_identity", &got);
}

#[test]
fn iam_get_user() {
    let mut u = user("bob");
    u.password_last_used = Some("2024-05-02T08:30:00Z".into());
    u.permissions_boundary = Some(AttachedPermissionsBoundary {
        permissions_boundary_type: "Policy".into(),
        permissions_boundary_arn: "arn:aws:iam::aws:policy/PowerUserAccess".into(),
    });
    u.tags = Some(vec![
        Tag {
            key: "team".into(),
            value: "R&D <core>".into(),
        },
        Tag {
            key: "quote".into(),
            value: "it's \"fine\"\r\n".into(),
        },
    ]);
    let got = to_xml(
        "GetUser",
        IAM,
        Some(&GetUserResponse { user: u }),
        "req-get-user",
    );
    check("iam_get_user", &got);
}

#[test]
fn iam_list_users() {
    let got = to_xml(
        "ListUsers",
        IAM,
        Some(&ListUsersResponse {
            users: vec![user("alice"), user("bob")],
            is_truncated: true,
            marker: Some("bWFya2Vy".into()),
        }),
        "req-list",
    );
    check("iam_list_users", &got);
    let empty = to_xml(
        "ListUsers",
        IAM,
        Some(&ListUsersResponse {
            users: vec![],
            is_truncated: false,
            marker: None,
        }),
        "req-list-empty",
    );
    check("iam_list_users_empty", &empty);
}

#[test]
fn iam_get_account_summary() {
    let got = to_xml(
        "GetAccountSummary",
        IAM,
        Some(&GetAccountSummaryResponse {
            summary_map: BTreeMap::from([
                ("Users".into(), 2),
                ("UsersQuota".into(), 5000),
                ("AccountMFAEnabled".into(), 0),
            ]),
        }),
        "req-summary",
    );
    check("iam_get_account_summary", &got);
}

#[test]
fn iam_delete_user_has_no_result() {
    check(
        "iam_delete_user",
        &to_xml::<()>("DeleteUser", IAM, None, "req-delete"),
    );
}

#[test]
fn sns_get_topic_attributes() {
    let got = to_xml(
        "GetTopicAttributes",
        SNS,
        Some(&GetTopicAttributesResponse {
            attributes: BTreeMap::from([
                (
                    "TopicArn".into(),
                    "arn:aws:sns:us-east-1:123456789012:t".into(),
                ),
                (
                    "Policy".into(),
                    r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
                ),
            ]),
        }),
        "req-sns",
    );
    check("sns_get_topic_attributes", &got);
}

#[test]
fn cloudwatch_get_metric_statistics() {
    let got = to_xml(
        "GetMetricStatistics",
        CW,
        Some(&GetMetricStatisticsOutput {
            label: "Latency".into(),
            datapoints: vec![Datapoint {
                timestamp: "2024-01-02T03:04:00Z".into(),
                sample_count: Some(3.0),
                sum: Some(0.1 + 0.2),
                unit: Some("Milliseconds".into()),
            }],
        }),
        "req-cw",
    );
    check("cw_get_metric_statistics", &got);
}

#[test]
fn errors() {
    check(
        "error_iam_no_such_entity",
        &error_xml(
            "NoSuchEntity",
            "The user with name nobody cannot be found.",
            true,
            "req-err-1",
            Some(IAM),
        ),
    );
    check(
        "error_sns_internal",
        &error_xml(
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            false,
            "req-err-2",
            Some(SNS),
        ),
    );
    // A decode error, end to end: body -> QueryError -> awsQuery error document.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct AssumeRoleRequest {
        role_arn: String,
        role_session_name: String,
        duration_seconds: Option<i32>,
    }
    let err = from_params::<AssumeRoleRequest>(
        &parse_form(b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn&DurationSeconds=9").unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        QueryError::Missing {
            param: "RoleSessionName".into()
        }
    );
    let (status, code, message) = err.aws_error();
    assert_eq!(status, 400);
    check(
        "error_sts_validation",
        &error_xml(code, &message, true, "req-err-3", Some(STS)),
    );
}
