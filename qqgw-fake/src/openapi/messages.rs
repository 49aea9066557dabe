//! The message routes: sends (C2C, group, channel, DM), streams, recall, uploads and the
//! interaction ACK, with QQ's rules (QQ-API.md §4–§9).

use qqgw_proto::Instant;
use qqgw_proto::openapi::Route;
use serde_json::{Value, json};

use super::{
    OpenApi, Place, Query, Reply, StoredMessage, Stream, UploadPartState, UploadState, fail, invalid, ok,
    timestamp,
};

/// Whether `route` sends a message or uploads media (what [`Scope::Sends`](super::Scope::Sends) hits).
pub(crate) fn is_send(route: Route) -> bool {
    matches!(
        route,
        Route::SendC2cMessage
            | Route::SendGroupMessage
            | Route::SendChannelMessage
            | Route::SendDmMessage
            | Route::SendC2cStream
            | Route::UploadC2cFile
            | Route::UploadGroupFile
    )
}

fn text<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Day number of `now`, for daily quotas.
fn day(now: Instant) -> u64 {
    now.as_millis() / 86_400_000
}

/// A keyboard's documented limits: a template id or rows (not both), at most 5 × 5.
fn check_keyboard(keyboard: &Value) -> Option<Reply> {
    let rows = keyboard.pointer("/content/rows");
    match (keyboard.get("id"), rows) {
        (Some(_), Some(_)) | (None, None) => return Some(fail(400, 304040)),
        (Some(_), None) => return None,
        (None, Some(_)) => {}
    }
    let rows = rows.and_then(Value::as_array)?;
    let too_wide =
        rows.iter().any(|row| row.get("buttons").and_then(Value::as_array).is_none_or(|b| b.len() > 5));
    (rows.len() > 5 || too_wide).then(|| fail(400, 40034029))
}

impl OpenApi {
    pub(crate) fn messages(
        &mut self,
        now: Instant,
        route: Route,
        p: &[String],
        query: &Query,
        body: Option<&Value>,
    ) -> Option<Reply> {
        let param = |i: usize| p.get(i).cloned().unwrap_or_default();
        let empty = json!({});
        let b = body.unwrap_or(&empty);
        Some(match route {
            Route::SendC2cMessage => self.send_v2(now, Place::User(param(0)), b),
            Route::SendGroupMessage => self.send_v2(now, Place::Group(param(0)), b),
            Route::SendChannelMessage => self.send_guild(now, Place::Channel(param(0)), b),
            Route::SendDmMessage => self.send_guild(now, Place::Dm(param(0)), b),
            Route::SendC2cStream => self.stream_chunk(now, &param(0), b),
            Route::RecallC2cMessage => self.recall(now, &Place::User(param(0)), &param(1)),
            Route::RecallGroupMessage => self.recall(now, &Place::Group(param(0)), &param(1)),
            Route::RecallChannelMessage => self.recall(now, &Place::Channel(param(0)), &param(1)),
            Route::RecallDmMessage => self.recall(now, &Place::Dm(param(0)), &param(1)),
            Route::UploadC2cFile => self.files(now, &format!("user:{}", param(0)), b),
            Route::UploadGroupFile => self.files(now, &format!("group:{}", param(0)), b),
            Route::PrepareC2cUpload => self.prepare(&format!("user:{}", param(0)), b),
            Route::PrepareGroupUpload => self.prepare(&format!("group:{}", param(0)), b),
            Route::FinishC2cUploadPart => self.part_finish(&format!("user:{}", param(0)), b),
            Route::FinishGroupUploadPart => self.part_finish(&format!("group:{}", param(0)), b),
            Route::AckInteraction => self.ack(now, &param(0), b),
            Route::CreateDmSession => {
                let (Some(user), Some(guild)) = (text(b, "recipient_id"), text(b, "source_guild_id")) else {
                    return Some(invalid("recipient_id and source_guild_id are required"));
                };
                if !self.guilds.contains_key(guild) {
                    return Some(fail(400, 10004));
                }
                let id = format!("DM{}", self.next());
                let dm = json!({"guild_id": id, "channel_id": format!("{id}-channel"), "recipient_id": user,
                    "create_time": (now.as_millis() / 1000).to_string()});
                self.dms.insert(id, dm.clone());
                ok(dm)
            }
            _ => {
                let _ = query;
                return None;
            }
        })
    }

