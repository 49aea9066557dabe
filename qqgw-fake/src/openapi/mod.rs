//! QQ's OpenAPI as a model: the state behind every route of
//! [`qqgw_proto::openapi::Route`], and the answers QQ gives.
