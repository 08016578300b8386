//! IAM identity providers for federation: OpenID Connect (Create/Get/List/Delete,
//! UpdateOpenIDConnectProviderThumbprint, Add/RemoveClientIDToOpenIDConnectProvider) and
//! SAML (Create/Get/List/Update/Delete). Records are keyed by provider ARN
//! ([`model::provider_key`]); STS federation reads them later.
//!
//! A SAML metadata document must be well-formed XML whose root is an `EntityDescriptor`;
//! nothing is fetched from the network (OIDC thumbprints are taken as given).

use super::{camel_json, error::IamError, model};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use model::Tag;
use palisade_store::{ReadTx, WriteTx};

const OIDC: &str = "oidc";
const SAML: &str = "saml";
/// AWS quotas: thumbprints and client ids per OIDC provider.
pub const MAX_THUMBPRINTS: usize = 5;
pub const MAX_CLIENT_IDS: usize = 100;

#[derive(Debug)]
pub enum Operation {
    CreateOpenIDConnectProvider(CreateOidcInput),
    GetOpenIDConnectProvider(OidcArnInput),
    ListOpenIDConnectProviders,
    DeleteOpenIDConnectProvider(OidcArnInput),
    UpdateOpenIDConnectProviderThumbprint(UpdateThumbprintInput),
    AddClientIDToOpenIDConnectProvider(ClientIdInput),
    RemoveClientIDFromOpenIDConnectProvider(ClientIdInput),
    CreateSAMLProvider(CreateSamlInput),
    GetSAMLProvider(SamlArnInput),
    ListSAMLProviders,
    UpdateSAMLProvider(UpdateSamlInput),
    DeleteSAMLProvider(SamlArnInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    use Operation as O;
    let op = match action {
        "CreateOpenIDConnectProvider" => input.parse().map(O::CreateOpenIDConnectProvider),
        "GetOpenIDConnectProvider" => input.parse().map(O::GetOpenIDConnectProvider),
        "ListOpenIDConnectProviders" => Ok(O::ListOpenIDConnectProviders),
        "DeleteOpenIDConnectProvider" => input.parse().map(O::DeleteOpenIDConnectProvider),
        "UpdateOpenIDConnectProviderThumbprint" => {
            input.parse().map(O::UpdateOpenIDConnectProviderThumbprint)
        }
        "AddClientIDToOpenIDConnectProvider" => {
            input.parse().map(O::AddClientIDToOpenIDConnectProvider)
        }
        "RemoveClientIDFromOpenIDConnectProvider" => input
            .parse()
            .map(O::RemoveClientIDFromOpenIDConnectProvider),
        "CreateSAMLProvider" => input.parse().map(O::CreateSAMLProvider),
        "GetSAMLProvider" => input.parse().map(O::GetSAMLProvider),
        "ListSAMLProviders" => Ok(O::ListSAMLProviders),
        "UpdateSAMLProvider" => input.parse().map(O::UpdateSAMLProvider),
        "DeleteSAMLProvider" => input.parse().map(O::DeleteSAMLProvider),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateOidcInput {
    pub url: String,
    #[serde(
        rename = "ClientIDList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint_list: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OidcArnInput {
    #[serde(rename = "OpenIDConnectProviderArn")]
    pub open_id_connect_provider_arn: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateThumbprintInput {
    #[serde(rename = "OpenIDConnectProviderArn")]
    pub open_id_connect_provider_arn: String,
    pub thumbprint_list: Vec<String>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientIdInput {
    #[serde(rename = "OpenIDConnectProviderArn")]
    pub open_id_connect_provider_arn: String,
    #[serde(rename = "ClientID")]
    pub client_id: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSamlInput {
    #[serde(rename = "SAMLMetadataDocument")]
    pub saml_metadata_document: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamlArnInput {
    #[serde(rename = "SAMLProviderArn")]
    pub saml_provider_arn: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSamlInput {
    #[serde(rename = "SAMLProviderArn")]
    pub saml_provider_arn: String,
    #[serde(
        rename = "SAMLMetadataDocument",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub saml_metadata_document: Option<String>,
}

/// A stored OIDC provider.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OidcProvider {
    pub arn: String,
    /// Without the `https://` scheme, as GetOpenIDConnectProvider answers.
    pub url: String,
    #[serde(rename = "ClientIDList")]
    pub client_id_list: Vec<String>,
    pub thumbprint_list: Vec<String>,
    pub create_date: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// A stored SAML provider.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamlProvider {
    pub arn: String,
    pub name: String,
    #[serde(rename = "SAMLMetadataDocument")]
    pub saml_metadata_document: String,
    #[serde(rename = "SAMLProviderUUID")]
    pub saml_provider_uuid: String,
    pub create_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateOidcOutput {
    #[serde(rename = "OpenIDConnectProviderArn")]
    pub open_id_connect_provider_arn: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOidcOutput {
    pub url: String,
    #[serde(rename = "ClientIDList")]
    pub client_id_list: Vec<String>,
    pub thumbprint_list: Vec<String>,
    pub create_date: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnEntry {
    pub arn: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOidcOutput {
    #[serde(rename = "OpenIDConnectProviderList")]
    pub open_id_connect_provider_list: Vec<ArnEntry>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamlArnOutput {
    #[serde(rename = "SAMLProviderArn")]
    pub saml_provider_arn: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSamlOutput {
    #[serde(rename = "SAMLProviderUUID")]
    pub saml_provider_uuid: String,
    #[serde(rename = "SAMLMetadataDocument")]
    pub saml_metadata_document: String,
    pub create_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamlListEntry {
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub create_date: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSamlOutput {
    #[serde(rename = "SAMLProviderList")]
    pub saml_provider_list: Vec<SamlListEntry>,
}

// ---- validation ----------------------------------------------------------------------

fn invalid(msg: impl Into<String>) -> ApiError {
    IamError::InvalidInput(msg.into()).into()
}

fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
        ))
        .into());
    }
    if n > max {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        ))
        .into());
    }
    Ok(())
}

/// The provider host/path of an `https://` URL (what the ARN and Get use).
fn oidc_host_path(url: &str) -> Result<String, ApiError> {
    length("url", url, 1, 255)?;
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| invalid("Invalid URL. The URL must begin with https://"))?;
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if name.is_empty()
        || !port_ok
        || rest.contains(['?', '#', ' '])
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    {
        return Err(invalid(format!("Invalid URL {url}.")));
    }
    Ok(rest.to_owned())
}

fn validate_thumbprints(list: &[String]) -> Result<(), ApiError> {
    if list.len() > MAX_THUMBPRINTS {
        return Err(IamError::LimitExceeded(format!(
            "Thumbprint list must contain at most {MAX_THUMBPRINTS} entries."
        ))
        .into());
    }
    for t in list {
        if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and consist of hexadecimal characters"
            ))
            .into());
        }
    }
    Ok(())
}

fn validate_client_ids(list: &[String]) -> Result<(), ApiError> {
    if list.len() > MAX_CLIENT_IDS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
        ))
        .into());
    }
    for c in list {
        length("clientIDList", c, 1, 255)?;
    }
    Ok(())
}

