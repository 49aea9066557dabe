//! Reading answers: the shared parse, and the wrappers every response is made of.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::route::Route;

/// The fields of an answer that its model does not name, kept as QQ sent them.
pub type Extra = serde_json::Map<String, Value>;

/// Reads a 2xx answer into `T`, or QQ's error.
pub(crate) fn parse<T: DeserializeOwned>(
    route: Route,
    status: u16,
    trace_id: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if !(200..300).contains(&status) {
        return Err(ApiError::from_response(Some(route), status, trace_id, body));
    }
    let trimmed = body.trim_ascii();
    let value: Value = if trimmed.is_empty() {
        Value::Object(Extra::new())
    } else {
        match serde_json::from_slice(trimmed) {
            Ok(value) => value,
            Err(error) => return Err(ApiError::undecodable(route, status, trace_id, &error, body)),
        }
    };
    if ApiError::is_error_body(&value) {
        return Err(ApiError::from_value(Some(route), Some(status), trace_id, &value));
    }
    T::deserialize(&value).map_err(|error| ApiError::undecodable(route, status, trace_id, &error, body))
}

/// Whether a value is its type's default (`None`, empty): such fields are not sent.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A model of an event (or another shared model) with the answer's unnamed fields kept
/// beside it. Dereferences to the model, so `guild.name` reads the model's field.
///
/// # Examples
///
/// ```
/// use qqgw_proto::model::Guild;
/// use qqgw_proto::openapi::WithExtra;
///
/// let guild: WithExtra<Guild> = serde_json::from_str(r#"{"id":"1","name":"g","new_field":7}"#)?;
/// assert_eq!(guild.name.as_deref(), Some("g"));
/// assert_eq!(guild.extra["new_field"], 7);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WithExtra<T> {
    /// The model.
    #[serde(flatten)]
    pub value: T,
    /// Fields the model does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl<T> WithExtra<T> {
    /// The model, without the unnamed fields.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for WithExtra<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for WithExtra<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// A list QQ answers with: a bare JSON array, or (as some pages document) an object
/// holding one, such as `{"guilds": […]}`; `null` and an object without an array are
/// empty. Dereferences to the `Vec`.
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::List;
///
/// let bare: List<u32> = serde_json::from_str("[1, 2]")?;
/// let wrapped: List<u32> = serde_json::from_str(r#"{"guilds": [1, 2]}"#)?;
/// assert_eq!(bare, wrapped);
/// assert_eq!(bare.len(), 2);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Deref for List<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for List<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

struct ListVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array, or an object holding one")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(List(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let _ = key;
            if found.is_none() {
                let value: Value = map.next_value()?;
                if let Value::Array(items) = value {
                    let items = items
                        .into_iter()
                        .map(T::deserialize)
                        .collect::<Result<Vec<T>, _>>()
                        .map_err(de::Error::custom)?;
                    found = Some(items);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(List(found.unwrap_or_default()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(List(Vec::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(List(Vec::new()))
    }
}

/// A successful answer with nothing in it: HTTP 204, 200 with an empty body, or 200
/// with `{}`. Whatever a 2xx body holds besides an error code is accepted and ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty;

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Empty)
    }
}

/// Declares a response model: `#[serde(default)]`, `#[non_exhaustive]`, every field
/// public, and the unnamed fields kept in `extra`. A field written `name: Type =>
/// "de::text"` is read with that tolerant deserializer.
macro_rules! model {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$fdoc:meta])* $field:ident: $ty:ty $(=> $de:literal)? ),* $(,)?
        }
    )*) => {$(
        $(#[$doc])*
        ///
        /// Fields QQ adds later are kept in `extra`.
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[$fdoc])*
                $(#[serde(deserialize_with = $de)])?
                #[serde(skip_serializing_if = "crate::openapi::response::is_default")]
                pub $field: $ty,
            )*
            /// Fields this model does not name, as sent.
            #[serde(flatten)]
            pub extra: $crate::openapi::Extra,
        }
    )*};
}

pub(crate) use model;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_either_form() {
        let list: List<u8> = serde_json::from_str(r#"{"total":2,"channels":[1,2],"other":[3]}"#).unwrap();
        assert_eq!(list.0, [1, 2]);
        assert!(serde_json::from_str::<List<u8>>("null").unwrap().is_empty());
        assert!(serde_json::from_str::<List<u8>>("{}").unwrap().is_empty());
        assert!(serde_json::from_str::<List<u8>>(r#"{"a":["x"]}"#).is_err());
    }
}
