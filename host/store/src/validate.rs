//! The invariants the store itself relies on, checked before anything is
//! written so that a refused request leaves no trace.
//!
//! Formats (dates, time zones, locales, schemas) are the API's to check; what
//! is here is what would make a row meaningless or a write ambiguous: a child
//! with no date, a contact given twice, a file naming one external id twice,
//! a token whose role and scope disagree. Field paths are JSON-pointer-like
//! (`rows[17].contacts[0].address`) so the layer above can point at a line.

use std::collections::{HashMap, HashSet};

use tayori_core::{
    ImportRow, NewApiToken, NewChild, NewContact, ProgramImport, Role, StoreResult,
    is_valid_channel_name, is_valid_tenant_id, is_valid_token_hash,
};

use crate::error::invalid;

/// A tenant id the store will key rows by.
pub(crate) fn tenant_id(id: &str) -> StoreResult<()> {
    if is_valid_tenant_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "id",
            format!(
                "tenant id `{id}` must be lower-case letters, digits and `-`, at most 63, not starting with `-`"
            ),
        ))
    }
}

/// A channel name.
pub(crate) fn channel_name(name: &str) -> StoreResult<()> {
    if is_valid_channel_name(name) {
        Ok(())
    } else {
        Err(invalid(
            "name",
            format!(
                "channel name `{name}` must be lower-case letters, digits and `-`, at most 63, not starting with `-`"
            ),
        ))
    }
}

/// Every child has a date to anchor its schedule on.
pub(crate) fn children(prefix: &str, children: &[NewChild]) -> StoreResult<()> {
    for (i, child) in children.iter().enumerate() {
        if child.initial_status().is_none() {
            return Err(invalid(
                format!("{prefix}children[{i}]"),
                "a child needs a due_date or a birth_date",
            ));
        }
    }
    Ok(())
}

/// No contact is given twice, and none is blank.
pub(crate) fn contacts(prefix: &str, contacts: &[NewContact]) -> StoreResult<()> {
    let mut seen = HashMap::new();
    for (j, c) in contacts.iter().enumerate() {
        if c.channel.is_empty() {
            return Err(invalid(
                format!("{prefix}contacts[{j}].channel"),
                "is empty",
            ));
        }
        if c.address.is_empty() {
            return Err(invalid(
                format!("{prefix}contacts[{j}].address"),
                "is empty",
            ));
        }
        if let Some(first) = seen.insert((&c.channel, &c.address), j) {
            return Err(invalid(
                format!("{prefix}contacts[{j}]"),
                format!("the same channel and address as contacts[{first}]"),
            ));
        }
    }
    Ok(())
}

/// A whole import file: each row on its own, external ids unique in the
/// file, and no address in two rows.
pub(crate) fn import_rows(rows: &[ImportRow]) -> StoreResult<()> {
    let mut external = HashMap::with_capacity(rows.len());
    let mut addresses = HashMap::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let prefix = format!("rows[{i}].");
        if row.external_id.is_empty() {
            return Err(invalid(format!("{prefix}external_id"), "is empty"));
        }
        if let Some(first) = external.insert(row.external_id.as_str(), i) {
            return Err(invalid(
                format!("{prefix}external_id"),
                format!(
                    "`{}` is also the external id of rows[{first}]",
                    row.external_id
                ),
            ));
        }
        contacts(&prefix, &row.contacts)?;
        children(&prefix, &row.children)?;
        for (j, c) in row.contacts.iter().enumerate() {
            if let Some(first) = addresses.insert((c.channel.as_str(), c.address.as_str()), i) {
                return Err(invalid(
                    format!("{prefix}contacts[{j}].address"),
                    format!("the same {} address is in rows[{first}]", c.channel),
                ));
            }
        }
    }
    Ok(())
}

/// A catalog import: ids present and unique, each message in its program.
pub(crate) fn catalog(programs: &[ProgramImport]) -> StoreResult<()> {
    let mut program_ids = HashSet::new();
    let mut message_ids = HashMap::new();
    for (i, p) in programs.iter().enumerate() {
        let id = &p.program.id;
        if !tayori_core::is_slug(id) {
            return Err(invalid(
                format!("programs[{i}].id"),
                format!("program id `{id}` must be lower-case letters, digits and `-`"),
            ));
        }
        if !program_ids.insert(id.as_str()) {
            return Err(invalid(
                format!("programs[{i}].id"),
                format!("program `{id}` appears twice"),
            ));
        }
        for (j, m) in p.messages.iter().enumerate() {
            let at = format!("programs[{i}].messages[{j}]");
            if m.id.is_empty() {
                return Err(invalid(format!("{at}.id"), "is empty"));
            }
            if &m.program != id {
                return Err(invalid(
                    format!("{at}.program"),
                    format!(
                        "message `{}` names program `{}` but is imported in `{id}`",
                        m.id, m.program
                    ),
                ));
            }
            if let Some(first) = message_ids.insert(m.id.as_str(), at.clone()) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!("message id `{}` is also used by {first}", m.id),
                ));
            }
        }
    }
    Ok(())
}

/// A token's role, tenant and plugins agree, and its hash looks like one.
pub(crate) fn token(t: &NewApiToken) -> StoreResult<()> {
    if !is_valid_token_hash(&t.token_hash) {
        return Err(invalid(
            "token_hash",
            "must be the SHA-256 of the token, 64 lower-case hex digits",
        ));
    }
    match (t.role, &t.tenant_id) {
        (Role::TenantAdmin, None) => {
            return Err(invalid("tenant", "a tenant_admin token needs a tenant"));
        }
        (Role::Operator | Role::Partner, Some(_)) => {
            return Err(invalid(
                "tenant",
                format!(
                    "only a tenant_admin token names a tenant, not a {} token",
                    t.role
                ),
            ));
        }
        _ => {}
    }
    if let Some(label) = &t.label {
        if label.trim().is_empty() || label.chars().count() > tayori_core::MAX_TOKEN_LABEL {
            return Err(invalid(
                "label",
                format!(
                    "a token's label must be 1 to {} characters",
                    tayori_core::MAX_TOKEN_LABEL
                ),
            ));
        }
        if label.chars().any(char::is_control) {
            return Err(invalid("label", "a token's label must be one line of text"));
        }
    }
    match (t.role, t.plugin_ids.is_empty()) {
        (Role::Partner, true) => Err(invalid(
            "plugins",
            "a partner token needs at least one plugin id",
        )),
        (Role::Operator | Role::TenantAdmin, false) => Err(invalid(
            "plugins",
            format!("only a partner token names plugins, not a {} token", t.role),
        )),
        _ => Ok(()),
    }
}
