//! The `tail` example as a user runs it, against the mock gateway.

use qqgw_mock::tail_check::{self, example};

#[test]
fn prints_every_dispatch_as_a_json_line_and_exits_0_on_sigterm() {
    tail_check::prints_every_dispatch_as_a_json_line_and_exits_0_on_sigterm(&example("tail"));
}

#[test]
fn fatal_close_codes_exit_1_with_a_one_line_reason() {
    tail_check::fatal_close_codes_exit_1_with_a_one_line_reason(&example("tail"));
}

#[test]
fn bad_credentials_exit_1_with_a_one_line_reason() {
    tail_check::bad_credentials_exit_1_with_a_one_line_reason(&example("tail"));
}
