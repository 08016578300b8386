//! IAM virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice,
//! DeactivateMFADevice, DeleteVirtualMFADevice, ListMFADevices, ListVirtualMFADevices.
//!
//! A device's seed is random (40 bytes), shown once (base32 text and a QR code PNG of
//! its `otpauth://` URI) and sealed at rest (see [`super::totp`]). Enabling needs two
//! consecutive real TOTP codes on the business clock; every accepted code moves the
//! device's last used step, so no code works twice. An enabled device is also recorded
//! under the user ([`model::user_mfa_key`]) so ListMFADevices and DeleteUser see it.

use super::{access_keys, camel_json, error::IamError, model, totp, users};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, Reply,
};
use base64::Engine as _;
use model::{Tag, UserMfaDevice, VirtualMfaDevice};
use palisade_store::{ReadTx, WriteTx};

const TABLE: &str = "vmfa";
/// MFA devices one user may have enabled (AWS's quota since 2022).
pub const MAX_DEVICES_PER_USER: usize = 8;
/// Steps either side of now ResyncMFADevice searches for the device's clock.
pub const RESYNC_WINDOW: u64 = 20;
const BAD_CODE: &str = "Authentication code for device is not valid.";

#[derive(Debug)]
pub enum Operation {
    CreateVirtualMFADevice(CreateVirtualMfaDeviceInput),
    EnableMFADevice(CodesInput),
    ResyncMFADevice(CodesInput),
    DeactivateMFADevice(DeactivateMfaDeviceInput),
    DeleteVirtualMFADevice(SerialInput),
    ListMFADevices(ListMfaDevicesInput),
    ListVirtualMFADevices(ListVirtualMfaDevicesInput),
}

pub fn decode(
    action: &str,
    input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "CreateVirtualMFADevice" => input.parse().map(Operation::CreateVirtualMFADevice),
        "EnableMFADevice" => input.parse().map(Operation::EnableMFADevice),
        "ResyncMFADevice" => input.parse().map(Operation::ResyncMFADevice),
        "DeactivateMFADevice" => input.parse().map(Operation::DeactivateMFADevice),
        "DeleteVirtualMFADevice" => input.parse().map(Operation::DeleteVirtualMFADevice),
        "ListMFADevices" => input.parse().map(Operation::ListMFADevices),
        "ListVirtualMFADevices" => input.parse().map(Operation::ListVirtualMFADevices),
        _ => return None,
    };
    Some(op.map(|op| Box::new(op) as Box<dyn crate::Operation>))
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVirtualMfaDeviceInput {
    #[serde(rename = "VirtualMFADeviceName")]
    pub virtual_mfa_device_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodesInput {
    pub user_name: String,
    pub serial_number: String,
    /// Codes are one-time secrets: CloudTrail gets neither.
    #[serde(skip_serializing)]
    pub authentication_code1: String,
    #[serde(skip_serializing)]
    pub authentication_code2: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeactivateMfaDeviceInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub serial_number: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SerialInput {
    pub serial_number: String,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMfaDevicesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVirtualMfaDevicesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<i64>,
}

/// IAM's `VirtualMFADevice` shape. The seed and QR code (base64 blobs) only in
/// CreateVirtualMFADevice's answer.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualMfaDeviceOut {
    pub serial_number: String,
    #[serde(rename = "Base32StringSeed", skip_serializing_if = "Option::is_none")]
    pub base32_string_seed: Option<String>,
    #[serde(rename = "QRCodePNG", skip_serializing_if = "Option::is_none")]
    pub qr_code_png: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<model::User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_date: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for VirtualMfaDeviceOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualMfaDeviceOut")
            .field("serial_number", &self.serial_number)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVirtualMfaDeviceOutput {
    #[serde(rename = "VirtualMFADevice")]
    pub virtual_mfa_device: VirtualMfaDeviceOut,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMfaDevicesOutput {
    #[serde(rename = "MFADevices")]
    pub mfa_devices: Vec<UserMfaDevice>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVirtualMfaDevicesOutput {
    #[serde(rename = "VirtualMFADevices")]
    pub virtual_mfa_devices: Vec<VirtualMfaDeviceOut>,
    pub is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

// ---- helpers -----------------------------------------------------------------------

/// `arn:aws:iam::ACCOUNT:mfa/PATH/NAME`.
pub fn serial_number(account: &str, path: &str, name: &str) -> String {
    model::arn(account, "mfa", path, name)
}

fn validate_serial(value: &str) -> Result<(), IamError> {
    model::check_shape(
        "serialNumber",
        value,
        (9, 256),
        |c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c),
        "[\\w+=/:,.@-]+",
    )
}

fn validate_code(field: &str, value: &str) -> Result<(), IamError> {
    if value.len() == 6 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        // Codes are secrets of a sort: not echoed.
        Err(IamError::Validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length 6 and satisfy regular expression pattern: [\\d]+"
        )))
    }
}

fn no_such_device(serial: &str) -> ApiError {
    IamError::NoSuchEntity(format!(
        "VirtualMFADevice with serial number {serial} doesn't exist."
    ))
    .into()
}

fn load_device(tx: &dyn ReadTx, account: &str, serial: &str) -> Result<VirtualMfaDevice, ApiError> {
    model::get::<VirtualMfaDevice>(tx, &model::virtual_mfa_key(account, serial))?
        .ok_or_else(|| no_such_device(serial))
}

/// The user's enabled MFA devices.
pub fn user_devices(
    tx: &dyn ReadTx,
    account: &str,
    user: &str,
) -> Result<Vec<UserMfaDevice>, ApiError> {
    model::scan_all(tx, &model::user_mfa_prefix(account, user))?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(ApiError::internal))
        .collect()
}