    /// A passive anchor's checks: known, within its window, under its count, `msg_seq`
    /// not used; the codes differ for `msg_id` and `event_id`.
    fn take_anchor(
        &mut self,
        now: Instant,
        id: &str,
        by_event: bool,
        seq: u64,
        guild: bool,
    ) -> Result<(), Reply> {
        let (unknown, expired) = match (guild, by_event) {
            (true, _) => (304026, 304027),
            (false, false) => (40034024, 40034005),
            (false, true) => (40034025, 40034026),
        };
        let config = &self.config;
        let Some(anchor) = self.anchors.get_mut(id) else { return Err(fail(400, unknown)) };
        let window = if anchor.c2c { config.c2c_reply_window } else { config.reply_window };
        if anchor.expired || now.saturating_duration_since(anchor.at) > window {
            return Err(fail(400, expired));
        }
        if guild {
            return Ok(());
        }
        if self.seqs.contains(&(id.to_owned(), seq)) {
            return Err(fail(400, 40054005));
        }
        let limit = if anchor.c2c { config.c2c_max_replies } else { config.group_max_replies };
        if (anchor.c2c || anchor.group) && anchor.replies >= limit {
            return Err(fail(400, 40034128));
        }
        anchor.replies += 1;
        self.seqs.insert((id.to_owned(), seq));
        Ok(())
    }

    /// The active-message gate: permission, then the daily quota per recipient.
    fn take_active(&mut self, now: Instant, place: &Place) -> Result<(), Reply> {
        if !self.config.allow_active_messages {
            return Err(fail(400, 40034105));
        }
        let count = self.active_sent.entry((format!("{place:?}"), day(now))).or_default();
        if *count >= self.config.active_per_day {
            return Err(fail(400, 40034100));
        }
        *count += 1;
        Ok(())
    }

    /// `POST /v2/users/{id}/messages`, `POST /v2/groups/{id}/messages` (QQ-API.md §4, §5).
    fn send_v2(&mut self, now: Instant, place: Place, b: &Value) -> Reply {
        if !b.is_object() {
            return fail(400, 304061);
        }
        let c2c = matches!(place, Place::User(_));
        let msg_type = b.get("msg_type").and_then(Value::as_u64).unwrap_or(0);
        let content = text(b, "content");
        match msg_type {
            0 if content.is_none() => return fail(400, 22006),
            2 => {
                let Some(markdown) = b.get("markdown") else { return fail(400, 22006) };
                if content.is_some() {
                    return fail(400, 50037);
                }
                if markdown.get("content").is_some() && markdown.get("custom_template_id").is_some() {
                    return fail(400, 50057);
                }
            }
            6 if !c2c => return fail(400, 340069),
            6 => {
                let seconds = b.pointer("/input_notify/input_second").and_then(Value::as_u64);
                if seconds.is_none_or(|s| s > 60) {
                    return fail(400, 50059);
                }
            }
            7 => {
                let Some(info) = b.pointer("/media/file_info").and_then(Value::as_str) else {
                    return fail(400, 22006);
                };
                let scene = match &place {
                    Place::User(id) => format!("user:{id}"),
                    Place::Group(id) => format!("group:{id}"),
                    _ => String::new(),
                };
                let uploaded = self.files.get(info);
                if uploaded.is_none_or(|s| s.split(':').next() != scene.split(':').next()) {
                    return fail(400, 304080);
                }
            }
            0 => {}
            3 => return fail(400, 304004),
            _ => return fail(400, 340069),
        }
        if let Some(keyboard) = b.get("keyboard") {
            if let Some(reply) = check_keyboard(keyboard) {
                return reply;
            }
        }
        let (msg_id, event_id) = (text(b, "msg_id"), text(b, "event_id"));
        let wakeup = b.get("is_wakeup").and_then(Value::as_bool) == Some(true);
        let seq = b.get("msg_seq").and_then(Value::as_u64).unwrap_or(1);
        if msg_id.is_some() && event_id.is_some() {
            return fail(400, 304061);
        }
        if wakeup {
            if !c2c || msg_id.is_some() || event_id.is_some() {
                return fail(400, 40034123);
            }
            let Place::User(user) = &place else { return fail(400, 40034123) };
            match self.user_activity.get_mut(user) {
                None => return fail(400, 40034123),
                Some((_, true)) => return fail(400, 40034122),
                Some((_, sent)) => *sent = true,
            }
        } else if let Some(anchor) = msg_id.or(event_id) {
            let anchor = anchor.to_owned();
            if let Err(reply) = self.take_anchor(now, &anchor, event_id.is_some(), seq, false) {
                return reply;
            }
        } else if let Err(reply) = self.take_active(now, &place) {
            return reply;
        }
        let n = self.next();
        let id = format!("ROBOT1.0_mock{n}");
        self.messages.insert(id.clone(), StoredMessage { at: now, place, by_bot: true, recalled: false });
        ok(json!({"id": id, "timestamp": timestamp(now), "ext_info": {"ref_idx": format!("REFIDX_mock{n}")}}))
    }

