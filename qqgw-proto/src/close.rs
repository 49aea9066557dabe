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
    /// Forget the session, reconnect and IDENTIFY afresh (paced by the identify pacer).
    Identify,
    /// Fetch a new access token, then reconnect and RESUME (IDENTIFY if there is no session).
    RefreshToken,
    /// Stop for good: neither RESUME nor IDENTIFY can succeed. No retry.
    Fatal,
}

/// The one close-code table: every code qqgw names, with what to do after it and a short
/// description. The constants, [`CloseCode::action`], [`CloseCode::description`], their
/// docs and [`CloseCode::KNOWN`] are all generated from it; a new code is one row.
macro_rules! close_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal => $action:ident, $desc:literal; )*) => {
        impl CloseCode {
            $(
                $(#[$doc])*
                #[doc = ""]
                #[doc = concat!("`", $code, "`: ", $desc, " → [`", stringify!($action), "`](CloseAction::", stringify!($action), ").")]
                pub const $name: Self = Self($code);
            )*

            /// Every code of the table, in order.
            pub const KNOWN: &'static [CloseCode] = &[$(Self::$name),*];

            /// What to do after a close with this code. Total over every `u16`.
            ///
            /// | code | meaning | action |
            /// |---|---|---|
            $(
                #[doc = concat!("| ", $code, " | ", $desc, " | [`", stringify!($action), "`](CloseAction::", stringify!($action), ") |")]
            )*
            /// | 4900–4913 | internal error | [`Identify`](CloseAction::Identify) |
            /// | any other 4000–4999 | unknown gateway code | [`Identify`](CloseAction::Identify) |
            /// | below 4000 (1000, 1001, 1006, 1011, …) and 5000 and above | transport closure | [`Resume`](CloseAction::Resume) |
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
                    $($code => CloseAction::$action,)*
                    4000..=4999 => CloseAction::Identify,
                    _ => CloseAction::Resume,
                }
            }

            /// A short English description of the code.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self.0 {
                    $($code => $desc,)*
                    4900..=4913 => "internal error",
                    4000..=4999 => "unknown gateway code",
                    _ => "transport closure",
                }
            }
        }
    };
}

close_codes! {
    /// Normal closure.
    NORMAL = 1000 => Resume, "normal closure";
    /// Going away.
    GOING_AWAY = 1001 => Resume, "going away";
    /// The connection dropped without a close frame (reported by transports).
    ABNORMAL = 1006 => Resume, "connection dropped";
    /// Sent by qqgw when it closes a connection whose session it will resume (echoed).
    RECONNECTING = 4000 => Resume, "reconnecting";
    /// Invalid opcode.
    INVALID_OPCODE = 4001 => Fatal, "invalid opcode";
    /// Invalid payload.
    INVALID_PAYLOAD = 4002 => Fatal, "invalid payload";
    /// Authentication failed (not in QQ's table; the token was not accepted).
    AUTHENTICATION_FAILED = 4004 => RefreshToken, "authentication failed";
    /// Session id invalid, cannot resume.
    INVALID_SESSION = 4006 => Identify, "session id invalid, cannot resume";
    /// Invalid sequence number on RESUME.
    INVALID_SEQ = 4007 => Identify, "invalid seq";
    /// Payloads sent too fast: reconnects after backoff.
    RATE_LIMITED = 4008 => Resume, "payloads sent too fast";
    /// The session timed out; reconnect and RESUME. QQ rotates sessions this way.
    SESSION_TIMED_OUT = 4009 => Resume, "session timed out";
    /// Invalid shard.
    INVALID_SHARD = 4010 => Fatal, "invalid shard";
    /// Too many guilds for one connection; shard the bot.
    SHARDING_REQUIRED = 4011 => Fatal, "too many guilds, shard the bot";
    /// Invalid API version.
    INVALID_VERSION = 4012 => Fatal, "invalid version";
    /// Invalid intents.
    INVALID_INTENTS = 4013 => Fatal, "invalid intents";
    /// Intents not permitted for this bot.
    DISALLOWED_INTENTS = 4014 => Fatal, "intents not permitted";
    /// First of the internal-error range 4900–4913.
    INTERNAL_ERROR_FIRST = 4900 => Identify, "internal error";
    /// Last of the internal-error range 4900–4913.
    INTERNAL_ERROR_LAST = 4913 => Identify, "internal error";
    /// The bot was taken offline (下架); only the sandbox is allowed.
    BOT_OFFLINE = 4914 => Fatal, "bot taken offline, sandbox only";
    /// The bot is banned.
    BOT_BANNED = 4915 => Fatal, "bot banned";
}

/// One code of each range of [`CloseCode::action`]'s table that has no name, for the
/// property-test generators.
#[cfg(feature = "testing")]
pub(crate) const UNNAMED_CODES: [u16; 6] = [1011, 4003, 4907, 4916, 4999, 5000];

impl CloseCode {
    /// Whether a reconnect should wait for backoff even after progress (4008: the client
    /// sent too fast).
    #[must_use]
    pub const fn is_rate_limit(self) -> bool {
        self.0 == Self::RATE_LIMITED.0
    }

    /// Whether this is QQ's session rotation (4009).
    #[must_use]
    pub const fn is_rotation(self) -> bool {
        self.0 == Self::SESSION_TIMED_OUT.0
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

    /// What qqgw sends when it closes for good ([`GatewayMachine::close`](crate::GatewayMachine::close)):
    /// the code of [`RESUME`](Self::RESUME), so the session can be resumed after a restart.
    pub const CLOSING: CloseFrame<'static> =
        CloseFrame { code: CloseCode::RECONNECTING, reason: Cow::Borrowed("closing") };

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
    fn the_table_names_each_code_once_in_order() {
        let codes: Vec<u16> = CloseCode::KNOWN.iter().map(|c| c.0).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
        assert_eq!(codes.len(), 20);
        assert!(CloseCode::RATE_LIMITED.is_rate_limit() && CloseCode::SESSION_TIMED_OUT.is_rotation());
    }

    #[test]
    fn every_code_has_a_description() {
        for code in 0..=u16::MAX {
            assert!(!CloseCode(code).description().is_empty());
        }
        assert_eq!(CloseCode(4907).description(), "internal error");
    }
}
