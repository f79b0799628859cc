//! Query strings into typed structs (`serde_html_form`): an empty value (`limit=`) means the
//! parameter is absent; a parameter given twice, or a value that is not what the parameter
//! needs (`?limit=ten`, with [`QueryInt`]), is a 400 naming the parameter; unknown
//! parameters are ignored, repeated or not.

use super::ApiError;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;

/// An integer parameter, refused with its value when it is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryInt(pub i64);

impl<'de> Deserialize<'de> for QueryInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Integer;
        impl Visitor<'_> for Integer {
            type Value = QueryInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<QueryInt, E> {
                v.trim().parse().map(QueryInt).map_err(|_| {
                    let shown: String = v.chars().take(40).collect();
                    E::custom(format!("must be an integer, not `{shown}`"))
                })
            }
        }
        deserializer.deserialize_str(Integer)
    }
}

/// Parses `query` (the part after `?`, if any) into `T`.
///
/// # Errors
/// 400 naming the parameter: given twice, or not of its type.
pub fn parse<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ApiError> {
    let mut filled: Vec<(String, String)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if value.is_empty() {
            continue;
        }
        filled.push((key.into_owned(), value.into_owned()));
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&filled)
        .finish();
    let deserializer =
        serde_html_form::Deserializer::new(url::form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let parameter = e.path().to_string();
        if filled.iter().filter(|(k, _)| *k == parameter).count() > 1 {
            ApiError::invalid_parameter(&parameter, "is given more than once")
        } else {
            ApiError::invalid_parameter(&parameter, e.into_inner())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        limit: Option<QueryInt>,
        q: Option<String>,
        before_seq: Option<QueryInt>,
    }

    fn check(query: &str) -> String {
        match parse::<Sample>(Some(query)) {
            Ok(s) => format!(
                "{:?} {:?} {:?}",
                s.limit.map(|l| l.0),
                s.q,
                s.before_seq.map(|b| b.0)
            ),
            Err(e) => format!("{} {}", e.status().as_u16(), e.message()),
        }
    }

    #[test]
    fn typed_parameters_with_empty_values_absent() {
        assert_eq!(check("limit=5&q=an%20n"), r#"Some(5) Some("an n") None"#);
        assert_eq!(check("limit=&q=&before_seq="), "None None None");
        assert_eq!(check("other=1&other=2"), "None None None");
        assert_eq!(check(""), "None None None");
    }

    #[test]
    fn wrong_types_and_repeats_are_400_naming_the_parameter() {
        assert_eq!(
            check("before_seq=x"),
            "400 before_seq: must be an integer, not `x`"
        );
        assert_eq!(
            check("limit=1.5"),
            "400 limit: must be an integer, not `1.5`"
        );
        assert_eq!(
            check("limit=1&limit=2"),
            "400 limit: is given more than once"
        );
    }
}
