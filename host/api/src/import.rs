//! `POST /v1/tenants/{tenant}/subscribers/import`: subscribers from a CSV
//! file (docs/subscribers-csv.md), all or nothing.
//!
//! Municipalities move from other services with an export file, so the
//! import must say exactly what is wrong with it: every bad line is listed
//! (up to [`MAX_REPORTED_ERRORS`]) with its line number and column, and no
//! line of a refused file is written. Lines are grouped into households by
//! `external_id`; importing the same file again changes nothing.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use tayori_core::{
    ImportRefusal, ImportRow, ImportSummary, Locale, NewChild, NewContact, StoreError,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::subscribers::{Refusal, Rules};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_subscribers))
}

/// The largest CSV body: about 500,000 households.
pub const MAX_CSV_BODY: usize = 64 << 20;
/// At most this many bad lines are listed in one answer.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// The columns a file may have, in the documented order.
pub const COLUMNS: &[&str] = &[
    "external_id",
    "locale",
    "channel",
    "address",
    "due_date",
    "birth_date",
];

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Lines read (without the header).
    pub lines: u64,
    /// Households in the file.
    pub subscribers: u64,
    /// Households created.
    pub created: u64,
    /// Existing households changed.
    pub updated: u64,
    /// Existing households the file left as they were.
    pub unchanged: u64,
}

/// One household, gathered from its lines.
struct Household {
    external_id: String,
    first_line: u64,
    locale: Option<(Locale, u64)>,
    contacts: Vec<NewContact>,
    contact_lines: Vec<u64>,
    children: Vec<NewChild>,
    child_lines: Vec<u64>,
}

/// A parsed file: the rows to import and where each part came from.
pub(crate) struct Parsed {
    lines: u64,
    households: Vec<Household>,
    /// The bad lines found reading the file.
    errors: Errors,
}

impl Parsed {
    fn rows(&self) -> Vec<ImportRow> {
        self.households
            .iter()
            .map(|h| ImportRow {
                external_id: h.external_id.clone(),
                locale: h.locale.map(|(l, _)| l).unwrap_or(Locale::Ja),
                contacts: h.contacts.clone(),
                children: h.children.clone(),
            })
            .collect()
    }

    /// The store's refusals, each at its line, added to the bad lines.
    fn add_refusals(&mut self, refusals: Vec<ImportRefusal>) {
        for r in refusals {
            let (line, column) = self.locate(&r.field).unwrap_or((0, r.field));
            self.errors.push(line, (column, r.message));
        }
    }

    /// The line a store field path (`rows[3].contacts[1].address`) points at,
    /// and the rest of the path.
    fn locate(&self, field: &str) -> Option<(u64, String)> {
        let rest = field.strip_prefix("rows[")?;
        let (i, rest) = rest.split_once(']')?;
        let h = self.households.get(i.parse::<usize>().ok()?)?;
        let rest = rest.trim_start_matches('.');
        let indexed = |list: &[u64], name: &str| -> Option<(u64, String)> {
            let tail = rest.strip_prefix(name)?.strip_prefix('[')?;
            let (j, tail) = tail.split_once(']')?;
            let line = *list.get(j.parse::<usize>().ok()?)?;
            let column = tail.trim_start_matches('.');
            Some((
                line,
                if column.is_empty() {
                    name.to_string()
                } else {
                    column.to_string()
                },
            ))
        };
        indexed(&h.contact_lines, "contacts")
            .or_else(|| indexed(&h.child_lines, "children"))
            .or_else(|| Some((h.first_line, rest.to_string())))
    }
}

/// The errors of a refused file, in line order.
#[derive(Default)]
struct Errors {
    list: Vec<(u64, String)>,
    more: usize,
}

impl Errors {
    fn push(&mut self, line: u64, (field, message): Refusal) {
        if self.list.len() < MAX_REPORTED_ERRORS {
            self.list.push((line, format!("{field}: {message}")));
        } else {
            self.more += 1;
        }
    }

    fn into_error(mut self) -> ApiError {
        self.list.sort_by_key(|(line, _)| *line);
        let mut message = self
            .list
            .iter()
            .map(|(line, m)| format!("line {line}: {m}"))
            .collect::<Vec<_>>()
            .join("\n");
        if self.more > 0 {
            message.push_str(&format!("\n... and {} more", self.more));
        }
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv", message)
    }
}

fn column_index(headers: &csv::StringRecord) -> Result<HashMap<&'static str, usize>, String> {
    let mut index = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(format!(
                "line 1: unknown column `{}`; the columns are {}",
                h.trim(),
                COLUMNS.join(", ")
            ));
        };
        if index.insert(*known, i).is_some() {
            return Err(format!("line 1: column `{known}` appears twice"));
        }
    }
    for required in ["external_id", "channel", "address"] {
        if !index.contains_key(required) {
            return Err(format!(
                "line 1: the header has no `{required}` column; the columns are {}",
                COLUMNS.join(", ")
            ));
        }
    }
    if !index.contains_key("due_date") && !index.contains_key("birth_date") {
        return Err("line 1: the header needs a `due_date` or a `birth_date` column".into());
    }
    Ok(index)
}

