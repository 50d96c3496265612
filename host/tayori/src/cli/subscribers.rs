//! `tayori subscribers`: a tenant's households, as the HTTP API has them —
//! register one, report a birth, add a child, stop a child or the whole
//! household, erase, import a CSV file, list and read. Each verb is one API
//! request; the host checks every field and its error names the field.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Remote, read_input};
use crate::client::Client;

// Why a child or a household stops (the API's `reason`): the domain's
// list, so the CLI offers exactly what the API takes.
use tayori_core::domain::subscriber_rules::STOP_REASONS;

#[derive(Subcommand)]
pub(super) enum SubscribersCommand {
    /// Register a household: its contacts and children. Prints the new
    /// household with its id and its children's ids.
    ///
    /// Example: tayori subscribers register --tenant otaru
    ///   --contact line:U4af49806 --due-date 2027-05-01
    Register {
        #[arg(long)]
        tenant: String,
        /// A contact as CHANNEL:ADDRESS (the tenant's channel name, then
        /// the address on it: `line:U4af4…`, `email:parent@example.jp`).
        /// Repeat for more than one.
        #[arg(long = "contact", value_name = "CHANNEL:ADDRESS", required = true)]
        contacts: Vec<String>,
        /// The due date of an expected child (YYYY-MM-DD).
        #[arg(long)]
        due_date: Option<String>,
        /// The birth date of a born child (YYYY-MM-DD); with --due-date, the
        /// same child born (its due date kept).
        #[arg(long)]
        birth_date: Option<String>,
        /// A further child as `due:YYYY-MM-DD`, `born:YYYY-MM-DD` or both
        /// (`due:…,born:…`). Repeat for more children.
        #[arg(long = "child", value_name = "due:DATE|born:DATE")]
        children: Vec<String>,
        /// `ja` (default), `ja-easy` (やさしい日本語) or `en`.
        #[arg(long)]
        locale: Option<String>,
        /// The tenant's own id for the household.
        #[arg(long)]
        external_id: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Report a child's birth: the child moves from the pregnancy messages
    /// to the child messages.
    ReportBirth {
        /// The household's id.
        id: String,
        #[arg(long)]
        tenant: String,
        /// The child's id (from `register` or `get`).
        #[arg(long)]
        child: String,
        /// YYYY-MM-DD, not in the future.
        #[arg(long)]
        birth_date: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Add a child to a household.
    AddChild {
        /// The household's id.
        id: String,
        #[arg(long)]
        tenant: String,
        /// The due date of an expected child (YYYY-MM-DD).
        #[arg(long)]
        due_date: Option<String>,
        /// The birth date of a born child (YYYY-MM-DD).
        #[arg(long)]
        birth_date: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop one child: everything pending for it is cancelled and nothing
    /// more about it is sent (the household's other children go on).
    StopChild {
        /// The household's id.
        id: String,
        #[arg(long)]
        tenant: String,
        /// The child's id.
        #[arg(long)]
        child: String,
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STOP_REASONS.iter().copied()))]
        reason: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop a whole household: every child, everything pending cancelled.
    Stop {
        /// The household's id.
        id: String,
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STOP_REASONS.iter().copied()))]
        reason: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Erase a household: its addresses, dates and external id are cleared
    /// for good (its counts stay). Asks for --yes.
    Erase {
        /// The household's id.
        id: String,
        #[arg(long)]
        tenant: String,
        /// Confirms the erasure, which cannot be undone.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Import subscribers from a CSV file (docs/subscribers-csv.md), all or
    /// nothing; importing the same file again changes nothing.
    Import {
        /// The CSV file, or `-` for standard input.
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List a page of a tenant's subscribers.
    List {
        #[arg(long)]
        tenant: String,
        /// Items per page (1 to 500).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a subscriber.
    Get {
        id: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// `CHANNEL:ADDRESS` as the API's contact.
fn contact(arg: &str) -> anyhow::Result<Value> {
    match arg.split_once(':') {
        Some((channel, address)) if !channel.is_empty() && !address.is_empty() => {
            Ok(json!({ "channel": channel, "address": address }))
        }
        _ => anyhow::bail!(
            "--contact `{arg}`: expected CHANNEL:ADDRESS, e.g. line:U4af4980629 or email:parent@example.jp"
        ),
    }
}

/// `due:DATE`, `born:DATE` or `due:DATE,born:DATE` as the API's child.
fn child(arg: &str) -> anyhow::Result<Value> {
    let mut body = serde_json::Map::new();
    for part in arg.split(',') {
        let (key, field) = match part.split_once(':') {
            Some(("due", date)) => (date, "due_date"),
            Some(("born", date)) => (date, "birth_date"),
            _ => anyhow::bail!(
                "--child `{arg}`: expected due:YYYY-MM-DD, born:YYYY-MM-DD or due:YYYY-MM-DD,born:YYYY-MM-DD"
            ),
        };
        if body.insert(field.into(), key.into()).is_some() {
            anyhow::bail!("--child `{arg}`: `{field}` is given twice");
        }
    }
    Ok(Value::Object(body))
}

/// A child body from the --due-date and --birth-date flags.
fn dates(due_date: Option<String>, birth_date: Option<String>) -> Option<Value> {
    if due_date.is_none() && birth_date.is_none() {
        return None;
    }
    let mut body = serde_json::Map::new();
    if let Some(d) = due_date {
        body.insert("due_date".into(), d.into());
    }
    if let Some(d) = birth_date {
        body.insert("birth_date".into(), d.into());
    }
    Some(Value::Object(body))
}

/// The body of `register`, or an error naming the flag that is wrong.
fn registration(
    contacts: &[String],
    due_date: Option<String>,
    birth_date: Option<String>,
    children: &[String],
    locale: Option<String>,
    external_id: Option<String>,
) -> anyhow::Result<Value> {
    let contacts = contacts
        .iter()
        .map(|c| contact(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut all: Vec<Value> = dates(due_date, birth_date).into_iter().collect();
    for c in children {
        all.push(child(c)?);
    }
    if all.is_empty() {
        anyhow::bail!("a household needs a child: give --due-date, --birth-date or --child");
    }
    let mut body = json!({ "contacts": contacts, "children": all });
    if let Some(l) = locale {
        body["locale"] = l.into();
    }
    if let Some(e) = external_id {
        body["external_id"] = e.into();
    }
    Ok(body)
}

pub(super) async fn subscribers(cmd: SubscribersCommand) -> anyhow::Result<ExitCode> {
    let base = |tenant: &str| format!("/v1/tenants/{tenant}/subscribers");
    match cmd {
        SubscribersCommand::Register {
            tenant,
            contacts,
            due_date,
            birth_date,
            children,
            locale,
            external_id,
            remote,
        } => {
            let body = registration(
                &contacts,
                due_date,
                birth_date,
                &children,
                locale,
                external_id,
            )?;
            Client::new(&remote)?
                .json("POST", &base(&tenant), Some(body))
                .await
        }
        SubscribersCommand::ReportBirth {
            id,
            tenant,
            child,
            birth_date,
            remote,
        } => {
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("{}/{id}/children/{child}/birth", base(&tenant)),
                    Some(json!({ "birth_date": birth_date })),
                )
                .await
        }
        SubscribersCommand::AddChild {
            id,
            tenant,
            due_date,
            birth_date,
            remote,
        } => {
            let Some(body) = dates(due_date, birth_date) else {
                anyhow::bail!("a child needs --due-date or --birth-date");
            };
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("{}/{id}/children", base(&tenant)),
                    Some(body),
                )
                .await
        }
        SubscribersCommand::StopChild {
            id,
            tenant,
            child,
            reason,
            remote,
        } => {
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("{}/{id}/children/{child}/stop", base(&tenant)),
                    Some(json!({ "reason": reason })),
                )
                .await
        }
        SubscribersCommand::Stop {
            id,
            tenant,
            reason,
            remote,
        } => {
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("{}/{id}/stop", base(&tenant)),
                    Some(json!({ "reason": reason })),
                )
                .await
        }
        SubscribersCommand::Erase {
            id,
            tenant,
            yes,
            remote,
        } => {
            if !yes {
                anyhow::bail!(
                    "erasing household {id} clears its addresses and dates for good; run again with --yes to confirm"
                );
            }
            let code = Client::new(&remote)?
                .json("DELETE", &format!("{}/{id}", base(&tenant)), None)
                .await?;
            if code == ExitCode::SUCCESS {
                eprintln!("household {id} erased");
            }
            Ok(code)
        }
        SubscribersCommand::Import {
            file,
            tenant,
            remote,
        } => {
            let bytes = read_input(&file)?;
            Client::new(&remote)?
                .send_bytes(
                    "POST",
                    &format!("{}/import", base(&tenant)),
                    "text/csv; charset=utf-8",
                    bytes,
                )
                .await
        }
        SubscribersCommand::List {
            tenant,
            limit,
            cursor,
            remote,
        } => {
            let mut path = format!("{}?limit={limit}", base(&tenant));
            if let Some(c) = cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            Client::new(&remote)?.json("GET", &path, None).await
        }
        SubscribersCommand::Get { id, tenant, remote } => {
            Client::new(&remote)?
                .json("GET", &format!("{}/{id}", base(&tenant)), None)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_and_children_are_read_from_their_flags() {
        assert_eq!(
            contact("email:parent@example.jp").unwrap(),
            json!({"channel": "email", "address": "parent@example.jp"})
        );
        assert!(
            contact("U4af4")
                .unwrap_err()
                .to_string()
                .starts_with("--contact `U4af4`: expected CHANNEL:ADDRESS")
        );
        assert!(contact("line:").is_err());
        assert_eq!(
            child("due:2027-05-01,born:2027-04-20").unwrap(),
            json!({"due_date": "2027-05-01", "birth_date": "2027-04-20"})
        );
        assert!(
            child("2027-05-01")
                .unwrap_err()
                .to_string()
                .starts_with("--child `2027-05-01`: expected due:")
        );
        assert!(child("due:2027-05-01,due:2027-05-02").is_err());
    }

    #[test]
    fn a_registration_needs_a_child() {
        let err = registration(&["line:U1".into()], None, None, &[], None, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("--due-date, --birth-date or --child")
        );
        let body = registration(
            &["line:U1".into()],
            Some("2027-05-01".into()),
            None,
            &["born:2025-01-02".into()],
            Some("en".into()),
            Some("H-1".into()),
        )
        .unwrap();
        assert_eq!(
            body,
            json!({
                "contacts": [{"channel": "line", "address": "U1"}],
                "children": [{"due_date": "2027-05-01"}, {"birth_date": "2025-01-02"}],
                "locale": "en",
                "external_id": "H-1",
            })
        );
    }
}
