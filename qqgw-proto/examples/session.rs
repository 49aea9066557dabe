//! Drives a `GatewayMachine` through a scripted QQ session on a virtual clock and prints
//! what it does: IDENTIFY, heartbeats, a session rotation (4009) with events missed while
//! disconnected, a zombie connection, and a graceful close.
//!
//! ```text
//! cargo run -p qqgw-proto --example session
//! ```

use core::time::Duration;

use qqgw_fake::Harness;
use qqgw_proto::{CloseCode, Config, Event, Intents};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::builder("wss://fake-gateway.invalid/websocket/", Intents::non_privileged())
        .seed(7)
        .build()?;
    let mut h = Harness::new(config);
    h.gateway.heartbeat_interval = Duration::from_secs(30);
    let mut shown = 0;

    h.run_for(Duration::from_secs(1));
    show(&mut h, &mut shown, "connect and IDENTIFY");

    h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"<@!bot> /天气 深圳"}"#);
    h.gateway.dispatch("GROUP_AT_MESSAGE_CREATE", r#"{"content":" /签到"}"#);
    h.run_for(Duration::from_secs(65));
    show(&mut h, &mut shown, "events and two heartbeats");

    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.gateway.dispatch("C2C_MESSAGE_CREATE", r#"{"content":"sent while disconnected"}"#);
    h.run_for(Duration::from_secs(5));
    show(&mut h, &mut shown, "QQ rotates the session (4009): reconnect at once, RESUME, replay");

    h.run_for(Duration::from_secs(30)); // a heartbeat acknowledged: the connection is healthy
    h.gateway.ack_heartbeats = false;
    h.run_for(Duration::from_secs(60));
    h.gateway.ack_heartbeats = true;
    h.run_for(Duration::from_secs(5));
    show(&mut h, &mut shown, "heartbeats go unanswered: zombie detected, closed and resumed");

    h.machine.close(h.now)?;
    h.run_for(Duration::from_secs(1));
    show(&mut h, &mut shown, "graceful close");

    let m = h.machine.metrics();
    let r = &h.gateway.record;
    println!("summary");
    println!("  connections {}, IDENTIFY {}, RESUME {}", m.connects, m.identifies, m.resumes);
    println!(
        "  heartbeats sent {}, acknowledged {}, zombies {}",
        m.heartbeats_sent, m.heartbeats_acked, m.zombies
    );
    println!("  events delivered {}, replays dropped {}", m.events, m.replays_dropped);
    if let Some((at, d)) = r.heartbeats.last() {
        println!("  the fake gateway saw {} heartbeats, the last at {at} with d = {d:?}", r.heartbeats.len());
    }
    Ok(())
}

fn show(h: &mut Harness, shown: &mut usize, title: &str) {
    println!("== {title}");
    for (at, event) in h.events.iter().skip(*shown) {
        match event {
            Event::Dispatch(d) => {
                println!("  [{at}] event {} seq {:?} {}", d.name(), d.seq(), d.data().get());
            }
            Event::Disconnected(d) => {
                println!("  [{at}] disconnected: {:?}; {:?} at {}", d.cause, d.next, d.at);
            }
            Event::Closed(session) => println!("  [{at}] closed; session kept: {session:?}"),
            other => println!("  [{at}] {other:?}"),
        }
    }
    *shown = h.events.len();
}
