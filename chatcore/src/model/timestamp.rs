//! The one time format of the wire: RFC 3339, UTC, six fractional digits, numeric offset
//! (`2026-11-24T09:21:11.386088+00:00`), and the clock that produces values which survive a
//! round trip through either database unchanged.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const WIRE_FORMAT: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
);

/// The current time in UTC, truncated to microseconds (what PostgreSQL keeps).
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// Drops sub-microsecond precision and moves the value to UTC.
pub fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .expect("a truncated nanosecond is still in range")
}

/// Formats a timestamp the way every front end writes it.
pub fn format(t: &OffsetDateTime) -> String {
    t.format(WIRE_FORMAT)
        .expect("formatting a valid OffsetDateTime with a static description cannot fail")
}

/// `#[serde(with = "crate::model::timestamp::serde_wire")]` for `OffsetDateTime` fields.
pub mod serde_wire {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    /// Writes the wire format.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    /// Reads any RFC 3339 timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_has_six_digits_and_a_numeric_offset() {
        let t = time::macros::datetime!(2026-11-24 12:21:11.386088999 +03:00);
        assert_eq!(format(&truncate(t)), "2026-11-24T09:21:11.386088+00:00");
        let whole = time::macros::datetime!(2026-11-24 09:21:11 UTC);
        assert_eq!(format(&whole), "2026-11-24T09:21:11.000000+00:00");
    }
}