/// Parses and checks a whole file; every problem of a line is collected
/// in [`Parsed::errors`] (only a bad header is an error at once), and the
/// lines that are good still make rows, for the store to check too.
pub(crate) fn parse(body: &[u8], rules: &Rules) -> Result<Parsed, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv", m);
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("line 1: {}", csv_error(&e))))?
        .clone();
    let index = column_index(&headers).map_err(bad)?;
    let get = |record: &csv::StringRecord, column: &str| -> Option<String> {
        index
            .get(column)
            .and_then(|&i| record.get(i))
            .map(str::to_string)
    };

    let mut errors = Errors::default();
    let mut households: Vec<Household> = Vec::new();
    let mut by_external: HashMap<String, usize> = HashMap::new();
    let mut address_lines: HashMap<NewContact, (u64, usize)> = HashMap::new();
    let mut lines = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                errors.list.push((line, csv_error(&e)));
                if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                    continue;
                }
                break;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        lines += 1;
        let external_id = match Rules::external_id(
            "external_id",
            &get(&record, "external_id").unwrap_or_default(),
        ) {
            Ok(e) => e,
            Err(r) => {
                errors.push(line, r);
                continue;
            }
        };
        let slot = *by_external.entry(external_id.clone()).or_insert_with(|| {
            households.push(Household {
                external_id: external_id.clone(),
                first_line: line,
                locale: None,
                contacts: Vec::new(),
                contact_lines: Vec::new(),
                children: Vec::new(),
                child_lines: Vec::new(),
            });
            households.len() - 1
        });
        let household = &mut households[slot];

        if let Some(text) = get(&record, "locale").filter(|l| !l.is_empty()) {
            match Rules::locale("locale", Some(&text)) {
                Ok(locale) => match household.locale {
                    Some((other, other_line)) if other != locale => errors.push(
                        line,
                        (
                            "locale".into(),
                            format!(
                                "`{locale}` differs from `{other}` on line {other_line} for external_id `{external_id}`"
                            ),
                        ),
                    ),
                    Some(_) => {}
                    None => household.locale = Some((locale, line)),
                },
                Err(r) => errors.push(line, r),
            }
        }

        let channel = get(&record, "channel").unwrap_or_default();
        let address = get(&record, "address").unwrap_or_default();
        if !(channel.is_empty() && address.is_empty()) {
            match rules.contact("", &channel, &address) {
                Ok(contact) => match address_lines.get(&contact) {
                    Some(&(_, owner)) if owner == slot => {}
                    Some(&(other_line, _)) => errors.push(
                        line,
                        (
                            "address".into(),
                            format!(
                                "the same {} address is on line {other_line} for another external_id",
                                contact.channel
                            ),
                        ),
                    ),
                    None => {
                        address_lines.insert(contact.clone(), (line, slot));
                        household.contacts.push(contact);
                        household.contact_lines.push(line);
                    }
                },
                Err(r) => errors.push(line, r),
            }
        }

        let due = get(&record, "due_date").unwrap_or_default();
        let birth = get(&record, "birth_date").unwrap_or_default();
        if !(due.is_empty() && birth.is_empty()) {
            match rules.child("", Some(&due), Some(&birth)) {
                Ok(child) => {
                    household.children.push(child);
                    household.child_lines.push(line);
                }
                Err(r) => errors.push(line, r),
            }
        }
    }

    for h in &households {
        if h.contacts.is_empty() && !errors.list.iter().any(|(l, _)| *l == h.first_line) {
            errors.push(
                h.first_line,
                (
                    "address".into(),
                    format!(
                        "external_id `{}` has no contact: give a channel and an address",
                        h.external_id
                    ),
                ),
            );
        }
        if h.children.is_empty() && !errors.list.iter().any(|(l, _)| *l == h.first_line) {
            errors.push(
                h.first_line,
                (
                    "due_date".into(),
                    format!(
                        "external_id `{}` has no child: give a due_date or a birth_date",
                        h.external_id
                    ),
                ),
            );
        }
    }
    Ok(Parsed {
        lines,
        households,
        errors,
    })
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the file is not UTF-8 (a spreadsheet saving Shift_JIS? save it as \"CSV UTF-8\")"
                .to_string()
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields, the header has {expected_len}"),
        _ => e.to_string(),
    }
}

