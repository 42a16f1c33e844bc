//! One paging engine for every listing of every service: offset/limit
//! (Dataverse), page numbers (Figshare), `Link` headers (GitHub) and
//! continuation tokens. It hands each item to the caller once, as its page
//! arrives (memory holds one page and the ids seen, never the listing),
//! and ends every listing in a bounded number of requests: a page cap, and
//! a typed error when a page brings nothing new (a server that repeats
//! pages or ignores `offset`) or names a next page it named before.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::ops::ControlFlow;

use url::Url;

/// Most pages one listing may take: 10 million entries at 1,000 a page.
pub const MAX_PAGES: usize = 10_000;

/// Which page to ask for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cursor {
    /// `offset`/`limit`: the next offset is this one plus what the page
    /// brought (a server may give fewer than asked).
    Offset { offset: u64, limit: u64 },
    /// `page`/`page_size`, counted from 1.
    Page { number: u64, size: u64 },
    /// The URL a `Link: <...>; rel="next"` header named; the caller keeps
    /// it on the API's own site.
    Link(Url),
    /// A continuation token the previous page gave.
    Token(String),
}

/// One page as the service answered it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// For `Link` and `Token` listings, the page the service says comes
    /// next (`None`: this was the last). Unused for offsets and numbers.
    pub next: Option<Cursor>,
    /// The number of entries the service says the listing has: ends it as
    /// soon as that many distinct ones arrived (never trusted otherwise).
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// A page of a numbered or offset listing.
    pub fn of(items: Vec<T>) -> Self {
        Self {
            items,
            next: None,
            total: None,
        }
    }
}

/// Why a listing was stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PagingError {
    #[error(
        "page {page} of the listing brought nothing new: the service repeats pages or ignores \
         paging; listing stopped"
    )]
    NothingNew { page: usize },
    #[error(
        "the service named page {page} of the listing as one it had named before; listing stopped"
    )]
    Repeated { page: usize },
    #[error("the listing went on for more than {max} pages; stopped")]
    TooManyPages { max: usize },
}

/// A listing the service would not let end is the service's failure.
impl From<PagingError> for crate::providers::ProviderError {
    fn from(e: PagingError) -> Self {
        Self::service(
            "the service's listing did not end as listings do; check the remote's API address \
             (a proxy in front of it that ignores paging?)",
            Some(Box::new(e)),
        )
    }
}

/// How a listing within an offset limit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listed {
    /// The listing ended as listings do.
    Complete,
    /// The next page would start past the service's documented offset
    /// limit (Figshare: 1,000, else 422): the caller reads the rest
    /// another way, or says the listing is incomplete.
    OffsetLimit { next_offset: u64 },
}

