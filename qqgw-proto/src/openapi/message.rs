//! Sending and recalling messages: the v2 (C2C, group) body of QQ-API.md §4, the guild
//! body of §5.3, keyboards, and the send, recall, DM and interaction-ACK routes.

use std::collections::HashSet;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::request::{Check, RequestError, request};
use super::response::{Extra, model};
use crate::model::{Ark, Embed, Timestamp};

/// The most rows a custom keyboard may have (`40034029` beyond).
pub const MAX_KEYBOARD_ROWS: usize = 5;
/// The most buttons a keyboard row may have (`40034029` beyond).
pub const MAX_ROW_BUTTONS: usize = 5;
/// The longest typing notice QQ accepts, in seconds.
pub const MAX_INPUT_SECONDS: u8 = 60;

/// `msg_type` of a v2 message: which field holds the content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgType {
    /// 0: `content`, plain text.
    #[default]
    Text,
    /// 2: `markdown`.
    Markdown,
    /// 6: `input_notify`, the typing indicator (C2C only).
    InputNotify,
    /// 7: `media`, an uploaded image, video, voice or file.
    Media,
    /// Any other value, such as 3 (ARK) or 4 (embed), which the 2026 send pages no
    /// longer list: see [`MessageBody::raw`].
    Other(u8),
}

impl MsgType {
    /// The number sent as `msg_type`.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Text => 0,
            Self::Markdown => 2,
            Self::InputNotify => 6,
            Self::Media => 7,
            Self::Other(code) => code,
        }
    }
}

impl Serialize for MsgType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

/// The body of a C2C or group message (QQ-API.md §4), for [`SendC2cMessage`] and
/// [`SendGroupMessage`].
///
/// Unset fields are not sent; `msg_type` always is. A passive reply names the message
/// (`msg_id`) or event (`event_id`) it answers, and a `msg_seq` (QQ's default 1) that
/// must differ between replies to one message: the same pair twice is refused as a
/// duplicate (`40054005`).
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::{Button, Keyboard, Markdown, MessageBody};
///
/// let hi = MessageBody::text("hi").reply_to("ROBOT1.0_abc").msg_seq(2);
/// let menu = MessageBody::markdown(Markdown::text("**pick one**"))
///     .keyboard(Keyboard::rows([[Button::callback("ok", "OK", "ok"), Button::callback("no", "No", "no")]]));
/// let json = serde_json::to_value(&menu)?;
/// assert_eq!(json["msg_type"], 2);
/// assert_eq!(json["keyboard"]["content"]["rows"][0]["buttons"][1]["action"]["data"], "no");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MessageBody {
    /// Which field holds the content.
    pub msg_type: MsgType,
    /// Text (msg_type 0). Must be empty when `markdown` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Markdown (msg_type 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markdown: Option<Markdown>,
    /// Buttons under the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Keyboard>,
    /// Uploaded media (msg_type 7): `file_info` from an upload of the same scene.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Media>,
    /// The typing indicator (msg_type 6, C2C only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_notify: Option<InputNotify>,
    /// Passive reply to this received message (`d.id` of the message event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// Passive reply to this event (the payload's outer `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The reply's sequence number; QQ's default is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_seq: Option<u32>,
    /// Quote a message: `message_id` is a `REFIDX_…` index, not a message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<Reference>,
    /// A wakeup ("interaction recall") message: C2C only, with neither `msg_id` nor
    /// `event_id` (QQ-API.md §4.8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_wakeup: Option<bool>,
    /// Raw fields sent as they are, for what this type does not model (ARK, embed).
    #[serde(flatten)]
    pub raw: Extra,
}

impl MessageBody {
    /// A text message (msg_type 0).
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// A markdown message (msg_type 2).
    #[must_use]
    pub fn markdown(markdown: Markdown) -> Self {
        Self { msg_type: MsgType::Markdown, markdown: Some(markdown), ..Self::default() }
    }

    /// A rich-media message (msg_type 7) with the `file_info` of an upload
    /// ([`FileUploaded::file_info`](super::FileUploaded::file_info)).
    #[must_use]
    pub fn media(file_info: impl Into<String>) -> Self {
        Self {
            msg_type: MsgType::Media,
            media: Some(Media { file_info: file_info.into() }),
            ..Self::default()
        }
    }

