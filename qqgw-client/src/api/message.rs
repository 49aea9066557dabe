//! Sending and recalling messages: where they go ([`Target`]), what they answer
//! ([`ReplyTo`]), what they hold ([`Outgoing`]), and the `msg_seq` of replies.

use core::future::Future;

use qqgw_proto::model::{Ark, C2cMessage, Embed, GroupMessage, Message, Timestamp};
use qqgw_proto::openapi::{
    Extra, FileType, FileUpload, GuildMessageBody, Keyboard, Markdown, MessageBody, MessageSent,
    RecallC2cMessage, RecallChannelMessage, RecallDmMessage, RecallGroupMessage, SendC2cMessage,
    SendChannelMessage, SendDmMessage, SendGroupMessage, UploadC2cFile, UploadGroupFile, WithExtra,
};

use super::{Api, CallError};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A group, by `group_openid`: `POST /v2/groups/{group_openid}/messages`.
    Group(String),
    /// A user's C2C chat, by `user_openid`: `POST /v2/users/{user_openid}/messages`.
    User(String),
    /// A guild text channel, by `channel_id`: `POST /channels/{channel_id}/messages`.
    Channel(String),
    /// A guild direct-message session, by its `guild_id` (the one on
    /// `DIRECT_MESSAGE_CREATE`, or of [`Api::create_dm`]): `POST /dms/{guild_id}/messages`.
    Dm(String),
}

impl Target {
    /// Group and C2C chats use QQ's v2 API (`msg_type`, `msg_seq`, media uploads).
    fn is_v2(&self) -> bool {
        matches!(self, Self::Group(_) | Self::User(_))
    }
}

/// What a message answers: nothing (an active message), a received message (passive,
/// `msg_id`), or an event (passive, `event_id`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplyTo {
    /// An active (unprompted) message. QQ's 2026 docs offer them again in C2C chats and
    /// groups, within quotas (C2C: 20 a minute and 1,000 a day per user; groups: 20 a
    /// minute and 1,000 a day per group), but only where the user or the group allows
    /// them (a group's [`bot_state`](super::Group::bot_state) says so; `C2C_MSG_RECEIVE`
    /// tells that a user did): otherwise QQ refuses with 40034105 (or 40034102), kind
    /// [`ErrorKind::Permission`](super::ErrorKind::Permission), and over quota with
    /// 40034100 ([`ErrorKind::Quota`](super::ErrorKind::Quota)); neither is retried.
    /// Guild channels allow 20 a day per channel. Wakeup messages
    /// ([`Outgoing::wakeup`]) are the documented alternative in C2C.
    #[default]
    None,
    /// A reply to the message with this `id` (C2C, group and guild message events).
    /// QQ takes replies for 60 minutes and at most 4 per message in C2C chats, 5
    /// minutes and 5 per message in groups, 5 minutes in guild channels and DMs; later
    /// ones are refused with [`ErrorKind::Reply`](super::ErrorKind::Reply).
    Message(String),
    /// A reply to the event with this id (the gateway payload's `id`): for
    /// `INTERACTION_CREATE`, `C2C_MSG_RECEIVE`, `FRIEND_ADD`, `GROUP_ADD_ROBOT`,
    /// `GROUP_MSG_RECEIVE` and guild member, reaction and forum events.
    Event(String),
}

