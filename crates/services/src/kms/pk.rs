//! The asymmetric operations: Sign, Verify, GetPublicKey, GenerateDataKeyPair(WithoutPlaintext)
//! and RSAES-OAEP Encrypt/Decrypt. Private keys are opened from their sealed form only for
//! the duration of one call and zeroed afterwards.

use super::{
    asym, b64, check_context, check_dry_run, check_enum, encrypt_with, err, kerr, key_resources,
    require_usage, store, unb64, Context, DecryptInput, GenerateDataKeyPairInput,
    GetPublicKeyInput, KeyRecord, SignInput, DATA_KEY_PAIR_SPECS, MESSAGE_TYPES,
    SIGNING_ALGORITHMS,
};
use crate::{context::RequestContext, env::Env, error::ApiError, Reply};
use palisade_store::ReadTx;
use serde_json::json;

/// The clear PKCS#8 private key of an asymmetric key (callers zero it after use).
fn private_key(env: &Env, k: &KeyRecord) -> Result<Vec<u8>, ApiError> {
    store::material(&env.master_key, k, 1)?
        .ok_or_else(|| ApiError::internal("kms key without material"))
}

fn no_context(c: &Option<Context>) -> Result<(), ApiError> {
    if c.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(err(
            "InvalidKeyUsageException",
            "EncryptionContext is not supported for asymmetric KMS keys.",
        ));
    }
    Ok(())
}

/// RSAES-OAEP encryption with an RSA key (usage, algorithm and state already checked).
pub(super) fn rsa_encrypt_raw(
    env: &Env,
    key: &KeyRecord,
    alg: &str,
    enc_ctx: &Option<Context>,
    plaintext: &[u8],
) -> Result<Vec<u8>, ApiError> {
    no_context(enc_ctx)?;
    let max = asym::max_oaep_plaintext(&key.key_spec, alg);
    if plaintext.len() > max {
        return Err(err(
            "ValidationException",
            format!(
                "Plaintext of length {} is too long for {} with {alg}: the maximum is {max} bytes.",
                plaintext.len(),
                key.key_spec
            ),
        ));
    }
    let mut pkcs8 = private_key(env, key)?;
    let ciphertext = asym::rsa_encrypt(&pkcs8, alg, plaintext);
    pkcs8.fill(0);
    ciphertext.ok_or_else(|| ApiError::internal("RSA encryption failed"))
}

pub(super) fn rsa_encrypt(
    env: &Env,
    key: &KeyRecord,
    alg: &str,
    enc_ctx: &Option<Context>,
    plaintext: &[u8],
    dry_run: Option<bool>,
) -> Result<Reply, ApiError> {
    no_context(enc_ctx)?;
    check_dry_run(dry_run)?;
    let ciphertext = rsa_encrypt_raw(env, key, alg, enc_ctx, plaintext)?;
    let mut reply = Reply::new(json!({
        "CiphertextBlob": b64(&ciphertext), "KeyId": key.arn, "EncryptionAlgorithm": alg,
    }));
    reply.resources = key_resources(key);
    Ok(reply)
}

/// RSAES-OAEP decryption of `blob_b64` with the RSA key `key_id` names: (key, plaintext).
pub(super) fn rsa_decrypt_raw(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    blob_b64: &str,
    key_id: Option<&str>,
    alg: &str,
    enc_ctx: &Option<Context>,
) -> Result<(KeyRecord, Vec<u8>), ApiError> {
    // Its size is the model's (model_checks).
    let ciphertext = unb64(blob_b64, "CiphertextBlob")?;
    // An asymmetric ciphertext does not name its key: KeyId is required.
    let key_id = key_id.ok_or_else(kerr::invalid_ciphertext)?;
    let key = store::resolve(tx, ctx, key_id)?;
    require_usage(&key, "ENCRYPT_DECRYPT", "Decrypt")?;
    super::algorithm_for_key(&key, &Some(alg.to_owned()))?;
    no_context(enc_ctx)?;
    key.check_usable()?;
    let mut pkcs8 = private_key(env, &key)?;
    let plaintext = asym::rsa_decrypt(&pkcs8, alg, &ciphertext);
    pkcs8.fill(0);
    let plaintext = plaintext.ok_or_else(kerr::invalid_ciphertext)?;
    Ok((key, plaintext))
}

pub(super) fn rsa_decrypt(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &DecryptInput,
    alg: &str,
) -> Result<Reply, ApiError> {
    let (key, plaintext) = rsa_decrypt_raw(
        tx,
        env,
        ctx,
        &i.ciphertext_blob,
        i.key_id.as_deref(),
        alg,
        &i.encryption_context,
    )?;
    check_dry_run(i.dry_run)?;
    let mut reply = Reply::new(json!({
        "KeyId": key.arn, "Plaintext": b64(&plaintext), "EncryptionAlgorithm": alg,
    }));
    reply.resources = key_resources(&key);
    Ok(reply)
}

