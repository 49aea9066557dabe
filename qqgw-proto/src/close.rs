//! Close codes and what to do after each: the one close-code table.

use std::borrow::Cow;
use std::fmt;

/// A WebSocket close code, as QQ sends it (or as a transport reports it).
///
/// All of QQ's codes have a constant here; any other `u16` is a valid `CloseCode` too and is
/// classified by [`CloseCode::action`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CloseCode(pub u16);

/// What the machine does after a connection closed with a given code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseAction {
    /// Reconnect and RESUME the session (IDENTIFY if there is none).
    Resume,
    /// Forget the session, reconnect and IDENTIFY afresh (paced by the identify limiter).
    Identify,
    /// Fetch a new access token, then reconnect and RESUME (IDENTIFY if there is no session).
    RefreshToken,
    /// Stop for good: neither RESUME nor IDENTIFY can succeed. No retry.
    Fatal,
}

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: going away.
    pub const GOING_AWAY: Self = Self(1001);
    /// 1006: the connection dropped without a close frame (reported by transports).
    pub const ABNORMAL: Self = Self(1006);
    /// 4000: sent by qqgw when it closes a connection whose session it will resume.
    pub const RECONNECTING: Self = Self(4000);
    /// 4001: invalid opcode.
    pub const INVALID_OPCODE: Self = Self(4001);
    /// 4002: invalid payload.
    pub const INVALID_PAYLOAD: Self = Self(4002);
    /// 4004: authentication failed (not in QQ's table; the token was not accepted).
    pub const AUTHENTICATION_FAILED: Self = Self(4004);
    /// 4006: session id invalid, cannot resume.
    pub const INVALID_SESSION: Self = Self(4006);
    /// 4007: invalid sequence number on RESUME.
    pub const INVALID_SEQ: Self = Self(4007);
    /// 4008: payloads sent too fast.
    pub const RATE_LIMITED: Self = Self(4008);
    /// 4009: the session timed out; reconnect and RESUME. QQ rotates sessions this way.
    pub const SESSION_TIMED_OUT: Self = Self(4009);
    /// 4010: invalid shard.
    pub const INVALID_SHARD: Self = Self(4010);
    /// 4011: too many guilds for one connection; shard the bot.
    pub const SHARDING_REQUIRED: Self = Self(4011);
    /// 4012: invalid API version.
    pub const INVALID_VERSION: Self = Self(4012);
    /// 4013: invalid intents.
    pub const INVALID_INTENTS: Self = Self(4013);
    /// 4014: intents not permitted for this bot.
    pub const DISALLOWED_INTENTS: Self = Self(4014);
    /// 4900: first of the internal-error range 4900–4913.
    pub const INTERNAL_ERROR_FIRST: Self = Self(4900);
    /// 4913: last of the internal-error range 4900–4913.
    pub const INTERNAL_ERROR_LAST: Self = Self(4913);
    /// 4914: the bot was taken offline (下架); only the sandbox is allowed.
    pub const BOT_OFFLINE: Self = Self(4914);
    /// 4915: the bot is banned.
    pub const BOT_BANNED: Self = Self(4915);

    /// What to do after a close with this code. Total over every `u16`.
    ///
    /// | code | meaning | action |
    /// |---|---|---|
    /// | below 4000 (1000, 1001, 1006, 1011, …) | transport closure or drop | [`Resume`](CloseAction::Resume) |
    /// | 4000 | qqgw's own "reconnecting" close, echoed | [`Resume`](CloseAction::Resume) |
    /// | 4001 | invalid opcode | [`Fatal`](CloseAction::Fatal) |
    /// | 4002 | invalid payload | [`Fatal`](CloseAction::Fatal) |
    /// | 4004 | authentication failed | [`RefreshToken`](CloseAction::RefreshToken) |
    /// | 4006 | session id invalid | [`Identify`](CloseAction::Identify) |
    /// | 4007 | invalid seq | [`Identify`](CloseAction::Identify) |
    /// | 4008 | rate limited (reconnects after backoff) | [`Resume`](CloseAction::Resume) |
    /// | 4009 | session timed out (rotation) | [`Resume`](CloseAction::Resume) |
    /// | 4010 | invalid shard | [`Fatal`](CloseAction::Fatal) |
    /// | 4011 | sharding required | [`Fatal`](CloseAction::Fatal) |
    /// | 4012 | invalid version | [`Fatal`](CloseAction::Fatal) |
    /// | 4013 | invalid intents | [`Fatal`](CloseAction::Fatal) |
    /// | 4014 | intents not permitted | [`Fatal`](CloseAction::Fatal) |
    /// | 4900–4913 | internal error | [`Identify`](CloseAction::Identify) |
    /// | 4914 | bot offline (下架) | [`Fatal`](CloseAction::Fatal) |
    /// | 4915 | bot banned | [`Fatal`](CloseAction::Fatal) |
    /// | any other 4000–4999 (4003, 4005, 4902-like unknowns, 4924, …) | unknown | [`Identify`](CloseAction::Identify) |
    /// | 5000 and above | not a gateway code | [`Resume`](CloseAction::Resume) |
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::{CloseAction, CloseCode};
    ///
    /// assert_eq!(CloseCode(4009).action(), CloseAction::Resume);
    /// assert_eq!(CloseCode(4907).action(), CloseAction::Identify);
    /// assert_eq!(CloseCode(4915).action(), CloseAction::Fatal);
    /// assert_eq!(CloseCode(4004).action(), CloseAction::RefreshToken);
    /// ```
    #[must_use]
    pub const fn action(self) -> CloseAction {
        match self.0 {
            4001 | 4002 | 4010..=4014 | 4914 | 4915 => CloseAction::Fatal,
            4004 => CloseAction::RefreshToken,
            4000 | 4008 | 4009 => CloseAction::Resume,
            4006 | 4007 | 4900..=4913 => CloseAction::Identify,
            4003 | 4005 | 4015..=4899 | 4916..=4999 => CloseAction::Identify,
            _ => CloseAction::Resume,
        }
    }

    /// Whether a reconnect should wait for backoff even after a healthy connection
    /// (4008: the client sent too fast).
    #[must_use]
    pub const fn is_rate_limit(self) -> bool {
        self.0 == 4008
    }

    /// Whether this is QQ's session rotation (4009), after which qqgw reconnects at once.
    #[must_use]
    pub const fn is_rotation(self) -> bool {
        self.0 == 4009
    }

    /// A short English description of the code.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1006 => "connection dropped",
            4000 => "reconnecting",
            4001 => "invalid opcode",
            4002 => "invalid payload",
            4004 => "authentication failed",
            4006 => "session id invalid, cannot resume",
            4007 => "invalid seq",
            4008 => "payloads sent too fast",
            4009 => "session timed out",
            4010 => "invalid shard",
            4011 => "too many guilds, shard the bot",
            4012 => "invalid version",
            4013 => "invalid intents",
            4014 => "intents not permitted",
            4900..=4913 => "internal error",
            4914 => "bot taken offline, sandbox only",
            4915 => "bot banned",
            4003 | 4005 | 4015..=4899 | 4916..=4999 => "unknown gateway code",
            _ => "transport closure",
        }
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({} {})", self.0, self.description())
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