/// A message to send: text, [`Markdown`] (with a [`Keyboard`]), media, ark, embed or a
/// typing notice, and what it answers.
///
/// `msg_seq` is managed by [`Api`]: replies to one message or event are numbered 1, 2, …
/// in the order they are sent, however many tasks reply at once. Set it yourself with
/// [`msg_seq`](Self::msg_seq) only to resend a message QQ may have received (QQ refuses
/// the second with 40054005, [`ErrorKind::Dedup`](super::ErrorKind::Dedup)). A message
/// that breaks a rule QQ documents (text beside markdown, a keyboard of 6 rows) is not
/// sent: [`CallError::Request`].
///
/// # Examples
///
/// ```
/// use qqgw_tokio::api::{Button, Keyboard, Markdown, Outgoing, ReplyTo};
///
/// let text = Outgoing::text("pong").reply_to(ReplyTo::Message("ROBOT1.0_abc".into()));
/// // In groups and C2C chats, markdown goes without `content`.
/// let menu = Outgoing::markdown(Markdown::text("**Vote**"))
///     .keyboard(Keyboard::rows([[Button::callback("y", "Yes", "vote:yes"), Button::callback("n", "No", "vote:no")]]));
/// # let _ = (text, menu);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outgoing {
    content: Option<String>,
    kind: Kind,
    keyboard: Option<Keyboard>,
    image: Option<String>,
    reply: ReplyTo,
    msg_seq: Option<u32>,
    quote: Option<String>,
    wakeup: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Kind {
    #[default]
    Text,
    Markdown(Markdown),
    Ark(serde_json::Value),
    Embed(serde_json::Value),
    Media(Media),
    Typing(u8),
}

impl Outgoing {
    /// Plain text (`msg_type` 0).
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// Markdown (`msg_type` 2): [`Markdown::text`] (native, open to every bot in C2C
    /// chats and groups since 2026-04-23; invitation only in guild channels) or a
    /// template ([`Markdown::template`], deprecated by QQ). May carry a
    /// [`keyboard`](Self::keyboard); takes no [`content`](Self::content).
    #[must_use]
    pub fn markdown(markdown: Markdown) -> Self {
        Self { kind: Kind::Markdown(markdown), ..Self::default() }
    }

    /// An ark template message (`msg_type` 3; QQ's 2026 pages list it for guild channels
    /// only, C2C and groups by whitelist).
    #[must_use]
    pub fn ark(ark: &Ark) -> Self {
        let value = serde_json::to_value(ark).unwrap_or(serde_json::Value::Null);
        Self { kind: Kind::Ark(value), ..Self::default() }
    }

    /// An embed (`msg_type` 4): guild channels only.
    #[must_use]
    pub fn embed(embed: &Embed) -> Self {
        let value = serde_json::to_value(embed).unwrap_or(serde_json::Value::Null);
        Self { kind: Kind::Embed(value), ..Self::default() }
    }

    /// Rich media (`msg_type` 7) from an upload of the same kind of chat
    /// ([`Group::upload`](super::Group::upload), [`Group::upload_file`](super::Group::upload_file)
    /// for groups, the [`User`](super::User) ones for C2C).
    #[must_use]
    pub fn media(media: Media) -> Self {
        Self { kind: Kind::Media(media), ..Self::default() }
    }

    /// The C2C typing notice ("typing…", `msg_type` 6) for `seconds` (at most 60), as a
    /// reply to a message. Users report that each notice costs one of the message's 4
    /// replies: send one per turn at most.
    #[must_use]
    pub fn typing(seconds: u8) -> Self {
        Self { kind: Kind::Typing(seconds), ..Self::default() }
    }

    /// Text beside media, ark or embed (not beside markdown: QQ refuses it).
    #[must_use]
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// Buttons under the message ([`Keyboard::rows`] or a template).
    #[must_use]
    pub fn keyboard(mut self, keyboard: Keyboard) -> Self {
        self.keyboard = Some(keyboard);
        self
    }

    /// An image URL (guild channels and DMs only; QQ re-hosts it).
    #[must_use]
    pub fn image(mut self, url: impl Into<String>) -> Self {
        self.image = Some(url.into());
        self
    }

    /// What this message answers.
    #[must_use]
    pub fn reply_to(mut self, reply: ReplyTo) -> Self {
        self.reply = reply;
        self
    }

    /// A fixed `msg_seq` instead of the next one (to resend the same message).
    #[must_use]
    pub fn msg_seq(mut self, seq: u32) -> Self {
        self.msg_seq = Some(seq);
        self
    }

