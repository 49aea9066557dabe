//! Requests as plain data: the [`Endpoint`] trait, [`HttpRequest`] and how a typed
//! request becomes one.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::response;
use super::route::{Method, Route, percent_encode_into};

/// A typed request of one [`Route`]: it builds the [`HttpRequest`] to send and reads
/// the answer.
///
/// Every request type of this module implements it (generated from the route table).
/// Sending is the caller's: put [`HttpRequest::method`] and [`HttpRequest::url`] on the
/// wire with the `Authorization: QQBot {access_token}` header
/// ([`AccessToken::authorization`](crate::AccessToken::authorization)), the body and
/// its content type if there is one; then hand the status, the `X-Tps-trace-ID` header
/// and the body to [`parse_response`](Self::parse_response).
pub trait Endpoint {
    /// The route this request calls.
    const ROUTE: Route;
    /// What a successful answer parses into.
    type Response: DeserializeOwned;

    /// The request to send: method, encoded path and query, JSON body.
    ///
    /// # Errors
    ///
    /// [`RequestError`] when a path parameter is empty (it would change the path) or
    /// the request breaks a rule QQ documents crisply (each request type names its
    /// rules).
    fn request(&self) -> Result<HttpRequest, RequestError>;

    /// Reads an answer: the HTTP status, the value of the `X-Tps-trace-ID` response
    /// header if any, and the body.
    ///
    /// A 2xx answer parses into [`Response`](Self::Response) (an empty body reads as
    /// `{}`); any other status, and a 2xx body with a non-zero `err_code` or `code`
    /// (QQ's asynchronous "success" that carries an error, such as a message held for
    /// audit), is an [`ApiError`].
    ///
    /// # Errors
    ///
    /// [`ApiError`] for QQ's errors and for a 2xx body that does not parse.
    fn parse_response(status: u16, trace_id: Option<&str>, body: &[u8]) -> Result<Self::Response, ApiError> {
        response::parse(Self::ROUTE, status, trace_id, body)
    }
}

/// An HTTP request to QQ's API, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The route it calls.
    pub route: Route,
    /// The method.
    pub method: Method,
    /// The path and query, every parameter percent-encoded, e.g.
    /// `/channels/1/messages/2?hidetip=true`. Append it to the API base.
    pub path: String,
    /// The JSON body, if the request has one.
    pub body: Option<Vec<u8>>,
    /// The body's content type: `application/json` when there is a body.
    pub content_type: Option<&'static str>,
    /// Whether sending it twice does no more than sending it once, so that a client may
    /// repeat it after an answer that leaves open whether QQ acted on it (a timeout, a
    /// 5xx): the route is idempotent ([`Route::idempotent`]), or the body carries QQ's
    /// de-duplication key (a passive reply's `msg_id`/`event_id` with an explicit
    /// `msg_seq`: a second copy is refused with `40054005`).
    pub repeatable: bool,
}

impl HttpRequest {
    /// The full URL under an API base such as [`API_BASE`](crate::API_BASE) (a
    /// trailing slash on the base is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::openapi::{Endpoint, GetGuild};
    ///
    /// let request = GetGuild::new("123").request()?;
    /// assert_eq!(request.url("https://api.bot.qq.com/"), "https://api.bot.qq.com/guilds/123");
    /// # Ok::<(), qqgw_proto::openapi::RequestError>(())
    /// ```
    #[must_use]
    pub fn url(&self, base: &str) -> String {
        format!("{}{}", base.trim_end_matches('/'), self.path)
    }

    /// The body as text (it is always UTF-8 JSON), for logs and tests.
    #[must_use]
    pub fn body_text(&self) -> Option<&str> {
        self.body.as_deref().and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// A request that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A path parameter is empty: the path would hold `//` and could address another
    /// route.
    #[error("{route}: path parameter `{name}` is empty")]
    EmptyParam {
        /// The route.
        route: Route,
        /// The parameter's name in the template.
        name: &'static str,
    },
    /// The request breaks a rule QQ documents (the text names the rule and, where QQ
    /// has one, the error code QQ would answer).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field at fault, e.g. `keyboard.content.rows`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The body could not be serialized (not expected for the types of this module).
    #[error("request body: {0}")]
    Body(String),
}

impl RequestError {
    pub(crate) fn invalid(field: &'static str, reason: impl fmt::Display) -> Self {
        Self::Invalid { field, reason: reason.to_string() }
    }
}

/// What a request type contributes to its [`HttpRequest`]; the route table's
/// [`Endpoint`] impls put the pieces together with [`build`].
pub(crate) trait Parts {
    /// The path parameters, in template order.
    fn path_params(&self) -> Vec<Cow<'_, str>>;