fn validate_arn(field: &str, arn: &str) -> Result<(), ApiError> {
    length(field, arn, 20, 2048)?;
    if !arn.starts_with("arn:aws:iam::") {
        return Err(invalid(format!("ARN {arn} is not valid.")));
    }
    Ok(())
}

fn validate_saml_name(name: &str) -> Result<(), ApiError> {
    length("name", name, 1, 128)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+"
        ))
        .into());
    }
    Ok(())
}

/// Checks SAML metadata: well-formed XML whose root element is `EntityDescriptor`
/// (any namespace prefix). Returns its `validUntil`, when it has one.
pub fn check_saml_metadata(doc: &str) -> Result<Option<String>, ApiError> {
    use quick_xml::events::Event;
    length("sAMLMetadataDocument", doc, 1000, 10_000_000)?;
    let bad = || invalid("Could not parse metadata");
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut depth = 0usize;
    let mut root_ok = false;
    let mut valid_until = None;
    loop {
        match reader.read_event().map_err(|_| bad())? {
            Event::Start(e) if depth == 0 && !root_ok => {
                valid_until = root_valid_until(&e).ok_or_else(bad)?;
                root_ok = true;
                depth = 1;
            }
            Event::Empty(e) if depth == 0 && !root_ok => {
                valid_until = root_valid_until(&e).ok_or_else(bad)?;
                root_ok = true;
            }
            Event::Start(_) | Event::Empty(_) if depth == 0 => return Err(bad()),
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.checked_sub(1).ok_or_else(bad)?,
            Event::Eof => break,
            _ => {}
        }
    }
    if root_ok && depth == 0 {
        Ok(valid_until)
    } else {
        Err(bad())
    }
}

