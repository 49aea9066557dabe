//! The one error-code table of QQ's OpenAPI (QQ-API.md §16).

use super::error::{ErrorKind, Retry};

/// One row of the code table: a code or a contiguous range of codes, what it means, its
/// class and what is safe to do after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorCode {
    /// The first code of the row.
    pub first: i64,
    /// The last code of the row (equal to `first` for a single code).
    pub last: i64,
    /// What QQ's documentation says it means.
    pub meaning: &'static str,
    /// Its class.
    pub kind: ErrorKind,
    /// What is safe to do after it.
    pub retry: Retry,
}

impl ErrorCode {
    /// The row of a code: the narrowest row holding it, so that a code named inside a
    /// documented range (such as 610013 in 610001–610014) gets its own row.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::openapi::{ErrorCode, ErrorKind, Retry};
    ///
    /// let row = ErrorCode::lookup(40034105).unwrap();
    /// assert_eq!((row.kind, row.retry), (ErrorKind::Permission, Retry::Never));
    /// assert_eq!(ErrorCode::lookup(610013).unwrap().retry, Retry::Backoff);
    /// assert_eq!(ErrorCode::lookup(610001).unwrap().retry, Retry::Never);
    /// assert_eq!(ErrorCode::lookup(1), None);
    /// ```
    #[must_use]
    pub fn lookup(code: i64) -> Option<&'static ErrorCode> {
        ERROR_CODES
            .iter()
            .filter(|row| (row.first..=row.last).contains(&code))
            .min_by_key(|row| row.last.saturating_sub(row.first))
    }
}

macro_rules! last {
    ($first:literal) => {
        $first
    };
    ($first:literal $last:literal) => {
        $last
    };
}

/// Builds [`ERROR_CODES`] and its docs from rows `code[..=last] => Kind, Retry, "meaning";`.
macro_rules! error_codes {
    ($( $first:literal $(..= $last:literal)? => $kind:ident, $retry:ident, $meaning:literal; )*) => {
        /// Every code of QQ-API.md §16 (16.1–16.7), and the ones qqgw's client already
        /// classified, as one table: [`ErrorCode::lookup`], [`ApiError::kind`] and
        /// [`ApiError::retry`] read it.
        ///
        /// "Retry" names a [`Retry`]: `Never`, `Backoff` (honour `Retry-After`), `Later`
        /// (a server-side failure: once, later) or `RefreshToken`. Where QQ's pages are
        /// silent the choice follows QQ-API.md's inferences. Codes QQ reuses with another
        /// meaning on another page (10001, 10003, 10004, 40093001, 306009) have one row
        /// naming both meanings.
        ///
        /// [`ApiError::kind`]: super::ApiError::kind
        /// [`ApiError::retry`]: super::ApiError::retry
        ///
        /// | code | meaning | class | retry |
        /// |---|---|---|---|
        $(
            #[doc = concat!("| ", $first, $("–", $last,)? " | ", $meaning, " | ", stringify!($kind), " | ", stringify!($retry), " |")]
        )*
        pub const ERROR_CODES: &[ErrorCode] = &[
            $(ErrorCode {
                first: $first,
                last: last!($first $($last)?),
                meaning: $meaning,
                kind: ErrorKind::$kind,
                retry: Retry::$retry,
            },)*
        ];
    };
}