    /// Quotes a message (`message_reference`): in C2C chats and groups by its
    /// `REFIDX_…` index (the `msg_idx=` of a received message's `message_scene.ext`, or
    /// [`Sent::ref_idx`] of one the bot sent), in guilds by its id.
    #[must_use]
    pub fn quote(mut self, reference: impl Into<String>) -> Self {
        self.quote = Some(reference.into());
        self
    }

    /// Makes it a wakeup message (`is_wakeup`, C2C only): one in each of QQ's periods
    /// after the user last wrote (the same day, days 1–3, 3–7, 7–30), without a reply
    /// anchor.
    #[must_use]
    pub fn wakeup(mut self) -> Self {
        self.wakeup = true;
        self
    }

    /// The v2 (C2C and group) body with `seq`.
    fn v2_body(&self, seq: Option<u32>) -> MessageBody {
        let mut body = match &self.kind {
            Kind::Text => MessageBody::text(self.content.clone().unwrap_or_default()),
            Kind::Markdown(markdown) => {
                let mut body = MessageBody::markdown(markdown.clone());
                body.content.clone_from(&self.content);
                body
            }
            Kind::Ark(ark) => MessageBody::raw(3).field("ark", ark.clone()),
            Kind::Embed(embed) => MessageBody::raw(4).field("embed", embed.clone()),
            Kind::Media(media) => MessageBody::media(media.file_info.clone()),
            Kind::Typing(seconds) => MessageBody::input_notify(*seconds),
        };
        if !matches!(self.kind, Kind::Text | Kind::Markdown(_)) {
            body.content.clone_from(&self.content);
        }
        body.keyboard.clone_from(&self.keyboard);
        if let Some(quote) = &self.quote {
            body = body.quote(quote.clone());
        }
        if self.wakeup {
            body = body.wakeup();
        }
        match &self.reply {
            ReplyTo::None => {}
            ReplyTo::Message(id) => body = body.reply_to(id.clone()),
            ReplyTo::Event(id) => body = body.reply_to_event(id.clone()),
        }
        body.msg_seq = seq;
        body
    }

    /// The guild channel and DM body.
    fn guild_body(&self) -> GuildMessageBody {
        let mut body = GuildMessageBody::default();
        body.content.clone_from(&self.content);
        match &self.kind {
            Kind::Markdown(markdown) => body.markdown = Some(markdown.clone()),
            Kind::Ark(ark) => body.ark = serde_json::from_value(ark.clone()).ok(),
            Kind::Embed(embed) => body.embed = serde_json::from_value(embed.clone()).ok(),
            Kind::Text | Kind::Media(_) | Kind::Typing(_) => {}
        }
        body.keyboard.clone_from(&self.keyboard);
        body.image.clone_from(&self.image);
        if let Some(quote) = &self.quote {
            body = body.quote(quote.clone(), true);
        }
        match &self.reply {
            ReplyTo::None => body,
            ReplyTo::Message(id) => body.reply_to(id.clone()),
            ReplyTo::Event(id) => body.reply_to_event(id.clone()),
        }
    }
}

impl From<&str> for Outgoing {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<String> for Outgoing {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

impl From<Markdown> for Outgoing {
    fn from(markdown: Markdown) -> Self {
        Self::markdown(markdown)
    }
}

/// An uploaded file, for [`Outgoing::media`]: the answer of `POST …/files`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media {
    /// What `media.file_info` carries.
    pub file_info: String,
    /// QQ's id of the file.
    pub file_uuid: Option<String>,
    /// Seconds it stays usable (0: long-lived).
    pub ttl: Option<u64>,
    /// A download URL valid for `ttl` (chunked images, video and voice).
    pub raw_url: Option<String>,
}

impl Media {
    /// Media from a `file_info` kept from an earlier upload (reusable in chats of the
    /// same kind: group uploads for groups, user uploads for C2C).
    #[must_use]
    pub fn from_file_info(file_info: impl Into<String>) -> Self {
        Self { file_info: file_info.into(), file_uuid: None, ttl: None, raw_url: None }
    }