/// `Some(validUntil)` of an `EntityDescriptor` root element; `None` for any other root.
fn root_valid_until(e: &quick_xml::events::BytesStart<'_>) -> Option<Option<String>> {
    if e.local_name().as_ref() != b"EntityDescriptor" {
        return None;
    }
    let mut valid_until = None;
    for attr in e.attributes() {
        let attr = attr.ok()?;
        if attr.key.local_name().as_ref() == b"validUntil" {
            let v = attr.unescape_value().ok()?;
            valid_until =
                time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(model::iso);
        }
    }
    Some(valid_until)
}

fn new_uuid() -> Result<String, ApiError> {
    // SAMLProviderUUID: [A-Z0-9]{22,64}.
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 26];
    palisade_store::seal::fill_random(&mut bytes)
        .map_err(|_| ApiError::internal("random source failed"))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % 36).copied().unwrap_or(b'A')))
        .collect())
}

fn load_oidc(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<OidcProvider, ApiError> {
    validate_arn("openIDConnectProviderArn", arn)?;
    model::get(tx, &model::provider_key(account, OIDC, arn))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}")).into()
    })
}

fn load_saml(tx: &dyn ReadTx, account: &str, arn: &str) -> Result<SamlProvider, ApiError> {
    validate_arn("sAMLProviderArn", arn)?;
    model::get(tx, &model::provider_key(account, SAML, arn))?.ok_or_else(|| {
        IamError::NoSuchEntity(format!("SAMLProvider not found for arn {arn}")).into()
    })
}