    /// `POST /channels/{id}/messages`, `POST /dms/{id}/messages` (QQ-API.md §5.3, §5.4).
    fn send_guild(&mut self, now: Instant, place: Place, b: &Value) -> Reply {
        if !b.is_object() {
            return fail(400, 12002);
        }
        let (channel, guild) = match &place {
            Place::Channel(id) => {
                let Some(channel) = self.channels.get(id) else { return fail(400, 10003) };
                (
                    Some(id.clone()),
                    channel.get("guild_id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                )
            }
            Place::Dm(id) if self.dms.contains_key(id) => (None, id.clone()),
            _ => return fail(400, 304032),
        };
        let has = |key: &str| b.get(key).is_some_and(|v| !v.is_null() && v != "");
        if !["content", "embed", "ark", "image", "markdown"].iter().any(|k| has(k)) {
            return fail(400, 50006);
        }
        if has("markdown") && has("content") {
            return fail(400, 50037);
        }
        if let Some(keyboard) = b.get("keyboard") {
            if let Some(reply) = check_keyboard(keyboard) {
                return reply;
            }
        }
        let (msg_id, event_id) = (text(b, "msg_id"), text(b, "event_id"));
        if let Some(anchor) = msg_id.or(event_id) {
            let anchor = anchor.to_owned();
            if let Err(reply) = self.take_anchor(now, &anchor, event_id.is_some(), 0, true) {
                return reply;
            }
        } else if channel.is_some() {
            let count = self.active_sent.entry((format!("{place:?}"), day(now))).or_default();
            if *count >= 20 {
                return fail(400, 304045);
            }
            *count += 1;
        }
        let id = format!("08mock{}", self.next());
        self.messages.insert(id.clone(), StoredMessage { at: now, place, by_bot: true, recalled: false });
        let mut message = json!({"id": id, "guild_id": guild, "timestamp": timestamp(now),
            "author": {"id": self.config.bot_user_id, "username": self.config.bot_name, "bot": true}});
        if let (Some(channel), Some(fields)) = (channel, message.as_object_mut()) {
            fields.insert("channel_id".into(), json!(channel));
        }
        if let (Some(content), Some(fields)) = (text(b, "content"), message.as_object_mut()) {
            fields.insert("content".into(), json!(content));
        }
        ok(message)
    }

    /// `POST /v2/users/{id}/stream_messages` (QQ-API.md §6).
    fn stream_chunk(&mut self, now: Instant, user: &str, b: &Value) -> Reply {
        if !b.is_object() {
            return fail(400, 304061);
        }
        let index = b.get("index").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
        let replace = text(b, "input_mode") == Some("replace");
        let raw = text(b, "content_raw").unwrap_or_default().to_owned();
        let last = b.get("input_state").and_then(Value::as_u64) == Some(10);
        let stream_id = match text(b, "stream_msg_id") {
            None => {
                if index != 0 {
                    return fail(400, 304061);
                }
                let (msg_id, event_id) = (text(b, "msg_id"), text(b, "event_id"));
                let wakeup = b.get("is_wakeup").and_then(Value::as_bool) == Some(true);
                let seq = b.get("msg_seq").and_then(Value::as_u64).unwrap_or(1);
                match msg_id.or(event_id) {
                    Some(anchor) if !wakeup => {
                        let anchor = anchor.to_owned();
                        if let Err(reply) = self.take_anchor(now, &anchor, event_id.is_some(), seq, false) {
                            return reply;
                        }
                    }
                    Some(_) => {}
                    None => return fail(400, 40034024),
                }
                let id = format!("stream-mock{}", self.next());
                self.streams.insert(id.clone(), Stream { user_openid: user.to_owned(), ..Stream::default() });
                id
            }
            Some(id) => id.to_owned(),
        };
        let max_chunks = self.config.max_stream_chunks as usize;
        let Some(stream) = self.streams.get_mut(&stream_id).filter(|s| s.user_openid == user) else {
            return fail(400, 304061);
        };
        if stream.ended > 0 {
            return fail(400, 40034018);
        }
        if stream.indices.last().is_some_and(|&prev| index <= prev) {
            return fail(400, 304061);
        }
        if stream.indices.len() >= max_chunks {
            return fail(400, 40054015);
        }
        if replace {
            if !raw.starts_with(&stream.text) {
                return fail(400, 40007);
            }
            stream.text = raw;
        } else {
            stream.text.push_str(&raw);
        }
        stream.indices.push(index);
        if last {
            stream.ended += 1;
        }
        let remain = 0;
        ok(json!({"id": stream_id, "timestamp": timestamp(now), "remain_msg_len": remain}))
    }

    /// The four recall routes (QQ-API.md §8).
    fn recall(&mut self, now: Instant, place: &Place, id: &str) -> Reply {
        let guild = matches!(place, Place::Channel(_) | Place::Dm(_));
        if guild && !self.config.private_domain {
            return fail(400, 11253);
        }
        let (not_found, not_allowed) = match place {
            Place::User(_) => (40061002, 40061002),
            Place::Group(_) => (40061002, 40062003),
            Place::Channel(_) => (306002, 306004),
            Place::Dm(_) => (306002, 306008),
        };
        let window = self.config.recall_window;
        let admin = self.config.admin;
        let Some(message) = self.messages.get_mut(id).filter(|m| m.place == *place && !m.recalled) else {
            return fail(400, not_found);
        };
        let allowed = message.by_bot || (admin && matches!(place, Place::Group(_) | Place::Channel(_)));
        if !allowed {
            return fail(400, not_allowed);
        }
        if !guild && now.saturating_duration_since(message.at) >= window {
            return fail(400, 40064004);
        }
        message.recalled = true;
        (200, None)
    }

    /// `POST …/files`: by URL, or merging a chunked upload (QQ-API.md §7.2).
    fn files(&mut self, now: Instant, scene: &str, b: &Value) -> Reply {
        let file_type = b.get("file_type").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=4).contains(&file_type) {
            return fail(400, 850019);
        }
        let raw_url = match text(b, "upload_id") {
            Some(upload) => {
                let Some(state) = self.uploads.get_mut(upload).filter(|u| u.scene == scene) else {
                    return fail(400, 40093001);
                };
                if state.merged || !state.parts.iter().all(|p| p.finished) {
                    return fail(400, 40093001);
                }
                state.merged = true;
                (file_type != 4).then(|| format!("https://cos.example/raw/{upload}"))
            }
            None => {
                let url = text(b, "url").unwrap_or_default();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return fail(400, 850026);
                }
                None
            }
        };
        let n = self.next();
        let info = format!("FILEINFO_{scene}_{n}");
        self.files.insert(info.clone(), scene.to_owned());
        let mut answer = json!({"file_uuid": format!("file-{n}"), "file_info": info, "ttl": 3600});
        if let (Some(url), Some(fields)) = (raw_url, answer.as_object_mut()) {
            fields.insert("raw_url".into(), json!(url));
        }
        if b.get("srv_send_msg").and_then(Value::as_bool) == Some(true) {
            let place = match scene.split_once(':') {
                Some(("group", id)) => Place::Group(id.to_owned()),
                Some((_, id)) => Place::User(id.to_owned()),
                None => Place::User(String::new()),
            };
            if let Err(reply) = self.take_active(now, &place) {
                return reply;
            }
            let id = format!("ROBOT1.0_mock{}", self.next());
            self.messages.insert(id.clone(), StoredMessage { at: now, place, by_bot: true, recalled: false });
            if let Some(fields) = answer.as_object_mut() {
                fields.insert("id".into(), json!(id));
            }
        }
        ok(answer)
    }

