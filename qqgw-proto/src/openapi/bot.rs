//! The bot itself (QQ-API.md §10, §11, §14): its profile and guilds, the share link,
//! the custom menu, command panels and gateway discovery.

use std::borrow::Cow;

use serde::Serialize;

use super::request::{Check, Parts, RequestError, request};
use super::response::model;
use crate::model::Timestamp;

request! {
    /// `GET /users/@me`: the bot's profile (`share_url` and `welcome_msg`, shown in
    /// QQ's example, land in `extra`).
    GetMe {};
}
request! {
    /// `GET /users/@me/guilds`: the bot's guilds, at most 100 a page.
    GetMyGuilds {}
    query {
        /// List guilds before this guild id (reverse order).
        before: String,
        /// List guilds after this guild id (ignored with `before`).
        after: String,
        /// Page size, default and maximum 100.
        limit: u32,
    };
}
request! {
    /// `POST /v2/generate_url_link`: a link for adding the bot as a friend; the data
    /// comes back on `FRIEND_ADD`.
    GenerateUrlLink {} body UrlLinkRequest;
}
request! {
    /// `GET /v2/menu`: the global C2C custom menu.
    GetMenu {};
}
request! {
    /// `PUT /v2/menu`: replaces the whole menu.
    SetMenu {} body MenuUpdate;
}
request! {
    /// `GET /v2/panels/{panel_id}`.
    GetPanel { panel_id };
}
request! {
    /// `POST /v2/panels` (at most 20 panels per bot: tag yours in `remark` and update it
    /// rather than create one per start).
    CreatePanel {} body NewPanel;
}
request! {
    /// `PUT /v2/panels/{panel_id}`: replaces items and remark, keeps the targets.
    UpdatePanel { panel_id } body PanelUpdate;
}
request! {
    /// `DELETE /v2/panels/{panel_id}`.
    DeletePanel { panel_id };
}
request! {
    /// `PUT /v2/panels/{panel_id}/target`.
    SetPanelTargets { panel_id } body PanelTargets;
}
request! {
    /// `GET /gateway`: the WebSocket URL.
    GetGateway {};
}
request! {
    /// `GET /gateway/bot`: the WebSocket URL, recommended shards and session start limit.
    GetGatewayBot {};
}

/// `GET /v2/panels`: command panels of one scope, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPanels {
    /// `c2c`, `group`, `channel` or `dm` (required).
    pub scope: String,
    /// Empty on the first page, then `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, default 20, at most 50.
    pub limit: Option<u32>,
}

impl ListPanels {
    /// The panels of `scope`.
    #[must_use]
    pub fn new(scope: impl Into<String>) -> Self {
        Self { scope: scope.into(), cursor: None, limit: None }
    }

    /// Sets the cursor.
    #[must_use]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl Parts for ListPanels {
    fn path_params(&self) -> Vec<Cow<'_, str>> {
        Vec::new()
    }

    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("scope", self.scope.clone())];
        query.extend(self.cursor.clone().map(|c| ("cursor", c)));
        query.extend(self.limit.map(|l| ("limit", l.to_string())));
        query
    }
}

/// The body of [`GenerateUrlLink`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UrlLinkRequest {
    /// Data handed back on `FRIEND_ADD` (at most 32 characters).
    pub callback_data: String,
}

impl UrlLinkRequest {
    /// A link carrying `callback_data`.
    #[must_use]
    pub fn new(callback_data: impl Into<String>) -> Self {
        Self { callback_data: callback_data.into() }
    }
}

impl Check for UrlLinkRequest {
    fn check(&self) -> Result<(), RequestError> {
        if self.callback_data.chars().count() > 32 {
            return Err(RequestError::invalid("callback_data", "at most 32 characters"));
        }
        Ok(())
    }
}

/// The body of [`SetMenu`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MenuUpdate {
    /// The new menu.
    pub menu: Menu,
}

impl MenuUpdate {
    /// Replace the menu with `menu`.
    #[must_use]
    pub fn new(menu: Menu) -> Self {
        Self { menu }
    }
}