/// [`each_page`] for a service that refuses offsets past `max_offset`
/// (offset and page listings): the page that would start past it is
/// never asked for; [`Listed::OffsetLimit`] says so.
pub async fn each_page_within<T, K, E, F, Fut>(
    first: Cursor,
    max_pages: usize,
    max_offset: u64,
    key: impl Fn(&T) -> K,
    mut fetch: F,
    each: &mut (dyn FnMut(T) -> Result<ControlFlow<()>, E> + Send),
) -> Result<Listed, E>
where
    K: Eq + Hash,
    E: From<PagingError>,
    F: FnMut(Cursor) -> Fut,
    Fut: Future<Output = Result<Page<T>, E>>,
{
    let mut capped = None;
    // The most a page brought: a server that gives fewer than asked counts
    // its offsets in the pages it gives.
    let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    each_page(
        first,
        max_pages,
        key,
        |cursor| {
            let given = largest.load(std::sync::atomic::Ordering::Relaxed);
            let start = match &cursor {
                Cursor::Offset { offset, .. } => Some(*offset),
                Cursor::Page { number, size } => {
                    let size = if given > 0 { given.min(*size) } else { *size };
                    Some(number.saturating_sub(1) * size)
                }
                _ => None,
            };
            let past = start.filter(|&o| o > max_offset);
            if let Some(o) = past {
                capped = Some(o);
            }
            let page = past.is_none().then(|| fetch(cursor));
            let largest = largest.clone();
            async move {
                match page {
                    Some(page) => {
                        let page = page.await?;
                        largest.fetch_max(
                            page.items.len() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        Ok(page)
                    }
                    // An empty page ends the listing here.
                    None => Ok(Page::of(Vec::new())),
                }
            }
        },
        each,
    )
    .await?;
    Ok(match capped {
        Some(next_offset) => Listed::OffsetLimit { next_offset },
        None => Listed::Complete,
    })
}

/// Asks `fetch` for page after page from `first`, handing each entry not
/// seen before (by `key`) to `each`, until the listing ends: an empty
/// page, a page shorter than the largest before it (offsets, numbers), no
/// next page (links, tokens), `total` entries seen, or `each` breaking.
/// A first page shorter than asked for is not the end: it may be the
/// service's own largest page.
pub async fn each_page<T, K, E, F, Fut>(
    first: Cursor,
    max_pages: usize,
    key: impl Fn(&T) -> K,
    mut fetch: F,
    each: &mut (dyn FnMut(T) -> Result<ControlFlow<()>, E> + Send),
) -> Result<(), E>
where
    K: Eq + Hash,
    E: From<PagingError>,
    F: FnMut(Cursor) -> Fut,
    Fut: Future<Output = Result<Page<T>, E>>,
{
    let mut seen: HashSet<K> = HashSet::new();
    let mut named: HashSet<Cursor> = HashSet::new();
    let mut largest = 0usize;
    let mut cursor = first;
    for page_number in 1..=max_pages {
        named.insert(cursor.clone());
        let page = fetch(cursor.clone()).await?;
        let n = page.items.len();
        let mut new = 0usize;
        for item in page.items {
            if seen.insert(key(&item)) {
                new += 1;
                if each(item)?.is_break() {
                    return Ok(());
                }
            }
        }
        if page.total.is_some_and(|t| seen.len() as u64 >= t) {
            return Ok(());
        }
        let next = match cursor {
            Cursor::Offset { offset, limit } => (n > 0 && n >= largest).then(|| Cursor::Offset {
                offset: offset + n as u64,
                limit,
            }),
            Cursor::Page { number, size } => (n > 0 && n >= largest).then(|| Cursor::Page {
                number: number + 1,
                size,
            }),
            Cursor::Link(_) | Cursor::Token(_) => page.next,
        };
        largest = largest.max(n);
        let Some(next) = next else {
            return Ok(());
        };
        if new == 0 {
            return Err(PagingError::NothingNew { page: page_number }.into());
        }
        if named.contains(&next) {
            return Err(PagingError::Repeated {
                page: page_number + 1,
            }
            .into());
        }
        cursor = next;
    }
    Err(PagingError::TooManyPages { max: max_pages }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists `total` numbers through a server `serve` that answers a
    /// cursor with a page; returns what was listed, or the error.
    fn list(
        first: Cursor,
        max_pages: usize,
        serve: impl Fn(&Cursor) -> Page<u64>,
    ) -> (Vec<u64>, usize, Result<(), PagingError>) {
        let mut got = Vec::new();
        let mut asked = 0;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = runtime.block_on(each_page(
            first,
            max_pages,
            |x: &u64| *x,
            |c| {
                asked += 1;
                let page = serve(&c);
                async move { Ok::<_, PagingError>(page) }
            },
            &mut |x| {
                got.push(x);
                Ok(ControlFlow::Continue(()))
            },
        ));
        (got, asked, result)
    }

    fn offsets(total: u64, max: u64) -> impl Fn(&Cursor) -> Page<u64> {
        move |c| match c {
            Cursor::Offset { offset, limit } => {
                Page::of((*offset..total).take((*limit).min(max) as usize).collect())
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn offset_listings_end_at_a_short_or_empty_page() {
        let first = Cursor::Offset {
            offset: 0,
            limit: 10,
        };
        let (got, asked, r) = list(first.clone(), 100, offsets(25, 1000));
        assert_eq!((got.len(), asked, r), (25, 3, Ok(())));
        // The server gives at most 4 a page: not the end.
        let (got, asked, r) = list(first.clone(), 100, offsets(10, 4));
        assert_eq!((got.len(), asked, r), (10, 3, Ok(())));
        let (got, asked, r) = list(first, 100, offsets(20, 1000));
        assert_eq!((got.len(), asked, r), (20, 3, Ok(())));
    }

    #[test]
    fn a_server_that_ignores_the_offset_is_stopped_at_the_second_page() {
        let first = Cursor::Offset {
            offset: 0,
            limit: 10,
        };
        let (got, asked, r) = list(first, 100, |_| Page::of((0..10).collect()));
        assert_eq!(got.len(), 10);
        assert_eq!(asked, 2);
        assert_eq!(r, Err(PagingError::NothingNew { page: 2 }));
    }

    #[test]
    fn pages_numbers_and_totals() {
        let first = Cursor::Page { number: 1, size: 3 };
        let serve = |c: &Cursor| match c {
            Cursor::Page { number, size } => Page {
                items: ((number - 1) * size..(number * size).min(7)).collect(),
                next: None,
                total: Some(7),
            },
            _ => unreachable!(),
        };
        let (got, asked, r) = list(first, 100, serve);
        assert_eq!((got.len(), asked, r), (7, 3, Ok(())));
    }

    #[test]
    fn links_that_repeat_or_never_end_are_stopped() {
        let url =
            |n: u64| Cursor::Link(Url::parse(&format!("https://api.example/x?page={n}")).unwrap());
        let first = url(1);
        // Next always names page 1 again.
        let (got, asked, r) = list(first.clone(), 100, |c| {
            let Cursor::Link(u) = c else { unreachable!() };
            let n: u64 = u.query().unwrap()[5..].parse().unwrap();
            Page {
                items: vec![n * 10, n * 10 + 1],
                next: Some(url(1)),
                total: None,
            }
        });
        assert_eq!((got.len(), asked), (2, 1));
        assert_eq!(r, Err(PagingError::Repeated { page: 2 }));
        // Endless new pages: the cap.
        let (_, asked, r) = list(first, 5, |c| {
            let Cursor::Link(u) = c else { unreachable!() };
            let n: u64 = u.query().unwrap()[5..].parse().unwrap();
            Page {
                items: vec![n],
                next: Some(url(n + 1)),
                total: None,
            }
        });
        assert_eq!(asked, 5);
        assert_eq!(r, Err(PagingError::TooManyPages { max: 5 }));
    }

    #[test]
    fn offset_limits_are_never_passed() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut asked = Vec::new();
        let mut got = 0;
        let listed = runtime.block_on(each_page_within(
            Cursor::Page {
                number: 1,
                size: 1000,
            },
            100,
            1000,
            |x: &u64| *x,
            |c| {
                let Cursor::Page { number, size } = c else {
                    unreachable!()
                };
                asked.push(number);
                let start = (number - 1) * size;
                let page = Page::of((start..(start + size).min(2500)).collect());
                async move { Ok::<_, PagingError>(page) }
            },
            &mut |_| {
                got += 1;
                Ok(ControlFlow::Continue(()))
            },
        ));
        assert_eq!(asked, [1, 2]);
        assert_eq!(got, 2000);
        assert_eq!(listed, Ok(Listed::OffsetLimit { next_offset: 2000 }));
    }

    #[test]
    fn tokens_end_when_none_is_given() {
        let (got, asked, r) = list(Cursor::Token(String::new()), 100, |c| {
            let Cursor::Token(t) = c else { unreachable!() };
            let n = t.len() as u64;
            Page {
                items: vec![n],
                next: (n < 3).then(|| Cursor::Token("x".repeat(n as usize + 1))),
                total: None,
            }
        });
        assert_eq!((got, asked, r), (vec![0, 1, 2, 3], 4, Ok(())));
    }
}