    /// A typing notice for `seconds` (at most [`MAX_INPUT_SECONDS`]; msg_type 6, C2C
    /// only). Users report each notice costs one of the anchor's passive replies: send
    /// at most one per turn.
    #[must_use]
    pub fn input_notify(seconds: u8) -> Self {
        Self {
            msg_type: MsgType::InputNotify,
            input_notify: Some(InputNotify { input_type: 1, input_second: seconds }),
            ..Self::default()
        }
    }

    /// The explicit escape for message types the 2026 pages no longer document, such as
    /// 3 (ARK, "whitelist only") or 4 (embed): set the content with
    /// [`field`](Self::field).
    ///
    /// ```
    /// use qqgw_proto::openapi::MessageBody;
    ///
    /// let ark = MessageBody::raw(3).field("ark", serde_json::json!({"template_id": 23, "kv": []}));
    /// assert_eq!(serde_json::to_value(&ark).unwrap()["ark"]["template_id"], 23);
    /// ```
    #[must_use]
    pub fn raw(msg_type: u8) -> Self {
        let msg_type = match msg_type {
            0 => MsgType::Text,
            2 => MsgType::Markdown,
            6 => MsgType::InputNotify,
            7 => MsgType::Media,
            other => MsgType::Other(other),
        };
        Self { msg_type, ..Self::default() }
    }

    /// Sends `value` as the field `name`, as it is.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.raw.insert(name.into(), value);
        self
    }

    /// Adds a keyboard.
    #[must_use]
    pub fn keyboard(mut self, keyboard: Keyboard) -> Self {
        self.keyboard = Some(keyboard);
        self
    }

    /// Makes it a passive reply to a received message (`msg_id`).
    #[must_use]
    pub fn reply_to(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }

    /// Makes it a passive reply to an event (`event_id`, the payload's outer id).
    #[must_use]
    pub fn reply_to_event(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    /// Sets `msg_seq`.
    #[must_use]
    pub fn msg_seq(mut self, seq: u32) -> Self {
        self.msg_seq = Some(seq);
        self
    }

    /// Quotes a message by its `REFIDX_…` index (`msg_idx=` of the event's
    /// `message_scene.ext`, or `ext_info.ref_idx` of a send answer).
    #[must_use]
    pub fn quote(mut self, ref_idx: impl Into<String>) -> Self {
        self.message_reference =
            Some(Reference { message_id: ref_idx.into(), ignore_get_message_error: None });
        self
    }

    /// Makes it a wakeup message (C2C only; no `msg_id`/`event_id`).
    #[must_use]
    pub fn wakeup(mut self) -> Self {
        self.is_wakeup = Some(true);
        self
    }
}

/// The rules QQ documents for both scenes: one passive anchor at most, a wakeup without
/// one, no text beside markdown, a typing notice of at most 60 s, a valid keyboard.
impl Check for MessageBody {
    fn deduplicated(&self) -> bool {
        self.msg_seq.is_some() && (self.msg_id.is_some() || self.event_id.is_some())
    }

    fn check(&self) -> Result<(), RequestError> {
        if self.msg_id.is_some() && self.event_id.is_some() {
            return Err(RequestError::invalid("msg_id", "either msg_id or event_id, not both"));
        }
        if self.is_wakeup == Some(true) && (self.msg_id.is_some() || self.event_id.is_some()) {
            return Err(RequestError::invalid(
                "is_wakeup",
                "a wakeup message takes neither msg_id nor event_id",
            ));
        }
        if self.markdown.is_some() && self.content.as_deref().is_some_and(|c| !c.is_empty()) {
            return Err(RequestError::invalid("content", "must be empty when markdown is set"));
        }
        if self.input_notify.as_ref().is_some_and(|n| n.input_second > MAX_INPUT_SECONDS) {
            return Err(RequestError::invalid("input_notify.input_second", "at most 60"));
        }
        if let Some(markdown) = &self.markdown {
            markdown.check()?;
        }
        if let Some(keyboard) = &self.keyboard {
            keyboard.check()?;
        }
        Ok(())
    }
}

/// What a group message may not carry: the C2C-only typing notice and wakeup flag.
pub(crate) fn group_rules(body: &MessageBody) -> Result<(), RequestError> {
    if body.input_notify.is_some() || body.msg_type == MsgType::InputNotify {
        return Err(RequestError::invalid("input_notify", "typing notices are C2C only"));
    }
    if body.is_wakeup.is_some() {
        return Err(RequestError::invalid("is_wakeup", "wakeup messages are C2C only"));
    }
    Ok(())
}

