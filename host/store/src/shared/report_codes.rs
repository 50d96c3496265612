//! The reads of the figures' households as a few texts per tenant.
//!
//! A tenant's active households are its children's dates, a few bytes a
//! child, but the whole country has 2.6 million children. Read as rows,
//! each costs sqlx about a microsecond or two (a row sent from the SQLite
//! worker, each value copied and decoded): seconds for the country, and
//! most of a 100,000-children tenant's report. So the database folds each
//! tenant's rows into one row of texts (`string_agg`, which SQLite ≥ 3.44
//! and PostgreSQL both have), one text per column with the values
//! separated by `,`: household ids, due dates, birth dates (empty when
//! unknown) and statuses; contacts likewise (household ids, channels).
//! Within one row the texts list the same children in the same order
//! (`AGG_ORDER`: SQLite feeds every aggregate of a group the same rows in
//! one pass; PostgreSQL is told an order). Rows are read in the order of
//! the `(tenant_id, status)` index, nearly the table's: grouping by
//! household in the database would visit the children in household-id
//! order, one random page each (8 s for the country where this takes 1).
//! Dates are `YYYY-MM-DD` in both engines (SQLite stores that text; sqlx
//! sets PostgreSQL's `DateStyle` to ISO). Ids are UUIDs and channel names
//! slugs (`[a-z0-9-]`): no `,` in any.

use std::collections::HashMap;

use chrono::NaiveDate;
use tayori_core::domain::figures::{ChildDates, HouseholdRow, TenantHouseholds};
use tayori_core::{ChildStatus, StoreResult};

use super::AGG_ORDER;
use crate::error::unreadable;

/// The columns of [`tenant_range_sql`] and [`one_tenant_sql`] after the
/// tenant: household ids, due dates, birth dates, statuses.
fn children_columns() -> String {
    let agg = |expr: &str| format!("string_agg({expr}, ','{AGG_ORDER})");
    [
        agg("c.subscriber_id"),
        agg("COALESCE(CAST(c.due_date AS TEXT), '')"),
        agg("COALESCE(CAST(c.birth_date AS TEXT), '')"),
        agg("c.status"),
    ]
    .join(", ")
}

/// Children that are not stopped of households that are active (the
/// `subscribers_not_active` index holds the few others).
const CHILDREN_COUNTED: &str = "c.status IN ('expecting', 'born') \
     AND c.subscriber_id NOT IN (SELECT s.id FROM subscribers s WHERE s.status <> 'active')";

/// The children counted of the tenants whose ids are from `$1` to `$2`
/// (inclusive), one row per tenant: the country is read in such runs of
/// tenants, so that the runs go on several readers at once.
pub(super) fn tenant_range_sql() -> String {
    format!(
        "SELECT c.tenant_id, {} FROM children c WHERE c.tenant_id >= $1 AND c.tenant_id <= $2 \
         AND {CHILDREN_COUNTED} GROUP BY c.tenant_id ORDER BY c.tenant_id",
        children_columns()
    )
}

/// Tenant ids (sorted) cut into at most `parts` runs of about equal
/// length: the first and last id of each.
pub(super) fn id_ranges(ids: &[String], parts: usize) -> Vec<(&str, &str)> {
    if ids.is_empty() {
        return Vec::new();
    }
    let per = ids.len().div_ceil(parts.max(1));
    ids.chunks(per)
        .map(|c| (c[0].as_str(), c[c.len() - 1].as_str()))
        .collect()
}

/// One tenant's (`$1`) children counted, in one row (`NULL`s without any).
pub(super) fn one_tenant_sql() -> String {
    format!(
        "SELECT c.tenant_id, {} FROM children c WHERE c.tenant_id = $1 AND {CHILDREN_COUNTED} \
         GROUP BY c.tenant_id",
        children_columns()
    )
}

/// One tenant's (`$1`) valid contacts: household ids, channels.
pub(super) fn one_tenant_contacts_sql() -> String {
    format!(
        "SELECT string_agg(ct.subscriber_id, ','{order}), string_agg(ct.channel, ','{order}) \
         FROM contacts ct WHERE ct.tenant_id = $1 AND ct.status = 'valid' \
         AND ct.address IS NOT NULL",
        order = AGG_ORDER.replace("c.id", "ct.id")
    )
}

/// A row of [`tenant_range_sql`] or [`one_tenant_sql`].
pub(super) type ChildrenRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// `YYYY-MM-DD`, or `None` for an empty field.
fn date(field: &str) -> StoreResult<Option<NaiveDate>> {
    if field.is_empty() {
        return Ok(None);
    }
    let b = field.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let parsed = (b.len() == 10 && b[4] == b'-' && b[7] == b'-')
        .then(|| {
            let y = i32::try_from(digits(0..4)?).ok()?;
            NaiveDate::from_ymd_opt(y, digits(5..7)?, digits(8..10)?)
        })
        .flatten();
    parsed
        .map(Some)
        .ok_or_else(|| unreadable("child date", field))
}

fn status(field: &str) -> StoreResult<ChildStatus> {
    Ok(match field {
        // The two a report reads, without a parse each.
        "born" => ChildStatus::Born,
        "expecting" => ChildStatus::Expecting,
        other => other.parse().map_err(|e| unreadable("child status", e))?,
    })
}