fn list_all<T: serde::de::DeserializeOwned>(
    tx: &dyn ReadTx,
    account: &str,
    kind: &str,
) -> Result<Vec<T>, ApiError> {
    model::scan_all(tx, &model::providers_prefix(account, kind))?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
        .collect()
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateOpenIDConnectProvider(_) => "CreateOpenIDConnectProvider",
            Operation::GetOpenIDConnectProvider(_) => "GetOpenIDConnectProvider",
            Operation::ListOpenIDConnectProviders => "ListOpenIDConnectProviders",
            Operation::DeleteOpenIDConnectProvider(_) => "DeleteOpenIDConnectProvider",
            Operation::UpdateOpenIDConnectProviderThumbprint(_) => {
                "UpdateOpenIDConnectProviderThumbprint"
            }
            Operation::AddClientIDToOpenIDConnectProvider(_) => {
                "AddClientIDToOpenIDConnectProvider"
            }
            Operation::RemoveClientIDFromOpenIDConnectProvider(_) => {
                "RemoveClientIDFromOpenIDConnectProvider"
            }
            Operation::CreateSAMLProvider(_) => "CreateSAMLProvider",
            Operation::GetSAMLProvider(_) => "GetSAMLProvider",
            Operation::ListSAMLProviders => "ListSAMLProviders",
            Operation::UpdateSAMLProvider(_) => "UpdateSAMLProvider",
            Operation::DeleteSAMLProvider(_) => "DeleteSAMLProvider",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::GetOpenIDConnectProvider(_)
                | Operation::ListOpenIDConnectProviders
                | Operation::GetSAMLProvider(_)
                | Operation::ListSAMLProviders
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = &ctx.principal.account_id;
        let action = format!("iam:{}", self.name());
        let resource = match self {
            Operation::CreateOpenIDConnectProvider(i) => format!(
                "arn:aws:iam::{account}:oidc-provider/{}",
                i.url.trim_start_matches("https://").trim_end_matches('/')
            ),
            Operation::GetOpenIDConnectProvider(i) | Operation::DeleteOpenIDConnectProvider(i) => {
                i.open_id_connect_provider_arn.clone()
            }
            Operation::UpdateOpenIDConnectProviderThumbprint(i) => {
                i.open_id_connect_provider_arn.clone()
            }
            Operation::AddClientIDToOpenIDConnectProvider(i)
            | Operation::RemoveClientIDFromOpenIDConnectProvider(i) => {
                i.open_id_connect_provider_arn.clone()
            }
            Operation::CreateSAMLProvider(i) => {
                format!("arn:aws:iam::{account}:saml-provider/{}", i.name)
            }
            Operation::GetSAMLProvider(i) | Operation::DeleteSAMLProvider(i) => {
                i.saml_provider_arn.clone()
            }
            Operation::UpdateSAMLProvider(i) => i.saml_provider_arn.clone(),
            Operation::ListOpenIDConnectProviders | Operation::ListSAMLProviders => "*".into(),
        };
        // Tags at creation: request tags on the check, and the provider's Tag* permission.
        let (tags, tag_action) = match self {
            Operation::CreateOpenIDConnectProvider(i) => {
                (i.tags.as_deref(), "iam:TagOpenIDConnectProvider")
            }
            Operation::CreateSAMLProvider(i) => (i.tags.as_deref(), "iam:TagSAMLProvider"),
            _ => (None, ""),
        };
        let tags = super::tags::request_tag_context(tags.unwrap_or_default());
        let mut check = AuthzCheck::new(action, resource.clone());
        if tags.is_empty() {
            return vec![check];
        }
        check.context = tags.clone();
        let mut tag = AuthzCheck::new(tag_action, resource).naming_new();
        tag.context = tags;
        vec![check.naming_new(), tag]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateOpenIDConnectProvider(i) => camel_json(i),
            Operation::GetOpenIDConnectProvider(i) | Operation::DeleteOpenIDConnectProvider(i) => {
                camel_json(i)
            }
            Operation::UpdateOpenIDConnectProviderThumbprint(i) => camel_json(i),
            Operation::AddClientIDToOpenIDConnectProvider(i)
            | Operation::RemoveClientIDFromOpenIDConnectProvider(i) => camel_json(i),
            // Metadata documents can be megabytes: CloudTrail gets the name only.
            Operation::CreateSAMLProvider(i) => Some(serde_json::json!({ "name": i.name })),
            Operation::GetSAMLProvider(i) | Operation::DeleteSAMLProvider(i) => camel_json(i),
            Operation::UpdateSAMLProvider(i) => {
                Some(serde_json::json!({ "sAMLProviderArn": i.saml_provider_arn }))
            }
            Operation::ListOpenIDConnectProviders | Operation::ListSAMLProviders => None,
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::GetOpenIDConnectProvider(i) => {
                let p = load_oidc(tx, account, &i.open_id_connect_provider_arn)?;
                Ok(Reply::new(GetOidcOutput {
                    url: p.url,
                    client_id_list: p.client_id_list,
                    thumbprint_list: p.thumbprint_list,
                    create_date: p.create_date,
                    tags: p.tags,
                }))
            }
            Operation::ListOpenIDConnectProviders => {
                let list = list_all::<OidcProvider>(tx, account, OIDC)?
                    .into_iter()
                    .map(|p| ArnEntry { arn: p.arn })
                    .collect();
                Ok(Reply::new(ListOidcOutput {
                    open_id_connect_provider_list: list,
                }))
            }
            Operation::GetSAMLProvider(i) => {
                let p = load_saml(tx, account, &i.saml_provider_arn)?;
                Ok(Reply::new(GetSamlOutput {
                    saml_provider_uuid: p.saml_provider_uuid,
                    saml_metadata_document: p.saml_metadata_document,
                    create_date: p.create_date,
                    valid_until: p.valid_until,
                    tags: p.tags,
                }))
            }
            Operation::ListSAMLProviders => {
                let list = list_all::<SamlProvider>(tx, account, SAML)?
                    .into_iter()
                    .map(|p| SamlListEntry {
                        arn: p.arn,
                        valid_until: p.valid_until,
                        create_date: p.create_date,
                    })
                    .collect();
                Ok(Reply::new(ListSamlOutput {
                    saml_provider_list: list,
                }))
            }
            _ => Err(ApiError::internal(
                "read() on a mutating IAM provider operation",
            )),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        _env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        let oidc_resource = |arn: &str| vec![("AWS::IAM::OIDCProvider".to_owned(), arn.to_owned())];
        let saml_resource = |arn: &str| vec![("AWS::IAM::SAMLProvider".to_owned(), arn.to_owned())];
        match self {
            Operation::CreateOpenIDConnectProvider(i) => {
                let host_path = oidc_host_path(&i.url)?;
                let mut client_ids = i.client_id_list.clone().unwrap_or_default();
                validate_client_ids(&client_ids)?;
                client_ids.dedup();
                let thumbprints = i.thumbprint_list.clone().unwrap_or_default();
                validate_thumbprints(&thumbprints)?;
                let tags = i.tags.clone().unwrap_or_default();
                model::validate_tags(&tags)?;
                let arn = format!("arn:aws:iam::{account}:oidc-provider/{host_path}");
                let key = model::provider_key(account, OIDC, &arn);
                if tx.get(&key)?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "Provider with url {} already exists.",
                        i.url
                    ))
                    .into());
                }
                let provider = OidcProvider {
                    arn: arn.clone(),
                    url: host_path,
                    client_id_list: client_ids,
                    thumbprint_list: thumbprints,
                    create_date: model::iso(ctx.now),
                    tags: tags.clone(),
                };
                model::put(tx, &key, &provider)?;
                let out = CreateOidcOutput {
                    open_id_connect_provider_arn: arn.clone(),
                    tags,
                };
                let elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = elements;
                reply.resources = oidc_resource(&arn);
                Ok(reply)
            }
            Operation::DeleteOpenIDConnectProvider(i) => {
                let p = load_oidc(tx, account, &i.open_id_connect_provider_arn)?;
                tx.delete(&model::provider_key(account, OIDC, &p.arn))?;
                let mut reply = Reply::empty();
                reply.resources = oidc_resource(&p.arn);
                Ok(reply)
            }
            Operation::UpdateOpenIDConnectProviderThumbprint(i) => {
                validate_thumbprints(&i.thumbprint_list)?;
                let mut p = load_oidc(tx, account, &i.open_id_connect_provider_arn)?;
                p.thumbprint_list = i.thumbprint_list.clone();
                model::put(tx, &model::provider_key(account, OIDC, &p.arn), &p)?;
                let mut reply = Reply::empty();
                reply.resources = oidc_resource(&p.arn);
                Ok(reply)
            }
            Operation::AddClientIDToOpenIDConnectProvider(i) => {
                length("clientID", &i.client_id, 1, 255)?;
                let mut p = load_oidc(tx, account, &i.open_id_connect_provider_arn)?;
                if !p.client_id_list.contains(&i.client_id) {
                    p.client_id_list.push(i.client_id.clone());
                    validate_client_ids(&p.client_id_list)?;
                    model::put(tx, &model::provider_key(account, OIDC, &p.arn), &p)?;
                }
                let mut reply = Reply::empty();
                reply.resources = oidc_resource(&p.arn);
                Ok(reply)
            }
            Operation::RemoveClientIDFromOpenIDConnectProvider(i) => {
                length("clientID", &i.client_id, 1, 255)?;
                let mut p = load_oidc(tx, account, &i.open_id_connect_provider_arn)?;
                p.client_id_list.retain(|c| c != &i.client_id);
                model::put(tx, &model::provider_key(account, OIDC, &p.arn), &p)?;
                let mut reply = Reply::empty();
                reply.resources = oidc_resource(&p.arn);
                Ok(reply)
            }
            Operation::CreateSAMLProvider(i) => {
                validate_saml_name(&i.name)?;
                let valid_until = check_saml_metadata(&i.saml_metadata_document)?;
                let tags = i.tags.clone().unwrap_or_default();
                model::validate_tags(&tags)?;
                let arn = format!("arn:aws:iam::{account}:saml-provider/{}", i.name);
                let key = model::provider_key(account, SAML, &arn);
                if tx.get(&key)?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "SAMLProvider {} already exists.",
                        i.name
                    ))
                    .into());
                }
                let provider = SamlProvider {
                    arn: arn.clone(),
                    name: i.name.clone(),
                    saml_metadata_document: i.saml_metadata_document.clone(),
                    saml_provider_uuid: new_uuid()?,
                    create_date: model::iso(ctx.now),
                    valid_until,
                    tags: tags.clone(),
                };
                model::put(tx, &key, &provider)?;
                let out = SamlArnOutput {
                    saml_provider_arn: arn.clone(),
                    tags,
                };
                let elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = elements;
                reply.resources = saml_resource(&arn);
                Ok(reply)
            }
            Operation::UpdateSAMLProvider(i) => {
                let mut p = load_saml(tx, account, &i.saml_provider_arn)?;
                if let Some(doc) = &i.saml_metadata_document {
                    p.valid_until = check_saml_metadata(doc)?;
                    p.saml_metadata_document = doc.clone();
                }
                model::put(tx, &model::provider_key(account, SAML, &p.arn), &p)?;
                let out = SamlArnOutput {
                    saml_provider_arn: p.arn.clone(),
                    tags: Vec::new(),
                };
                let elements = camel_json(&out);
                let mut reply = Reply::new(out);
                reply.response_elements = elements;
                reply.resources = saml_resource(&p.arn);
                Ok(reply)
            }
            Operation::DeleteSAMLProvider(i) => {
                let p = load_saml(tx, account, &i.saml_provider_arn)?;
                tx.delete(&model::provider_key(account, SAML, &p.arn))?;
                let mut reply = Reply::empty();
                reply.resources = saml_resource(&p.arn);
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM provider operation",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(xml: &str) -> String {
        // Metadata documents must be at least 1000 characters.
        format!("{xml}<!--{}-->", "x".repeat(1000))
    }

    #[test]
    fn saml_metadata_checks() {
        let ok = padded(
            r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com" validUntil="2030-01-01T00:00:00Z"><md:IDPSSODescriptor/></md:EntityDescriptor>"#,
        );
        assert_eq!(
            check_saml_metadata(&ok).ok().flatten().as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        let nested = padded(
            r#"<EntityDescriptor entityID="x"><IDPSSODescriptor><KeyDescriptor/></IDPSSODescriptor><!-- c --></EntityDescriptor>"#,
        );
        assert_eq!(check_saml_metadata(&nested).ok(), Some(None));
        for bad in [
            padded("<NotMetadata/>"),
            padded("<EntityDescriptor><unclosed></EntityDescriptor>"),
            padded("not xml at all"),
            "<EntityDescriptor/>".to_owned(),
        ] {
            assert!(check_saml_metadata(&bad).is_err(), "{bad:.60}");
        }
    }

    #[test]
    fn oidc_urls() {
        assert_eq!(
            oidc_host_path("https://token.actions.githubusercontent.com").ok(),
            Some("token.actions.githubusercontent.com".to_owned())
        );
        assert_eq!(
            oidc_host_path("https://example.com/tenant/").ok(),
            Some("example.com/tenant".to_owned())
        );
        assert!(oidc_host_path("http://example.com").is_err());
        assert!(oidc_host_path("https://").is_err());
        assert_eq!(
            oidc_host_path("https://idp.example.com:8443/x").ok(),
            Some("idp.example.com:8443/x".to_owned())
        );
        for bad in [
            "https://host:99999",
            "https://host:0",
            "https://host:",
            "https://:443",
            "https://a:b:c",
        ] {
            assert!(oidc_host_path(bad).is_err(), "{bad}");
        }
    }
}
