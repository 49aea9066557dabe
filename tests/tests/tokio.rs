//! The end-to-end scenarios on tokio.
#![allow(clippy::unwrap_used)]

mod scenarios;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

runtime_tests!(qqgw_tokio::Tokio, block_on);
