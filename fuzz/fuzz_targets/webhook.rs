#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qqgw_proto::fuzzing::webhook(data));
