//! The end-to-end scenarios on smol.

mod scenarios;

runtime_tests!(qqgw_async_std::AsyncIo, smol::block_on);
