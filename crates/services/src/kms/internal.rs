//! KMS as other services use it on the caller's behalf (Secrets Manager, SSM): encrypt
//! and decrypt with a customer key or the service's AWS managed key
//! (`alias/aws/<service>`, created on first use as AWS does), after authorizing the
//! caller for the KMS action on the key with `kms:ViaService` and `kms:CallerAccount`.
//!
//! Never called from an operation's `authz()`: it reads state. Blobs are the ordinary KMS
//! ciphertext format ([`super::blob`]), so a value sealed here opens with kms:Decrypt too.

use super::{blob, error as kerr, store};
use crate::{
    authz::{AuthzCheck, AuthzDecision},
    context::RequestContext,
    env::Env,
    error::ApiError,
};
use palisade_store::{ReadTx, WriteTx};
use std::collections::BTreeMap;

/// The services whose AWS managed key (`alias/aws/<service>`) Palisade makes on first use.
/// Until then ListAliases shows the alias without a target, as AWS lists its predefined
/// aliases.
pub const MANAGED_KEY_SERVICES: &[&str] = &["secretsmanager", "ssm"];

/// The description AWS gives an AWS managed key.
fn managed_description(service: &str) -> String {
    let product = match service {
        "secretsmanager" => "Secrets Manager",
        "ssm" => "SSM",
        other => other,
    };
    format!("Default key that protects my {product} data when no other key is defined")
}

