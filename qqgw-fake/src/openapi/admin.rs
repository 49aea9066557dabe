//! The routes that manage things: the bot itself, its menu and panels (QQ-API.md §10,
//! §11, §14), QQ groups (§12) and guilds (§13).

use std::collections::BTreeMap;

use qqgw_proto::Instant;
use qqgw_proto::openapi::Route;
use serde_json::{Value, json};

use super::{OpenApi, Query, Reply, fail, invalid, no_content, ok, timestamp};

fn text<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn list(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Up to `limit` values of `map` after the key `cursor` (empty: from the start), and the
/// next cursor (empty on the last page).
fn page(map: Option<&BTreeMap<String, Value>>, cursor: &str, limit: usize) -> (Vec<Value>, String) {
    let Some(map) = map else { return (Vec::new(), String::new()) };
    let mut items = map.iter().filter(|(k, _)| cursor.is_empty() || k.as_str() > cursor);
    let taken: Vec<(&String, &Value)> = items.by_ref().take(limit).collect();
    let next = match (items.next(), taken.last()) {
        (Some(_), Some((key, _))) => (*key).clone(),
        _ => String::new(),
    };
    (taken.into_iter().map(|(_, v)| v.clone()).collect(), next)
}

/// Links in menus and panels must be https.
fn https(item: &Value) -> bool {
    text(item, "link").is_none_or(|l| l.starts_with("https://"))
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) {
        for (key, value) in patch {
            target.insert(key.clone(), value.clone());
        }
    }
}

impl OpenApi {
    fn check_menu(menu: &Value) -> Option<Reply> {
        let items = menu.get("items").and_then(Value::as_array)?;
        if items.len() > 10 {
            return Some(fail(400, 40030013));
        }
        for item in items {
            let kind = text(item, "type").unwrap_or_default();
            if text(item, "name").is_none() {
                return Some(fail(400, 40030016));
            }
            if !matches!(kind, "switch" | "send_message" | "link" | "menu") {
                return Some(fail(400, 40030014));
            }
            if !https(item) {
                return Some(fail(400, 40030008));
            }
            let subs = item.get("sub_menu_items").and_then(Value::as_array).map_or(0, Vec::len);
            if subs > 5 {
                return Some(fail(400, 40030013));
            }
        }
        None
    }

    fn check_panel(panel: Option<&Value>) -> Option<Reply> {
        let Some(panel) = panel else { return Some(fail(400, 40030016)) };
        let items = panel.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if items.len() > 20 {
            return Some(fail(400, 40030013));
        }
        for item in items {
            if !matches!(text(item, "type"), Some("command" | "link")) {
                return Some(fail(400, 40030015));
            }
            if !https(item) {
                return Some(fail(400, 40030008));
            }
        }
        None
    }

    /// The guild of `id` (10004 if unknown).
    fn guild_of(&self, id: &str) -> Result<Value, Reply> {
        self.guilds.get(id).cloned().ok_or_else(|| fail(400, 10004))
    }

