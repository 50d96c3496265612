//! Cursor pagination, the same on every list that can grow without bound:
//! `?cursor=&limit=` in, `{ "items": [...], "next_cursor": ... }` out.
//!
//! Cursors are opaque to callers (they are the store's keyset positions), so
//! a page never shifts when rows are added before it, unlike offsets.

use serde::{Deserialize, Serialize};
use tayori_core::{Page, PageRequest};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};

/// The largest `limit` a list accepts.
pub const MAX_LIMIT: u32 = 500;
/// The page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;

/// Which page to read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The store's page request, refusing a limit out of range.
    pub fn request(&self) -> ApiResult<PageRequest> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok(PageRequest {
            after: self.cursor.clone().filter(|c| !c.is_empty()),
            limit,
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to read the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// A store page with its items converted.
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