/// The `otpauth://` URI authenticator apps read from the QR code.
pub fn otpauth_uri(account: &str, device_name: &str, base32_seed: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!(
        "otpauth://totp/{}:{}?secret={base32_seed}&issuer={}",
        enc("Amazon Web Services"),
        enc(&format!("{device_name}@{account}")),
        enc("Amazon Web Services"),
    )
}

/// A PNG image of the QR code of `text` (4 pixels a module, 4-module quiet zone).
pub fn qr_png(text: &str) -> Result<Vec<u8>, ApiError> {
    const SCALE: usize = 4;
    const QUIET: usize = 4;
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(ApiError::internal)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, px) in pixels.iter_mut().enumerate() {
        let (y, x) = (i / side / SCALE, (i % side) / SCALE);
        let dark = y >= QUIET
            && x >= QUIET
            && y < width + QUIET
            && x < width + QUIET
            && colors.get((y - QUIET) * width + (x - QUIET)) == Some(&qrcode::Color::Dark);
        if dark {
            *px = 0;
        }
    }
    let side32 = u32::try_from(side).map_err(ApiError::internal)?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side32, side32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(ApiError::internal)?;
        writer
            .write_image_data(&pixels)
            .map_err(ApiError::internal)?;
        writer.finish().map_err(ApiError::internal)?;
    }
    Ok(out)
}

fn create_device(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    input: &CreateVirtualMfaDeviceInput,
) -> Result<VirtualMfaDeviceOut, ApiError> {
    let account = &ctx.principal.account_id;
    let name = &input.virtual_mfa_device_name;
    model::validate_name("virtualMFADeviceName", name, 226)?;
    let path = input.path.as_deref().unwrap_or("/");
    model::validate_path("path", path)?;
    let tags = input.tags.clone().unwrap_or_default();
    model::validate_tags(&tags)?;
    let serial = serial_number(account, path, name);
    let key = model::virtual_mfa_key(account, &serial);
    if tx.get(&key)?.is_some() {
        return Err(IamError::EntityAlreadyExists(
            "MFADevice entity at the same path and name already exists.".into(),
        )
        .into());
    }
    let mut seed = vec![0u8; totp::SEED_BYTES];
    palisade_store::seal::fill_random(&mut seed)
        .map_err(|_| ApiError::internal("random source failed"))?;
    let base32 = totp::base32_encode(&seed);
    let png = qr_png(&otpauth_uri(account, name, &base32))?;
    let device = VirtualMfaDevice {
        serial_number: serial.clone(),
        path: path.to_owned(),
        name: name.clone(),
        sealed_seed: totp::seal_seed(&env.master_key, &serial, &seed)?,
        create_date: model::iso(ctx.now),
        user_name: None,
        enable_date: None,
        tags: tags.clone(),
        last_used_step: None,
        last_used_wall_step: None,
        used_steps: Vec::new(),
        drift_steps: 0,
    };
    seed.fill(0);
    model::put(tx, &key, &device)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(VirtualMfaDeviceOut {
        serial_number: serial,
        base32_string_seed: Some(b64.encode(base32.as_bytes())),
        qr_code_png: Some(b64.encode(png)),
        user: None,
        enable_date: None,
        tags,
    })
}

