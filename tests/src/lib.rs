//! The loopback mock QQ gateway and the end-to-end tests of the qqgw adapters (in
//! development). Until the adapters land, the in-memory fake gateway of
//! `qqgw_proto::testing` covers the protocol.
