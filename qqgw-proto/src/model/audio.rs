//! Audio (voice channel playback) and audio/live channel presence events.

use serde::{Deserialize, Serialize};

use super::de;

/// The data of AUDIO_START, AUDIO_FINISH, AUDIO_ON_MIC and AUDIO_OFF_MIC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AudioAction {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The voice channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The audio's URL (start/finish).
    #[serde(deserialize_with = "de::text")]
    pub audio_url: Option<String>,
    /// The status text (start/finish).
    #[serde(deserialize_with = "de::text")]
    pub text: Option<String>,
}

/// The data of AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER / AUDIO_OR_LIVE_CHANNEL_MEMBER_EXIT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AudioLiveMember {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// 2 voice channel, 5 live channel.
    #[serde(deserialize_with = "de::num")]
    pub channel_type: Option<i64>,
    /// Who entered or left.
    #[serde(deserialize_with = "de::text")]
    pub user_id: Option<String>,
}