impl Check for MenuUpdate {
    fn check(&self) -> Result<(), RequestError> {
        if self.menu.items.len() > 10 {
            return Err(RequestError::invalid("menu.items", "at most 10 items (40030013)"));
        }
        if self.menu.items.iter().any(|item| item.sub_menu_items.len() > 5) {
            return Err(RequestError::invalid("menu.items.sub_menu_items", "at most 5 per item (40030013)"));
        }
        Ok(())
    }
}

/// The body of [`CreatePanel`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NewPanel {
    /// `c2c`, `group`, `channel` or `dm`.
    pub scope: String,
    /// `all` (QQ's default) or `specific` (c2c and group only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// c2c + specific: at most 20 users.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_openids: Vec<String>,
    /// group + specific: at most 20 groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_openids: Vec<String>,
    /// The panel.
    pub panel: Panel,
}

impl NewPanel {
    /// A panel for everyone in `scope`.
    #[must_use]
    pub fn new(scope: impl Into<String>, panel: Panel) -> Self {
        Self { scope: scope.into(), panel, ..Self::default() }
    }
}

impl Check for NewPanel {
    fn check(&self) -> Result<(), RequestError> {
        check_panel(&self.panel)?;
        if self.user_openids.len() > 20 || self.group_openids.len() > 20 {
            return Err(RequestError::invalid("user_openids", "at most 20 targets per call"));
        }
        Ok(())
    }
}

fn check_panel(panel: &Panel) -> Result<(), RequestError> {
    if panel.items.len() > 20 {
        return Err(RequestError::invalid("panel.items", "at most 20 items (40030013)"));
    }
    Ok(())
}

/// The body of [`UpdatePanel`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PanelUpdate {
    /// The new items and remark.
    pub panel: Panel,
}

impl PanelUpdate {
    /// Replace the panel's items and remark.
    #[must_use]
    pub fn new(panel: Panel) -> Self {
        Self { panel }
    }
}

impl Check for PanelUpdate {
    fn check(&self) -> Result<(), RequestError> {
        check_panel(&self.panel)
    }
}

/// The body of [`SetPanelTargets`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PanelTargets {
    /// `add` or `del`.
    pub op: super::ListOp,
    /// c2c: at most 20 users.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_openids: Vec<String>,
    /// group: at most 20 groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_openids: Vec<String>,
}

impl PanelTargets {
    /// Add or remove users (c2c panels).
    #[must_use]
    pub fn users(op: super::ListOp, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { op, user_openids: ids.into_iter().map(Into::into).collect(), group_openids: Vec::new() }
    }

    /// Add or remove groups (group panels).
    #[must_use]
    pub fn groups(op: super::ListOp, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { op, user_openids: Vec::new(), group_openids: ids.into_iter().map(Into::into).collect() }
    }
}

impl Check for PanelTargets {
    fn check(&self) -> Result<(), RequestError> {
        if self.user_openids.len() > 20 || self.group_openids.len() > 20 {
            return Err(RequestError::invalid("user_openids", "at most 20 targets per call"));
        }
        Ok(())
    }
}