    /// The channel of `id` (10003 if unknown).
    fn channel_of(&self, id: &str) -> Result<Value, Reply> {
        self.channels.get(id).cloned().ok_or_else(|| fail(400, 10003))
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) fn admin(
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
        let q = |key: &str| query.get(key).cloned().unwrap_or_default();
        let private = |this: &Self| (!this.config.private_domain).then(|| fail(400, 11253));
        let admin = |this: &Self| (!this.config.admin).then(|| fail(400, 11282));
        let invite = |this: &Self| (!this.config.whitelisted).then(|| fail(400, 11253));
        let result: Result<Reply, Reply> = (|| {
            Ok(match route {
                // §10, §11, §14: the bot.
                Route::GetMe => ok(json!({"id": self.config.bot_user_id, "username": self.config.bot_name,
                    "avatar": "https://thirdqq.qlogo.cn/mock", "bot": true,
                    "share_url": "https://qun.qq.com/qunpro/robot/share?robot_appid=mock", "welcome_msg": ""})),
                Route::GetMyGuilds => {
                    let limit = q("limit").parse::<usize>().unwrap_or(100);
                    if !(1..=100).contains(&limit) {
                        return Err(invalid("limit is 1 to 100"));
                    }
                    let after = q("after");
                    let guilds: Vec<Value> = self
                        .guilds
                        .iter()
                        .filter(|(id, _)| after.is_empty() || **id > after)
                        .take(limit)
                        .map(|(_, g)| g.clone())
                        .collect();
                    ok(Value::Array(guilds))
                }
                Route::GenerateUrlLink => {
                    let data = text(b, "callback_data").unwrap_or_default();
                    if data.chars().count() > 32 {
                        return Err(fail(400, 10001));
                    }
                    ok(
                        json!({"url_link": format!("https://qun.qq.com/qunpro/robot/qunshare?robot_appid=mock&callback_data={data}")}),
                    )
                }
                Route::GetMenu => match &self.menu {
                    Some(menu) => ok(json!({"version": self.menu_version, "menu": menu})),
                    None => ok(json!({"version": self.menu_version})),
                },
                Route::SetMenu => {
                    let Some(menu) = b.get("menu") else { return Err(fail(400, 40030016)) };
                    if let Some(reply) = Self::check_menu(menu) {
                        return Err(reply);
                    }
                    self.menu = Some(menu.clone());
                    self.menu_version += 1;
                    ok(json!({"version": self.menu_version}))
                }
                Route::ListPanels => {
                    let scope = q("scope");
                    if !matches!(scope.as_str(), "c2c" | "group" | "channel" | "dm") {
                        return Err(fail(400, 40030011));
                    }
                    let limit = q("limit").parse::<usize>().unwrap_or(20).clamp(1, 50);
                    let of_scope: BTreeMap<String, Value> = self
                        .panels
                        .iter()
                        .filter(|(_, p)| p.get("scope").and_then(Value::as_str) == Some(scope.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    let (records, next) = page(Some(&of_scope), &q("cursor"), limit);
                    ok(json!({"records": records, "is_end": next.is_empty(), "next_cursor": next}))
                }
                Route::CreatePanel => {
                    let scope = text(b, "scope").unwrap_or_default();
                    if !matches!(scope, "c2c" | "group" | "channel" | "dm") {
                        return Err(fail(400, 40030011));
                    }
                    let target = text(b, "target_type").unwrap_or("all");
                    if !matches!((scope, target), (_, "all") | ("c2c" | "group", "specific")) {
                        return Err(fail(400, 40030012));
                    }
                    if let Some(reply) = Self::check_panel(b.get("panel")) {
                        return Err(reply);
                    }
                    if self.panels.len() >= 20 {
                        return Err(fail(400, 40030013));
                    }
                    let id = format!("panel-{:06}", self.next());
                    let mut record = json!({"panel_id": id, "scope": scope, "target_type": target,
                        "created_at": timestamp(now), "updated_at": timestamp(now), "version": 1,
                        "user_openids": list(b, "user_openids"), "group_openids": list(b, "group_openids")});
                    if let (Some(panel), Some(fields)) = (b.get("panel"), record.as_object_mut()) {
                        fields.insert("panel".into(), panel.clone());
                    }
                    self.panels.insert(id.clone(), record);
                    ok(json!({"panel_id": id}))
                }
                Route::GetPanel => {
                    ok(self.panels.get(&param(0)).cloned().ok_or_else(|| fail(400, 40030006))?)
                }
                Route::UpdatePanel => {
                    if let Some(reply) = Self::check_panel(b.get("panel")) {
                        return Err(reply);
                    }
                    let panel = self.panels.get_mut(&param(0)).ok_or_else(|| fail(400, 40030006))?;
                    let version = panel.get("version").and_then(Value::as_i64).unwrap_or(0) + 1;
                    merge(
                        panel,
                        &json!({"panel": b.get("panel"), "version": version, "updated_at": timestamp(now)}),
                    );
                    ok(json!({"version": version}))
                }
                Route::DeletePanel => {
                    self.panels.remove(&param(0)).ok_or_else(|| fail(400, 40030006))?;
                    ok(json!({}))
                }
                Route::SetPanelTargets => {
                    let op = text(b, "op").unwrap_or_default();
                    if !matches!(op, "add" | "del") {
                        return Err(fail(400, 40030017));
                    }
                    let panel = self.panels.get_mut(&param(0)).ok_or_else(|| fail(400, 40030006))?;
                    if panel.get("target_type").and_then(Value::as_str) != Some("specific") {
                        return Err(fail(400, 40030021));
                    }
                    for key in ["user_openids", "group_openids"] {
                        let mut ids = list(panel, key);
                        let change = list(b, key);
                        if change.len() > 20 {
                            return Err(fail(400, 40030013));
                        }
                        if op == "add" {
                            ids.extend(change);
                        } else {
                            ids.retain(|id| !change.contains(id));
                        }
                        merge(panel, &json!({ key: ids }));
                    }
                    ok(json!({}))
                }
                Route::GetGateway => ok(json!({"url": self.config.gateway_url})),
                Route::GetGatewayBot => {
                    ok(json!({"url": self.config.gateway_url, "shards": self.config.shards,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 86_400_000, "max_concurrency": 1}}))
                }

                // §12: QQ groups.
                Route::GetGroupInfo => {
                    invite(self).map_or(Ok(()), Err)?;
                    let members = self.group_members.get(&param(0)).map_or(0, BTreeMap::len);
                    ok(json!({"group_openid": param(0), "group_name": "mock group", "group_finger_memo": "",
                        "group_class_text": "", "group_tags": [], "group_member_num": members + 1}))
                }
                Route::GetGroupBotState => {
                    invite(self).map_or(Ok(()), Err)?;
                    ok(
                        json!({"member_openid": format!("bot-{}", self.config.bot_user_id), "joined_at": timestamp(Instant::ZERO),
                        "allow_proactive_msg": self.config.allow_active_messages, "recv_msg_setting": "only_mention",
                        "member_role": if self.config.admin { "admin" } else { "member" }}),
                    )
                }
                Route::ListJoinRequests => {
                    admin(self).map_or(Ok(()), Err)?;
                    let limit = q("limit").parse::<usize>().unwrap_or(20).clamp(1, 50);
                    let (items, next) = page(self.join_requests.get(&param(0)), &q("cursor"), limit);
                    ok(json!({"list": items, "next_cursor": next}))
                }
                Route::ReviewJoinRequest => {
                    admin(self).map_or(Ok(()), Err)?;
                    let op = text(b, "op").unwrap_or_default();
                    if !matches!(op, "approve" | "decline") {
                        return Err(invalid("op is approve or decline"));
                    }
                    let request = text(b, "join_request_id").unwrap_or_default().to_owned();
                    let requests = self.join_requests.entry(param(0)).or_default();
                    if requests.remove(&request).is_none() {
                        return Err(invalid("no such join request"));
                    }
                    if op == "approve" {
                        self.add_group_member(&param(0), &param(1), "member");
                    }
                    ok(json!({}))
                }
                Route::GetGroupMuteSetting => {
                    admin(self).map_or(Ok(()), Err)?;
                    let members: Vec<Value> =
                        self.mutes.get(&param(0)).map(|m| m.values().cloned().collect()).unwrap_or_default();
                    ok(json!({"global_rule": {"mode": "none"}, "members": members}))
                }
                Route::SetGroupMemberMutes => {
                    admin(self).map_or(Ok(()), Err)?;
                    let changes = b.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
                    if changes.is_empty() || changes.len() > 20 {
                        return Err(invalid("members: 1 to 20"));
                    }
                    for change in &changes {
                        let (Some(op), Some(member)) = (text(change, "op"), text(change, "member_openid"))
                        else {
                            return Err(invalid("op and member_openid are required"));
                        };
                        let role = self
                            .group_members
                            .get(&param(0))
                            .and_then(|m| m.get(member))
                            .and_then(|m| text(m, "member_role"));
                        if op != "del" && matches!(role, Some("admin" | "owner")) {
                            return Err(invalid("only ordinary members can be muted"));
                        }
                        let mutes = self.mutes.entry(param(0)).or_default();
                        match op {
                            "add" | "update" => {
                                mutes.insert(
                                    member.to_owned(),
                                    json!({"member_openid": member,
                                    "mute_expire_at": text(change, "mute_expire_at"), "username": member}),
                                );
                            }
                            "del" => {
                                mutes.remove(member);
                            }
                            _ => return Err(invalid("op is add, update or del")),
                        }
                    }
                    ok(json!({}))
                }
                Route::ListJoinStrategies => {
                    let limit = q("limit").parse::<usize>().unwrap_or(20).clamp(1, 50);
                    let (items, next) = page(Some(&self.strategies), &q("cursor"), limit);
                    ok(json!({"strategies": items, "next_cursor": next}))
                }
                Route::CreateJoinStrategy => {
                    let (openids, numbers) = (b.get("group_openids"), b.get("group_ids"));
                    if openids.is_some() == numbers.is_some() {
                        return Err(invalid("exactly one of group_openids and group_ids"));
                    }
                    let groups = list(b, if openids.is_some() { "group_openids" } else { "group_ids" });
                    if groups.len() > 100 || self.strategies.len() >= 20 {
                        return Err(invalid("at most 100 groups, 20 strategies"));
                    }
                    let id = format!("strategy-{:06}", self.next());
                    let enable = text(b, "is_enable").unwrap_or("on");
                    let strategy = json!({"strategy_id": id, "group_openids": list(b, "group_openids"),
                        "group_ids": list(b, "group_ids"), "whitelist_user_count": 0, "is_enable": enable,
                        "expire_at": text(b, "expire_at").unwrap_or("2027-09-01T00:00:00+08:00"),
                        "created_at": timestamp(now), "updated_at": timestamp(now), "remark": text(b, "remark").unwrap_or_default(),
                        "whitelist": []});
                    self.strategies.insert(id.clone(), strategy.clone());
                    ok(
                        json!({"strategy_id": id, "is_enable": enable, "expire_at": strategy.get("expire_at")}),
                    )
                }
                Route::UpdateJoinStrategy => {
                    let strategy =
                        self.strategies.get_mut(&param(0)).ok_or_else(|| invalid("no such strategy"))?;
                    for key in ["is_enable", "expire_at", "remark"] {
                        if let Some(value) = b.get(key) {
                            merge(strategy, &json!({ key: value }));
                        }
                    }
                    ok(
                        json!({"is_enable": strategy.get("is_enable"), "expire_at": strategy.get("expire_at")}),
                    )
                }
                Route::DeleteJoinStrategy => {
                    self.strategies.remove(&param(0)).ok_or_else(|| invalid("no such strategy"))?;
                    ok(json!({}))
                }
                Route::ExecuteJoinStrategy => {
                    self.strategies.get(&param(0)).ok_or_else(|| invalid("no such strategy"))?;
                    ok(json!({}))
                }
                Route::EditStrategyWhitelist => {
                    let op = text(b, "op").unwrap_or_default().to_owned();
                    let users = list(b, "whitelist_users");
                    if !matches!(op.as_str(), "add" | "del") || users.len() > 10_000 {
                        return Err(invalid("op is add or del, at most 10000 users"));
                    }
                    let strategy =
                        self.strategies.get_mut(&param(0)).ok_or_else(|| invalid("no such strategy"))?;
                    let mut whitelist = list(strategy, "whitelist");
                    if op == "add" {
                        whitelist.extend(users);
                    } else {
                        whitelist.retain(|u| !users.contains(u));
                    }
                    whitelist.sort();
                    whitelist.dedup();
                    let count = whitelist.len();
                    merge(
                        strategy,
                        &json!({"whitelist": whitelist, "whitelist_user_count": count, "updated_at": timestamp(now)}),
                    );
                    ok(
                        json!({"strategy_id": param(0), "whitelist_user_count": count, "updated_at": timestamp(now)}),
                    )
                }
                Route::ListGroupMembers => {
                    invite(self).map_or(Ok(()), Err)?;
                    let (members, next) = page(self.group_members.get(&param(0)), &q("cursor"), 30);
                    ok(json!({"members": members, "next_cursor": next}))
                }
                Route::GetGroupMember => {
                    invite(self).map_or(Ok(()), Err)?;
                    let member = self.group_members.get(&param(0)).and_then(|m| m.get(&param(1)));
                    ok(member.cloned().ok_or_else(|| invalid("not a member of the group"))?)
                }
                Route::RemoveGroupMembers => {
                    invite(self).map_or(Ok(()), Err)?;
                    let members = list(b, "member_openids");
                    if members.is_empty() || members.len() > 20 {
                        return Err(invalid("member_openids: 1 to 20"));
                    }
                    let blacklist = b.get("add_to_member_blacklist").and_then(Value::as_bool) == Some(true);
                    for member in &members {
                        self.group_members.entry(param(0)).or_default().remove(member);
                        if blacklist {
                            self.blacklists.entry(param(0)).or_default().insert(member.clone(),
                                json!({"member_openid": member, "username": member, "banned_at": timestamp(now), "bot": false}));
                        }
                    }
                    ok(
                        json!({"remove_members_result": "success", "add_to_member_blacklist_fail_openids": []}),
                    )
                }
                Route::ListGroupBlacklist => {
                    invite(self).map_or(Ok(()), Err)?;
                    let limit = q("limit").parse::<usize>().unwrap_or(20).clamp(1, 100);
                    let (users, next) = page(self.blacklists.get(&param(0)), &q("cursor"), limit);
                    ok(json!({"users": users, "next_cursor": next}))
                }
                Route::EditGroupBlacklist => {
                    invite(self).map_or(Ok(()), Err)?;
                    let op = text(b, "op").unwrap_or_default().to_owned();
                    let members = list(b, "member_openids");
                    if !matches!(op.as_str(), "add" | "del") || members.is_empty() || members.len() > 20 {
                        return Err(invalid("op is add or del, member_openids 1 to 20"));
                    }
                    let in_group: Vec<String> = self
                        .group_members
                        .get(&param(0))
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    let blacklist = self.blacklists.entry(param(0)).or_default();
                    let mut failed = Vec::new();
                    for member in members {
                        if op == "add" && in_group.contains(&member) {
                            failed.push(member);
                        } else if op == "add" {
                            blacklist.insert(
                                member.clone(),
                                json!({"member_openid": member, "username": member,
                                "banned_at": timestamp(now), "bot": false}),
                            );
                        } else {
                            blacklist.remove(&member);
                        }
                    }
                    ok(json!({"fail_openids": failed}))
                }

                // §13: guilds.
                Route::GetGuild => ok(self.guild_of(&param(0))?),
                Route::ListChannels => {
                    self.guild_of(&param(0))?;
                    let channels: Vec<Value> = self
                        .channels
                        .values()
                        .filter(|c| c.get("guild_id").and_then(Value::as_str) == Some(param(0).as_str()))
                        .cloned()
                        .collect();
                    ok(Value::Array(channels))
                }
                Route::CreateChannel => {
                    self.guild_of(&param(0))?;
                    private(self).or_else(|| admin(self)).map_or(Ok(()), Err)?;
                    let (Some(name), Some(kind)) = (text(b, "name"), b.get("type").and_then(Value::as_u64))
                    else {
                        return Err(invalid("name and type are required"));
                    };
                    let id = format!("{}", 900_000 + self.next());
                    self.add_channel(&param(0), &id, name, u32::try_from(kind).unwrap_or(0));
                    let channel = self.channels.get_mut(&id).ok_or_else(|| invalid("channel"))?;
                    merge(channel, b);
                    merge(channel, &json!({"id": id, "guild_id": param(0)}));
                    ok(channel.clone())
                }
                Route::GetChannel => ok(self.channel_of(&param(0))?),
                Route::UpdateChannel => {
                    self.channel_of(&param(0))?;
                    private(self).or_else(|| admin(self)).map_or(Ok(()), Err)?;
                    let channel = self.channels.get_mut(&param(0)).ok_or_else(|| fail(400, 10003))?;
                    for key in ["name", "position", "parent_id", "private_type", "speak_permission"] {
                        if let Some(value) = b.get(key) {
                            merge(channel, &json!({ key: value }));
                        }
                    }
                    ok(channel.clone())
                }
                Route::DeleteChannel => {
                    self.channel_of(&param(0))?;
                    private(self).or_else(|| admin(self)).map_or(Ok(()), Err)?;
                    self.channels.remove(&param(0));
                    (200, None)
                }
                Route::GetOnlineNums => {
                    self.channel_of(&param(0))?;
                    ok(json!({"online_nums": 0}))
                }
                Route::ListGuildMembers => {
                    self.guild_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    let limit = q("limit").parse::<usize>().unwrap_or(1);
                    if !(1..=400).contains(&limit) {
                        return Err(invalid("limit is 1 to 400"));
                    }
                    let after = match q("after").as_str() {
                        "0" => String::new(),
                        after => after.to_owned(),
                    };
                    let (members, _) = page(self.members.get(&param(0)), &after, limit);
                    ok(Value::Array(members))
                }
                Route::ListRoleMembers => {
                    self.guild_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    let limit = q("limit").parse::<usize>().unwrap_or(1).clamp(1, 400);
                    let role = param(1);
                    let with_role: BTreeMap<String, Value> = self
                        .members
                        .get(&param(0))
                        .map(|m| {
                            m.iter()
                                .filter(|(_, v)| list(v, "roles").contains(&role))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let start = match q("start_index").as_str() {
                        "0" => String::new(),
                        start => start.to_owned(),
                    };
                    let (data, next) = page(Some(&with_role), &start, limit);
                    ok(json!({"data": data, "next": next}))
                }
                Route::GetGuildMember => {
                    self.guild_of(&param(0))?;
                    ok(self
                        .members
                        .get(&param(0))
                        .and_then(|m| m.get(&param(1)))
                        .cloned()
                        .ok_or_else(|| fail(400, 10001))?)
                }
                Route::RemoveGuildMember => {
                    self.guild_of(&param(0))?;
                    private(self).or_else(|| admin(self)).map_or(Ok(()), Err)?;
                    let days = b.get("delete_history_msg_days").and_then(Value::as_i64).unwrap_or(0);
                    if !matches!(days, -1 | 0 | 3 | 7 | 15 | 30) {
                        return Err(invalid("delete_history_msg_days is 3, 7, 15, 30, -1 or 0"));
                    }
                    let members = self.members.entry(param(0)).or_default();
                    let member = members.get(&param(1)).ok_or_else(|| fail(400, 10001))?;
                    if list(member, "roles").iter().any(|r| r == "2" || r == "4") {
                        return Err(invalid("admins cannot be removed"));
                    }
                    members.remove(&param(1));
                    no_content()
                }
                Route::ListRoles => {
                    self.guild_of(&param(0))?;
                    let roles: Vec<Value> =
                        self.roles.get(&param(0)).map(|r| r.values().cloned().collect()).unwrap_or_default();
                    ok(json!({"guild_id": param(0), "roles": roles, "role_num_limit": "30"}))
                }
                Route::CreateRole | Route::UpdateRole => {
                    self.guild_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    if ["name", "color", "hoist"].iter().all(|k| b.get(*k).is_none()) {
                        return Err(invalid("at least one of name, color, hoist"));
                    }
                    let id = if route == Route::CreateRole {
                        format!("{}", 10_000 + self.next())
                    } else {
                        param(1)
                    };
                    let roles = self.roles.entry(param(0)).or_default();
                    if route == Route::UpdateRole && !roles.contains_key(&id) {
                        return Err(invalid("no such role"));
                    }
                    let role = roles.entry(id.clone()).or_insert_with(|| json!({"id": id, "name": "", "color": 0, "hoist": 0, "number": 0, "member_limit": 1000}));
                    for key in ["name", "color", "hoist"] {
                        if let Some(value) = b.get(key) {
                            merge(role, &json!({ key: value }));
                        }
                    }
                    ok(json!({"guild_id": param(0), "role_id": id, "role": role.clone()}))
                }
                Route::DeleteRole => {
                    self.guild_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    self.roles
                        .entry(param(0))
                        .or_default()
                        .remove(&param(1))
                        .ok_or_else(|| invalid("no such role"))?;
                    no_content()
                }
                Route::AddMemberRole | Route::RemoveMemberRole => {
                    self.guild_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    let role = param(2);
                    if role == "5" && b.pointer("/channel/id").is_none() {
                        return Err(invalid("role 5 needs channel.id"));
                    }
                    if !self.roles.get(&param(0)).is_some_and(|r| r.contains_key(&role)) {
                        return Err(invalid("no such role"));
                    }
                    let member = self
                        .members
                        .entry(param(0))
                        .or_default()
                        .get_mut(&param(1))
                        .ok_or_else(|| fail(400, 10001))?;
                    let mut roles = list(member, "roles");
                    roles.retain(|r| *r != role);
                    if route == Route::AddMemberRole {
                        roles.push(role);
                    }
                    merge(member, &json!({"roles": roles}));
                    no_content()
                }
                Route::GetMemberPermissions | Route::GetRolePermissions => {
                    self.channel_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    let key = if route == Route::GetMemberPermissions { "user_id" } else { "role_id" };
                    ok(json!({"channel_id": param(0), key: param(1), "permissions": "5"}))
                }
                Route::SetMemberPermissions | Route::SetRolePermissions => {
                    self.channel_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    let bits = |key: &str| text(b, key).map(|v| v.parse::<u64>());
                    if matches!(bits("add"), Some(Err(_))) || matches!(bits("remove"), Some(Err(_))) {
                        return Err(fail(400, 301000));
                    }
                    if [bits("add"), bits("remove")].into_iter().flatten().flatten().any(|v| v & 2 != 0) {
                        return Err(fail(400, 301000));
                    }
                    no_content()
                }
                Route::ListApiPermissions => {
                    self.guild_of(&param(0))?;
                    let apis: Vec<Value> = Route::ALL
                        .iter()
                        .filter(|r| r.section().starts_with("13"))
                        .map(|r| json!({"path": r.template(), "method": r.method().as_str(), "desc": r.doc(), "auth_status": 1}))
                        .collect();
                    ok(json!({"apis": apis}))
                }
                Route::DemandApiPermission => {
                    self.guild_of(&param(0))?;
                    let (Some(channel), Some(path), Some(method)) = (
                        text(b, "channel_id"),
                        b.pointer("/api_identify/path").and_then(Value::as_str),
                        b.pointer("/api_identify/method").and_then(Value::as_str),
                    ) else {
                        return Err(invalid("channel_id and api_identify are required"));
                    };
                    let day = format!("{}:{}", param(0), now.as_millis() / 86_400_000);
                    let count = self.demands.entry(day).or_default();
                    if *count >= 3 {
                        return Err(fail(400, 610013));
                    }
                    *count += 1;
                    ok(
                        json!({"guild_id": param(0), "channel_id": channel, "api_identify": {"path": path, "method": method},
                        "title": "API permission", "desc": text(b, "desc").unwrap_or_default()}),
                    )
                }
                Route::GetMessageSetting => {
                    self.guild_of(&param(0))?;
                    ok(
                        json!({"disable_create_dm": false, "disable_push_msg": false, "channel_ids": [], "channel_push_max_num": 20}),
                    )
                }
                Route::MuteGuild | Route::MuteMember => {
                    self.guild_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    if text(b, "mute_end_timestamp").is_none() && text(b, "mute_seconds").is_none() {
                        return Err(fail(400, 502001));
                    }
                    let users = list(b, "user_ids");
                    if route == Route::MuteMember {
                        self.members
                            .get(&param(0))
                            .and_then(|m| m.get(&param(1)))
                            .ok_or_else(|| fail(400, 10001))?;
                        no_content()
                    } else if users.is_empty() {
                        no_content()
                    } else {
                        ok(json!({"user_ids": users}))
                    }
                }
                Route::CreateAnnounce => {
                    self.guild_of(&param(0))?;
                    if text(b, "message_id").is_some() && text(b, "channel_id").is_none() {
                        return Err(fail(400, 501001));
                    }
                    let recommended =
                        b.get("recommend_channels").and_then(Value::as_array).map_or(0, Vec::len);
                    if recommended > 3 {
                        return Err(fail(400, 501016));
                    }
                    let announce = json!({"guild_id": param(0), "channel_id": text(b, "channel_id").unwrap_or_default(),
                        "message_id": text(b, "message_id").unwrap_or_default(),
                        "announces_type": b.get("announces_type").cloned().unwrap_or(json!(0)),
                        "recommend_channels": b.get("recommend_channels").cloned().unwrap_or(json!([]))});
                    self.announces.insert(param(0), announce.clone());
                    ok(announce)
                }
                Route::DeleteAnnounce => {
                    self.guild_of(&param(0))?;
                    let known =
                        self.announces.get(&param(0)).and_then(|a| text(a, "message_id")).map(str::to_owned);
                    if param(1) != "all" && known.as_deref() != Some(param(1).as_str()) {
                        return Err(fail(400, 501001));
                    }
                    self.announces.remove(&param(0));
                    no_content()
                }
                Route::PinMessage => {
                    let channel = self.channel_of(&param(0))?;
                    let pins = self.pins.entry(param(0)).or_default();
                    if !pins.contains(&param(1)) {
                        if pins.len() >= 20 {
                            return Err(fail(400, 501013));
                        }
                        pins.push(param(1));
                    }
                    ok(
                        json!({"guild_id": channel.get("guild_id"), "channel_id": param(0), "message_ids": pins}),
                    )
                }
                Route::UnpinMessage => {
                    self.channel_of(&param(0))?;
                    let pins = self.pins.entry(param(0)).or_default();
                    if param(1) == "all" {
                        pins.clear();
                    } else {
                        pins.retain(|id| *id != param(1));
                    }
                    no_content()
                }
                Route::GetPins => {
                    let channel = self.channel_of(&param(0))?;
                    let pins = self.pins.get(&param(0)).cloned().unwrap_or_default();
                    ok(
                        json!({"guild_id": channel.get("guild_id"), "channel_id": param(0), "message_ids": pins}),
                    )
                }
                Route::ListSchedules => {
                    self.channel_of(&param(0))?;
                    let since = q("since").parse::<u64>().unwrap_or(0);
                    let schedules: Vec<Value> = self
                        .schedules
                        .get(&param(0))
                        .map(|s| {
                            s.values()
                                .filter(|v| {
                                    text(v, "end_timestamp")
                                        .and_then(|e| e.parse::<u64>().ok())
                                        .is_some_and(|e| e >= since)
                                })
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default();
                    ok(Value::Array(schedules))
                }
                Route::GetSchedule => {
                    self.channel_of(&param(0))?;
                    ok(self
                        .schedules
                        .get(&param(0))
                        .and_then(|s| s.get(&param(1)))
                        .cloned()
                        .ok_or_else(|| fail(400, 302001))?)
                }
                Route::CreateSchedule | Route::UpdateSchedule => {
                    self.channel_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    let Some(schedule) = b.get("schedule") else { return Err(fail(400, 302000)) };
                    let time = |key: &str| text(schedule, key).and_then(|t| t.parse::<u64>().ok());
                    let (Some(_), Some(start), Some(end)) =
                        (text(schedule, "name"), time("start_timestamp"), time("end_timestamp"))
                    else {
                        return Err(fail(400, 302000));
                    };
                    if end < start {
                        return Err(fail(400, 302015));
                    }
                    let id = if route == Route::CreateSchedule {
                        format!("{}", 500_000 + self.next())
                    } else {
                        param(1)
                    };
                    let schedules = self.schedules.entry(param(0)).or_default();
                    if route == Route::UpdateSchedule && !schedules.contains_key(&id) {
                        return Err(fail(400, 302001));
                    }
                    let mut stored = schedule.clone();
                    merge(&mut stored, &json!({"id": id}));
                    schedules.insert(id, stored.clone());
                    ok(stored)
                }
                Route::DeleteSchedule => {
                    self.channel_of(&param(0))?;
                    admin(self).map_or(Ok(()), Err)?;
                    self.schedules
                        .entry(param(0))
                        .or_default()
                        .remove(&param(1))
                        .ok_or_else(|| fail(400, 302001))?;
                    no_content()
                }
                Route::AddReaction | Route::RemoveReaction | Route::GetReactionUsers => {
                    self.channel_of(&param(0))?;
                    if !matches!(param(2).as_str(), "1" | "2") {
                        return Err(fail(400, 620001));
                    }
                    let key = (param(0), param(1), format!("{}:{}", param(2), param(3)));
                    match route {
                        Route::AddReaction if !self.reactions.insert(key.clone()) => {
                            return Err(fail(400, 620003));
                        }
                        Route::RemoveReaction if !self.reactions.remove(&key) => {
                            return Err(fail(400, 620004));
                        }
                        Route::GetReactionUsers => {
                            let users = if self.reactions.contains(&key) {
                                json!([{"id": self.config.bot_user_id, "username": self.config.bot_name, "avatar": ""}])
                            } else {
                                json!([])
                            };
                            return Ok(ok(json!({"users": users, "cookie": "", "is_end": true})));
                        }
                        _ => {}
                    }
                    no_content()
                }
                Route::ControlAudio => {
                    self.channel_of(&param(0))?;
                    let status = b.get("status").and_then(Value::as_u64);
                    if status.is_none_or(|s| s > 3) || (status == Some(0) && text(b, "audio_url").is_none()) {
                        return Err(invalid("status 0 to 3; status 0 needs audio_url"));
                    }
                    ok(json!({}))
                }
                Route::JoinMic | Route::LeaveMic => {
                    self.channel_of(&param(0))?;
                    ok(json!({}))
                }
                Route::ListThreads => {
                    self.channel_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    let threads: Vec<Value> = self
                        .threads
                        .get(&param(0))
                        .map(|t| t.values().cloned().collect())
                        .unwrap_or_default();
                    ok(json!({"threads": threads, "is_finish": 1}))
                }
                Route::GetThread => {
                    self.channel_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    let thread = self.threads.get(&param(0)).and_then(|t| t.get(&param(1))).cloned();
                    ok(json!({"thread": thread.ok_or_else(|| fail(400, 503001))?}))
                }
                Route::CreateThread => {
                    let channel = self.channel_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    let format = b.get("format").and_then(Value::as_u64);
                    let (Some(title), Some(content)) = (text(b, "title"), text(b, "content")) else {
                        return Err(fail(400, 503001));
                    };
                    if format.is_none_or(|f| !(1..=4).contains(&f)) {
                        return Err(fail(400, 503001));
                    }
                    let id = format!("thread-{}", self.next());
                    let thread = json!({"guild_id": channel.get("guild_id"), "channel_id": param(0), "author_id": self.config.bot_user_id,
                        "thread_info": {"thread_id": id, "title": title, "content": content, "date_time": timestamp(now)}});
                    self.threads.entry(param(0)).or_default().insert(id.clone(), thread);
                    ok(json!({"task_id": id, "create_time": (now.as_millis() / 1000).to_string()}))
                }
                Route::DeleteThread => {
                    self.channel_of(&param(0))?;
                    private(self).map_or(Ok(()), Err)?;
                    self.threads
                        .entry(param(0))
                        .or_default()
                        .remove(&param(1))
                        .ok_or_else(|| fail(400, 503001))?;
                    no_content()
                }
                _ => return Err((0, None)),
            })
        })();
        match result {
            Err((0, None)) => None,
            Ok(reply) | Err(reply) => Some(reply),
        }
    }
}
