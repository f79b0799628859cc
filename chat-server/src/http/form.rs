//! `application/x-www-form-urlencoded` into any `Deserialize` type, as browsers send it
//! (`serde_html_form`): each value is text parsed as the field's type (`limit=5`); a key
//! given several times fills a sequence (`participants=2&participants=3`); an empty value
//! (`note=`) of an optional field is absent; a checked checkbox's `on` is `true`; keys the
//! type does not know are ignored like unknown JSON fields. A single-valued field given
//! twice is an error.

use serde::de::DeserializeOwned;

/// Why a form body does not fit the expected type.
pub type FormError = serde_html_form::de::Error;

/// Decodes a form body into `T`. An empty value (`note=`, an empty text box) means the key
/// is absent, as for a query string: the field takes its default, or is reported missing.
pub fn from_bytes<T: DeserializeOwned>(body: &[u8]) -> Result<T, FormError> {
    let filled: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&filled)
        .finish();
    serde_html_form::from_str(&encoded)
}

/// The first value of `name` in a form body (the CSRF token field).
pub fn field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        name: String,
        #[serde(default)]
        ids: Vec<i64>,
        flag: Option<bool>,
        #[serde(default)]
        note: Option<String>,
    }

    fn check(body: &str) -> Result<Sample, String> {
        from_bytes::<Sample>(body.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn values_are_parsed_as_the_field_type() {
        assert_eq!(
            check("name=%D0%98%D0%B2+%D0%B0&ids=2&ids=3&flag=true&csrf_token=x"),
            Ok(Sample {
                name: "Ив а".into(),
                ids: vec![2, 3],
                flag: Some(true),
                note: None,
            })
        );
        assert_eq!(check("name=a&ids=7").unwrap().ids, vec![7]);
    }

    #[test]
    fn what_browsers_send_is_understood() {
        // A checked checkbox without a value attribute sends `on`.
        assert_eq!(check("name=a&flag=on").unwrap().flag, Some(true));
        // An empty text input sends `note=`: absent, not an error.
        let sample = check("name=a&flag=&note=&ids=").unwrap();
        assert_eq!((sample.flag, sample.note, sample.ids), (None, None, vec![]));
        assert_eq!(check("name=a&ids=2&ids=&ids=3").unwrap().ids, vec![2, 3]);
        // A key the form does not know, even repeated (several checkboxes), is ignored.
        assert!(check("name=a&extra=1&extra=2").is_ok());
    }

    #[test]
    fn wrong_types_duplicates_and_missing_fields_are_errors() {
        assert!(check("name=a&ids=x").is_err());
        assert!(check("name=a&flag=maybe").is_err());
        assert!(check("name=a&name=b").is_err());
        assert!(check("flag=true").unwrap_err().contains("name"));
        assert!(check("name=&flag=true").unwrap_err().contains("name"));
    }
}