/// The key policy of an AWS managed key: every principal of the account may use it
/// through the service (as AWS's `auto-<service>` policies), and the account may read its
/// metadata.
pub fn managed_key_policy(account: &str, region: &str, service: &str) -> String {
    let via = format!("{service}.{region}.amazonaws.com");
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-2"),
        "Statement": [
            {
                "Sid": format!("Allow access through {service} for all principals in the account that are authorized to use {service}"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": via}}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// Whether `key` is an AWS managed key (its policy is one of ours).
pub fn is_aws_managed(key: &store::KeyRecord) -> bool {
    key.policy.contains("\"Id\":\"auto-")
}

/// The AWS managed key of `service` in the caller's account and region, created (with
/// its `alias/aws/<service>` alias) when missing. Returns (key, created now).
fn managed_key(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    service: &str,
) -> Result<(store::KeyRecord, bool), ApiError> {
    let account = ctx.principal.account_id.clone();
    let region = ctx.region.clone();
    let alias = format!("alias/aws/{service}");
    if let Some(a) = store::get_alias(tx, &account, &region, &alias)? {
        if let Some(k) = store::get_key(tx, &account, &region, &a.target_key_id)? {
            if !k.deleted(ctx.now) {
                // Made before AWS managed keys rotated: their yearly rotation starts now.
                super::rotation::ensure_managed(tx, &k, ctx.now)?;
                return Ok((k, false));
            }
        }
    }
    let key_id = uuid::Uuid::new_v4().to_string();
    let arn = store::key_arn(&region, &account, &key_id);
    let material = store::new_sealed_material(&env.master_key, &arn, 1, blob::MATERIAL_LEN)?;
    let key = store::KeyRecord {
        key_id: key_id.clone(),
        arn,
        account: account.clone(),
        region: region.clone(),
        creation_date: ctx.now,
        description: managed_description(service),
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        enabled: true,
        deletion_date: None,
        pending_window_in_days: None,
        policy: managed_key_policy(&account, &region, service),
        tags: Vec::new(),
        materials: vec![material],
    };
    store::put_key(tx, &key)?;
    store::put_alias(
        tx,
        &account,
        &region,
        &store::AliasRecord {
            name: alias,
            target_key_id: key_id,
            creation_date: ctx.now,
            last_updated_date: ctx.now,
        },
    )?;
    super::rotation::start_managed(tx, &key, ctx.now)?;
    Ok((key, true))
}

/// Asks the authorizer whether the caller may use `key` for `action` through `service`.
/// `principal: None` skips the check (the service acting for itself: scheduled rotation).
fn authorize_use(
    env: &Env,
    ctx: &RequestContext,
    key: &store::KeyRecord,
    action: &str,
    service: &str,
    enc_ctx: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let mut check = AuthzCheck::new(format!("kms:{action}"), key.arn.clone());
    check.resource_account = Some(key.account.clone());
    check.context.push((
        "kms:ViaService".into(),
        vec![format!("{service}.{}.amazonaws.com", key.region)],
    ));
    check.context.push((
        "kms:CallerAccount".into(),
        vec![ctx.principal.account_id.clone()],
    ));
    for (k, v) in enc_ctx {
        check
            .context
            .push((format!("kms:EncryptionContext:{k}"), vec![v.clone()]));
    }
    if !enc_ctx.is_empty() {
        check.context.push((
            "kms:EncryptionContextKeys".into(),
            enc_ctx.keys().cloned().collect(),
        ));
    }
    match env.authorizer.authorize(&check, ctx) {
        AuthzDecision::Allow => Ok(()),
        AuthzDecision::Deny { message } => {
            Err(ApiError::new("AccessDeniedException", 400, message))
        }
    }
}

/// The key a recorded KMS request was made on.
enum Target<'a> {
    Found(&'a store::KeyRecord),
    /// Not found (never existed, or deleted): the event is the caller's alone, in
    /// `region`, naming the key's ARN when the request gave one.
    Missing {
        region: String,
        arn: Option<String>,
    },
}

/// Records the KMS request `service` made for the caller (CloudTrail: KMS's event, with
/// the caller's identity and `invokedBy` the service), failed ones included: denied, on a
/// key KMS refuses to use, or on a key it cannot find.
fn record_use(
    ctx: &RequestContext,
    service: &str,
    event_name: &'static str,
    target: Target<'_>,
    request_parameters: serde_json::Value,
    error: Option<&ApiError>,
) {
    let (region, arn, resource_account) = match target {
        Target::Found(key) => (
            key.region.clone(),
            Some(key.arn.clone()),
            key.account.clone(),
        ),
        Target::Missing { region, arn } => (region, arn, ctx.principal.account_id.clone()),
    };
    ctx.invoked.push(crate::context::InvokedCall {
        invoked_by: format!("{service}.amazonaws.com"),
        event_source: "kms.amazonaws.com",
        event_name,
        region,
        request_parameters,
        resources: arn
            .map(|a| vec![("AWS::KMS::Key".to_owned(), a)])
            .unwrap_or_default(),
        resource_account,
        error: error.map(|e| (e.code.to_string(), e.message.clone())),
        read_only: true,
        response_elements: None,
    });
}

/// The key a request named that KMS could not find: the region the reference names (an
/// ARN's, else the caller's) and, for a key (not an alias), its ARN.
fn missing(key_id: &str, ctx: &RequestContext) -> Target<'static> {
    match store::KeyRef::parse(key_id, ctx) {
        store::KeyRef::Key {
            account,
            region,
            id,
        } => Target::Missing {
            arn: Some(store::key_arn(&region, &account, &id)),
            region,
        },
        store::KeyRef::Alias { region, .. } => Target::Missing { region, arn: None },
        store::KeyRef::Invalid(_) => Target::Missing {
            region: ctx.region.clone(),
            arn: None,
        },
    }
}

/// Who the call is for: a caller to authorize, or the service itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Authorize `ctx.principal` (an API call).
    Principal,
    /// The service acting on its own schedule (rotation): no caller to authorize.
    Service,
}

/// Encrypts `plaintext` for `service` under `key_id` (key id, key ARN, alias name or
/// alias ARN) or, when `None`, the service's AWS managed key. The caller needs every one
/// of `actions` on the key, as the service's documentation lists them: `GenerateDataKey`
/// where the service uses envelope encryption in AWS (with `Decrypt` for Secrets
/// Manager), `Encrypt` where it encrypts under the key directly (SSM standard
/// parameters). Returns the blob and the key's ARN.
#[allow(clippy::too_many_arguments)]
pub fn encrypt_for(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    key_id: Option<&str>,
    service: &str,
    actions: &[&str],
    plaintext: &[u8],
    encryption_context: &BTreeMap<String, String>,
) -> Result<(Vec<u8>, String), ApiError> {
    // The service's own KMS request, as KMS logs it: GenerateDataKey (envelope
    // encryption) or Encrypt, on the key the caller named or the managed key.
    let event: &'static str = if actions.contains(&"GenerateDataKey") {
        "GenerateDataKey"
    } else {
        "Encrypt"
    };
    let mut params = serde_json::json!({
        "keyId": key_id.map_or_else(|| format!("alias/aws/{service}"), str::to_owned),
        "encryptionContext": encryption_context,
    });
    if let Some(o) = params.as_object_mut() {
        if event == "GenerateDataKey" {
            o.insert("keySpec".into(), "AES_256".into());
        } else {
            o.insert("encryptionAlgorithm".into(), "SYMMETRIC_DEFAULT".into());
        }
    }
    let (key, created) = match key_id {
        Some(id) => match store::resolve(tx, ctx, id) {
            Ok(key) => (key, false),
            Err(e) => {
                // KMS's own answer (not found, invalid id) is logged; a failure of
                // Palisade's store is not a KMS request.
                if caller == Caller::Principal && !e.is_internal() {
                    record_use(ctx, service, event, missing(id, ctx), params, Some(&e));
                }
                return Err(e);
            }
        },
        None => managed_key(tx, env, ctx, service)?,
    };
    let usable = if key.key_usage != "ENCRYPT_DECRYPT" {
        Err(kerr::err(
            "InvalidKeyUsageException",
            format!(
                "{} key usage is {} which is not valid for {}.",
                key.arn,
                key.key_usage,
                actions.first().unwrap_or(&"Encrypt")
            ),
        ))
    } else if key.key_spec != "SYMMETRIC_DEFAULT" {
        // An asymmetric ENCRYPT_DECRYPT key: services seal under symmetric keys only.
        Err(kerr::not_symmetric(&key))
    } else {
        key.check_usable()
    };
    if caller != Caller::Principal {
        usable?;
    } else {
        // A key KMS refuses to use is a failed request too, and logged as one. A managed
        // key created in this very transaction is not yet visible to the authorizer's
        // snapshot; its policy allows every principal of the account through the
        // service, which is the caller here.
        let authorized = usable.and_then(|()| {
            if created {
                return Ok(());
            }
            actions.iter().try_for_each(|action| {
                authorize_use(env, ctx, &key, action, service, encryption_context)
            })
        });
        let target = Target::Found(&key);
        record_use(
            ctx,
            service,
            event,
            target,
            params,
            authorized.as_ref().err(),
        );
        authorized?;
    }
    let version = key.current_version();
    let mut material = store::material(&env.master_key, &key, version)?
        .ok_or_else(|| ApiError::internal("kms key without material"))?;
    let sealed = blob::seal(&key.arn, version, &material, encryption_context, plaintext);
    material.fill(0);
    let sealed = sealed.ok_or_else(|| ApiError::internal("kms encryption failed"))?;
    Ok((sealed, key.arn))
}

/// Decrypts a blob made by [`encrypt_for`] (or kms:Encrypt), authorizing the caller for
/// kms:Decrypt on its key through `service`.
pub fn decrypt_for(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    caller: Caller,
    service: &str,
    ciphertext: &[u8],
    encryption_context: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ApiError> {
    let parsed = blob::parse(ciphertext).ok_or_else(kerr::invalid_ciphertext)?;
    let params = || {
        serde_json::json!({
            "encryptionContext": encryption_context,
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        })
    };
    let key = match store::KeyRef::parse(parsed.key_arn, ctx) {
        store::KeyRef::Key {
            account,
            region,
            id,
        } => match store::get_key_shared(tx, &account, &region, &id)?
            .filter(|k| !k.deleted(ctx.now))
        {
            Some(key) => key,
            None => {
                // The key was deleted (or never was): KMS answers, and logs, NotFound.
                let e = kerr::key_not_found(parsed.key_arn);
                if caller == Caller::Principal {
                    let target = Target::Missing {
                        region,
                        arn: Some(parsed.key_arn.to_owned()),
                    };
                    record_use(ctx, service, "Decrypt", target, params(), Some(&e));
                }
                return Err(e);
            }
        },
        _ => return Err(kerr::invalid_ciphertext()),
    };
    if caller == Caller::Principal {
        // A key KMS refuses to use is a failed request too, and logged as one.
        let authorized = key
            .check_usable()
            .and_then(|()| authorize_use(env, ctx, &key, "Decrypt", service, encryption_context));
        let target = Target::Found(&key);
        record_use(
            ctx,
            service,
            "Decrypt",
            target,
            params(),
            authorized.as_ref().err(),
        );
        authorized?;
    } else {
        key.check_usable()?;
    }
    let mut material = store::material(&env.master_key, &key, parsed.material_version)?
        .ok_or_else(kerr::invalid_ciphertext)?;
    let plaintext = blob::open(&parsed, &material, encryption_context);
    material.fill(0);
    plaintext.map_err(|_| kerr::invalid_ciphertext())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::context::{Principal, PrincipalKind};
    use time::OffsetDateTime;

    fn env() -> crate::env::testing::TestEnv {
        crate::env::testing::test_env("111122223333")
    }

    fn ctx(principal: Principal) -> RequestContext {
        RequestContext {
            request_id: "r".into(),
            principal,
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            now: OffsetDateTime::UNIX_EPOCH,
            secure_transport: false,
            invoked: Default::default(),
        }
    }

    #[test]
    fn managed_key_round_trip_and_authorization() {
        let env = env();
        let root = ctx(Principal::root("111122223333", "AKIAROOT"));
        let mut enc = BTreeMap::new();
        enc.insert("SecretARN".to_owned(), "arn:x".to_owned());
        let (e2, root2, enc2) = (env.clone(), root.clone(), enc.clone());
        let (blob_bytes, arn) = crate::accounts::write_blocking(env.store.as_ref(), move |tx| {
            let sm = "secretsmanager";
            let first = encrypt_for(
                tx,
                &e2,
                &root2,
                Caller::Principal,
                None,
                sm,
                &["GenerateDataKey"],
                b"s3cret",
                &enc2,
            )?;
            let second = encrypt_for(
                tx,
                &e2,
                &root2,
                Caller::Principal,
                None,
                sm,
                &["GenerateDataKey"],
                b"s3cret",
                &enc2,
            )?;
            assert_eq!(first.1, second.1, "one managed key per service");
            let key = store::resolve(tx, &root2, "alias/aws/secretsmanager")?;
            assert!(is_aws_managed(&key));
            assert_ne!(first.0, second.0);
            assert!(!first.0.windows(6).any(|w| w == b"s3cret"));
            let bad = encrypt_for(
                tx,
                &e2,
                &root2,
                Caller::Principal,
                Some("alias/none"),
                sm,
                &["GenerateDataKey"],
                b"x",
                &enc2,
            );
            assert_eq!(bad.unwrap_err().code, "NotFoundException");
            Ok(first)
        })
        .unwrap();
        assert!(arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
        let mut user = Principal::root("111122223333", "AKIAUSER");
        user.kind = PrincipalKind::IAMUser;
        user.arn = "arn:aws:iam::111122223333:user/u".into();
        let user = ctx(user);
        let sm = "secretsmanager";
        env.store
            .read(&mut |tx| {
                let d = |c: &RequestContext, who: Caller, e: &BTreeMap<String, String>| {
                    decrypt_for(tx, &env, c, who, sm, &blob_bytes, e)
                };
                assert_eq!(d(&root, Caller::Principal, &enc).unwrap(), b"s3cret");
                // RootOnly refuses the user; the service acting for itself is not asked;
                // a wrong context fails authentication.
                assert_eq!(
                    d(&user, Caller::Principal, &enc).unwrap_err().code,
                    "AccessDeniedException"
                );
                assert_eq!(d(&user, Caller::Service, &enc).unwrap(), b"s3cret");
                assert_eq!(
                    d(&root, Caller::Principal, &BTreeMap::new())
                        .unwrap_err()
                        .code,
                    "InvalidCiphertextException"
                );
                Ok(())
            })
            .unwrap();
    }
}
