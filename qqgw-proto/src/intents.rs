//! Gateway intents: which event families a connection subscribes to.

use bitflags::bitflags;

bitflags! {
    /// The `intents` bit set sent in IDENTIFY.
    ///
    /// Only [`GUILDS`](Self::GUILDS), [`GUILD_MEMBERS`](Self::GUILD_MEMBERS) and
    /// [`PUBLIC_GUILD_MESSAGES`](Self::PUBLIC_GUILD_MESSAGES) are granted to every bot
    /// ([`Intents::non_privileged`]); QQ grants the others on application, and an IDENTIFY
    /// that asks for an ungranted bit is closed with 4013 or 4014, which qqgw treats as fatal.
    ///
    /// Every constant's docs list the events (`t`) it delivers. The names are QQ's own,
    /// so `Intents::from_name("GUILDS")` and [`iter_names`](Self::iter_names) work as
    /// expected. Unknown bits are kept, not dropped (`from_bits_retain`).
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::Intents;
    ///
    /// let intents = Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT;
    /// assert_eq!(intents.bits(), 1_107_296_259);
    /// assert!(intents.contains(Intents::PUBLIC_GUILD_MESSAGES));
    /// assert_eq!(Intents::from_name("INTERACTION"), Some(Intents::INTERACTION));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Intents: u32 {
        /// `1 << 0`, base: GUILD_CREATE, GUILD_UPDATE, GUILD_DELETE, CHANNEL_CREATE,
        /// CHANNEL_UPDATE, CHANNEL_DELETE.
        const GUILDS = 1 << 0;
        /// `1 << 1`, base: GUILD_MEMBER_ADD, GUILD_MEMBER_UPDATE, GUILD_MEMBER_REMOVE.
        const GUILD_MEMBERS = 1 << 1;
        /// `1 << 9`, private-domain bots only: MESSAGE_CREATE, MESSAGE_DELETE.
        const GUILD_MESSAGES = 1 << 9;
        /// `1 << 10`, on application: MESSAGE_REACTION_ADD, MESSAGE_REACTION_REMOVE.
        const GUILD_MESSAGE_REACTIONS = 1 << 10;
        /// `1 << 12`, on application: DIRECT_MESSAGE_CREATE, DIRECT_MESSAGE_DELETE.
        const DIRECT_MESSAGE = 1 << 12;
        /// `1 << 18`, on application (public-domain forums): OPEN_FORUM_THREAD_CREATE,
        /// OPEN_FORUM_THREAD_UPDATE, OPEN_FORUM_THREAD_DELETE, OPEN_FORUM_POST_CREATE,
        /// OPEN_FORUM_POST_DELETE, OPEN_FORUM_REPLY_CREATE, OPEN_FORUM_REPLY_DELETE.
        const OPEN_FORUMS_EVENT = 1 << 18;
        /// `1 << 19`, on application: AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER,
        /// AUDIO_OR_LIVE_CHANNEL_MEMBER_EXIT.
        const AUDIO_OR_LIVE_CHANNEL_MEMBER = 1 << 19;
        /// `1 << 23`: ENTER_AIO. Not in QQ's published table; seen only in SDKs (botgo).
        const ENTER_AIO = 1 << 23;
        /// `1 << 24`: GROUP_MEMBER_ADD, GROUP_MEMBER_REMOVE. Not in QQ's published table;
        /// seen only in SDKs (NoneBot, 2026).
        const GROUP_MEMBERS = 1 << 24;
        /// `1 << 25`, group and C2C capability: C2C_MESSAGE_CREATE, FRIEND_ADD, FRIEND_DEL,
        /// C2C_MSG_REJECT, C2C_MSG_RECEIVE, GROUP_AT_MESSAGE_CREATE, GROUP_MESSAGE_CREATE,
        /// GROUP_ADD_ROBOT, GROUP_DEL_ROBOT, GROUP_MSG_REJECT, GROUP_MSG_RECEIVE,
        /// SUBSCRIBE_MESSAGE_STATUS.
        const GROUP_AND_C2C_EVENT = 1 << 25;
        /// `1 << 26`, on application: INTERACTION_CREATE.
        const INTERACTION = 1 << 26;
        /// `1 << 27`, on application: MESSAGE_AUDIT_PASS, MESSAGE_AUDIT_REJECT.
        const MESSAGE_AUDIT = 1 << 27;
        /// `1 << 28`, private-domain bots only: FORUM_THREAD_CREATE, FORUM_THREAD_UPDATE,
        /// FORUM_THREAD_DELETE, FORUM_POST_CREATE, FORUM_POST_DELETE, FORUM_REPLY_CREATE,
        /// FORUM_REPLY_DELETE, FORUM_PUBLISH_AUDIT_RESULT.
        const FORUMS_EVENT = 1 << 28;
        /// `1 << 29`, on application: AUDIO_START, AUDIO_FINISH, AUDIO_ON_MIC, AUDIO_OFF_MIC.
        const AUDIO_ACTION = 1 << 29;
        /// `1 << 30`, base: AT_MESSAGE_CREATE, PUBLIC_MESSAGE_DELETE.
        const PUBLIC_GUILD_MESSAGES = 1 << 30;
    }
}

