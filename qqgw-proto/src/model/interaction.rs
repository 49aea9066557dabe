//! INTERACTION_CREATE: buttons and quick menus.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::de;

/// The data of INTERACTION_CREATE.
///
/// Acknowledge it with `PUT /interactions/{id}` and body `{"code":0}`, or the user's
/// client keeps spinning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Interaction {
    /// The interaction id (a UUID), to acknowledge.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// 11 message button, 12 C2C quick menu.
    #[serde(rename = "type", deserialize_with = "de::num")]
    pub kind: Option<i64>,
    /// `c2c`, `group` or `guild`.
    #[serde(deserialize_with = "de::text")]
    pub scene: Option<String>,
    /// 0 guild, 1 group, 2 C2C.
    #[serde(deserialize_with = "de::num")]
    pub chat_type: Option<i64>,
    /// When it happened.
    pub timestamp: Option<Timestamp>,
    /// The guild, in a guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The channel, in a guild.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The group, in a group.
    #[serde(deserialize_with = "de::text")]
    pub group_openid: Option<String>,
    /// The member who clicked, in a group.
    #[serde(deserialize_with = "de::text")]
    pub group_member_openid: Option<String>,
    /// The user who clicked, in C2C.
    #[serde(deserialize_with = "de::text")]
    pub user_openid: Option<String>,
    /// The bot's application id.
    #[serde(deserialize_with = "de::text")]
    pub application_id: Option<String>,
    /// The payload version (1).
    #[serde(deserialize_with = "de::num")]
    pub version: Option<i64>,
    /// What was clicked.
    pub data: Option<InteractionData>,
}

/// The `data` of an [`Interaction`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InteractionData {
    /// The interaction type, as in [`Interaction::kind`].
    #[serde(rename = "type", deserialize_with = "de::num")]
    pub kind: Option<i64>,
    /// The details (the docs table misspells it `resoloved`; the JSON says `resolved`).
    #[serde(alias = "resoloved")]
    pub resolved: Option<InteractionResolved>,
}

/// The details of what was clicked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct InteractionResolved {
    /// The button's `data`, as set when the keyboard was sent.
    #[serde(deserialize_with = "de::text")]
    pub button_data: Option<String>,
    /// The button's id.
    #[serde(deserialize_with = "de::text")]
    pub button_id: Option<String>,
    /// The user who clicked (guild).
    #[serde(deserialize_with = "de::text")]
    pub user_id: Option<String>,
    /// The quick-menu feature id (C2C).
    #[serde(deserialize_with = "de::text")]
    pub feature_id: Option<String>,
    /// The message carrying the button.
    #[serde(deserialize_with = "de::text")]
    pub message_id: Option<String>,
}
