//! The end-to-end scenarios on async-std.

mod scenarios;

runtime_tests!(qqgw_async_std::AsyncIo, async_std::task::block_on);
