//! Query strings: integer and text parameters, where a value that is not what the parameter
//! needs (`?limit=ten`), or a parameter given twice, is a 400 naming the parameter.

use super::ApiError;
use std::collections::HashMap;

/// The decoded parameters of one query string.
#[derive(Debug, Default)]
pub struct Query {
    params: HashMap<String, String>,
}

impl Query {
    /// Decodes `query` (the part after `?`, if any).
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut params = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if params.insert(key.to_string(), value.into_owned()).is_some() {
                return Err(ApiError::malformed(format!(
                    "query parameter `{key}` is given more than once"
                )));
            }
        }
        Ok(Self { params })
    }

    /// A text parameter.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// An integer parameter; present but not an integer of type `T` is a 400.
    pub fn integer<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ApiError> {
        match self.params.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                ApiError::from(chatcore::Error::invalid(
                    name,
                    format!("must be an integer, not `{v}`"),
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_checked_and_duplicates_refused() {
        let q = Query::parse(Some("limit=5&q=an%20n&before_seq=x")).unwrap();
        assert_eq!(q.integer::<u32>("limit").unwrap(), Some(5));
        assert_eq!(q.integer::<u32>("offset").unwrap(), None);
        assert_eq!(q.text("q"), Some("an n"));
        let e = q.integer::<i64>("before_seq").unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.message().starts_with("before_seq:"), "{}", e.message());
        assert!(
            Query::parse(Some("limit=-1"))
                .unwrap()
                .integer::<u32>("limit")
                .is_err()
        );
        assert!(Query::parse(Some("limit=1&limit=2")).is_err());
        assert!(Query::parse(None).unwrap().text("q").is_none());
    }
}