/// `media` of a message: the opaque `file_info` of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Media {
    /// From [`FileUploaded::file_info`](super::FileUploaded::file_info), unchanged.
    pub file_info: String,
}

/// `input_notify`: the C2C typing indicator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InputNotify {
    /// 1 = typing (the only documented value).
    pub input_type: u8,
    /// How long, at most [`MAX_INPUT_SECONDS`].
    pub input_second: u8,
}

/// `message_reference`: a quoted message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Reference {
    /// C2C and group: a `REFIDX_…` index; guild: the message id.
    pub message_id: String,
    /// Guild only: send even if the quoted message cannot be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_get_message_error: Option<bool>,
}

/// `markdown`: native markdown text, or a (deprecated) template with parameters.
///
/// Native and template are exclusive (`50057`). Since 2026-04-23 native markdown works
/// for every bot in C2C and groups; guild channels need an invitation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Markdown {
    /// Native markdown text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A template id (deprecated by QQ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_template_id: Option<String>,
    /// The template's variables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<MarkdownParam>,
    /// If true, a failed re-hosting of an image aborts the send with an error instead
    /// of sending without the image. QQ's default: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_verify_image_resource: Option<bool>,
}

impl Markdown {
    /// Native markdown.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// A template by id; add variables with [`param`](Self::param).
    #[must_use]
    pub fn template(custom_template_id: impl Into<String>) -> Self {
        Self { custom_template_id: Some(custom_template_id.into()), ..Self::default() }
    }

    /// Adds a template variable (one value is a scalar, more a list).
    #[must_use]
    pub fn param(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.params
            .push(MarkdownParam { key: key.into(), values: values.into_iter().map(Into::into).collect() });
        self
    }

    /// Sets `force_verify_image_resource`.
    #[must_use]
    pub fn force_verify_image_resource(mut self, force: bool) -> Self {
        self.force_verify_image_resource = Some(force);
        self
    }
}

impl Check for Markdown {
    fn check(&self) -> Result<(), RequestError> {
        if self.content.is_some() && self.custom_template_id.is_some() {
            return Err(RequestError::invalid(
                "markdown",
                "native content and a template are exclusive (50057)",
            ));
        }
        Ok(())
    }
}

/// A markdown template variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MarkdownParam {
    /// The variable's name.
    pub key: String,
    /// Its values.
    pub values: Vec<String>,
}

/// `keyboard`: a template keyboard (`id`) or a custom one (`content.rows`).
///
/// A custom keyboard has at most [`MAX_KEYBOARD_ROWS`] rows of at most
/// [`MAX_ROW_BUTTONS`] buttons (QQ answers `40034029` otherwise) and button ids unique
/// within it; a request with a keyboard that breaks these rules is refused when built.
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::{Button, ButtonStyle, Keyboard};
///
/// let keyboard = Keyboard::rows([
///     vec![Button::callback("yes", "Yes", "vote:yes").style(ButtonStyle::Blue)],
///     vec![Button::link("docs", "Docs", "https://bot.q.qq.com/wiki/")],
/// ]);
/// assert!(keyboard.validate().is_ok());
/// assert!(Keyboard::rows(vec![vec![Button::callback("a", "A", "a")]; 6]).validate().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Keyboard {
    /// A template keyboard's id (apply to QQ for one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A custom keyboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<KeyboardContent>,
}

impl Keyboard {
    /// A template keyboard.
    #[must_use]
    pub fn template(id: impl Into<String>) -> Self {
        Self { id: Some(id.into()), content: None }
    }

    /// A custom keyboard, rows top to bottom, buttons left to right.
    #[must_use]
    pub fn rows<R: IntoIterator<Item = Button>>(rows: impl IntoIterator<Item = R>) -> Self {
        let rows = rows.into_iter().map(|row| KeyboardRow { buttons: row.into_iter().collect() }).collect();
        Self { id: None, content: Some(KeyboardContent { rows }) }
    }

