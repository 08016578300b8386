use super::*;

/// (name, policy type, document, expected issue codes in order). Order: statements in
/// document order; within a JSON object, keys in sorted order (serde_json's map).
type Case = (
    &'static str,
    PolicyType,
    &'static str,
    &'static [&'static str],
);

const ID: PolicyType = PolicyType::Identity;
const RES: PolicyType = PolicyType::Resource;

const CASES: &[Case] = &[
    ("clean identity policy", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#,
     &[]),
    ("statement object, not array", ID,
     r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":["s3:*"],"Resource":"*"}}"#,
     &[]),
    ("missing resource in identity policy", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
     &["MISSING_RESOURCE"]),
    ("missing effect and action", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Resource":"*"}]}"#,
     &["MISSING_EFFECT", "MISSING_ACTION"]),
    ("bad effect", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["INVALID_EFFECT"]),
    ("effect wrong type", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":1,"Action":"s3:GetObject","Resource":"*"}]}"#,
     &["DATA_TYPE_MISMATCH"]),
    ("missing version", ID,
     r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["MISSING_VERSION"]),
    ("invalid version", ID,
     r#"{"Version":"2012-10-18","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["INVALID_VERSION"]),
    ("old version is accepted", ID,
     r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &[]),
    ("variable needs 2012 version", ID,
     r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}"#,
     &["VARIABLE_UNSUPPORTED_IN_VERSION"]),
    ("variable missing brace", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username/*"}]}"#,
     &["MISSING_BRACE_IN_VARIABLE"]),
    ("missing statement", ID, r#"{"Version":"2012-10-17"}"#, &["MISSING_STATEMENT"]),
    ("empty statement array", ID, r#"{"Version":"2012-10-17","Statement":[]}"#, &["MISSING_STATEMENT"]),
    ("policy not an object", ID, r#"[1,2]"#, &["DATA_TYPE_MISMATCH"]),
    ("statement not an object", ID, r#"{"Version":"2012-10-17","Statement":["x"]}"#, &["DATA_TYPE_MISMATCH"]),
    ("unknown top-level element", ID,
     r#"{"Version":"2012-10-17","Foo":1,"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["INVALID_POLICY_ELEMENT"]),
    ("unknown statement element, wrong case", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","action":"s3:GetObject","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["INVALID_POLICY_ELEMENT"]),
    ("principal in identity policy", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["UNSUPPORTED_PRINCIPAL"]),
    ("principal in scp", PolicyType::ServiceControl,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
     &["SCP_SYNTAX_ERROR_PRINCIPAL"]),
    ("missing principal in resource policy", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
     &["MISSING_PRINCIPAL"]),
    ("good resource policy", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"Public read","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","111122223333","arn:aws:sts::111122223333:assumed-role/r/s"],"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
     &[]),
    ("legacy CloudFront OAI principal", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"1","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity EAF5XXXXXXXXX"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
     &[]),
    ("cloudfront account outside the OAI form", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity ","arn:aws:iam::cloudfront:user/someone","arn:aws:iam::cloudfront:role/CloudFront Origin Access Identity E1"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
     &["INVALID_ARN_ACCOUNT", "INVALID_ARN_ACCOUNT", "INVALID_ARN_ACCOUNT"]),
    ("bad principal key and format", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Aws":"x","AWS":["alice","arn:aws:iam::*:role/x"],"Service":"Lambda"},"Action":"s3:GetObject","Resource":"*"}]}"#,
     &["INVALID_PRINCIPAL_FORMAT", "UNSUPPORTED_WILDCARD_IN_PRINCIPAL", "INVALID_PRINCIPAL_KEY", "INVALID_SERVICE_PRINCIPAL_FORMAT"]),
    ("trust policy", PolicyType::RoleTrust,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
     &[]),
    ("trust policy with resource", PolicyType::RoleTrust,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}"#,
     &["INVALID_POLICY_ELEMENT"]),
    ("trust policy sid", PolicyType::RoleTrust,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"ec2-assume","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
     &["UNSUPPORTED_SID"]),
    ("both action and notaction", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}]}"#,
     &["UNSUPPORTED_ELEMENT_COMBINATION"]),
    ("allow with notaction and notresource", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}]}"#,
     &["ALLOW_WITH_NOT_ACTION", "ALLOW_WITH_NOT_RESOURCE"]),
    ("deny with notaction is fine", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}"#,
     &[]),
    ("malformed action", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["GetObject","s3:"],"Resource":"*"}]}"#,
     &["INVALID_ACTION_FORMAT", "INVALID_ACTION_FORMAT"]),
    ("unknown service and action", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["nosuchsvc:Get","s3:GetObjekt","s3:get*","S3:GETOBJECT"],"Resource":"*"}]}"#,
     &["INVALID_SERVICE_IN_ACTION", "INVALID_ACTION", "REDUNDANT_ACTION", "REDUNDANT_ACTION"]),
    ("wildcard matching no action", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Frobnicate*","Resource":"*"}]}"#,
     &["INVALID_ACTION"]),
    ("wildcard in service name", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s*:GetObject","Resource":"*"}]}"#,
     &["WILDCARD_IN_SERVICE_NAME"]),
    ("empty action array", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
     &["EMPTY_ARRAY_ACTION"]),
    ("action wrong type", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject",3],"Resource":"*"}]}"#,
     &["DATA_TYPE_MISMATCH"]),
    ("bad arns", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["bucket/key","arn:aws:s3","arn:aws-xx:s3:::b","arn:aws:S3:::b","arn:aws:s3:mars-1:111122223333:x","arn:aws:s3::12345:b"]}]}"#,
     &["INVALID_ARN_PREFIX", "MISSING_ARN_FIELD", "INVALID_PARTITION", "INVALID_ARN_SERVICE_CASE", "INVALID_REGION", "INVALID_ARN_ACCOUNT"]),
    ("good arns", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:StartInstances","Resource":["arn:aws:ec2:us-east-1:111122223333:instance/*","arn:aws-us-gov:ec2:us-gov-west-1:*:instance/i-1","arn:*:ec2:*:*:instance/${aws:PrincipalTag/id}"]}]}"#,
     &[]),
    ("redundant resource", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b/k"]}]}"#,
     &["REDUNDANT_RESOURCE"]),
    ("passrole on star", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}"#,
     &["PASS_ROLE_WITH_STAR_IN_RESOURCE"]),
    ("passrole via wildcard", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Pass*","Resource":"*"}]}"#,
     &["PASS_ROLE_WITH_STAR_IN_RESOURCE"]),
    ("passrole on named role", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/app"}]}"#,
     &[]),
    ("duplicate sids in identity policy", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
     &["UNIQUE_SIDS_REQUIRED"]),
    ("duplicate sids in resource policy", RES,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*"}]}"#,
     &["UNIQUE_SIDS_RECOMMENDED"]),
    ("sid characters and empty sid", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"read only","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#,
     &["UNSUPPORTED_SID", "EMPTY_SID_VALUE"]),
    ("redundant statement", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"B","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
     &["REDUNDANT_STATEMENT"]),
    ("good conditions", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]},"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"StringLike":{"s3:prefix":["home/${aws:username}/*"],"aws:PrincipalTag/team":"dev*"},"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:t"},"Null":{"aws:TokenIssueTime":"false"},"StringEqualsIfExists":{"s3:ExistingObjectTag/owner":"me"}}}]}"#,
     &[]),
    ("bad operator and null ifexists", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqual":{"aws:username":"a"},"NullIfExists":{"aws:username":"true"}}}]}"#,
     &["NULL_WITH_IF_EXISTS", "INVALID_CONDITION_OPERATOR"]),
    ("unknown condition keys", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:NoSuchKey":"a","s3:NoSuchKey":"b","nosvc:Key":"c","nocolon":"d"}}}]}"#,
     &["INVALID_GLOBAL_CONDITION_KEY", "INVALID_CONDITION_KEY_FORMAT", "INVALID_SERVICE_CONDITION_KEY", "INVALID_SERVICE_CONDITION_KEY"]),
    ("operator type mismatch", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":"203.0.113.5"},"NumericLessThan":{"aws:username":"5"}}}]}"#,
     &["TYPE_MISMATCH", "TYPE_MISMATCH"]),
    ("value format mismatches", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"},"DateLessThan":{"aws:CurrentTime":"tomorrow"},"NumericEquals":{"aws:MultiFactorAuthAge":"ten"},"IpAddress":{"aws:SourceIp":"10.0.0.0/33"},"ArnEquals":{"aws:SourceArn":"sns-topic"}}}]}"#,
     &["TYPE_MISMATCH_ARN", "TYPE_MISMATCH_BOOLEAN", "TYPE_MISMATCH_DATE", "TYPE_MISMATCH_IP_RANGE", "TYPE_MISMATCH_NUMBER"]),
    ("multiple booleans", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":["true","false"]}}}]}"#,
     &["INVALID_CONDITION_MULTIPLE_BOOLEAN"]),
    ("wildcard without like", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"dev*"}}}]}"#,
     &["WILDCARD_WITHOUT_LIKE_OPERATOR"]),
    ("forallvalues with single-valued key", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:username":"a"}}}]}"#,
     &["FORALLVALUES_WITH_SINGLE_VALUED_KEY"]),
    ("condition shapes", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:username":[]},"StringLike":{},"Bool":{"aws:SecureTransport":{"x":1}}}}]}"#,
     &["DATA_TYPE_MISMATCH", "EMPTY_ARRAY_CONDITION", "EMPTY_OBJECT_CONDITION"]),
    ("condition not an object", ID,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":"x"}]}"#,
     &["DATA_TYPE_MISMATCH"]),
    ("rcp", PolicyType::ResourceControl,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#,
     &[]),
    ("rcp restrictions", PolicyType::ResourceControl,
     r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"ec2:RunInstances","Resource":"*"}]}"#,
     &["RCP_SYNTAX_ERROR", "RCP_SYNTAX_ERROR", "RCP_SYNTAX_ERROR"]),
    ("non-latin1 character in IAM policy", ID,
     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/\u{2603}\"}]}",
     &["INVALID_CHARACTER"]),
];

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for (name, ty, doc, want) in CASES {
        let got = validate(doc, *ty);
        if codes(&got) != *want {
            failures.push(format!(
                "{name}: want {want:?}\n  got {:?}\n  {:?}",
                codes(&got),
                got.iter()
                    .map(|f| (&f.path, &f.message))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn paths_point_into_the_document() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"},{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:NoSuch":"x"}}}]}"#;
    let f = validate(doc, ID);
    let paths: Vec<&str> = f.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.Statement[0]",
            "$.Statement[1].Condition.StringEquals[\"aws:NoSuch\"]"
        ]
    );
}

fn sized_policy(resource_len: usize) -> String {
    let skeleton = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::"}]}"#;
    let fill = "a".repeat(resource_len.saturating_sub(skeleton.len()));
    skeleton.replace("arn:aws:s3:::", &format!("arn:aws:s3:::{fill}"))
}

#[test]
fn size_quotas() {
    let cases = [
        (
            PolicyType::UserInline,
            2_048,
            "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
        ),
        (
            PolicyType::GroupInline,
            5_120,
            "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
        ),
        (
            PolicyType::Identity,
            6_144,
            "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
        ),
        (
            PolicyType::RoleInline,
            10_240,
            "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
        ),
        (
            PolicyType::ServiceControl,
            5_120,
            "POLICY_SIZE_EXCEEDS_SCP_QUOTA",
        ),
    ];
    for (ty, quota, code) in cases {
        let at = sized_policy(quota);
        assert_eq!(at.len(), quota);
        assert!(!codes(&validate(&at, ty)).contains(&code), "{ty} at quota");
        let over = sized_policy(quota + 1);
        assert!(
            codes(&validate(&over, ty)).contains(&code),
            "{ty} over quota"
        );
    }
    // IAM does not count whitespace; Organizations does.
    let padded = sized_policy(2_040).replace(',', " ,   ");
    assert!(padded.len() > 2_048);
    assert!(!codes(&validate(&padded, PolicyType::UserInline))
        .iter()
        .any(|c| c.starts_with("POLICY_SIZE")));
    let padded = sized_policy(5_100).replace(',', " ,          ");
    assert!(codes(&validate(&padded, PolicyType::ServiceControl))
        .contains(&"POLICY_SIZE_EXCEEDS_SCP_QUOTA"));
}

#[test]
fn policy_type_names() {
    let cases = [
        ("identity", PolicyType::Identity),
        ("IDENTITY_POLICY", PolicyType::Identity),
        ("resource", PolicyType::Resource),
        ("RESOURCE_POLICY", PolicyType::Resource),
        ("scp", PolicyType::ServiceControl),
        ("SERVICE_CONTROL_POLICY", PolicyType::ServiceControl),
        ("rcp", PolicyType::ResourceControl),
        ("RESOURCE_CONTROL_POLICY", PolicyType::ResourceControl),
        ("trust", PolicyType::RoleTrust),
        ("user-inline", PolicyType::UserInline),
        ("role_inline", PolicyType::RoleInline),
        ("group-inline", PolicyType::GroupInline),
    ];
    for (s, ty) in cases {
        assert_eq!(s.parse::<PolicyType>(), Ok(ty), "{s}");
        assert_eq!(ty.to_string().parse::<PolicyType>(), Ok(ty));
    }
    assert!("bogus".parse::<PolicyType>().is_err());
}

#[test]
fn cli_output_shape() {
    let (v, has_error) = cli_validate(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#,
        ID,
    )
    .unwrap();
    assert!(has_error);
    assert_eq!(
        v,
        serde_json::json!({"findings":[{"severity":"ERROR","code":"MISSING_RESOURCE",
            "message":"Add a Resource or NotResource element.","path":"$.Statement[0]"}]})
    );
    let (v, has_error) = cli_validate(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#,
        ID,
    )
    .unwrap();
    assert!(!has_error);
    assert_eq!(
        v["findings"][0]["severity"], "WARNING",
        "security warnings print as WARNING"
    );
    let (v, has_error) = cli_validate(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        ID,
    )
    .unwrap();
    assert_eq!((v, has_error), (serde_json::json!({"findings": []}), false));
    assert!(matches!(
        cli_validate("{not json", ID),
        Err(InputError::NotJson(_))
    ));
    assert!(matches!(cli_validate("", ID), Err(InputError::NotJson(_))));
    assert_eq!(codes(&validate("{not json", ID)), ["JSON_SYNTAX_ERROR"]);
}

#[test]
fn hostile_input_does_not_panic() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(cli_validate(&deep, ID).is_err());
    let deep_cond = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{{"StringEquals":{{"aws:username":{}1{}}}}}}}]}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let _ = validate(&deep_cond, ID);
    let weird = [
        "null",
        "1",
        "\"x\"",
        "{}",
        r#"{"Statement":null}"#,
        r#"{"Statement":[null,1,"a",[]]}"#,
        r#"{"Statement":{"Principal":{"AWS":[1,{}]},"Action":{},"Resource":[[]],"Condition":{"":{"":null}}}}"#,
    ];
    for ty in [
        ID,
        RES,
        PolicyType::ServiceControl,
        PolicyType::ResourceControl,
        PolicyType::RoleTrust,
    ] {
        for w in weird {
            let _ = validate(w, ty);
        }
    }
    // Glob with many stars stays fast (no exponential backtracking).
    let pattern = "*a".repeat(50) + "b";
    assert!(!super::check::glob(&pattern, &"a".repeat(5_000), true));
}

/// Every AWS managed policy is a valid identity policy: none may get an ERROR. This guards
/// against false positives on real-world documents.
#[test]
fn aws_managed_policies_have_no_errors() {
    let mut failures = Vec::new();
    let mut warnings = std::collections::BTreeMap::<String, usize>::new();
    for p in palisade_iam_data::managed_policies() {
        if let Some(m) = iam_rejection(p.document, ID) {
            failures.push(format!("{}: IAM would refuse it: {m}", p.name));
        }
        for f in validate(p.document, ID) {
            // AWS's own managed policies are exempt from the customer quota.
            if f.severity == Severity::Error && !f.code.starts_with("POLICY_SIZE_EXCEEDS") {
                failures.push(format!("{}: {} {} {}", p.name, f.code, f.path, f.message));
            } else {
                if std::env::var_os("SHOW_FINDINGS").is_some() {
                    eprintln!("{}: {} {} {}", p.name, f.code, f.path, f.message);
                }
                *warnings.entry(f.code).or_default() += 1;
            }
        }
    }
    eprintln!("non-error findings over managed policies: {warnings:?}");
    assert!(
        failures.is_empty(),
        "{} errors:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// IAM's own answers, as AWS gives them (moto's `test_iam_policies.py` records them from
/// AWS; the Sid message from a CloudTrail record of CreatePolicy).
#[test]
fn iam_rejections_in_aws_words() {
    let identity = |resource: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:ListBucket","Resource":{resource}}}]}}"#
        )
    };
    let cases: &[(PolicyType, String, Option<&str>)] = &[
        (ID, identity(r#""arn:aws:s3:::b""#), None),
        (ID, identity(r#"["*","arn:*:s3:::b","arn:aws:iam::*:role/${aws:username}"]"#), None),
        (ID, identity(r#""invalid resource""#), Some(r#"Resource invalid resource must be in ARN format or "*"."#)),
        (ID, identity(r#""""#), Some(r#"Resource  must be in ARN format or "*"."#)),
        (ID, identity(r#"["arn:aws:s3:::ok","adf"]"#), Some(r#"Resource adf must be in ARN format or "*"."#)),
        (ID, identity(r#""arn:foo:s3:::x""#), Some(r#"Partition "foo" is not valid for resource "arn:foo:s3:::x"."#)),
        (ID, identity(r#""a:bsdfdsafsad""#), Some(r#"Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*"."#)),
        (ID, identity(r#""a:b:cadfsdf""#), Some(r#"Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*"."#)),
        (ID, identity(r#""a:b:c:d:e:f:g:h""#), Some(r#"Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h"."#)),
        (ID, identity(r#""aws:s3:::example_bucket""#), Some(r#"Partition "s3" is not valid for resource "arn:s3:::example_bucket:*"."#)),
        (ID, identity(r#""arn:aws-cn:s3:::b""#), Some(r#"Partition "aws-cn" is not valid for resource "arn:aws-cn:s3:::b"."#)),
        (ID, identity(r#""arn:aws""#), Some("Resource vendor must be fully qualified and cannot contain regexes.")),
        (PolicyType::UserInline,
         r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","NotResource":"bucket"}]}"#.to_string(),
         Some(r#"Resource bucket must be in ARN format or "*"."#)),
        (PolicyType::RoleInline,
         r#"{"Version":"2012-10-17","Statement":[{"Sid":"read-only","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.to_string(),
         Some("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")),
        (ID,
         r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:Put*","Resource":"*"}]}"#.to_string(),
         Some("Statement IDs (SID) in a single policy must be unique.")),
        (PolicyType::RoleTrust,
         r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.to_string(),
         None),
        (PolicyType::RoleTrust,
         r#"{"Version":"2012-10-17","Statement":[{"Sid":"Trust EC2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.to_string(),
         Some("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")),
        (PolicyType::RoleTrust,
         r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"foo"}]}"#.to_string(),
         Some("Has prohibited field Resource")),
        (PolicyType::RoleTrust,
         r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","NotResource":"*"}]}"#.to_string(),
         Some("Has prohibited field NotResource")),
        // Not IAM's documents: other services have rules of their own.
        (RES,
         r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"foo"}]}"#.to_string(),
         None),
        (ID, "not json".to_string(), None),
    ];
    for (ty, doc, want) in cases {
        assert_eq!(iam_rejection(doc, *ty).as_deref(), *want, "{ty}: {doc}");
    }
}