/// The children of a row, each with its household id.
fn children(row: &ChildrenRow) -> StoreResult<Vec<(&str, ChildDates)>> {
    let (_, ids, dues, births, statuses) = row;
    let (Some(ids), Some(dues), Some(births), Some(statuses)) = (ids, dues, births, statuses)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let (mut dues, mut births, mut statuses) =
        (dues.split(','), births.split(','), statuses.split(','));
    for id in ids.split(',') {
        let (Some(due), Some(birth), Some(s)) = (dues.next(), births.next(), statuses.next())
        else {
            return Err(unreadable("children", "columns of unequal lengths"));
        };
        out.push((
            id,
            ChildDates {
                due_date: date(due)?,
                birth_date: date(birth)?,
                status: status(s)?,
            },
        ));
    }
    if dues.next().is_some() || births.next().is_some() || statuses.next().is_some() {
        return Err(unreadable("children", "columns of unequal lengths"));
    }
    Ok(out)
}

/// A tenant's row of [`tenant_range_sql`]: its households, children
/// grouped by household id.
pub(super) fn tenant_households(row: ChildrenRow) -> StoreResult<TenantHouseholds> {
    let kids = children(&row)?;
    // Each child's household, numbered in order of appearance, and the
    // households' sizes; then the children placed household by household.
    let mut of: HashMap<&str, u32> = HashMap::with_capacity(kids.len());
    let mut household = Vec::with_capacity(kids.len());
    let mut sizes: Vec<u32> = Vec::new();
    for (id, _) in &kids {
        let next = u32::try_from(sizes.len()).map_err(|e| unreadable("households", e))?;
        let h = *of.entry(id).or_insert(next);
        if h == next {
            sizes.push(0);
        }
        sizes[h as usize] += 1;
        household.push(h);
    }
    let mut ends = Vec::with_capacity(sizes.len());
    let mut end = 0;
    for n in &sizes {
        end += n;
        ends.push(end);
    }
    let mut at: Vec<u32> = ends.iter().zip(&sizes).map(|(e, n)| e - n).collect();
    let empty = ChildDates {
        due_date: None,
        birth_date: None,
        status: ChildStatus::Expecting,
    };
    let mut placed = vec![empty; kids.len()];
    for ((_, dates), h) in kids.iter().zip(household) {
        let slot = &mut at[h as usize];
        placed[*slot as usize] = *dates;
        *slot += 1;
    }
    Ok(TenantHouseholds {
        tenant_id: row.0.clone(),
        children: placed,
        ends,
    })
}

/// The rows of [`one_tenant_sql`] and [`one_tenant_contacts_sql`]: the
/// tenant's households with their channels.
pub(super) fn households(
    children_row: Option<ChildrenRow>,
    contacts: (Option<String>, Option<String>),
) -> StoreResult<Vec<HouseholdRow>> {
    let Some(row) = children_row else {
        return Ok(Vec::new());
    };
    let mut of: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<HouseholdRow> = Vec::new();
    for (id, dates) in children(&row)? {
        let next = out.len();
        let h = *of.entry(id).or_insert(next);
        if h == next {
            out.push(HouseholdRow {
                children: Vec::with_capacity(1),
                channels: Vec::new(),
            });
        }
        out[h].children.push(dates);
    }
    if let (Some(ids), Some(channels)) = (&contacts.0, &contacts.1) {
        let (mut ids, mut channels) = (ids.split(','), channels.split(','));
        loop {
            match (ids.next(), channels.next()) {
                (None, None) => break,
                (Some(id), Some(channel)) => {
                    if let Some(&h) = of.get(id) {
                        out[h].channels.push(channel.to_string());
                    }
                }
                _ => return Err(unreadable("contacts", "columns of unequal lengths")),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ids: &str, dues: &str, births: &str, statuses: &str) -> ChildrenRow {
        (
            "t".into(),
            Some(ids.into()),
            Some(dues.into()),
            Some(births.into()),
            Some(statuses.into()),
        )
    }

    #[test]
    fn ids_are_cut_into_runs_that_cover_them_all() {
        let ids: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        assert_eq!(id_ranges(&ids, 2), [("a", "c"), ("d", "e")]);
        assert_eq!(id_ranges(&ids, 1), [("a", "e")]);
        assert_eq!(id_ranges(&ids, 9).len(), 5);
        assert!(id_ranges(&[], 2).is_empty());
    }

    #[test]
    fn texts_read_back_by_household() {
        let h = tenant_households(row(
            "a,b,a",
            "2027-06-01,,",
            ",2026-12-01,2024-02-29",
            "expecting,born,born",
        ))
        .unwrap();
        assert_eq!(h.ends, [2, 3]);
        assert_eq!(h.children[0].due_date, "2027-06-01".parse().ok());
        assert_eq!(h.children[0].birth_date, None);
        assert_eq!(h.children[1].birth_date, "2024-02-29".parse().ok());
        assert_eq!(h.children[2].birth_date, "2026-12-01".parse().ok());
        assert_eq!(h.children[2].status, ChildStatus::Born);
        let none = tenant_households(("t".into(), None, None, None, None)).unwrap();
        assert!(none.ends.is_empty());
        let rows = households(
            Some(row("a,b", ",", "2026-12-01,2025-01-01", "born,born")),
            (Some("a,c,a".into()), Some("line,line,line-2".into())),
        )
        .unwrap();
        assert_eq!(rows[0].channels, ["line", "line-2"]);
        assert!(rows[1].channels.is_empty());
        assert!(households(None, (None, None)).unwrap().is_empty());
        for bad in [
            row("a", "2027-6-01", "", "expecting"),
            row("a", "2027-02-30", "", "born"),
            row("a", "", "", ""),
            row("a,b", "", "", "born"),
        ] {
            assert!(tenant_households(bad.clone()).is_err(), "{bad:?}");
        }
    }
}