    /// Checks QQ's documented limits: a template id or rows (not both), at most 5 rows
    /// of at most 5 buttons, unique button ids.
    ///
    /// # Errors
    ///
    /// [`RequestError::Invalid`] naming the rule broken.
    pub fn validate(&self) -> Result<(), RequestError> {
        self.check()
    }
}

impl Check for Keyboard {
    fn check(&self) -> Result<(), RequestError> {
        let rows = match (&self.id, &self.content) {
            (Some(_), Some(_)) => {
                return Err(RequestError::invalid("keyboard", "a template id or rows, not both"));
            }
            (None, None) => return Err(RequestError::invalid("keyboard", "neither a template id nor rows")),
            (Some(_), None) => return Ok(()),
            (None, Some(content)) => &content.rows,
        };
        if rows.len() > MAX_KEYBOARD_ROWS {
            return Err(RequestError::invalid(
                "keyboard.content.rows",
                format_args!("{} rows, at most {MAX_KEYBOARD_ROWS} (40034029)", rows.len()),
            ));
        }
        let mut ids = HashSet::new();
        for (index, row) in rows.iter().enumerate() {
            if row.buttons.len() > MAX_ROW_BUTTONS {
                return Err(RequestError::invalid(
                    "keyboard.content.rows.buttons",
                    format_args!(
                        "row {index} has {} buttons, at most {MAX_ROW_BUTTONS} (40034029)",
                        row.buttons.len()
                    ),
                ));
            }
            for button in &row.buttons {
                if !ids.insert(button.id.as_str()) {
                    return Err(RequestError::invalid(
                        "keyboard.content.rows.buttons.id",
                        format_args!("button id {:?} is used twice", button.id),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The rows of a custom keyboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyboardContent {
    /// Top to bottom.
    pub rows: Vec<KeyboardRow>,
}

/// One row of a custom keyboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyboardRow {
    /// Left to right.
    pub buttons: Vec<Button>,
}

/// A keyboard button.
///
/// Defaults: everyone may click (`permission.type` 2), grey outline style, the
/// clicked label equal to the label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Button {
    /// Unique within the keyboard.
    pub id: String,
    /// How it looks.
    pub render_data: RenderData,
    /// What a click does.
    pub action: Action,
    /// Buttons sharing a `group_id` grey out once one of them is clicked (callback
    /// buttons only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// A confirmation dialog shown before the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modal: Option<Modal>,
}

impl Button {
    fn new(
        id: impl Into<String>,
        label: impl Into<String>,
        kind: ActionType,
        data: impl Into<String>,
    ) -> Self {
        let label = label.into();
        Self {
            id: id.into(),
            render_data: RenderData { visited_label: label.clone(), label, style: ButtonStyle::Grey },
            action: Action { kind, data: data.into(), ..Action::default() },
            group_id: None,
            modal: None,
        }
    }

    /// A callback button: a click sends `INTERACTION_CREATE` with `data`, to be
    /// answered with [`AckInteraction`].
    #[must_use]
    pub fn callback(id: impl Into<String>, label: impl Into<String>, data: impl Into<String>) -> Self {
        Self::new(id, label, ActionType::Callback, data)
    }

    /// A command button: a click puts `@bot data` into the input box.
    #[must_use]
    pub fn command(id: impl Into<String>, label: impl Into<String>, data: impl Into<String>) -> Self {
        Self::new(id, label, ActionType::Command, data)
    }

    /// A link button: a click opens `url` (http(s) or a mini-program).
    #[must_use]
    pub fn link(id: impl Into<String>, label: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, label, ActionType::Jump, url)
    }

    /// Sets the style.
    #[must_use]
    pub fn style(mut self, style: ButtonStyle) -> Self {
        self.render_data.style = style;
        self
    }

    /// Sets the label shown after a click.
    #[must_use]
    pub fn visited_label(mut self, label: impl Into<String>) -> Self {
        self.render_data.visited_label = label.into();
        self
    }

    /// Sets who may click.
    #[must_use]
    pub fn permission(mut self, permission: Permission) -> Self {
        self.action.permission = permission;
        self
    }

    /// Command button: send `data` at once instead of filling the input box (C2C).
    #[must_use]
    pub fn enter(mut self, enter: bool) -> Self {
        self.action.enter = Some(enter);
        self
    }

    /// Command button: quote this message.
    #[must_use]
    pub fn reply(mut self, reply: bool) -> Self {
        self.action.reply = Some(reply);
        self
    }

    /// Sets `anchor` (1 = open the mobile image picker, C2C).
    #[must_use]
    pub fn anchor(mut self, anchor: u8) -> Self {
        self.action.anchor = Some(anchor);
        self
    }

    /// Sets the toast shown by clients too old for the action.
    #[must_use]
    pub fn unsupport_tips(mut self, tips: impl Into<String>) -> Self {
        self.action.unsupport_tips = Some(tips.into());
        self
    }

    /// Sets `group_id`.
    #[must_use]
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Adds a confirmation dialog.
    #[must_use]
    pub fn modal(mut self, modal: Modal) -> Self {
        self.modal = Some(modal);
        self
    }
}

/// `render_data` of a button.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RenderData {
    /// The label (QQ: at most 10 characters).
    pub label: String,
    /// The label after a click.
    pub visited_label: String,
    /// The style.
    pub style: ButtonStyle,
}

/// A button's style. Only 0 and 1 mean the same in every version of QQ's docs; the
/// others changed meaning (QQ-API.md §18) and are raw numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ButtonStyle {
    /// 0: grey outline.
    #[default]
    Grey,
    /// 1: blue outline.
    Blue,
    /// Any other value, sent as it is.
    Other(u8),
}

impl Serialize for ButtonStyle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            Self::Grey => 0,
            Self::Blue => 1,
            Self::Other(code) => *code,
        })
    }
}

