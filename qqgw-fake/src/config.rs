//! What the model of QQ announces and enforces: QQ's documented values by default.

use core::time::Duration;

use qqgw_proto::SessionStartLimit;

/// How QQ numbers RESUMED. QQ's docs show RESUMED with no `s` and the protocol notes say
/// either may be seen; the model picks one for every transport at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResumedSeq {
    /// RESUMED takes the session's next sequence number, as a dispatch (the default).
    #[default]
    Next,
    /// RESUMED carries `"s": null`.
    None,
}

/// The facts the model of QQ runs on. Build it with struct-update syntax from
/// [`QqConfig::default`], QQ's documented values:
///
/// ```
/// use core::time::Duration;
/// use qqgw_fake::QqConfig;
///
/// let config = QqConfig { heartbeat_interval: Duration::from_millis(150), shards: 2, ..QqConfig::default() };
/// assert_eq!(config.app_id, "102000000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QqConfig {
    /// The AppID the token endpoint accepts. Default `"102000000"`.
    pub app_id: String,
    /// The AppSecret the token endpoint accepts. Default `"mock-secret"`.
    pub secret: String,
    /// `heartbeat_interval` sent in HELLO. Default 45 s, as QQ.
    pub heartbeat_interval: Duration,
    /// `shards` announced by `/gateway/bot`; an IDENTIFY must use `[id, shards]` with
    /// `id < shards`, else it is closed with 4010. Default 1.
    pub shards: u32,
    /// `session_start_limit` announced by `/gateway/bot` and enforced on IDENTIFY
    /// (`remaining` a day, `max_concurrency` per 5 s). Default: 1000 a day, one per 5 s.
    pub session_start_limit: SessionStartLimit,
    /// How long an access token lives. Default 7200 s, as QQ. A token is handed out again
    /// until its last [`TOKEN_RENEWAL_WINDOW`](qqgw_proto::TOKEN_RENEWAL_WINDOW), then a
    /// new one is issued (the old one stays valid until it expires).
    pub token_lifetime: Duration,
    /// HTTP status of the token endpoint's refusals (`{"code":100016,…}`,
    /// `{"code":100007,…}`). QQ's is not documented; default 200, as its SDKs assume (try
    /// 401 to check that a client reads the body whatever the status).
    pub token_error_status: u16,
    /// The intent bits this bot may use; an IDENTIFY with any other bit is closed with
    /// 4014. Default: every bit.
    pub allowed_intents: u32,
    /// `user.id` of the bot in READY. Default the id of QQ's documentation example.
    pub bot_user_id: String,
    /// How many events of a session QQ keeps for replay; a RESUME from before the oldest
    /// is closed with 4007. Default 20,000.
    pub replay_capacity: usize,
    /// How long a session stays resumable with no connection: a RESUME after that is
    /// answered op 9 `false`. QQ does not document it (a RESUME after about 7 minutes
    /// has been seen to work); default 10 minutes.
    pub resume_timeout: Duration,
    /// How RESUMED is numbered. Default [`ResumedSeq::Next`].
    pub resumed_seq: ResumedSeq,
}

impl Default for QqConfig {
    fn default() -> Self {
        Self {
            app_id: "102000000".into(),
            secret: "mock-secret".into(),
            heartbeat_interval: Duration::from_secs(45),
            shards: 1,
            session_start_limit: SessionStartLimit {
                total: 1000,
                remaining: 1000,
                reset_after: 86_400_000,
                max_concurrency: 1,
            },
            token_lifetime: Duration::from_secs(7200),
            token_error_status: 200,
            allowed_intents: u32::MAX,
            bot_user_id: "6158788878435714165".into(),
            replay_capacity: 20_000,
            resume_timeout: Duration::from_secs(10 * 60),
            resumed_seq: ResumedSeq::Next,
        }
    }
}