    /// `POST …/upload_prepare` (QQ-API.md §7.3).
    fn prepare(&mut self, scene: &str, b: &Value) -> Reply {
        let file_type = b.get("file_type").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=4).contains(&file_type) {
            return fail(400, 850019);
        }
        let hex = |key: &str, len: usize| {
            text(b, key).is_some_and(|h| h.len() == len && h.bytes().all(|c| c.is_ascii_hexdigit()))
        };
        if text(b, "file_name").is_none() || !hex("md5", 32) || !hex("sha1", 40) || !hex("md5_10m", 32) {
            return fail(400, 40093001);
        }
        let size = match b.get("file_size") {
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        let Some(size) = size.filter(|s| *s > 0) else { return fail(400, 40093001) };
        if size > qqgw_proto::openapi::MAX_UPLOAD_BYTES {
            return fail(400, 850031);
        }
        let block = self.config.upload_block_size.max(1);
        let id = format!("upload-mock{}", self.next());
        let mut parts = Vec::new();
        let mut listed = Vec::new();
        let mut offset = 0;
        while offset < size {
            let len = block.min(size - offset);
            let index = parts.len();
            listed.push(
                json!({"index": index, "presigned_url": format!("{}/{id}/{index}", self.config.upload_base),
                "block_size": len.to_string()}),
            );
            parts.push(UploadPartState { offset, len, ..UploadPartState::default() });
            offset += len;
        }
        self.uploads.insert(id.clone(), UploadState { scene: scene.to_owned(), size, parts, merged: false });
        ok(json!({"upload_id": id, "block_size": block.to_string(), "parts": listed,
            "upload_config": {"concurrency": self.config.upload_concurrency, "retry_timeout": 300,
                "retry_delay": self.config.upload_retry_delay}}))
    }