/// ResyncMFADevice's search: two consecutive codes around the business clock's step,
/// after its last used step and never accepted before.
fn check_codes(
    env: &Env,
    device: &VirtualMfaDevice,
    input: &CodesInput,
    center: u64,
    window: u64,
) -> Result<u64, ApiError> {
    validate_code("authenticationCode1", &input.authentication_code1)?;
    validate_code("authenticationCode2", &input.authentication_code2)?;
    let seed = totp::open_seed(&env.master_key, &device.serial_number, &device.sealed_seed)?;
    let found = totp::find_consecutive(
        &seed,
        &input.authentication_code1,
        &input.authentication_code2,
        center,
        window,
    )
    .filter(|first| {
        device.last_used_step.is_none_or(|last| *first > last)
            && !totp::step_used(device, *first)
            && !totp::step_used(device, first.saturating_add(1))
    });
    found.ok_or_else(|| IamError::InvalidAuthenticationCode(BAD_CODE.into()).into())
}

fn enable_device(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    input: &CodesInput,
) -> Result<model::User, ApiError> {
    let account = &ctx.principal.account_id;
    model::validate_name("userName", &input.user_name, 128)?;
    validate_serial(&input.serial_number)?;
    let user = users::load(tx, account, &input.user_name)?;
    let mut device = load_device(tx, account, &input.serial_number)?;
    if device.user_name.is_some() {
        return Err(IamError::EntityAlreadyExists("MFA Device is already in use.".into()).into());
    }
    if user_devices(tx, account, &user.user_name)?.len() >= MAX_DEVICES_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}"
        ))
        .into());
    }
    // Codes from the business clock or, once it was moved, the wall clock (`totp`).
    validate_code("authenticationCode1", &input.authentication_code1)?;
    validate_code("authenticationCode2", &input.authentication_code2)?;
    let seed = totp::open_seed(&env.master_key, &device.serial_number, &device.sealed_seed)?;
    let wall_now = time::OffsetDateTime::now_utc();
    let first = totp::find_consecutive_unused(
        &device,
        &seed,
        &input.authentication_code1,
        &input.authentication_code2,
        ctx.now,
        wall_now,
    )
    .ok_or_else(|| ApiError::from(IamError::InvalidAuthenticationCode(BAD_CODE.into())))?;
    let enable_date = model::iso(ctx.now);
    device.user_name = Some(user.user_name.clone());
    device.enable_date = Some(enable_date.clone());
    for step in [first, first + 1] {
        let accepted = totp::accepted_at(&device, step, ctx.now, wall_now);
        totp::remember(&mut device, accepted);
    }
    model::put(
        tx,
        &model::virtual_mfa_key(account, &device.serial_number),
        &device,
    )?;
    model::put(
        tx,
        &model::user_mfa_key(account, &user.user_name, &device.serial_number),
        &UserMfaDevice {
            user_name: user.user_name.clone(),
            serial_number: device.serial_number.clone(),
            enable_date,
        },
    )?;
    Ok(user)
}

/// The device `serial` as enabled for `user`, or NoSuchEntity.
fn assigned_device(
    tx: &dyn ReadTx,
    account: &str,
    user: &str,
    serial: &str,
) -> Result<VirtualMfaDevice, ApiError> {
    let not_found = || -> ApiError {
        IamError::NoSuchEntity(format!(
            "MFA Device with serial number {serial} does not exist for user {user}."
        ))
        .into()
    };
    if tx
        .get(&model::user_mfa_key(account, user, serial))?
        .is_none()
    {
        return Err(not_found());
    }
    load_device(tx, account, serial).map_err(|_| not_found())
}

fn resync_device(
    tx: &mut dyn WriteTx,
    env: &Env,
    ctx: &RequestContext,
    input: &CodesInput,
) -> Result<model::User, ApiError> {
    let account = &ctx.principal.account_id;
    model::validate_name("userName", &input.user_name, 128)?;
    validate_serial(&input.serial_number)?;
    let user = users::load(tx, account, &input.user_name)?;
    let mut device = assigned_device(tx, account, &user.user_name, &input.serial_number)?;
    // Resync looks for the device's clock around ours, whatever drift was learnt before.
    // Resync learns drift against the business clock only.
    let first = check_codes(env, &device, input, totp::time_step(ctx.now), RESYNC_WINDOW)?;
    let second = first + 1;
    let now_step = totp::time_step(ctx.now);
    device.drift_steps = if second >= now_step {
        i64::try_from(second - now_step).unwrap_or(0)
    } else {
        -i64::try_from(now_step - second).unwrap_or(0)
    };
    let wall_now = time::OffsetDateTime::now_utc();
    for step in [first, second] {
        let accepted = totp::accepted_at(&device, step, ctx.now, wall_now);
        totp::remember(&mut device, accepted);
    }
    model::put(
        tx,
        &model::virtual_mfa_key(account, &device.serial_number),
        &device,
    )?;
    Ok(user)
}

