//! The gateway state machine.

mod state;

pub use state::State;