    /// The query parameters that are set, unencoded.
    fn query(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The JSON body, checked against the route's documented rules.
    fn body(&self) -> Result<Option<Vec<u8>>, RequestError> {
        Ok(None)
    }

    /// Whether the body carries QQ's de-duplication key ([`Check::deduplicated`]).
    fn deduplicated(&self) -> bool {
        false
    }
}

/// Serializes a JSON body.
pub(crate) fn json<T: Serialize + ?Sized>(body: &T) -> Result<Option<Vec<u8>>, RequestError> {
    serde_json::to_vec(body).map(Some).map_err(|e| RequestError::Body(e.to_string()))
}

/// Puts a request together: the template with encoded parameters, the query, the body.
pub(crate) fn build(route: Route, parts: &impl Parts) -> Result<HttpRequest, RequestError> {
    let mut path = route.path(&parts.path_params())?;
    let mut separator = '?';
    for (key, value) in parts.query() {
        path.push(separator);
        separator = '&';
        path.push_str(key);
        path.push('=');
        percent_encode_into(&mut path, &value);
    }
    let body = parts.body()?;
    let content_type = body.as_ref().map(|_| "application/json");
    let repeatable = route.idempotent() || parts.deduplicated();
    Ok(HttpRequest { route, method: route.method(), path, body, content_type, repeatable })
}

/// Declares a request type: its path parameters (`String`s, in template order), its
/// optional query parameters (`Option`s with a setter each) and its body (a field
/// `body`). A constructor `new(path…, body)` takes the required parts.
macro_rules! request {
    (
        $(#[$doc:meta])*
        $name:ident { $($param:ident),* }
        $(query { $($(#[$qdoc:meta])* $query:ident: $qty:ty),* $(,)? })?
        $(body $body:ty $(, rules $rules:path)?)?
        ;
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $(
                #[doc = concat!("Path parameter `{", stringify!($param), "}`.")]
                pub $param: String,
            )*
            $($(
                $(#[$qdoc])*
                pub $query: Option<$qty>,
            )*)?
            $(
                /// The JSON body.
                pub body: $body,
            )?
        }

        impl $name {
            #[doc = concat!("A [`", stringify!($name), "`] request; optional parts are unset.")]
            #[must_use]
            #[allow(clippy::new_without_default, clippy::redundant_field_names)]
            pub fn new($($param: impl Into<String>,)* $(body: $body)?) -> Self {
                Self {
                    $($param: $param.into(),)*
                    $($($query: None,)*)?
                    $(body: request!(@body body $body),)?
                }
            }

            $($(
                #[doc = concat!("Sets the query parameter `", stringify!($query), "`.")]
                #[must_use]
                pub fn $query(mut self, value: impl Into<$qty>) -> Self {
                    self.$query = Some(value.into());
                    self
                }
            )*)?
        }

        impl $crate::openapi::request::Parts for $name {
            fn path_params(&self) -> Vec<std::borrow::Cow<'_, str>> {
                vec![$(std::borrow::Cow::Borrowed(self.$param.as_str())),*]
            }

            $(
                fn query(&self) -> Vec<(&'static str, String)> {
                    let mut query = Vec::new();
                    $(
                        if let Some(value) = &self.$query {
                            query.push((stringify!($query), value.to_string()));
                        }
                    )*
                    query
                }
            )?

            $(
                fn body(&self) -> Result<Option<Vec<u8>>, $crate::openapi::RequestError> {
                    $crate::openapi::request::Check::check(&self.body)?;
                    $($rules(&self.body)?;)?
                    $crate::openapi::request::json(&self.body)
                }

                fn deduplicated(&self) -> bool {
                    $crate::openapi::request::Check::deduplicated(&self.body)
                }
            )?
        }
    };
    (@body $value:ident $body:ty) => {
        $value
    };
}

pub(crate) use request;

/// A body's own documented rules, checked when the request is built.
pub(crate) trait Check {
    /// `Err` when the body breaks a documented rule.
    fn check(&self) -> Result<(), RequestError> {
        Ok(())
    }

    /// Whether the body carries QQ's de-duplication key: a passive anchor (`msg_id` or
    /// `event_id`) with an explicit `msg_seq`, so that QQ refuses a second copy.
    fn deduplicated(&self) -> bool {
        false
    }
}

/// The body `{}`, for routes whose body must be an empty JSON object (the microphone
/// routes, executing a join strategy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmptyObject {}

impl Check for EmptyObject {}
