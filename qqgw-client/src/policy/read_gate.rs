//! When a shard stops reading frames for its consumer.

use qqgw_proto::{GatewayMachine, State};

/// Whether a shard reads frames now. It reads while it has a connection and its consumer
/// keeps up — no event waits to be handed over, and fewer than `max_in_flight` events
/// are handed out and not yet handled — so memory stays bounded however slow the
/// handlers are. While the machine is closing it reads regardless: frames then only
/// carry the server's answer to the close, and make no events.
///
/// The machine is told when reading pauses and goes on ([`Input::ReadPaused`]), so that
/// it takes no silence for a dead link while nobody reads.
///
/// [`Input::ReadPaused`]: qqgw_proto::Input::ReadPaused
///
/// # Examples
///
/// ```
/// use qqgw_client::policy::ReadGate;
/// # use qqgw_proto::{Config, GatewayMachine, Instant, Intents};
/// # let config = Config::builder("wss://fake/", Intents::non_privileged()).build().unwrap();
/// # let machine = GatewayMachine::new(config, Instant::ZERO);
///
/// let mut gate = ReadGate::new(8);
/// // Connected, one event waiting for the consumer: stop reading, and tell the machine.
/// assert_eq!(gate.update(&machine, true, 1), (false, Some(true)));
/// // Still waiting: nothing new to tell.
/// assert_eq!(gate.update(&machine, true, 1), (false, None));
/// // The consumer took it: read again.
/// assert_eq!(gate.update(&machine, true, 0), (true, Some(false)));
/// ```
#[derive(Debug, Clone)]
pub struct ReadGate {
    max_in_flight: usize,
    paused: bool,
}

impl Default for ReadGate {
    /// The gate of a client with the default event buffer and handler concurrency
    /// ([`DEFAULT_EVENT_BUFFER`](crate::DEFAULT_EVENT_BUFFER),
    /// [`DEFAULT_HANDLER_CONCURRENCY`](crate::DEFAULT_HANDLER_CONCURRENCY)).
    fn default() -> Self {
        Self::for_consumer(crate::DEFAULT_EVENT_BUFFER, crate::DEFAULT_HANDLER_CONCURRENCY)
    }
}

impl ReadGate {
    /// A gate that lets at most `max_in_flight` events be handed out and unhandled.
    #[must_use]
    pub fn new(max_in_flight: usize) -> Self {
        Self { max_in_flight, paused: false }
    }

    /// The gate of a client whose consumer holds up to `buffer` events and handles up to
    /// `concurrency` at once: `buffer + concurrency + 1` in flight, what the consumer holds
    /// and handles with one to spare.
    #[must_use]
    pub fn for_consumer(buffer: usize, concurrency: usize) -> Self {
        Self::new(buffer.saturating_add(concurrency).saturating_add(1))
    }

    /// Whether to read now, given whether a connection is open and how many events wait
    /// to be handed to the consumer; and, when reading pauses or goes on, the value of
    /// [`Input::ReadPaused`](qqgw_proto::Input::ReadPaused) to tell `machine`.
    pub fn update(
        &mut self,
        machine: &GatewayMachine,
        connected: bool,
        waiting: usize,
    ) -> (bool, Option<bool>) {
        let keeps_up = waiting == 0 && machine.unacked() < self.max_in_flight;
        let read = connected && (keeps_up || machine.state() == State::Closing);
        let paused = connected && !read;
        let tell = (paused != self.paused).then_some(paused);
        self.paused = paused;
        (read, tell)
    }

    /// The most events handed out and unhandled before reading pauses.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qqgw_fake::Harness;
    use qqgw_proto::{Config, Intents};

    #[test]
    fn reading_pauses_at_the_in_flight_bound_and_never_while_closing() {
        let config =
            Config::builder("wss://fake/", Intents::non_privileged()).manual_ack(true).build().unwrap();
        let mut h = Harness::new(config);
        h.run_for(core::time::Duration::from_secs(1));
        for _ in 0..3 {
            h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
        }
        h.run_for(core::time::Duration::from_millis(10));
        assert_eq!(h.machine.unacked(), 4); // READY and three events
        let mut gate = ReadGate::new(4);
        assert_eq!(gate.update(&h.machine, true, 0), (false, Some(true)));
        let mut roomy = ReadGate::for_consumer(2, 2);
        assert_eq!(roomy.max_in_flight(), 5);
        assert_eq!(roomy.update(&h.machine, true, 0), (true, None));
        // No connection: nothing to read, nothing paused.
        assert_eq!(gate.update(&h.machine, false, 0), (false, Some(false)));
        h.machine.close(h.now).unwrap();
        while let qqgw_proto::Output::Close(_) | qqgw_proto::Output::Emit(_) = h.machine.poll_output() {}
        assert_eq!(h.machine.state(), State::Closing);
        assert_eq!(gate.update(&h.machine, true, 9), (true, None));
    }
}