model! {
    /// What the share-link route answers.
    UrlLink {
        /// The link (2026 pages).
        url_link: Option<String> => "crate::model::de::text",
        /// The link (the older page's name for it).
        url: Option<String> => "crate::model::de::text",
    }

    /// What `GET /v2/menu` answers.
    MenuAnswer {
        /// The menu's version.
        version: Option<i64> => "crate::model::de::num",
        /// The menu; absent if never set.
        menu: Option<Menu>,
    }

    /// A version number answered after a change.
    Version {
        /// The version after the change.
        version: Option<i64> => "crate::model::de::num",
    }

    /// The global C2C custom menu: at most 10 items, left to right.
    Menu {
        /// The items.
        items: Vec<MenuItem> => "crate::model::de::list",
    }

    /// An item of the custom menu.
    MenuItem {
        /// At most 10 characters, a CJK character counting 2.
        name: Option<String> => "crate::model::de::text",
        /// `switch`, `send_message`, `link` or `menu`.
        #[serde(rename = "type")]
        kind: Option<String> => "crate::model::de::text",
        /// Text put into the input box (`send_message`).
        send_message: Option<String> => "crate::model::de::text",
        /// An https link (`link`).
        link: Option<String> => "crate::model::de::text",
        /// A switch (`switch`).
        switch: Option<MenuSwitch>,
        /// At most 5 sub-items (`menu`), not nested.
        sub_menu_items: Vec<MenuItem> => "crate::model::de::list",
    }

    /// A switch of the custom menu.
    MenuSwitch {
        /// While on, the message's `ext` carries `<switch_id>=1`.
        switch_id: Option<String> => "crate::model::de::text",
        /// Whether it starts on.
        default: Option<bool> => "crate::model::de::flag",
    }

    /// A page of command panels.
    PanelPage {
        /// The panels, newest first.
        records: Vec<PanelRecord> => "crate::model::de::list",
        /// The next page's cursor; empty on the last page.
        next_cursor: Option<String> => "crate::model::de::text",
        /// Whether this is the last page.
        is_end: Option<bool> => "crate::model::de::flag",
    }

    /// A command panel with its targets.
    PanelRecord {
        /// Its id.
        panel_id: Option<String> => "crate::model::de::text",
        /// `c2c`, `group`, `channel` or `dm`.
        scope: Option<String> => "crate::model::de::text",
        /// `all` or `specific`.
        target_type: Option<String> => "crate::model::de::text",
        /// The panel.
        panel: Option<Panel>,
        /// When it was created.
        created_at: Option<Timestamp>,
        /// When it last changed.
        updated_at: Option<Timestamp>,
        /// Its version.
        version: Option<i64> => "crate::model::de::num",
        /// Its users (specific c2c panels, `GET /v2/panels/{panel_id}` only).
        user_openids: Vec<String> => "crate::model::de::text_list",
        /// Its groups (specific group panels, `GET /v2/panels/{panel_id}` only).
        group_openids: Vec<String> => "crate::model::de::text_list",
    }

    /// A command panel: at most 20 items.
    Panel {
        /// The items.
        items: Vec<PanelItem> => "crate::model::de::list",
        /// A note not shown to users (at most 255 characters).
        remark: Option<String> => "crate::model::de::text",
        /// Its version.
        version: Option<i64> => "crate::model::de::num",
    }

    /// An item of a command panel.
    PanelItem {
        /// At most 14 characters; for `command`, the text put into the input box.
        name: Option<String> => "crate::model::de::text",
        /// At most 30 characters.
        desc: Option<String> => "crate::model::de::text",
        /// `command` or `link`.
        #[serde(rename = "type")]
        kind: Option<String> => "crate::model::de::text",
        /// Only guild or group admins may use it.
        only_admin: Option<bool> => "crate::model::de::flag",
        /// The link (`link`).
        link: Option<String> => "crate::model::de::text",
    }

    /// What creating a panel answers.
    PanelCreated {
        /// The new panel's id.
        panel_id: Option<String> => "crate::model::de::text",
    }
}

impl UrlLink {
    /// The link, from `url_link` or else `url`.
    #[must_use]
    pub fn link(&self) -> Option<&str> {
        self.url_link.as_deref().or(self.url.as_deref())
    }
}

impl PanelItem {
    /// A command item: clicking it puts `name` into the input box.
    #[must_use]
    pub fn command(name: impl Into<String>, desc: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            desc: Some(desc.into()),
            kind: Some("command".into()),
            ..Self::default()
        }
    }

    /// A link item.
    #[must_use]
    pub fn link(name: impl Into<String>, desc: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            desc: Some(desc.into()),
            kind: Some("link".into()),
            link: Some(url.into()),
            ..Self::default()
        }
    }
}

impl Panel {
    /// A panel of `items`.
    #[must_use]
    pub fn new(items: impl IntoIterator<Item = PanelItem>) -> Self {
        Self { items: items.into_iter().collect(), ..Self::default() }
    }
}

impl MenuItem {
    /// An item that puts `text` into the input box.
    #[must_use]
    pub fn send_message(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            kind: Some("send_message".into()),
            send_message: Some(text.into()),
            ..Self::default()
        }
    }

    /// An item that opens an https link.
    #[must_use]
    pub fn link(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self { name: Some(name.into()), kind: Some("link".into()), link: Some(url.into()), ..Self::default() }
    }
}

impl Menu {
    /// A menu of `items`.
    #[must_use]
    pub fn new(items: impl IntoIterator<Item = MenuItem>) -> Self {
        Self { items: items.into_iter().collect(), ..Self::default() }
    }
}
