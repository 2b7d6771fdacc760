//! Keyset pagination over time-sortable ids: `id < cursor`, newest first.
//! Stable under inserts and as cheap on page 100 as on page 1.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::error::CoreError;

pub const DEFAULT_LIMIT: u64 = 25;
pub const MAX_LIMIT: u64 = 100;

/// Which page: rows older than `before` (an id), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub before: Option<String>,
    pub limit: u64,
}

impl PageRequest {
    /// From untrusted query parameters: a cursor that is not id-shaped is
    /// ignored (first page) rather than reaching SQL, and the limit is clamped.
    pub fn new(before: Option<&str>, limit: Option<u64>) -> Self {
        let before = before
            .filter(|b| {
                !b.is_empty()
                    && b.len() <= 40
                    && b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            })
            .map(str::to_owned);
        PageRequest {
            before,
            limit: limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        }
    }

    pub fn first(limit: u64) -> Self {
        Self::new(None, Some(limit))
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next (older) page, when there is one.
    pub next_before: Option<String>,
    /// Whether this is not the first page.
    pub has_previous: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_before: self.next_before,
            has_previous: self.has_previous,
        }
    }
}

pub async fn fetch_page<E, C>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    id_column: C,
    page: &PageRequest,
    id_of: impl Fn(&E::Model) -> String,
) -> Result<Page<E::Model>, CoreError>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let mut q = query;
    if let Some(before) = &page.before {
        q = q.filter(id_column.lt(before.as_str()));
    }
    let mut items = q
        .order_by_desc(id_column)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    let next_before = if items.len() as u64 > page.limit {
        items.truncate(page.limit as usize);
        items.last().map(&id_of)
    } else {
        None
    };
    Ok(Page {
        items,
        next_before,
        has_previous: page.before.is_some(),
    })
}