pub(super) fn sign_op(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &SignInput,
    verify: bool,
) -> Result<Reply, ApiError> {
    // Message's and Signature's sizes are the model's (model_checks).
    let message = unb64(&i.message, "Message")?;
    let message_type = i.message_type.as_deref().unwrap_or("RAW");
    check_enum(message_type, "messageType", MESSAGE_TYPES)?;
    check_enum(&i.signing_algorithm, "signingAlgorithm", SIGNING_ALGORITHMS)?;
    let signature = match (&i.signature, verify) {
        (Some(s), true) => Some(unb64(s, "Signature")?),
        _ => None,
    };
    let key = store::resolve(tx, ctx, &i.key_id)?;
    require_usage(&key, "SIGN_VERIFY", if verify { "Verify" } else { "Sign" })?;
    let alg = i.signing_algorithm.as_str();
    if !asym::signing_algorithms(&key.key_spec)
        .iter()
        .any(|a| a == alg)
    {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "The signing algorithm {alg} is not compatible with the KMS key's key spec, {}.",
                key.key_spec
            ),
        ));
    }
    if message_type == "EXTERNAL_MU" {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "Message type EXTERNAL_MU is not compatible with the KMS key's key spec, {}.",
                key.key_spec
            ),
        ));
    }
    let digest_alg = asym::digest_alg(alg).ok_or_else(|| ApiError::internal("digest"))?;
    let msg = if message_type == "DIGEST" {
        let d =
            aws_lc_rs::digest::Digest::import_less_safe(&message, digest_alg).map_err(|_| {
                err(
                    "ValidationException",
                    format!("Digest is invalid length for algorithm {alg}."),
                )
            })?;
        asym::Message::Digest(d)
    } else {
        asym::Message::Raw(&message)
    };
    key.check_usable()?;
    check_dry_run(i.dry_run)?;
    let mut pkcs8 = private_key(env, &key)?;
    let out = match &signature {
        Some(s) => asym::verify(&key.key_spec, &pkcs8, alg, &msg, s).map(|ok| (ok, Vec::new())),
        None => asym::sign(&key.key_spec, &pkcs8, alg, &msg).map(|s| (true, s)),
    };
    pkcs8.fill(0);
    let (ok, sig) = out.ok_or_else(|| ApiError::internal("kms signing failed"))?;
    let mut reply = if verify {
        if !ok {
            return Err(err("KMSInvalidSignatureException", ""));
        }
        Reply::new(json!({ "KeyId": key.arn, "SignatureValid": true, "SigningAlgorithm": alg }))
    } else {
        Reply::new(json!({ "KeyId": key.arn, "Signature": b64(&sig), "SigningAlgorithm": alg }))
    };
    reply.resources = key_resources(&key);
    Ok(reply)
}

pub(super) fn get_public_key(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GetPublicKeyInput,
) -> Result<Reply, ApiError> {
    let key = store::resolve(tx, ctx, &i.key_id)?;
    if !asym::is_asymmetric(&key.key_spec) {
        return Err(err(
            "UnsupportedOperationException",
            format!(
                "{} key spec {} does not have a public key.",
                key.arn, key.key_spec
            ),
        ));
    }
    key.check_usable()?;
    let mut pkcs8 = private_key(env, &key)?;
    let public = asym::public_key_der(&key.key_spec, &pkcs8);
    pkcs8.fill(0);
    let public = public.ok_or_else(|| ApiError::internal("kms public key"))?;
    let mut out = json!({
        "KeyId": key.arn,
        "PublicKey": b64(&public),
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    });
    if let Some(o) = out.as_object_mut() {
        if let Some(algs) = super::encryption_algorithms(&key) {
            o.insert("EncryptionAlgorithms".into(), json!(algs));
        }
        if key.key_usage == "SIGN_VERIFY" {
            o.insert(
                "SigningAlgorithms".into(),
                json!(asym::signing_algorithms(&key.key_spec)),
            );
        }
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&key);
    Ok(reply)
}

pub(super) fn generate_data_key_pair(
    tx: &dyn ReadTx,
    env: &Env,
    ctx: &RequestContext,
    i: &GenerateDataKeyPairInput,
    with_plaintext: bool,
) -> Result<Reply, ApiError> {
    check_context(&i.encryption_context)?;
    check_enum(&i.key_pair_spec, "keyPairSpec", DATA_KEY_PAIR_SPECS)?;
    let key = store::resolve(tx, ctx, &i.key_id)?;
    let op = if with_plaintext {
        "GenerateDataKeyPair"
    } else {
        "GenerateDataKeyPairWithoutPlaintext"
    };
    require_usage(&key, "ENCRYPT_DECRYPT", op)?;
    if key.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(err(
            "InvalidKeyUsageException",
            format!(
                "{} key spec is {}, which is not valid for {op}.",
                key.arn, key.key_spec
            ),
        ));
    }
    if !asym::is_asymmetric(&i.key_pair_spec) {
        return Err(err(
            "UnsupportedOperationException",
            format!(
                "KeyPairSpec {} is not supported by this KMS.",
                i.key_pair_spec
            ),
        ));
    }
    key.check_usable()?;
    check_dry_run(i.dry_run)?;
    let mut pkcs8 = asym::generate(&i.key_pair_spec)
        .ok_or_else(|| ApiError::internal("data key pair generation failed"))?;
    let public = asym::public_key_der(&i.key_pair_spec, &pkcs8);
    let sealed = encrypt_with(
        env,
        &key,
        &i.encryption_context.clone().unwrap_or_default(),
        &pkcs8,
    );
    let plaintext = with_plaintext.then(|| b64(&pkcs8));
    pkcs8.fill(0);
    let sealed = sealed?;
    let public = public.ok_or_else(|| ApiError::internal("data key pair public key"))?;
    let mut out = json!({
        "PrivateKeyCiphertextBlob": b64(&sealed.ciphertext),
        "PublicKey": b64(&public),
        "KeyId": key.arn,
        "KeyPairSpec": i.key_pair_spec,
    });
    if let (Some(p), Some(o)) = (plaintext, out.as_object_mut()) {
        o.insert("PrivateKeyPlaintext".into(), p.into());
    }
    let mut reply = Reply::new(out);
    reply.resources = key_resources(&key);
    Ok(reply)
}
