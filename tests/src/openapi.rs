//! The sending side of QQ's OpenAPI: messages to groups, C2C chats, guild channels and
//! DMs, and media uploads, with QQ's rules (QQ-GATEWAY §13).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::MockConfig;
use crate::record::SentMessage;
use crate::state::State;

/// Where a message or event the mock dispatched can be replied to, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scene {
    C2c,
    /// Groups, guild channels and DMs: QQ's 5-minute window.
    Other,
}

/// A refusal scripted with [`MockGateway::refuse_sends`](crate::MockGateway::refuse_sends).
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: i64,
    pub(crate) message: String,
}

#[derive(Default)]
pub(crate) struct ApiState {
    /// Message ids (`d.id`) and event ids dispatched: when, in which scene, and whether
    /// [`expire_replies`](crate::MockGateway::expire_replies) ended their window.
    repliable: HashMap<String, (Instant, Scene, bool)>,
    /// (`msg_id` or `event_id`, `msg_seq`) pairs accepted.
    used: HashSet<(String, u64)>,
    /// Accepted replies per message.
    replies: HashMap<String, u32>,
    rate_limited: u32,
    failing: u32,
    refusals: VecDeque<Refusal>,
    next_id: u64,
}

impl ApiState {
    /// Notes a dispatched event (its id and its data's `id`) as something to reply to.
    pub(crate) fn dispatched(&mut self, name: &str, event_id: &str, d: &str, now: Instant) {
        let scene = if name.starts_with("C2C_") || name == "FRIEND_ADD" { Scene::C2c } else { Scene::Other };
        self.repliable.insert(event_id.to_owned(), (now, scene, false));
        let id = serde_json::from_str::<Value>(d)
            .ok()
            .and_then(|d| d.get("id").and_then(Value::as_str).map(str::to_owned));
        if let Some(id) = id {
            self.repliable.insert(id, (now, scene, false));
        }
    }

    pub(crate) fn expire_replies(&mut self) {
        self.repliable.values_mut().for_each(|(_, _, expired)| *expired = true);
    }

    pub(crate) fn rate_limit(&mut self, n: u32) {
        self.rate_limited = n;
    }

    pub(crate) fn fail(&mut self, n: u32) {
        self.failing = n;
    }

    pub(crate) fn refuse(&mut self, refusal: Refusal, n: u32) {
        self.refusals.extend((0..n).map(|_| refusal.clone()));
    }
}

fn error(status: u16, code: i64, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "err_code": code, "message": message, "trace_id": "mock-trace"}))
}

/// Whether `path` is one of the sending endpoints.
pub(crate) fn is_send_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["v2", "groups" | "users", _, "messages" | "files"] | ["channels" | "dms", _, "messages"]
    )
}

impl State {
    /// `POST` to a sending endpoint: the status and body, and the send recorded.
    pub(crate) fn openapi(
        &mut self,
        config: &MockConfig,
        now: Instant,
        authorization: Option<&str>,
        path: &str,
        body: &[u8],
    ) -> (u16, String) {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let (status, answer) = self.openapi_answer(config, now, authorization, path, parsed.as_ref());
        let code = answer.get("code").and_then(Value::as_i64);
        self.record.sends.push(SentMessage {
            at: now,
            path: path.to_owned(),
            body: parsed.unwrap_or(Value::Null),
            status,
            code,
            answer: answer.clone(),
        });
        (status, answer.to_string())
    }