    pub(crate) fn from_uploaded(uploaded: qqgw_proto::openapi::FileUploaded) -> Self {
        Self {
            file_info: uploaded.file_info.unwrap_or_default(),
            file_uuid: uploaded.file_uuid,
            ttl: uploaded.ttl,
            raw_url: uploaded.raw_url,
        }
    }
}

/// What QQ answered to a send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sent {
    /// The new message's id: what [`Api::recall`] takes.
    pub id: Option<String>,
    /// The `msg_seq` it was sent with (C2C and group replies).
    pub msg_seq: Option<u32>,
    /// When QQ took it.
    pub timestamp: Option<Timestamp>,
    /// The `REFIDX_…` index to quote it with ([`Outgoing::quote`]; C2C and groups).
    pub ref_idx: Option<String>,
    /// The rest of QQ's answer (for a guild message, the whole message), as sent.
    pub extra: Extra,
}

impl Sent {
    fn v2(sent: MessageSent, msg_seq: Option<u32>) -> Self {
        Self {
            id: sent.id,
            msg_seq,
            timestamp: sent.timestamp,
            ref_idx: sent.ext_info.and_then(|e| e.ref_idx),
            extra: sent.extra,
        }
    }

    fn guild(message: WithExtra<Message>) -> Self {
        let mut extra = message.extra;
        if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&message.value) {
            for (key, value) in fields {
                extra.entry(key).or_insert(value);
            }
        }
        Self { id: message.value.id, msg_seq: None, timestamp: message.value.timestamp, ref_idx: None, extra }
    }
}

impl Api {
    /// Sends `message` to `target`. A reply (to a message or event) in a group or C2C
    /// chat takes the next `msg_seq` of what it answers, unless the message fixes one;
    /// such a reply is repeated after a server error or a lost answer (QQ drops a copy
    /// it took as a duplicate), other sends are not.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call): [`CallError::Qq`] if QQ refused (its
    /// [`kind`](CallError::kind) says why: [`Reply`](super::ErrorKind::Reply) for a
    /// passed window or spent count, [`Dedup`](super::ErrorKind::Dedup),
    /// [`Permission`](super::ErrorKind::Permission) for a refused active message,
    /// [`Audit`](super::ErrorKind::Audit)…); [`CallError::Request`] for a message that
    /// breaks QQ's documented rules.
    pub async fn send(&self, target: &Target, message: impl Into<Outgoing>) -> Result<Sent, CallError> {
        let message = message.into();
        let seq = match message.msg_seq {
            Some(seq) => Some(seq),
            None if target.is_v2() => self.next_seq(&message.reply),
            None => None,
        };
        match target {
            Target::Group(id) => {
                let sent = self.call(&SendGroupMessage::new(id.as_str(), message.v2_body(seq))).await?;
                Ok(Sent::v2(sent, seq))
            }
            Target::User(id) => {
                let sent = self.call(&SendC2cMessage::new(id.as_str(), message.v2_body(seq))).await?;
                Ok(Sent::v2(sent, seq))
            }
            Target::Channel(id) => {
                Ok(Sent::guild(self.call(&SendChannelMessage::new(id.as_str(), message.guild_body())).await?))
            }
            Target::Dm(id) => {
                Ok(Sent::guild(self.call(&SendDmMessage::new(id.as_str(), message.guild_body())).await?))
            }
        }
    }

