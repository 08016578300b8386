//! IAM credential report: GenerateCredentialReport, GetCredentialReport.
//!
//! The report is the CSV AWS documents (IAM User Guide, "Getting credential reports"):
//! the same columns in the same order, the root user first as `<root_account>`, and the
//! same placeholder values (`N/A`, `not_supported`, `no_information`). It is generated
//! synchronously and stored; like AWS, a report younger than four hours (business clock)
//! is returned rather than regenerated, and an older one has expired.

use super::{access_keys, error::IamError, login_profiles, mfa, model};
use crate::{
    authz::AuthzCheck, context::RequestContext, env::Env, error::ApiError, input::Input, keyspace,
    Reply,
};
use base64::Engine as _;
use palisade_store::{ReadTx, WriteTx};
use time::{Duration, OffsetDateTime};

const ITEM: &str = "credential-report";
/// How long a report stays current (and retrievable).
pub const REPORT_LIFETIME: Duration = Duration::hours(4);

/// The columns, in AWS's order.
pub const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

#[derive(Debug)]
pub enum Operation {
    GenerateCredentialReport,
    GetCredentialReport,
}

pub fn decode(
    action: &str,
    _input: &Input<'_>,
) -> Option<Result<Box<dyn crate::Operation>, ApiError>> {
    let op = match action {
        "GenerateCredentialReport" => Operation::GenerateCredentialReport,
        "GetCredentialReport" => Operation::GetCredentialReport,
        _ => return None,
    };
    Some(Ok(Box::new(op)))
}

/// The stored report.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredReport {
    pub generated_time: String,
    /// The CSV text.
    pub csv: String,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateCredentialReportOutput {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'static str>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCredentialReportOutput {
    /// base64 of the CSV (a blob on the wire).
    pub content: String,
    pub report_format: &'static str,
    pub generated_time: String,
}

/// The report's timestamp form: ISO 8601 with an explicit offset (`2026-01-02T03:04:05+00:00`).
fn report_time(iso: &str) -> String {
    match iso.strip_suffix('Z') {
        Some(base) => format!("{base}+00:00"),
        None => iso.to_owned(),
    }
}

fn account_created(tx: &dyn ReadTx, account: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = tx.get(&keyspace::account(account))? else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    Ok(v.get("created")
        .and_then(|c| c.as_str())
        .and_then(|s| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| report_time(&model::iso(t))))
}