/// `action` of a button.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Action {
    /// What a click does.
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// Who may click.
    pub permission: Permission,
    /// The URL, callback data or command text.
    pub data: String,
    /// Command button: send at once (C2C; client ≥ 8983).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enter: Option<bool>,
    /// Command button: quote the message (client ≥ 8983).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<bool>,
    /// 1 = open the mobile image picker (overrides `enter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<u8>,
    /// The toast for clients that cannot perform the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupport_tips: Option<String>,
}

/// `action.type` of a button.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActionType {
    /// 0: open a URL or mini-program.
    Jump,
    /// 1: callback (`INTERACTION_CREATE`).
    #[default]
    Callback,
    /// 2: command (`@bot data` into the input box).
    Command,
    /// Any other value, sent as it is.
    Other(u8),
}

impl Serialize for ActionType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            Self::Jump => 0,
            Self::Callback => 1,
            Self::Command => 2,
            Self::Other(code) => *code,
        })
    }
}

/// `action.permission` of a button: who may click it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Permission {
    /// 0: the listed users (`specify_user_ids`).
    Users(Vec<String>),
    /// 1: administrators.
    Admins,
    /// 2: everyone.
    #[default]
    Everyone,
    /// 3: the listed roles (`specify_role_ids`, guild only).
    Roles(Vec<String>),
}

impl Serialize for Permission {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, users, roles) = match self {
            Self::Users(ids) => (0u8, Some(ids), None),
            Self::Admins => (1, None, None),
            Self::Everyone => (2, None, None),
            Self::Roles(ids) => (3, None, Some(ids)),
        };
        let mut s = serializer.serialize_struct("Permission", 2)?;
        s.serialize_field("type", &kind)?;
        if let Some(users) = users {
            s.serialize_field("specify_user_ids", users)?;
        }
        if let Some(roles) = roles {
            s.serialize_field("specify_role_ids", roles)?;
        }
        s.end()
    }
}

/// A confirmation dialog of a button.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Modal {
    /// The question (QQ: at most 40 characters, no URL).
    pub content: String,
    /// The confirm button's text (QQ: at most 4 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_text: Option<String>,
    /// The cancel button's text (QQ: at most 4 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_text: Option<String>,
}

impl Modal {
    /// A dialog asking `content`, with QQ's default button texts.
    #[must_use]
    pub fn new(content: impl Into<String>) -> Self {
        Self { content: content.into(), confirm_text: None, cancel_text: None }
    }
}

