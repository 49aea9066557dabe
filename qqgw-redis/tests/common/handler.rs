//! A handler that counts what it is given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qqgw_client::{Context, EventHandler, Session, ShardId};

#[derive(Clone, Default)]
pub struct Tally {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Times each event id was handled.
    handled: HashMap<String, u32>,
    /// Event ids in the order handled, and `gap:<after>` for each gap reported.
    order: Vec<String>,
    gaps: Vec<(ShardId, Session)>,
}

impl Tally {
    pub fn handled(&self) -> HashMap<String, u32> {
        self.inner.lock().unwrap().handled.clone()
    }

    pub fn order(&self) -> Vec<String> {
        self.inner.lock().unwrap().order.clone()
    }

    pub fn distinct(&self) -> usize {
        self.inner.lock().unwrap().handled.len()
    }

    pub fn twice(&self) -> usize {
        self.inner.lock().unwrap().handled.values().filter(|&&n| n > 1).count()
    }

    pub fn gaps(&self) -> Vec<(ShardId, Session)> {
        self.inner.lock().unwrap().gaps.clone()
    }
}

impl EventHandler for Tally {
    async fn unknown_event(&self, ctx: Context) {
        let id = ctx.event_id().unwrap_or("?").to_owned();
        let mut inner = self.inner.lock().unwrap();
        *inner.handled.entry(id.clone()).or_default() += 1;
        inner.order.push(id);
    }

    async fn session_lost(&self, shard: ShardId, session: Session) {
        let mut inner = self.inner.lock().unwrap();
        inner.order.push(format!("gap:{}", session.seq));
        inner.gaps.push((shard, session));
    }
}