fn deactivate_device(
    tx: &mut dyn WriteTx,
    ctx: &RequestContext,
    input: &DeactivateMfaDeviceInput,
) -> Result<model::User, ApiError> {
    let account = &ctx.principal.account_id;
    validate_serial(&input.serial_number)?;
    let name = match access_keys::subject(ctx, input.user_name.as_deref())? {
        access_keys::Subject::User(n) => n,
        access_keys::Subject::Root => return Err(no_such_device(&input.serial_number)),
    };
    let user = users::load(tx, account, &name)?;
    let mut device = assigned_device(tx, account, &user.user_name, &input.serial_number)?;
    device.user_name = None;
    device.enable_date = None;
    device.drift_steps = 0;
    model::put(
        tx,
        &model::virtual_mfa_key(account, &device.serial_number),
        &device,
    )?;
    tx.delete(&model::user_mfa_key(
        account,
        &user.user_name,
        &device.serial_number,
    ))?;
    Ok(user)
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::CreateVirtualMFADevice(_) => "CreateVirtualMFADevice",
            Operation::EnableMFADevice(_) => "EnableMFADevice",
            Operation::ResyncMFADevice(_) => "ResyncMFADevice",
            Operation::DeactivateMFADevice(_) => "DeactivateMFADevice",
            Operation::DeleteVirtualMFADevice(_) => "DeleteVirtualMFADevice",
            Operation::ListMFADevices(_) => "ListMFADevices",
            Operation::ListVirtualMFADevices(_) => "ListVirtualMFADevices",
        }
    }

    fn read_only(&self) -> bool {
        matches!(
            self,
            Operation::ListMFADevices(_) | Operation::ListVirtualMFADevices(_)
        )
    }

    fn authz(&self, ctx: &RequestContext) -> Vec<AuthzCheck> {
        let account = ctx.principal.account_id.as_str();
        let user = |name: Option<&str>| access_keys::subject_arn(ctx, name);
        let check = match self {
            Operation::CreateVirtualMFADevice(i) => {
                let serial = serial_number(
                    account,
                    i.path.as_deref().unwrap_or("/"),
                    &i.virtual_mfa_device_name,
                );
                let tags = super::tags::request_tag_context(i.tags.as_deref().unwrap_or_default());
                let mut c =
                    AuthzCheck::new("iam:CreateVirtualMFADevice", serial.clone()).naming_new();
                if tags.is_empty() {
                    return vec![c];
                }
                // Tags at creation also need iam:TagMFADevice.
                c.context = tags.clone();
                let mut t = AuthzCheck::new("iam:TagMFADevice", serial).naming_new();
                t.context = tags;
                return vec![c, t];
            }
            Operation::EnableMFADevice(i) => {
                AuthzCheck::new("iam:EnableMFADevice", user(Some(&i.user_name)))
            }
            Operation::ResyncMFADevice(i) => {
                AuthzCheck::new("iam:ResyncMFADevice", user(Some(&i.user_name)))
            }
            Operation::DeactivateMFADevice(i) => {
                AuthzCheck::new("iam:DeactivateMFADevice", user(i.user_name.as_deref()))
            }
            Operation::DeleteVirtualMFADevice(i) => {
                AuthzCheck::new("iam:DeleteVirtualMFADevice", i.serial_number.clone())
            }
            Operation::ListMFADevices(i) => {
                AuthzCheck::new("iam:ListMFADevices", user(i.user_name.as_deref()))
            }
            Operation::ListVirtualMFADevices(_) => {
                AuthzCheck::new("iam:ListVirtualMFADevices", "*")
            }
        };
        vec![check]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        match self {
            Operation::CreateVirtualMFADevice(i) => camel_json(i),
            Operation::EnableMFADevice(i) | Operation::ResyncMFADevice(i) => camel_json(i),
            Operation::DeactivateMFADevice(i) => camel_json(i),
            Operation::DeleteVirtualMFADevice(i) => camel_json(i),
            Operation::ListMFADevices(i) => camel_json(i),
            Operation::ListVirtualMFADevices(i) => camel_json(i),
        }
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match self {
            Operation::ListMFADevices(i) => {
                let page = match access_keys::subject(ctx, i.user_name.as_deref())? {
                    access_keys::Subject::User(name) => {
                        let user = users::load(tx, account, &name)?;
                        model::list_page::<UserMfaDevice>(
                            tx,
                            &model::user_mfa_prefix(account, &user.user_name),
                            i.marker.as_deref(),
                            i.max_items,
                            |_| true,
                        )?
                    }
                    // Root devices are not managed through this API.
                    access_keys::Subject::Root => {
                        model::max_items(i.max_items)?;
                        // An empty list has no pages: any marker is one IAM never gave.
                        if i.marker.is_some() {
                            return Err(IamError::InvalidInput("Invalid Marker.".into()).into());
                        }
                        model::Page {
                            items: Vec::new(),
                            marker: None,
                        }
                    }
                };
                Ok(Reply::new(ListMfaDevicesOutput {
                    is_truncated: page.is_truncated(),
                    mfa_devices: page.items,
                    marker: page.marker,
                }))
            }
            Operation::ListVirtualMFADevices(i) => {
                // AssignmentStatus is the model's enum, checked before authorization.
                let status = i.assignment_status.as_deref().unwrap_or("Any");
                let page = model::list_page::<VirtualMfaDevice>(
                    tx,
                    &model::table_prefix(account, TABLE),
                    i.marker.as_deref(),
                    i.max_items,
                    |d| match status {
                        "Assigned" => d.user_name.is_some(),
                        "Unassigned" => d.user_name.is_none(),
                        _ => true,
                    },
                )?;
                let is_truncated = page.is_truncated();
                let mut devices = Vec::with_capacity(page.items.len());
                for d in page.items {
                    let user = match &d.user_name {
                        Some(n) => {
                            model::get::<model::User>(tx, &model::entity_key(account, "user", n))?
                                .map(|mut u| {
                                    u.tags.clear();
                                    u.permissions_boundary = None;
                                    u
                                })
                        }
                        None => None,
                    };
                    devices.push(VirtualMfaDeviceOut {
                        serial_number: d.serial_number,
                        base32_string_seed: None,
                        qr_code_png: None,
                        user,
                        enable_date: d.enable_date,
                        tags: Vec::new(),
                    });
                }
                Ok(Reply::new(ListVirtualMfaDevicesOutput {
                    virtual_mfa_devices: devices,
                    is_truncated,
                    marker: page.marker,
                }))
            }
            _ => Err(ApiError::internal("read() on a mutating IAM MFA operation")),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        let user_reply = |user: model::User| {
            let mut reply = Reply::empty();
            reply.resources = vec![("AWS::IAM::User".into(), user.arn)];
            reply
        };
        match self {
            Operation::CreateVirtualMFADevice(i) => {
                let device = create_device(tx, env, ctx, i)?;
                // CloudTrail gets the serial number, never the seed.
                let elements = serde_json::json!({
                    "virtualMFADevice": { "serialNumber": device.serial_number }
                });
                let serial = device.serial_number.clone();
                let mut reply = Reply::new(CreateVirtualMfaDeviceOutput {
                    virtual_mfa_device: device,
                });
                reply.response_elements = Some(elements);
                reply.resources = vec![("AWS::IAM::VirtualMFADevice".into(), serial)];
                Ok(reply)
            }
            Operation::EnableMFADevice(i) => Ok(user_reply(enable_device(tx, env, ctx, i)?)),
            Operation::ResyncMFADevice(i) => Ok(user_reply(resync_device(tx, env, ctx, i)?)),
            Operation::DeactivateMFADevice(i) => Ok(user_reply(deactivate_device(tx, ctx, i)?)),
            Operation::DeleteVirtualMFADevice(i) => {
                validate_serial(&i.serial_number)?;
                let device = load_device(tx, account, &i.serial_number)?;
                if device.user_name.is_some() {
                    return Err(IamError::DeleteConflict(
                        "MFA device is still in use. Deactivate it first.".into(),
                    )
                    .into());
                }
                tx.delete(&model::virtual_mfa_key(account, &device.serial_number))?;
                let mut reply = Reply::empty();
                reply.resources = vec![("AWS::IAM::VirtualMFADevice".into(), device.serial_number)];
                Ok(reply)
            }
            _ => Err(ApiError::internal(
                "write() on a read-only IAM MFA operation",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn qr_code_is_a_png() {
        let uri = otpauth_uri("123456789012", "alex", "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri,
            "otpauth://totp/Amazon%20Web%20Services:alex%40123456789012?secret=JBSWY3DPEHPK3PXP&issuer=Amazon%20Web%20Services"
        );
        let png = qr_png(&uri).unwrap();
        assert_eq!(png.get(..8).unwrap(), b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width, info.height);
        assert!(info.width >= 100);
    }
}