/// The body of a guild channel or guild DM message (QQ-API.md §5.3), for
/// [`SendChannelMessage`] and [`SendDmMessage`].
///
/// At least one of `content`, `embed`, `ark`, `image`, `markdown` is needed (`50006`
/// otherwise); the request is refused when built without one.
///
/// # Examples
///
/// ```
/// use qqgw_proto::openapi::{Endpoint, GuildMessageBody, SendChannelMessage};
///
/// let body = GuildMessageBody::text("pong").reply_to("08f3a1").quote("08f3a1", true);
/// let request = SendChannelMessage::new("1234", body).request()?;
/// assert_eq!(request.path, "/channels/1234/messages");
/// # Ok::<(), qqgw_proto::openapi::RequestError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GuildMessageBody {
    /// Text, with `<@user_id>`, `<#channel_id>`, `<emoji:id>` and the inline tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// An embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed: Option<Embed>,
    /// An ARK card (apply to QQ for templates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ark: Option<Ark>,
    /// A quoted message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<Reference>,
    /// An image URL, re-hosted by QQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Passive reply to this message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// Passive reply to this event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Markdown (guild channels: by invitation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markdown: Option<Markdown>,
    /// Buttons (with markdown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Keyboard>,
}

impl GuildMessageBody {
    /// A text message.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// An image by URL.
    #[must_use]
    pub fn image(url: impl Into<String>) -> Self {
        Self { image: Some(url.into()), ..Self::default() }
    }

    /// A markdown message.
    #[must_use]
    pub fn markdown(markdown: Markdown) -> Self {
        Self { markdown: Some(markdown), ..Self::default() }
    }

    /// An embed.
    #[must_use]
    pub fn embed(embed: Embed) -> Self {
        Self { embed: Some(embed), ..Self::default() }
    }

    /// An ARK card.
    #[must_use]
    pub fn ark(ark: Ark) -> Self {
        Self { ark: Some(ark), ..Self::default() }
    }

    /// Adds a keyboard.
    #[must_use]
    pub fn keyboard(mut self, keyboard: Keyboard) -> Self {
        self.keyboard = Some(keyboard);
        self
    }

    /// Makes it a passive reply to a message (`msg_id`).
    #[must_use]
    pub fn reply_to(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }

    /// Makes it a passive reply to an event (`event_id`).
    #[must_use]
    pub fn reply_to_event(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    /// Quotes a guild message by id; with `ignore_error` the message is sent even if
    /// the quoted one cannot be fetched.
    #[must_use]
    pub fn quote(mut self, message_id: impl Into<String>, ignore_error: bool) -> Self {
        self.message_reference =
            Some(Reference { message_id: message_id.into(), ignore_get_message_error: Some(ignore_error) });
        self
    }
}

impl Check for GuildMessageBody {
    fn check(&self) -> Result<(), RequestError> {
        if self.content.is_none()
            && self.embed.is_none()
            && self.ark.is_none()
            && self.image.is_none()
            && self.markdown.is_none()
        {
            return Err(RequestError::invalid(
                "content",
                "one of content, embed, ark, image, markdown (50006)",
            ));
        }
        if self.msg_id.is_some() && self.event_id.is_some() {
            return Err(RequestError::invalid("msg_id", "either msg_id or event_id, not both"));
        }
        if let Some(markdown) = &self.markdown {
            markdown.check()?;
        }
        if let Some(keyboard) = &self.keyboard {
            keyboard.check()?;
        }
        Ok(())
    }
}

/// The body of [`CreateDmSession`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DmRequest {
    /// The user to write to.
    pub recipient_id: String,
    /// A guild the bot and the user share.
    pub source_guild_id: String,
}

impl DmRequest {
    /// A DM session with `recipient_id`, met in `source_guild_id`.
    #[must_use]
    pub fn new(recipient_id: impl Into<String>, source_guild_id: impl Into<String>) -> Self {
        Self { recipient_id: recipient_id.into(), source_guild_id: source_guild_id.into() }
    }
}

impl Check for DmRequest {}

/// The answer to an interaction (`code`, QQ-API.md §9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InteractionCode {
    /// 0: success.
    #[default]
    Success,
    /// 1: operation failed.
    Failed,
    /// 2: too frequent.
    TooFrequent,
    /// 3: duplicate operation.
    Duplicate,
    /// 4: no permission.
    NoPermission,
    /// 5: admins only.
    AdminOnly,
}

/// The body of [`AckInteraction`]: `{"code": 0..5}`, always sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InteractionAck {
    /// The result shown to the user.
    pub code: InteractionCode,
}

impl InteractionAck {
    /// An answer with `code`.
    #[must_use]
    pub fn new(code: InteractionCode) -> Self {
        Self { code }
    }
}