    /// `POST …/upload_part_finish` (QQ-API.md §7.4).
    fn part_finish(&mut self, scene: &str, b: &Value) -> Reply {
        let upload = text(b, "upload_id").unwrap_or_default();
        let Some(state) = self.uploads.get_mut(upload).filter(|u| u.scene == scene) else {
            return fail(400, 40093001);
        };
        let index = b.get("part_index").and_then(Value::as_u64).unwrap_or(u64::MAX);
        let Some(part) = usize::try_from(index).ok().and_then(|i| state.parts.get_mut(i)) else {
            return fail(400, 40093001);
        };
        let size = text(b, "block_size").and_then(|s| s.parse::<u64>().ok());
        let md5 = text(b, "md5").map(str::to_ascii_lowercase);
        if part.md5.is_none() || part.md5 != md5 || size != Some(part.len) {
            return fail(400, 40093001);
        }
        part.finished = true;
        ok(json!({}))
    }

    /// `PUT /interactions/{id}` (QQ-API.md §9): once, within the deadline, code 0–5.
    fn ack(&mut self, now: Instant, id: &str, b: &Value) -> Reply {
        if b.get("code").and_then(Value::as_u64).is_none_or(|c| c > 5) {
            return fail(400, 630001);
        }
        let deadline = self.config.ack_deadline;
        let Some((at, acked)) = self.interactions.get_mut(id) else { return fail(400, 630001) };
        if *acked || now.saturating_duration_since(*at) > deadline {
            return fail(400, 630001);
        }
        *acked = true;
        ok(json!({}))
    }
}
