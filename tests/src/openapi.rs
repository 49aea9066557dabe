//! The OpenAPI side of the mock: `qqgw-fake`'s model of QQ's OpenAPI, on the mock's clock.
//! Every route of `qqgw_proto::openapi::Route` is served from it; this file only turns
//! the mock's time into the model's and its config into the model's rules.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use qqgw_fake::openapi::{ApiConfig, OpenApi};

use crate::config::MockConfig;

/// The path presigned upload URLs point to: `PUT /presigned/{upload_id}/{index}`.
pub(crate) const PRESIGNED_PATH: &str = "/presigned";

/// The model and the instant its clock counts from.
pub(crate) struct ApiState {
    started: Instant,
    pub(crate) model: OpenApi,
}

impl ApiState {
    pub(crate) fn new(config: &MockConfig) -> Self {
        let mut rules = ApiConfig::default();
        rules.bot_user_id.clone_from(&config.bot_user_id);
        rules.reply_window = config.reply_window;
        rules.c2c_reply_window = config.c2c_reply_window;
        rules.group_max_replies = config.max_replies_per_message;
        rules.c2c_max_replies = config.c2c_max_replies;
        rules.allow_active_messages = config.allow_active_messages;
        rules.shards = config.shards;
        Self { started: Instant::now(), model: OpenApi::new(rules) }
    }

    /// Points presigned URLs and `/gateway` at the mock's own addresses.
    pub(crate) fn serve_at(&mut self, http: SocketAddr, gateway_url: String) {
        let rules = self.model.config_mut();
        rules.upload_base = format!("http://{http}{PRESIGNED_PATH}");
        rules.gateway_url = gateway_url;
    }

    /// `at` on the model's clock.
    pub(crate) fn now(&self, at: Instant) -> qqgw_proto::Instant {
        let elapsed = at.saturating_duration_since(self.started);
        qqgw_proto::Instant::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    /// Notes a dispatched event (its id and its data's `id`) as something to reply to.
    pub(crate) fn dispatched(&mut self, name: &str, event_id: &str, d: &str, now: Instant) {
        let now = self.now(now);
        self.model.dispatched(name, event_id, d, now);
    }
}

/// QQ's reply windows (QQ-API.md §17.2), the mock's defaults.
pub(crate) const GROUP_REPLY_WINDOW: Duration = Duration::from_secs(5 * 60);
pub(crate) const C2C_REPLY_WINDOW: Duration = Duration::from_secs(60 * 60);