    /// Recalls the message `message_id` ([`Sent::id`], or a member's message id for a
    /// group-admin bot) in any of the four places: the bot's own messages within 2
    /// minutes in groups and C2C chats; guild channels and DMs only for private-domain
    /// bots. The grey "message recalled" tip is shown (see
    /// [`Channel::recall`](super::Channel::recall) to hide it).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); past the window QQ answers 40064004,
    /// [`ErrorKind::Recall`](super::ErrorKind::Recall).
    pub async fn recall(&self, target: &Target, message_id: &str) -> Result<(), CallError> {
        match target {
            Target::Group(id) => self.call(&RecallGroupMessage::new(id.as_str(), message_id)).await?,
            Target::User(id) => self.call(&RecallC2cMessage::new(id.as_str(), message_id)).await?,
            Target::Channel(id) => self.call(&RecallChannelMessage::new(id.as_str(), message_id)).await?,
            Target::Dm(id) => self.call(&RecallDmMessage::new(id.as_str(), message_id)).await?,
        };
        Ok(())
    }

    /// Uploads the file at `url` (QQ fetches it) for a group or C2C chat
    /// (`POST …/files`); send the result with [`Outgoing::media`]. For a local file or
    /// bytes, see [`Group::upload_file`](super::Group::upload_file).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call); [`CallError::NoReplyTarget`] for a guild target (QQ has
    /// no uploads there: send an [`image`](Outgoing::image) URL).
    pub async fn upload(&self, target: &Target, file_type: FileType, url: &str) -> Result<Media, CallError> {
        let body = FileUpload::url(file_type, url);
        let uploaded = match target {
            Target::Group(id) => self.call(&UploadGroupFile::new(id.as_str(), body)).await?,
            Target::User(id) => self.call(&UploadC2cFile::new(id.as_str(), body)).await?,
            _ => return Err(CallError::NoReplyTarget("group or C2C chat (uploads are v2 only)")),
        };
        Ok(Media::from_uploaded(uploaded))
    }

    /// Replies to a received message where it came from: a group, C2C chat, guild channel
    /// or DM. `message` may be text or an [`Outgoing`].
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); [`CallError::NoReplyTarget`] if the message lacks its id
    /// or chat.
    pub async fn reply<M: Replyable + ?Sized>(
        &self,
        to: &M,
        message: impl Into<Outgoing>,
    ) -> Result<Sent, CallError> {
        let (target, id) = to.reply_target()?;
        self.send(&target, message.into().reply_to(ReplyTo::Message(id))).await
    }
}

/// A received message that can be replied to: where the reply goes and the `msg_id` it
/// quotes. Implemented for [`GroupMessage`], [`C2cMessage`] and [`Message`] (a guild
/// channel message; [`DirectMessage`] wraps one from `DIRECT_MESSAGE_CREATE`).
pub trait Replyable {
    /// The chat to answer in and the id of the message answered.
    ///
    /// # Errors
    ///
    /// [`CallError::NoReplyTarget`] if the message lacks either.
    fn reply_target(&self) -> Result<(Target, String), CallError>;

    /// The same for a message that arrived as event `event` (a guild [`Message`] from
    /// `DIRECT_MESSAGE_CREATE` is answered in the DM).
    ///
    /// # Errors
    ///
    /// As [`reply_target`](Self::reply_target).
    fn reply_target_in(&self, event: &str) -> Result<(Target, String), CallError> {
        let _ = event;
        self.reply_target()
    }

    /// botrs's shape, `msg.reply(&api, "text")`: the same as [`Api::reply`]. A guild
    /// [`Message`] is answered in its channel; wrap one from `DIRECT_MESSAGE_CREATE` in
    /// [`DirectMessage`] (or use [`Context::reply`](crate::Context::reply), which knows).
    ///
    /// ```no_run
    /// use qqgw_tokio::api::Replyable;
    /// # async fn f(api: qqgw_tokio::Api, msg: qqgw_tokio::model::C2cMessage) -> Result<(), qqgw_tokio::api::CallError> {
    /// msg.reply(&api, "pong").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Api::reply`].
    fn reply(
        &self,
        api: &Api,
        message: impl Into<Outgoing>,
    ) -> impl Future<Output = Result<Sent, CallError>> + Send {
        let target = self.reply_target();
        let message = message.into();
        let api = api.clone();
        async move {
            let (target, id) = target?;
            api.send(&target, message.reply_to(ReplyTo::Message(id))).await
        }
    }
}