error_codes! {
    // §16.1 authentication and permission.
    11241 => Auth, Never, "token missing";
    11242 => Transient, Later, "token check failed (system)";
    11243 => Auth, RefreshToken, "token rejected";
    11244 => Auth, RefreshToken, "token missing or expired";
    11245 => Auth, Never, "fixed \"Bot token\" disabled";
    11251 => Auth, Never, "appid wrong or missing";
    11252 => Transient, Later, "app-privilege check failed (system)";
    11253 => Permission, Never, "app lacks permission for this API (whitelist-only routes)";
    11254 => Permission, Never, "API banned for this app";
    11261 => Auth, Never, "appid wrong or missing";
    11262 => Permission, Never, "API not callable with a bot token";
    11263 => Transient, Later, "guild-permission check failed (system)";
    11264 => Permission, Never, "guild admin did not grant this API";
    11265 => Permission, Never, "bot banned";
    11273 => Permission, Never, "Bearer token not allowed";
    11274 => Permission, Never, "user OAuth scope missing";
    11275 => Auth, Never, "appid wrong or missing";
    11281 => Transient, Later, "admin check failed (system)";
    11282 => Permission, Never, "bot lacks admin permission";
    11301..=11306 => Transient, Later, "header, nick, avatar, guild id or guild info lookup failed";
    100001 => Rate, Backoff, "token endpoint: too many requests";
    100007 => Auth, Never, "token endpoint: appid invalid, or bot banned or deleted";
    100016 => Auth, Never, "token endpoint: invalid appid or secret";
    // §16.2 v2 sends (C2C, group, stream).
    22006 => Param, Never, "msg_type does not match the content";
    22009 => Rate, Backoff, "send frequency exceeded";
    40007 => Param, Never, "stream: the delivered prefix changed";
    50001 => Transient, Later, "stream: internal error";
    50002 => Rate, Backoff, "stream: rate limited";
    50059 => Param, Never, "input type wrong (input_notify missing or bad)";
    304004 => Permission, Never, "no permission for this ARK template";
    304036 => Permission, Never, "no markdown-template permission";
    304061 => Param, Never, "invalid message content";
    304062 => Param, Never, "subscribe-button limit";
    304064 => Permission, Never, "subscription message not authorised";
    304080 => Media, Never, "invalid file_info: upload again";
    304082 => Media, Later, "media fetch failed";
    304083 => Media, Later, "media convert failed";
    304103 => Reply, Never, "message id expired, cannot reply";
    305007 => Param, Never, "keyboard style parameter error";
    340067 => Target, Never, "bot info lookup failed: check the bot's state";
    340069 => Param, Never, "invalid msg_type";
    40034004 => Media, Later, "media re-hosting failed";
    40034005 => Reply, Never, "reply msg_id expired";
    40034006 => Content, Never, "content violates the rules";
    40034008..=40034011 => Param, Never, "markdown: empty parameter, newline in a parameter, markdown in a template parameter, invalid markdown";
    40034016..=40034022 => Param, Never, "in-body stream errors (withdrawn stream object)";
    40034024 => Reply, Never, "msg_id invalid or not this bot's";
    40034025 => Reply, Never, "event_id invalid";
    40034026 => Reply, Never, "event_id expired";
    40034027 => Reply, Never, "the event does not allow replies";
    40034029 => Param, Never, "keyboard rows or columns exceeded (at most 5 × 5)";
    40034100 => Quota, Never, "active-message quota exceeded";
    40034101 => Target, Never, "bot not a group member";
    40034102 => Permission, Never, "active message not permitted (observed)";
    40034105 => Permission, Never, "active send not permitted";
    40034106 => Param, Never, "command type unsupported";
    40034108 => Param, Never, "command parameter too long";
    40034109 => Param, Never, "command parameter unparsable";
    40034122 => Quota, Never, "wakeup message: period quota reached";
    40034123 => Permission, Never, "wakeup message not supported";
    40034124 => Param, Never, "markdown parameters wrong";
    40034127 => Permission, Never, "no markdown-template permission";
    40034128 => Reply, Never, "passive reply window or count exceeded";
    40054002 => Target, Never, "bot muted in the group";
    40054003 => Target, Never, "bot not in the group";
    40054004 => Target, Never, "not friends with the user";
    40054005 => Dedup, Never, "de-duplicated: this msg_id + msg_seq was already sent";
    40054006 => Transient, Later, "friendship check failed";
    40054007 => Content, Never, "message too long: split it";
    40054010 => Content, Never, "URLs not allowed";
    40054013 => Target, Never, "the user refuses messages";
    40054014 => Content, Never, "stream chunk too long";
    40054015 => Content, Never, "too many stream chunks";
    40054016 => Target, Never, "bot offline";
    40054018 => Content, Never, "message too long or abnormal";
    50055001 => Transient, Later, "send failed";
    50055002 => Transient, Later, "send error";
    50055006 => Transient, Later, "ARK send failed";
    // §16.3 upload.
    850018 => Target, Never, "group or bot muted";
    850019 => Param, Never, "unsupported file format";
    850026 => Media, Later, "source download failed";
    850027 => Transient, Later, "send timeout";
    850031 => Media, Never, "file over the size limit";
    10000 => Param, Never, "unsupported operation";
    40093001 => Transient, Later, "upload failed / applying for the upload failed / part transfer failed";
    40093002 => Quota, Never, "daily file-volume quota used up";
    // §16.4 recall.
    306001 => Param, Never, "recall: bad parameters";
    306002 => Param, Never, "recall: bad message id";
    306003 => Transient, Later, "recall: message lookup failed";
    306004 => Permission, Never, "no permission to recall";
    306005 => Transient, Later, "recall failed";
    306006 => Transient, Later, "recall: channel lookup failed";
    306007 => Recall, Never, "not this group's message";
    306008 => Recall, Never, "not sent by this bot";
    306009 => Recall, Never, "invalid user openid (2026) / not a message with this user (2024)";
    306010 => Transient, Later, "recall: internal error";
    306011 => Recall, Never, "recall window passed";
    40061001 => Param, Never, "recall: invalid parameters";
    40061002 => Param, Never, "recall: invalid msgid";
    40062003 => Permission, Never, "no permission to recall (not admin, or target not an ordinary member)";
    40064004 => Recall, Never, "past the 2-minute recall window";
    50065001 => Transient, Later, "recall failed";
    // §16.5 guild messages.
    10001 => Target, Never, "unknown account (guild) / bad parameters (share link)";
    10002 => Param, Never, "bad headers (share link)";
    10003 => Target, Never, "unknown channel (guild) / bot lookup failed (share link)";
    10004 => Target, Never, "unknown guild (guild) / bot does not exist (token endpoint)";
    12001 => Transient, Later, "id replacement failed";
    12002 => Param, Never, "request body invalid";
    12003 => Transient, Later, "response invalid";
    20028 => Rate, Backoff, "channel write rate limit";
    50006 => Param, Never, "empty message";
    50035 => Param, Never, "bad form-data";
    50037 => Param, Never, "markdown combines only with a keyboard";
    50038 => Param, Never, "wrong guild or channel";
    50039 => Param, Never, "message lookup failed";
    50040 => Param, Never, "wrong template type";
    50041 => Param, Never, "markdown: empty value";
    50042 => Param, Never, "markdown: list too long";
    50043 => Param, Never, "guild_id conversion failed";
    50045 => Reply, Never, "cannot reply to the bot's own message";
    50046 => Reply, Never, "not a message @-ing the bot";
    50047 => Reply, Never, "not a bot message or an @ message";
    50048 => Param, Never, "empty message id";
    50049..=50053 => Param, Never, "message edit errors (v1 edit route)";
    50054..=50057 => Param, Never, "markdown: template parameters, invalid content, not allowed, native and template together";
    304003 => Content, Never, "URL not registered";
    304005 => Content, Never, "embed too long";
    304006..=304009 => Transient, Later, "backend config, guild, bot or channel lookup failed";
    304010 => Media, Later, "image re-hosting failed";
    304011 => Param, Never, "template missing";
    304012 => Param, Never, "template lookup error";
    304014 => Permission, Never, "no template permission";
    304016 => Transient, Later, "send error";
    304017 => Media, Later, "upload failed";
    304018 => Target, Later, "bot not connected to the gateway";
    304019 => Quota, Never, "@everyone count exceeded";
    304020 => Media, Never, "file too large";
    304021 => Media, Later, "file download failed";
    304022 => Quota, Never, "push-time restriction";
    304023 => Audit, Never, "accepted, pending audit (active message)";
    304024 => Audit, Never, "accepted, pending audit (reply)";
    304025 => Content, Never, "security strike";
    304026 => Reply, Never, "bad reply id";
    304027 => Reply, Never, "reply expired";
    304028 => Reply, Never, "reply to a message not @-ing the bot";
    304029 => Param, Never, "corpus service error";
    304030 => Param, Never, "corpus mismatch";
    304031..=304034 => Target, Never, "DM closed, missing, in error, or not a DM member";
    304035 => Quota, Never, "active push: channel count exceeded";
    304037 => Permission, Never, "no keyboard permission";
    304038 => Param, Never, "keyboard missing";
    304039 => Param, Never, "keyboard parse error";
    304040 => Param, Never, "keyboard content error";
    304044 => Transient, Later, "message setting lookup failed";
    304045..=304050 => Quota, Never, "active push: per channel, not allowed in channel, guild channel count, not allowed in guild, DM per user, DM total";
    304051 => Param, Never, "setting-guide request error";
    304052 => Rate, Backoff, "setting-guide requests too frequent";
    1100100 => Rate, Backoff, "security rate limit";
    1100101..=1100103 => Content, Never, "sensitive content or feature not granted";
    1100104 => Target, Never, "group invalid or gone";
    1100300 => Transient, Later, "internal error";
    1100301 => Permission, Never, "caller not a member";
    1100302 => Transient, Later, "guild name lookup failed";
    1100303 => Permission, Never, "homepage guild: not an admin";
    1100304 => Transient, Later, "@ count check failed";
    1100305 => Transient, Later, "TinyId conversion failed";
    1100306 => Permission, Never, "not a member of the private guild";
    1100307 => Permission, Never, "app not whitelisted for the channel";
    1100308 => Rate, Backoff, "guild rate limit";
    1100499 => Transient, Later, "other internal error";
    3300006 => Content, Never, "security strike";
    // §16.6 guild administration ranges, with their named members.
    301000..=301007 => Param, Never, "channel permissions (301004 private-channel member limit, 301006 non-member may not query, 301007 too many params)";
    302000..=302024 => Param, Never, "schedules (302014 more than 7 days, 302015/302016 time order)";
    302010 => Permission, Never, "schedule: no edit permission";
    302012 => Quota, Never, "schedule: 10 per day";
    302021 => Quota, Never, "schedule: guild daily cap";
    501001..=501020 => Param, Never, "announcements and pins (501013 too many pins, 501016 too many recommended channels, 501017 not owner or admin)";
    501002 => Transient, Later, "announcements and pins: retryable failure";
    501003 => Transient, Later, "announcements and pins: retryable failure";
    501004 => Transient, Later, "announcements and pins: retryable failure";
    501006 => Transient, Later, "announcements and pins: retryable failure";
    501007 => Transient, Later, "announcements and pins: retryable failure";
    501011 => Transient, Later, "announcements and pins: retryable failure";
    501012 => Transient, Later, "announcements and pins: retryable failure";
    502001..=502010 => Param, Never, "mute: ids, timestamps (502009 security strike)";
    503001..=503020 => Param, Never, "forum (503016–503020 content limits)";
    503004 => Rate, Backoff, "forum: posting frequency";
    504001..=504004 => Param, Never, "message-frequency settings";
    610001..=610014 => Permission, Never, "API-permission links (610007 bot not in guild, 610010 already authorised)";
    610013 => Rate, Backoff, "API-permission links: rate limited";
    620001..=620007 => Param, Never, "reactions (620002 type limit, 620003 already set, 620004 not set, 620005 no permission)";
    620006 => Rate, Backoff, "reactions: rate limited";
    620007 => Transient, Later, "reactions: retry";
    // §16.7 other new routes.
    630001..=630008 => Param, Never, "interaction ACK (630001 bad parameters, 630002/630003/630006 AppID unreadable or not matching, 630007 body too large, 630008 preprocessing failed)";
    630004 => Transient, Later, "interaction ACK: storage write failed";
    630005 => Transient, Later, "interaction ACK: storage read failed";
    40030001..=40030021 => Param, Never, "menu and panels (40030006 panel not found, 40030008 URL must be https, 40030011 bad scope, 40030012 bad target_type, 40030015 bad item type, 40030016 required field missing, 40030017 bad op, 40030018 not in this scope, 40030021 `all` panel takes no targets)";
    40030009 => Transient, Later, "menu and panels: another operation in progress";
    40030013 => Quota, Never, "menu and panels: count limit";
    40030014 => Param, Never, "bad menu type";
    40030020 => Content, Never, "menu and panels: content security risk";
    10044 => Auth, Never, "share link: UIN missing from the header (check Authorization)";
    11004 => Transient, Later, "share link: ARK generation failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_ordered_ranges_and_overlap_only_by_nesting() {
        for row in ERROR_CODES {
            assert!(row.first <= row.last, "{row:?}");
        }
        for (i, a) in ERROR_CODES.iter().enumerate() {
            for b in ERROR_CODES.iter().skip(i + 1) {
                let overlap = a.first <= b.last && b.first <= a.last;
                let nested =
                    (a.first <= b.first && b.last <= a.last) || (b.first <= a.first && a.last <= b.last);
                let same = a.first == b.first && a.last == b.last;
                assert!(!same, "duplicate row {a:?}");
                assert!(!overlap || nested, "{a:?} and {b:?} overlap");
            }
        }
    }
}