/// A close frame: code and reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame<'a> {
    /// The code.
    pub code: CloseCode,
    /// The reason text (may be empty).
    pub reason: Cow<'a, str>,
}

impl<'a> CloseFrame<'a> {
    /// What qqgw sends when it closes a connection and means to RESUME its session on the
    /// next one (op 7, zombie, handshake timeout, a resumable op 9, graceful shutdown).
    /// QQ does not document which client codes end a session; 4000 follows the
    /// convention that 1000/1001 end it and 4xxx keeps it.
    pub const RESUME: CloseFrame<'static> =
        CloseFrame { code: CloseCode::RECONNECTING, reason: Cow::Borrowed("reconnecting") };

    /// What qqgw sends when the session is over anyway (a non-resumable op 9).
    pub const NORMAL: CloseFrame<'static> = CloseFrame { code: CloseCode::NORMAL, reason: Cow::Borrowed("") };

    /// A close frame.
    #[must_use]
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Cow<'a, str>>) -> Self {
        Self { code: code.into(), reason: reason.into() }
    }

    /// An owned copy.
    #[must_use]
    pub fn into_owned(self) -> CloseFrame<'static> {
        CloseFrame { code: self.code, reason: Cow::Owned(self.reason.into_owned()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code() {
        use CloseAction::*;
        let table = [
            (1000, Resume),
            (1001, Resume),
            (1006, Resume),
            (4000, Resume),
            (4001, Fatal),
            (4002, Fatal),
            (4003, Identify),
            (4004, RefreshToken),
            (4005, Identify),
            (4006, Identify),
            (4007, Identify),
            (4008, Resume),
            (4009, Resume),
            (4010, Fatal),
            (4011, Fatal),
            (4012, Fatal),
            (4013, Fatal),
            (4014, Fatal),
            (4015, Identify),
            (4899, Identify),
            (4900, Identify),
            (4902, Identify),
            (4913, Identify),
            (4914, Fatal),
            (4915, Fatal),
            (4916, Identify),
            (4924, Identify),
            (4999, Identify),
            (5000, Resume),
            (0, Resume),
            (u16::MAX, Resume),
        ];
        for (code, action) in table {
            assert_eq!(CloseCode(code).action(), action, "{code}");
        }
    }

    #[test]
    fn every_code_has_a_description() {
        for code in 0..=u16::MAX {
            assert!(!CloseCode(code).description().is_empty());
        }
        assert_eq!(CloseCode(4907).description(), "internal error");
    }
}