/// Import subscribers from CSV (`Content-Type: text/csv`; columns in
/// docs/subscribers-csv.md). All or nothing: a bad line refuses the whole
/// file with every bad line listed; importing the same file again changes
/// nothing.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers/import", tag = "subscribers",
    params(("tenant" = String, Path)),
    request_body(content = String, content_type = "text/csv", description = "external_id,locale,channel,address,due_date,birth_date"),
    responses(
        (status = 200, body = ImportResult),
        (status = 404, body = ErrorBody),
        (status = 413, description = "Over 64 MiB", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Bad lines, each as `line N: column: problem`; nothing was written", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn import_subscribers(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportResult>> {
    let tenant_row = crate::tenants::visible_tenant(&state, &principal, &tenant).await?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(mime, "text/csv" | "application/csv" | "text/plain") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as `Content-Type: text/csv` (UTF-8)",
        ));
    }
    crate::input::text_body("CSV", &body)?;
    let channels = state.store.channels(&tenant).await?;
    let rules = Rules::new(
        &tenant_row,
        state.scheduler.clock().now(),
        channels.into_iter().map(|c| c.name),
    );
    // Parsing 100,000 lines takes a while: off the async workers.
    let mut parsed = tokio::task::spawn_blocking(move || parse(&body, &rules))
        .await
        .map_err(ApiError::internal)??;
    let rows = parsed.rows();
    if !parsed.errors.list.is_empty() {
        // Name the lines the store would refuse too, in the same answer.
        let refusals = state.store.import_refusals(&tenant, &rows).await?;
        parsed.add_refusals(refusals);
        return Err(parsed.errors.into_error());
    }
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_csv",
            "the file has no lines after the header",
        ));
    }
    let summary: ImportSummary = match state.store.import_subscribers(&tenant, &rows).await {
        Ok(s) => {
            state.scheduler.subscribers_changed(&tenant);
            s
        }
        Err(StoreError::Invalid { field, message }) => {
            // The store stops at its first refusal: list them all.
            let mut refusals = state.store.import_refusals(&tenant, &rows).await?;
            if refusals.is_empty() {
                refusals.push(ImportRefusal { field, message });
            }
            parsed.add_refusals(refusals);
            return Err(parsed.errors.into_error());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(%tenant, lines = parsed.lines, created = summary.created, updated = summary.updated, unchanged = summary.unchanged, "subscribers imported");
    Ok(Json(ImportResult {
        lines: parsed.lines,
        subscribers: parsed.households.len() as u64,
        created: summary.created,
        updated: summary.updated,
        unchanged: summary.unchanged,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules::on(
            "2026-06-15".parse().unwrap(),
            ["line".to_string(), "email".to_string()],
        )
    }

    /// The answer to a file refused by its own lines.
    fn refused(csv: &str) -> ApiError {
        match parse(csv.as_bytes(), &rules()) {
            Err(e) => e,
            Ok(p) if !p.errors.list.is_empty() => p.errors.into_error(),
            Ok(_) => panic!("accepted {csv}"),
        }
    }

    #[test]
    fn households_gather_their_lines() {
        let csv = "\u{feff}external_id,locale,channel,address,due_date,birth_date\n\
                   K1,ja,line,U1,2026-12-01,\n\
                   K1,,email,a@example.jp,,\n\
                   K2,en,line,U2,,2025-03-01\n\
                   K2,en,line,U2,,2025-03-01\n";
        let parsed = parse(csv.as_bytes(), &rules()).unwrap();
        assert!(parsed.errors.list.is_empty());
        let rows = parsed.rows();
        assert_eq!(parsed.lines, 4);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].contacts.len(), 2);
        assert_eq!(rows[0].children.len(), 1);
        // Twins: the same contact on two lines, two children.
        assert_eq!(rows[1].contacts.len(), 1);
        assert_eq!(rows[1].children.len(), 2);
        assert_eq!(rows[1].locale, Locale::En);
        assert_eq!(
            parsed.locate("rows[0].contacts[1].address"),
            Some((3, "address".into()))
        );
        assert_eq!(
            parsed.locate("rows[1].children[1]"),
            Some((5, "children".into()))
        );
    }

    #[test]
    fn every_bad_line_is_listed() {
        let csv = "external_id,channel,address,due_date\n\
                   K1,line,U1,2026-12-01\n\
                   K2,line,U2,2027-13-01\n\
                   K3,fax,U3,2026-12-01\n\
                   K4,line,U1,2026-12-01\n\
                   K5,line,U5\n";
        let err = refused(csv);
        let lines: Vec<&str> = err.message.lines().collect();
        assert_eq!(lines.len(), 4, "{}", err.message);
        assert_eq!(
            lines[0],
            "line 3: due_date: `2027-13-01` is not a date (YYYY-MM-DD)"
        );
        assert!(lines[1].starts_with("line 4: channel: the tenant has no channel `fax`"));
        assert!(lines[2].starts_with("line 5: address: the same line address is on line 2"));
        assert_eq!(lines[3], "line 6: has 3 fields, the header has 4");
    }

    #[test]
    fn headers_are_checked() {
        for (csv, expected) in [
            (
                "external_id,chanel,address,due_date\n",
                "unknown column `chanel`",
            ),
            ("external_id,address,due_date\n", "no `channel` column"),
            (
                "external_id,channel,address\n",
                "needs a `due_date` or a `birth_date`",
            ),
        ] {
            let err = refused(csv);
            assert!(err.message.contains(expected), "{}", err.message);
        }
    }
}
