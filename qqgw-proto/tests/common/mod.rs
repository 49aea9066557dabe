//! Helpers shared by the test files of this folder.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)] // each test file uses some

use std::fs;
use std::path::{Path, PathBuf};

use core::time::Duration;
use qqgw_proto::{
    AccessToken, Event, GatewayMachine, IdentifySlot, Input, Instant, Output, PacerAnswer, PacerRequest,
};

/// Every file below `dir`, in no particular order.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() { dirs.push(path) } else { out.push(path) }
        }
    }
    out
}

/// What one drain produced.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    pub(crate) events: Vec<Event>,
    pub(crate) sent: Vec<String>,
    pub(crate) closes: u32,
    pub(crate) connects: u32,
    pub(crate) deadline: Option<Instant>,
}

/// Drains `m` at `now`: tokens are handed out (valid two hours), IDENTIFY slots granted,
/// `Connect` is answered with `on_connect` (nothing if `None`), `Close` with `Closed(None)`.
pub(crate) fn drain(
    m: &mut GatewayMachine,
    now: Instant,
    on_connect: &dyn Fn() -> Option<Input<'static>>,
) -> Drained {
    let mut d = Drained::default();
    for _ in 0..1_000 {
        match m.poll_output() {
            Output::RefreshToken => {
                let token = AccessToken::new("t", now + Duration::from_secs(7_200));
                m.handle_input(now, Input::Token(token)).unwrap();
            }
            Output::Pacer(PacerRequest::Acquire) => {
                m.handle_input(now, Input::Pacer(PacerAnswer::Granted(IdentifySlot(0)))).unwrap();
            }
            Output::Pacer(_) => {}
            Output::Connect(_) => {
                d.connects += 1;
                if let Some(input) = on_connect() {
                    m.handle_input(now, input).unwrap();
                }
            }
            Output::Close(_) => {
                d.closes += 1;
                m.handle_input(now, Input::Closed(None)).unwrap();
            }
            Output::Send(text) => d.sent.push(text),
            Output::Emit(event) => d.events.push(event),
            Output::Sleep(deadline) => {
                d.deadline = deadline;
                return d;
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("no Sleep");
}