impl Serialize for InteractionAck {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let code: u8 = match self.code {
            InteractionCode::Success => 0,
            InteractionCode::Failed => 1,
            InteractionCode::TooFrequent => 2,
            InteractionCode::Duplicate => 3,
            InteractionCode::NoPermission => 4,
            InteractionCode::AdminOnly => 5,
        };
        let mut s = serializer.serialize_struct("InteractionAck", 1)?;
        s.serialize_field("code", &code)?;
        s.end()
    }
}

impl Check for InteractionAck {}

request! {
    /// `POST /v2/users/{user_openid}/messages`: a C2C message (QQ-API.md §5.1).
    SendC2cMessage { user_openid } body MessageBody;
}
request! {
    /// `POST /v2/groups/{group_openid}/messages`: a group message (QQ-API.md §5.2).
    /// Refuses the C2C-only typing notice and wakeup flag when built.
    SendGroupMessage { group_openid } body MessageBody, rules group_rules;
}
request! {
    /// `DELETE /v2/users/{user_openid}/messages/{message_id}`: recall a C2C message
    /// (the bot's own, within 2 minutes).
    RecallC2cMessage { user_openid, message_id };
}
request! {
    /// `DELETE /v2/groups/{group_openid}/messages/{message_id}`: recall a group
    /// message (the bot's own; a group-admin bot also members').
    RecallGroupMessage { group_openid, message_id };
}
request! {
    /// `POST /channels/{channel_id}/messages`: a guild channel message (§5.3).
    SendChannelMessage { channel_id } body GuildMessageBody;
}
request! {
    /// `DELETE /channels/{channel_id}/messages/{message_id}`: recall a channel message
    /// (private-domain bots).
    RecallChannelMessage { channel_id, message_id }
    query {
        /// True hides the grey "message recalled" tip (QQ's default false).
        hidetip: bool,
    };
}
request! {
    /// `POST /users/@me/dms`: open a guild DM session (§5.4).
    CreateDmSession {} body DmRequest;
}
request! {
    /// `POST /dms/{guild_id}/messages`: a guild DM (`guild_id` of the DM session).
    SendDmMessage { guild_id } body GuildMessageBody;
}
request! {
    /// `DELETE /dms/{guild_id}/messages/{message_id}`: recall a guild DM.
    RecallDmMessage { guild_id, message_id }
    query {
        /// True hides the grey "message recalled" tip (QQ's default false).
        hidetip: bool,
    };
}
request! {
    /// `PUT /interactions/{interaction_id}`: answer a button click or quick-menu
    /// interaction (types 11 and 12) within about 3 s, once. `interaction_id` is
    /// `d.id` of `INTERACTION_CREATE`.
    AckInteraction { interaction_id } body InteractionAck;
}

impl AckInteraction {
    /// Answers "success" (code 0).
    #[must_use]
    pub fn success(interaction_id: impl Into<String>) -> Self {
        Self::new(interaction_id, InteractionAck::new(InteractionCode::Success))
    }
}

model! {
    /// What a C2C, group or stream send answers (QQ-API.md §4.11, §6.2).
    MessageSent {
        /// The message id (`ROBOT1.0_…`), for recall; on a stream's first chunk, the
        /// `stream_msg_id` of the rest.
        id: Option<String> => "crate::model::de::text",
        /// When it was sent (RFC 3339 in 2026 docs, Unix seconds in earlier ones).
        timestamp: Option<Timestamp>,
        /// `ext_info.ref_idx`: the index to quote this message with.
        ext_info: Option<ExtInfo>,
        /// Streams only: "remaining length of the stream message" (meaning unsettled).
        remain_msg_len: Option<i64> => "crate::model::de::num",
    }

    /// `ext_info` of a send answer.
    ExtInfo {
        /// The `REFIDX_…` index for [`MessageBody::quote`].
        ref_idx: Option<String> => "crate::model::de::text",
    }

    /// A guild DM session (QQ-API.md §5.4).
    DmSession {
        /// The DM's own guild id: the path parameter of [`SendDmMessage`].
        guild_id: Option<String> => "crate::model::de::text",
        /// The DM's channel id.
        channel_id: Option<String> => "crate::model::de::text",
        /// When it was created (Unix seconds as a string in QQ's example).
        create_time: Option<Timestamp>,
    }
}
