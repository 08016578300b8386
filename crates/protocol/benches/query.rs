//! awsQuery codec throughput: decoding a typical 10-parameter request and encoding typical
//! GetCallerIdentity / GetUser results. `cargo bench -p palisade-protocol --bench query`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use palisade_protocol::query::{from_params, parse_form};
use palisade_protocol::xml::{error_xml, to_xml};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct CreateRoleRequest {
    path: Option<String>,
    role_name: String,
    assume_role_policy_document: String,
    description: Option<String>,
    max_session_duration: Option<i32>,
    permissions_boundary: Option<String>,
    tags: Option<Vec<Tag>>,
}

/// 10 parameters, as botocore sends a CreateRole with two tags.
const CREATE_ROLE: &str = "Action=CreateRole&Version=2010-05-08&RoleName=deploy-bot\
&Path=%2Fservice%2F&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement\
%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com\
%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D&MaxSessionDuration=3600\
&Tags.member.1.Key=team&Tags.member.1.Value=platform&Tags.member.2.Key=env&Tags.member.2.Value=prod";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetCallerIdentityResponse {
    user_id: &'static str,
    account: &'static str,
    arn: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct OutTag {
    key: &'static str,
    value: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    path: &'static str,
    user_name: &'static str,
    user_id: &'static str,
    arn: &'static str,
    create_date: &'static str,
    password_last_used: Option<&'static str>,
    tags: Vec<OutTag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetUserResponse {
    user: User,
}

fn bench(c: &mut Criterion) {
    assert_eq!(parse_form(CREATE_ROLE.as_bytes()).unwrap().len(), 10);

    c.bench_function("query/parse_form+from_params CreateRole (10 params)", |b| {
        b.iter(|| {
            let p = parse_form(black_box(CREATE_ROLE.as_bytes())).unwrap();
            let r: CreateRoleRequest = from_params(&p).unwrap();
            black_box(r)
        })
    });
    let params = parse_form(CREATE_ROLE.as_bytes()).unwrap();
    c.bench_function("query/from_params CreateRole (10 params)", |b| {
        b.iter(|| black_box(from_params::<CreateRoleRequest>(black_box(&params)).unwrap()))
    });

    let gci = GetCallerIdentityResponse {
        user_id: "AIDAEXAMPLEEXAMPLE01",
        account: "123456789012",
        arn: "arn:aws:iam::123456789012:user/bob",
    };
    c.bench_function("xml/to_xml GetCallerIdentity", |b| {
        b.iter(|| {
            black_box(to_xml(
                "GetCallerIdentity",
                "https://sts.amazonaws.com/doc/2011-06-15/",
                Some(black_box(&gci)),
                "01234567-89ab-cdef-0123-456789abcdef",
            ))
        })
    });

    let user = GetUserResponse {
        user: User {
            path: "/",
            user_name: "bob",
            user_id: "AIDAEXAMPLEEXAMPLE01",
            arn: "arn:aws:iam::123456789012:user/bob",
            create_date: "2024-05-01T12:00:00Z",
            password_last_used: Some("2024-05-02T08:30:00Z"),
            tags: vec![
                OutTag {
                    key: "team",
                    value: "platform & infra",
                },
                OutTag {
                    key: "env",
                    value: "prod",
                },
            ],
        },
    };
    c.bench_function("xml/to_xml GetUser (2 tags)", |b| {
        b.iter(|| {
            black_box(to_xml(
                "GetUser",
                "https://iam.amazonaws.com/doc/2010-05-08/",
                Some(black_box(&user)),
                "01234567-89ab-cdef-0123-456789abcdef",
            ))
        })
    });

    c.bench_function("xml/error_xml", |b| {
        b.iter(|| {
            black_box(error_xml(
                "NoSuchEntity",
                black_box("The user with name bob cannot be found."),
                true,
                "01234567-89ab-cdef-0123-456789abcdef",
                Some("https://iam.amazonaws.com/doc/2010-05-08/"),
            ))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
