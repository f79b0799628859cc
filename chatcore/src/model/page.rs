//! Pages of lists: the page size ([`PageLimit`], shared by history and the users list) and
//! a history page's cursor ([`PageRequest`]). Every rule about them is checked here, once.

use crate::error::Error;
use std::fmt;

/// Default number of items in a page (history, users list).
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest allowed page.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// A page size: an integer from 1 to [`MAX_PAGE_LIMIT`] (200), by default
/// [`DEFAULT_PAGE_LIMIT`] (50). The field is private, so a value out of range cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The default page size, 50.
    pub const DEFAULT: PageLimit = PageLimit(DEFAULT_PAGE_LIMIT);
    /// The largest page size, 200.
    pub const MAX: PageLimit = PageLimit(MAX_PAGE_LIMIT);

    /// Checks a requested page size; `None` (not given) is [`PageLimit::DEFAULT`]. Anything
    /// outside 1–200 is `Invalid` on the field `limit`.
    pub fn parse(limit: Option<i64>) -> Result<Self, Error> {
        limit.map_or(Ok(Self::DEFAULT), Self::try_from)
    }

    /// The size as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for PageLimit {
    type Error = Error;

    /// Checks a page size: 1–200, else `Invalid` on the field `limit`.
    fn try_from(limit: i64) -> Result<Self, Error> {
        match u32::try_from(limit) {
            Ok(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(Self(limit)),
            _ => Err(Error::invalid(
                "limit",
                format!("must be an integer from 1 to {MAX_PAGE_LIMIT}"),
            )),
        }
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for PageLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which slice of a chat's history to read. Always returned oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cursor {
    /// The newest messages (the default).
    #[default]
    Latest,
    /// The messages just below this `seq`.
    Before(i64),
    /// The messages from this `seq + 1` upward.
    After(i64),
}

impl Cursor {
    /// Checks the cursor parameters of a history page or a subscription (`before_seq`,
    /// `after_seq`): at most one of them; `before_seq` ≥ 1; `after_seq` ≥ 0. A broken rule
    /// is `Invalid` on the field concerned.
    pub fn parse(before_seq: Option<i64>, after_seq: Option<i64>) -> Result<Self, Error> {
        match (before_seq, after_seq) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "before_seq",
                "give before_seq or after_seq, not both",
            )),
            (Some(b), None) if b < 1 => {
                Err(Error::invalid("before_seq", "must be a positive integer"))
            }
            (None, Some(a)) if a < 0 => Err(Error::invalid(
                "after_seq",
                "must be zero or a positive integer",
            )),
            (Some(b), None) => Ok(Cursor::Before(b)),
            (None, Some(a)) => Ok(Cursor::After(a)),
            (None, None) => Ok(Cursor::Latest),
        }
    }
}

/// A validated history request: a [`Cursor`] and a [`PageLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageRequest {
    cursor: Cursor,
    limit: PageLimit,
}

impl PageRequest {
    /// Checks the query parameters of a history request (`before_seq`, `after_seq`, `limit`):
    /// the cursor rules of [`Cursor::parse`] first, then [`PageLimit::parse`].
    pub fn new(
        before_seq: Option<i64>,
        after_seq: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Self, Error> {
        let cursor = Cursor::parse(before_seq, after_seq)?;
        let limit = PageLimit::parse(limit.map(i64::from))?;
        Ok(Self { cursor, limit })
    }

    /// The newest `limit` messages.
    pub fn latest(limit: u32) -> Result<Self, Error> {
        Self::new(None, None, Some(limit))
    }

    /// `limit` messages after `after_seq`.
    pub fn after(after_seq: i64, limit: u32) -> Result<Self, Error> {
        Self::new(None, Some(after_seq), Some(limit))
    }

    /// `limit` messages before `before_seq`.
    pub fn before(before_seq: i64, limit: u32) -> Result<Self, Error> {
        Self::new(Some(before_seq), None, Some(limit))
    }

    /// Where the page starts.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// How many messages at most.
    pub fn limit(&self) -> PageLimit {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn a_limit_is_an_integer_from_1_to_200_by_default_50() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 50);
        assert_eq!(PageLimit::default(), PageLimit::DEFAULT);
        for ok in [1, 50, 200] {
            assert_eq!(PageLimit::try_from(ok).unwrap().get() as i64, ok);
        }
        for bad in [0, -1, 201, i64::from(u32::MAX) + 1, i64::MIN] {
            let e = PageLimit::parse(Some(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{bad}");
            assert_eq!(e.to_string(), "limit: must be an integer from 1 to 200");
        }
    }

    #[test]
    fn the_cursor_rules() {
        let check = |before, after| Cursor::parse(before, after).map_err(|e| e.to_string());
        assert_eq!(check(None, None), Ok(Cursor::Latest));
        assert_eq!(check(Some(5), None), Ok(Cursor::Before(5)));
        assert_eq!(check(None, Some(0)), Ok(Cursor::After(0)));
        assert_eq!(
            check(Some(1), Some(1)),
            Err("before_seq: give before_seq or after_seq, not both".into())
        );
        assert_eq!(
            check(Some(0), None),
            Err("before_seq: must be a positive integer".into())
        );
        assert_eq!(
            check(None, Some(-1)),
            Err("after_seq: must be zero or a positive integer".into())
        );
    }

    #[test]
    fn a_page_request_checks_the_cursor_before_the_limit() {
        let e = PageRequest::new(Some(1), Some(1), Some(0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "before_seq: give before_seq or after_seq, not both"
        );
        let page = PageRequest::new(None, Some(3), None).unwrap();
        assert_eq!(page.cursor(), Cursor::After(3));
        assert_eq!(page.limit(), PageLimit::DEFAULT);
    }
}