impl Replyable for GroupMessage {
    fn reply_target(&self) -> Result<(Target, String), CallError> {
        let group = self.group_openid.clone().ok_or(CallError::NoReplyTarget("group_openid"))?;
        let id = self.id.clone().ok_or(CallError::NoReplyTarget("message id"))?;
        Ok((Target::Group(group), id))
    }
}

impl Replyable for C2cMessage {
    fn reply_target(&self) -> Result<(Target, String), CallError> {
        let user = self
            .author
            .as_ref()
            .and_then(|a| a.user_openid.clone().or_else(|| a.id.clone()))
            .ok_or(CallError::NoReplyTarget("author.user_openid"))?;
        let id = self.id.clone().ok_or(CallError::NoReplyTarget("message id"))?;
        Ok((Target::User(user), id))
    }
}

impl Replyable for Message {
    fn reply_target(&self) -> Result<(Target, String), CallError> {
        let channel = self.channel_id.clone().ok_or(CallError::NoReplyTarget("channel_id"))?;
        let id = self.id.clone().ok_or(CallError::NoReplyTarget("message id"))?;
        Ok((Target::Channel(channel), id))
    }

    fn reply_target_in(&self, event: &str) -> Result<(Target, String), CallError> {
        if event.starts_with("DIRECT_MESSAGE") {
            DirectMessage(self).reply_target()
        } else {
            self.reply_target()
        }
    }
}

/// A guild direct message (the [`Message`] of `DIRECT_MESSAGE_CREATE`): replies go to
/// `/dms/{guild_id}/messages`.
#[derive(Debug, Clone, Copy)]
pub struct DirectMessage<'a>(pub &'a Message);

impl Replyable for DirectMessage<'_> {
    fn reply_target(&self) -> Result<(Target, String), CallError> {
        let guild = self.0.guild_id.clone().ok_or(CallError::NoReplyTarget("guild_id"))?;
        let id = self.0.id.clone().ok_or(CallError::NoReplyTarget("message id"))?;
        Ok((Target::Dm(guild), id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v2(message: &Outgoing, seq: Option<u32>) -> serde_json::Value {
        serde_json::to_value(message.v2_body(seq)).unwrap()
    }

    #[test]
    fn bodies_follow_the_api_of_the_target() {
        let reply = Outgoing::text("hi").reply_to(ReplyTo::Message("M".into()));
        assert_eq!(v2(&reply, Some(2)), json!({"msg_type": 0, "content": "hi", "msg_seq": 2, "msg_id": "M"}));
        assert_eq!(
            serde_json::to_value(reply.guild_body()).unwrap(),
            json!({"content": "hi", "msg_id": "M"})
        );
        let media = Outgoing::media(Media::from_file_info("F")).reply_to(ReplyTo::Event("E".into()));
        assert_eq!(
            v2(&media, Some(1)),
            json!({"msg_type": 7, "media": {"file_info": "F"}, "msg_seq": 1, "event_id": "E"})
        );
        let typing = Outgoing::typing(10).reply_to(ReplyTo::Message("M".into()));
        assert_eq!(v2(&typing, Some(3))["input_notify"], json!({"input_type": 1, "input_second": 10}));
        let quoted = Outgoing::text("see").quote("REFIDX_1").wakeup();
        let body = v2(&quoted, None);
        assert_eq!(
            (body["message_reference"]["message_id"].clone(), body["is_wakeup"].clone()),
            (json!("REFIDX_1"), json!(true))
        );
    }

    #[test]
    fn markdown_goes_without_content() {
        let md = Outgoing::markdown(Markdown::text("**x**")).keyboard(Keyboard::template("K"));
        let body = v2(&md, None);
        assert_eq!(body, json!({"msg_type": 2, "markdown": {"content": "**x**"}, "keyboard": {"id": "K"}}));
    }
}
