//! `application/x-www-form-urlencoded` into any `Deserialize` type, with the rules a form
//! can express: each value is text, parsed as the field's type (`is_active=true`, `limit=5`);
//! a key given several times (or a sequence field given once) fills a sequence
//! (`participants=2&participants=3`); empty values in a sequence are skipped.

use serde::de::value::{Error as DeError, MapDeserializer, SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, Error as _, IntoDeserializer, Visitor};
use std::collections::BTreeMap;

/// Decodes a form body into `T`. Unknown keys are ignored like unknown JSON fields.
pub fn from_bytes<T: DeserializeOwned>(body: &[u8]) -> Result<T, DeError> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        fields
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    T::deserialize(MapDeserializer::new(
        fields.into_iter().map(|(k, v)| (k, Values(v))),
    ))
}

/// The first value of `name` in a form body (the CSRF token field).
pub fn field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// All values one key had.
struct Values(Vec<String>);

impl Values {
    fn single(self) -> Result<Part, DeError> {
        let mut values = self.0;
        match values.len() {
            1 => Ok(Part(values.remove(0))),
            _ => Err(DeError::custom("a field was given more than once")),
        }
    }
}

impl<'de> IntoDeserializer<'de, DeError> for Values {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! via_single {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.single()?.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Values {
    type Error = DeError;

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let parts = self.0.into_iter().filter(|v| !v.is_empty()).map(Part);
        visitor.visit_seq(SeqDeserializer::new(parts))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::custom("nested objects cannot be sent as a form"))
    }

    fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError::custom("nested objects cannot be sent as a form"))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    via_single! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_unit deserialize_identifier deserialize_ignored_any
    }
}

/// One text value, parsed as whatever type the field has.
struct Part(String);

impl<'de> IntoDeserializer<'de, DeError> for Part {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse_as {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.trim().parse::<$ty>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(DeError::invalid_value(de::Unexpected::Str(&self.0), &visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Part {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        StrDeserializer::<DeError>::new(&self.0).deserialize_enum(name, variants, visitor)
    }

    parse_as! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
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
        assert_eq!(check("name=a&ids=").unwrap().ids, Vec::<i64>::new());
    }

    #[test]
    fn wrong_types_duplicates_and_missing_fields_are_errors() {
        assert!(check("name=a&ids=x").is_err());
        assert!(check("name=a&flag=maybe").is_err());
        assert!(check("name=a&name=b").is_err());
        assert!(check("flag=true").unwrap_err().contains("name"));
    }
}