    fn openapi_answer(
        &mut self,
        config: &MockConfig,
        now: Instant,
        authorization: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        if !authorization.is_some_and(|a| self.token_valid(a, now)) {
            return error(401, 11241, "token invalid or missing");
        }
        let api = &mut self.api;
        if api.rate_limited > 0 {
            api.rate_limited -= 1;
            return error(429, 22009, "msg limit exceed");
        }
        if api.failing > 0 {
            api.failing -= 1;
            return error(500, 500, "internal error");
        }
        if let Some(r) = api.refusals.pop_front() {
            let (status, mut body) = error(r.status, r.code, &r.message);
            if let (true, Some(object)) = (matches!(r.code, 304023 | 304024), body.as_object_mut()) {
                object.insert("data".into(), json!({"message_audit": {"audit_id": "mock-audit-1"}}));
            }
            return (status, body);
        }
        let Some(body) = body.filter(|b| b.is_object()) else {
            return error(400, 40034001, "body is not a JSON object");
        };
        let v2 = path.starts_with("/v2/");
        if path.ends_with("/files") {
            if body.get("file_type").and_then(Value::as_i64).is_none_or(|t| !(1..=4).contains(&t))
                || body.get("url").and_then(Value::as_str).is_none()
            {
                return error(400, 40034001, "file_type and url are required");
            }
            api.next_id += 1;
            return (
                200,
                json!({"file_uuid": format!("mock-file-{}", api.next_id), "file_info": format!("mock-info-{}", api.next_id), "ttl": 0}),
            );
        }
        let text = |k: &str| body.get(k).and_then(Value::as_str);
        let has_content = text("content").is_some_and(|c| !c.is_empty());
        let has_other = ["markdown", "ark", "embed", "media", "image"].iter().any(|k| body.get(*k).is_some());
        if !has_content && !has_other {
            return error(400, 50006, "message is empty");
        }
        if path.starts_with("/v2/groups/") && !has_content {
            return error(400, 50006, "content is required in groups");
        }
        let reference = text("msg_id").or_else(|| text("event_id"));
        match reference {
            None if v2 && !config.allow_active_messages => {
                return error(400, 40034102, "主动消息失败, 无权限");
            }
            None => {}
            Some(reference) => {
                let Some(&(at, scene, expired)) = api.repliable.get(reference) else {
                    return error(400, 40034024, "msg_id invalid or not accessible");
                };
                let window = match scene {
                    Scene::C2c => config.c2c_reply_window,
                    Scene::Other => config.reply_window,
                };
                if expired || now.saturating_duration_since(at) > window {
                    return error(400, 304027, "回复消息msg_id已过期");
                }
                if v2 {
                    let seq = body.get("msg_seq").and_then(Value::as_u64).unwrap_or(1);
                    if api.used.contains(&(reference.to_owned(), seq)) {
                        return error(400, 40054005, "消息被去重，请检查请求msgseq");
                    }
                    let count = api.replies.entry(reference.to_owned()).or_default();
                    if *count >= config.max_replies_per_message {
                        return (400, json!({"message": "reply msg exceed limit", "trace_id": "mock-trace"}));
                    }
                    *count += 1;
                    api.used.insert((reference.to_owned(), seq));
                }
            }
        }
        api.next_id += 1;
        let id = format!("ROBOT1.0_mock{}", api.next_id);
        if v2 {
            let timestamp =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            (200, json!({"id": id, "timestamp": timestamp}))
        } else {
            let mut message = serde_json::Map::new();
            message.insert("id".into(), json!(id));
            message.insert("timestamp".into(), json!("2026-01-01T00:00:00+08:00"));
            let mut parts = path.trim_start_matches('/').split('/');
            match (parts.next(), parts.next()) {
                (Some("channels"), Some(c)) => message.insert("channel_id".into(), json!(c)),
                (_, Some(g)) => message.insert("guild_id".into(), json!(g)),
                _ => None,
            };
            if let Some(c) = text("content") {
                message.insert("content".into(), json!(c));
            }
            (200, Value::Object(message))
        }
    }
}

/// QQ's reply windows (QQ-GATEWAY §13.7), the mock's defaults.
pub(crate) const GROUP_REPLY_WINDOW: Duration = Duration::from_secs(5 * 60);
pub(crate) const C2C_REPLY_WINDOW: Duration = Duration::from_secs(60 * 60);
