//! Typed models of the gateway's events.