fn key_columns(row: &mut Vec<String>, key: Option<&access_keys::AccessKeyRecord>) {
    let na = || "N/A".to_owned();
    match key {
        Some(k) => {
            let used = k.last_used.as_ref().and_then(|u| {
                u.last_used_date
                    .as_ref()
                    .map(|d| (report_time(d), u.region.clone(), u.service_name.clone()))
            });
            row.push((k.status == "Active").to_string());
            row.push(report_time(&k.create_date));
            match used {
                Some((date, region, service)) => {
                    row.extend([date, region, service]);
                }
                None => row.extend([na(), na(), na()]),
            }
        }
        None => row.extend(["false".to_owned(), na(), na(), na(), na()]),
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Builds the CSV for `account` as of `now`.
pub fn build(tx: &dyn ReadTx, account: &str, now: OffsetDateTime) -> Result<String, ApiError> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let na = || "N/A".to_owned();
    let policy = login_profiles::get_policy(tx, account)?;

    // The root user.
    let mut root = vec![
        "<root_account>".to_owned(),
        format!("arn:aws:iam::{account}:root"),
        account_created(tx, account)?.unwrap_or_else(|| report_time(&model::iso(now))),
        "not_supported".to_owned(),
        "no_information".to_owned(),
        "not_supported".to_owned(),
        "not_supported".to_owned(),
        "false".to_owned(),
    ];
    let root_keys = access_keys::user_keys(tx, account, access_keys::ROOT_KEYS)?;
    key_columns(&mut root, root_keys.first());
    key_columns(&mut root, root_keys.get(1));
    root.extend(["false".to_owned(), na(), "false".to_owned(), na()]);
    rows.push(root);

    for (_, raw) in model::scan_all(tx, &model::table_prefix(account, "user"))? {
        let user: model::User = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        let profile = login_profiles::get_profile(tx, account, &user.user_name)?;
        let mut row = vec![
            user.user_name.clone(),
            user.arn.clone(),
            report_time(&user.create_date),
        ];
        match &profile {
            Some(p) => {
                row.push("true".to_owned());
                row.push(
                    user.password_last_used
                        .as_deref()
                        .map(report_time)
                        .unwrap_or_else(|| "no_information".to_owned()),
                );
                row.push(report_time(&p.password_last_changed));
                let next = policy
                    .as_ref()
                    .and_then(|pol| pol.max_password_age)
                    .and_then(|days| {
                        model::parse_iso(&p.password_last_changed)
                            .map(|t| report_time(&model::iso(t + Duration::days(days))))
                    });
                row.push(next.unwrap_or_else(na));
            }
            None => row.extend(["false".to_owned(), na(), na(), na()]),
        }
        let mfa_active = !mfa::user_devices(tx, account, &user.user_name)?.is_empty();
        row.push(mfa_active.to_string());
        let keys = access_keys::user_keys(tx, account, &user.user_name)?;
        key_columns(&mut row, keys.first());
        key_columns(&mut row, keys.get(1));
        row.extend(["false".to_owned(), na(), "false".to_owned(), na()]);
        rows.push(row);
    }

    let mut csv = COLUMNS.join(",");
    for row in rows {
        csv.push('\n');
        csv.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    Ok(csv)
}

fn current(
    tx: &dyn ReadTx,
    account: &str,
    now: OffsetDateTime,
) -> Result<Option<(StoredReport, bool)>, ApiError> {
    let Some(report) = model::get::<StoredReport>(tx, &model::account_item_key(account, ITEM))?
    else {
        return Ok(None);
    };
    let fresh = model::parse_iso(&report.generated_time).is_some_and(|t| now - t < REPORT_LIFETIME);
    Ok(Some((report, fresh)))
}

impl crate::Operation for Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::GenerateCredentialReport => "GenerateCredentialReport",
            Operation::GetCredentialReport => "GetCredentialReport",
        }
    }

    fn read_only(&self) -> bool {
        matches!(self, Operation::GetCredentialReport)
    }

    fn authz(&self, _ctx: &RequestContext) -> Vec<AuthzCheck> {
        vec![AuthzCheck::new(
            match self {
                Operation::GenerateCredentialReport => "iam:GenerateCredentialReport",
                Operation::GetCredentialReport => "iam:GetCredentialReport",
            },
            "*",
        )]
    }

    fn request_parameters(&self) -> Option<serde_json::Value> {
        None
    }

    fn read(&self, tx: &dyn ReadTx, _env: &Env, ctx: &RequestContext) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        match current(tx, account, ctx.now)? {
            None => Err(ApiError::new(
                "ReportNotPresent",
                410,
                "Credential report not present. To generate a credential report, use GenerateCredentialReport.",
            )),
            Some((_, false)) => Err(ApiError::new(
                "ReportExpired",
                410,
                "The credential report has expired. To generate a new credential report, use GenerateCredentialReport.",
            )),
            Some((report, true)) => Ok(Reply::new(GetCredentialReportOutput {
                content: base64::engine::general_purpose::STANDARD.encode(report.csv.as_bytes()),
                report_format: "text/csv",
                generated_time: report.generated_time,
            })),
        }
    }

    fn write(
        &self,
        tx: &mut dyn WriteTx,
        _env: &Env,
        ctx: &RequestContext,
    ) -> Result<Reply, ApiError> {
        let account = &ctx.principal.account_id;
        if !matches!(self, Operation::GenerateCredentialReport) {
            return Err(IamError::Validation("GetCredentialReport is read-only".into()).into());
        }
        let out = match current(tx, account, ctx.now)? {
            Some((_, true)) => GenerateCredentialReportOutput {
                state: "COMPLETE",
                description: None,
            },
            _ => {
                let csv = build(tx, account, ctx.now)?;
                model::put(
                    tx,
                    &model::account_item_key(account, ITEM),
                    &StoredReport {
                        generated_time: model::iso(ctx.now),
                        csv,
                    },
                )?;
                GenerateCredentialReportOutput {
                    state: "STARTED",
                    description: Some("No report exists. Starting a new report generation task"),
                }
            }
        };
        let elements = serde_json::json!({ "state": out.state, "description": out.description });
        let mut reply = Reply::new(out);
        reply.response_elements = Some(elements);
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_times() {
        assert_eq!(
            report_time("2026-01-02T03:04:05Z"),
            "2026-01-02T03:04:05+00:00"
        );
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(COLUMNS.len(), 22);
    }
}