impl Intents {
    /// The intents every bot is granted without applying: `GUILDS | GUILD_MEMBERS |
    /// PUBLIC_GUILD_MESSAGES` (`1073741827`): guild events and @-mentions in guild
    /// channels only.
    ///
    /// **Group and C2C (private chat) messages are not among them**: a bot for QQ groups
    /// or private chats needs [`GROUP_AND_C2C_EVENT`](Self::GROUP_AND_C2C_EVENT) too, or
    /// QQ sends it no `GROUP_AT_MESSAGE_CREATE` and no `C2C_MESSAGE_CREATE`, and nothing
    /// says why:
    ///
    /// ```
    /// use qqgw_proto::Intents;
    ///
    /// let group_bot = Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT;
    /// assert!(!Intents::non_privileged().contains(Intents::GROUP_AND_C2C_EVENT));
    /// assert_eq!(group_bot.bits(), 1_107_296_259);
    /// ```
    #[must_use]
    pub const fn non_privileged() -> Self {
        Self::GUILDS.union(Self::GUILD_MEMBERS).union(Self::PUBLIC_GUILD_MESSAGES)
    }
}

/// Serialized as the number QQ expects in IDENTIFY; unknown bits are kept.
impl serde::Serialize for Intents {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.bits())
    }
}

impl<'de> serde::Deserialize<'de> for Intents {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(Self::from_bits_retain)
    }
}

/// An intent name that does not exist, from [`Intents::from_str`](core::str::FromStr::from_str).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not an intent; give a number or names joined by | from: {}", Intents::all().names())]
#[non_exhaustive]
pub struct UnknownIntent {
    /// The name that is not an intent, as given.
    pub name: String,
}

impl core::str::FromStr for Intents {
    type Err = UnknownIntent;

    /// Reads intents as a person writes them: a number (`1107296259`), or names joined by
    /// `|`, `,` or `+`, in any case and with any spaces (`GUILDS | group_and_c2c_event`).
    ///
    /// ```
    /// use qqgw_proto::Intents;
    ///
    /// let intents: Intents = "guilds, PUBLIC_GUILD_MESSAGES|Group_And_C2C_Event".parse().unwrap();
    /// assert_eq!(intents, Intents::GUILDS | Intents::PUBLIC_GUILD_MESSAGES | Intents::GROUP_AND_C2C_EVENT);
    /// assert_eq!("1".parse::<Intents>(), Ok(Intents::GUILDS));
    /// assert!("GROUP_MESSAGES".parse::<Intents>().unwrap_err().to_string().contains("GROUP_AND_C2C_EVENT"));
    /// ```
    fn from_str(text: &str) -> Result<Self, UnknownIntent> {
        if let Ok(bits) = text.trim().parse::<u32>() {
            return Ok(Self::from_bits_retain(bits));
        }
        text.split(['|', ',', '+']).map(str::trim).filter(|name| !name.is_empty()).try_fold(
            Self::empty(),
            |all, name| {
                Self::from_name(&name.to_ascii_uppercase())
                    .map(|intent| all | intent)
                    .ok_or_else(|| UnknownIntent { name: name.to_owned() })
            },
        )
    }
}

impl Intents {
    /// The names of these intents joined by ` | ` (unknown bits as a number, `none` for
    /// no bit), e.g. `GUILDS | PUBLIC_GUILD_MESSAGES`: what log lines and errors show.
    ///
    /// ```
    /// use qqgw_proto::Intents;
    ///
    /// assert_eq!(Intents::non_privileged().names(), "GUILDS | GUILD_MEMBERS | PUBLIC_GUILD_MESSAGES");
    /// assert_eq!(Intents::from_bits_retain(1 << 31).names(), "2147483648");
    /// ```
    #[must_use]
    pub fn names(self) -> String {
        let mut names: Vec<String> = self.iter_names().map(|(name, _)| name.to_owned()).collect();
        let unknown = self.bits() & !Self::all().bits();
        if unknown != 0 {
            names.push(unknown.to_string());
        }
        if names.is_empty() { "none".to_owned() } else { names.join(" | ") }
    }
}

impl Default for Intents {
    /// [`Intents::non_privileged`].
    fn default() -> Self {
        Self::non_privileged()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_masks() {
        assert_eq!(Intents::non_privileged().bits(), 1_073_741_827);
        let fixture = Intents::non_privileged()
            | Intents::GUILD_MESSAGE_REACTIONS
            | Intents::DIRECT_MESSAGE
            | Intents::GROUP_AND_C2C_EVENT
            | Intents::INTERACTION;
        // The mask of the IDENTIFY fixture.
        assert_eq!(fixture.bits(), 1_174_410_243);
        assert_eq!((Intents::GROUP_AND_C2C_EVENT | Intents::INTERACTION).bits(), 100_663_296);
    }

    #[test]
    fn every_bit_has_a_name() {
        let names: Vec<_> = Intents::all().iter_names().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 15);
        for (name, bit) in Intents::all().iter_names() {
            assert_eq!(Intents::from_name(name), Some(bit));
        }
    }

    #[test]
    fn names_read_back() {
        for intents in [Intents::all(), Intents::non_privileged(), Intents::INTERACTION] {
            assert_eq!(intents.names().parse::<Intents>(), Ok(intents));
        }
        assert_eq!(" 33554432 ".parse::<Intents>(), Ok(Intents::GROUP_AND_C2C_EVENT));
        assert_eq!("".parse::<Intents>(), Ok(Intents::empty()));
        assert_eq!("GUILDS|NOPE".parse::<Intents>(), Err(UnknownIntent { name: "NOPE".into() }));
    }

    #[test]
    fn unknown_bits_survive_serde() {
        let raw = Intents::from_bits_retain(1 << 31 | 1);
        let json = serde_json::to_string(&raw).unwrap_or_default();
        assert_eq!(json, "2147483649");
        let back: Intents = serde_json::from_str(&json).unwrap_or_else(|_| Intents::empty());
        assert_eq!(back, raw);
    }
}
