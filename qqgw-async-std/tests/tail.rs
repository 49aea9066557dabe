//! The `async-tail` example as a user runs it, against the mock gateway.

qqgw_mock::tail_tests!("async-tail");
