//! What the mock accepts and announces.

use std::time::Duration;

use qqgw_fake::{QqConfig, ResumedSeq};
use qqgw_proto::SessionStartLimit;

/// The mock's settings. Build it with struct-update syntax:
///
/// ```
/// use std::time::Duration;
/// use qqgw_mock::MockConfig;
///
/// let config = MockConfig { heartbeat_interval: Duration::from_millis(150), shards: 2, ..MockConfig::default() };
/// assert_eq!(config.app_id, "102000000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConfig {
    /// The AppID the token endpoint accepts. Default `"102000000"`.
    pub app_id: String,
    /// The AppSecret the token endpoint accepts. Default `"mock-secret"`.
    pub secret: String,
    /// `heartbeat_interval` sent in HELLO. Default 45 s, as QQ; tests use 100–200 ms.
    pub heartbeat_interval: Duration,
    /// `shards` announced by `/gateway/bot`; IDENTIFY must use `[id, shards]` with
    /// `id < shards`, else the mock closes with 4010. Default 1.
    pub shards: u32,
    /// `session_start_limit` announced by `/gateway/bot` and enforced on IDENTIFY.
    /// Default: 1000 a day, one per 5 s.
    pub session_start_limit: SessionStartLimit,
    /// How long an access token lives. Default 7200 s, as QQ.
    pub token_lifetime: Duration,
    /// The intent bits this bot may use; IDENTIFY with any other bit is closed with 4014.
    /// Default: every bit.
    pub allowed_intents: u32,
    /// How long the mock waits after the WebSocket handshake before sending HELLO.
    /// Default zero.
    pub hello_delay: Duration,
    /// HTTP status of token-endpoint rejections (`{"code":100016,…}`, `{"code":100007,…}`).
    /// QQ's is not documented; default 200, try 401 to check that a client reads the body
    /// whatever the status.
    pub token_error_status: u16,
    /// `user.id` of the bot in READY. Default the id of the documentation's example.
    pub bot_user_id: String,
    /// How long a group, guild channel or DM message (or event) can be replied to. Default
    /// 5 min, as QQ documents.
    pub reply_window: Duration,
    /// How long a C2C message (or event) can be replied to. Default 60 min, as QQ
    /// documents.
    pub c2c_reply_window: Duration,
    /// Replies accepted per group message. Default 5, as QQ documents.
    pub max_replies_per_message: u32,
    /// How RESUMED is numbered. Default: QQ's model's ([`ResumedSeq::Next`]).
    pub resumed_seq: ResumedSeq,
    /// Replies accepted per C2C message. Default 4, as QQ's 2026 docs say (QQ-API.md
    /// §17.2).
    pub c2c_max_replies: u32,
    /// Whether users and groups allow active (unprompted) C2C and group messages.
    /// Default false: QQ's 2026 docs offer them, but only where the user or the group
    /// allowed them, and refuse them with 40034105 otherwise.
    pub allow_active_messages: bool,
}

impl MockConfig {
    /// The model of QQ these settings describe.
    pub(crate) fn qq(&self) -> QqConfig {
        QqConfig {
            app_id: self.app_id.clone(),
            secret: self.secret.clone(),
            heartbeat_interval: self.heartbeat_interval,
            shards: self.shards,
            session_start_limit: self.session_start_limit,
            token_lifetime: self.token_lifetime,
            token_error_status: self.token_error_status,
            allowed_intents: self.allowed_intents,
            bot_user_id: self.bot_user_id.clone(),
            resumed_seq: self.resumed_seq,
            ..QqConfig::default()
        }
    }
}

impl Default for MockConfig {
    /// QQ's documented values, as the model of QQ ([`QqConfig::default`]) has them.
    fn default() -> Self {
        let qq = QqConfig::default();
        Self {
            app_id: qq.app_id,
            secret: qq.secret,
            heartbeat_interval: qq.heartbeat_interval,
            shards: qq.shards,
            session_start_limit: qq.session_start_limit,
            token_lifetime: qq.token_lifetime,
            allowed_intents: qq.allowed_intents,
            hello_delay: Duration::ZERO,
            token_error_status: qq.token_error_status,
            bot_user_id: qq.bot_user_id,
            resumed_seq: qq.resumed_seq,
            reply_window: crate::openapi::GROUP_REPLY_WINDOW,
            c2c_reply_window: crate::openapi::C2C_REPLY_WINDOW,
            max_replies_per_message: 5,
            c2c_max_replies: 4,
            allow_active_messages: false,
        }
    }
}

impl MockConfig {
    /// The credentials the mock accepts, for the client under test.
    #[must_use]
    pub fn credentials(&self) -> qqgw_proto::Credentials {
        qqgw_proto::Credentials::new(self.app_id.clone(), self.secret.clone())
    }
}
