//! Every Lua script of the crate, in one place: the sources are the `.lua` files beside
//! this one, and each script's KEYS and ARGV are declared once, below, as the fields of a
//! struct. Each struct's `invocation` passes them in the declared
//! order, and the script's prologue — generated from the same declaration —
//! names them (`local lease = KEYS[1]` …), so the Lua refers to names, never to
//! positions, and a caller cannot pass two of them in the wrong order.

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

/// The Lua lines that name a script's KEYS and ARGV: `local <key> = KEYS[i]`, `local <arg>
/// = ARGV[i]`, and for a script with a tail, `local <tail> = {ARGV[n + 1], …}`.
fn prologue(keys: &[&str], args: &[&str], tail: Option<&str>) -> String {
    use core::fmt::Write;
    let mut lua = String::new();
    for (i, key) in keys.iter().enumerate() {
        let _ = writeln!(lua, "local {key} = KEYS[{}]", i + 1);
    }
    for (i, arg) in args.iter().enumerate() {
        let _ = writeln!(lua, "local {arg} = ARGV[{}]", i + 1);
    }
    if let Some(tail) = tail {
        let _ = writeln!(lua, "local {tail} = {{}}");
        let _ = writeln!(lua, "for i = {}, #ARGV do {tail}[#{tail} + 1] = ARGV[i] end", args.len() + 1);
    }
    lua
}

/// Declares scripts: for each, a struct whose fields are the script's KEYS (`&str`), its
/// ARGV (any `ToRedisArgs`) and optionally a tail of any number of values (`&[String]`),
/// in that order; the Lua source is the concatenation of the files given.
macro_rules! scripts {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            keys: [$($key:ident),+ $(,)?],
            args: [$($arg:ident: $ty:ty),* $(,)?],
            $(tail: $tail:ident,)?
            lua: [$($file:literal),+ $(,)?] $(,)?
        }
    )*) => {$(
        $(#[$doc])*
        pub(crate) struct $name<'a> {
            $(pub(crate) $key: &'a str,)+
            $(pub(crate) $arg: $ty,)*
            $(pub(crate) $tail: &'a [String],)?
        }

        impl $name<'_> {
            /// The script.
            pub(crate) fn script() -> &'static Script {
                static SCRIPT: LazyLock<Script> = LazyLock::new(|| {
                    let tail: Option<&str> = None $(.or(Some(stringify!($tail))))?;
                    let mut lua = prologue(&[$(stringify!($key)),+], &[$(stringify!($arg)),*], tail);
                    $(lua.push_str(include_str!($file));)+
                    Script::new(&lua)
                });
                &SCRIPT
            }

            /// The script with this call's KEYS and ARGV, in their declared order.
            pub(crate) fn invocation(&self) -> ScriptInvocation<'static> {
                let mut invocation = Self::script().prepare_invoke();
                $(invocation.key(self.$key);)+
                $(invocation.arg(&self.$arg);)*
                $(for value in self.$tail {
                    invocation.arg(value);
                })?
                invocation
            }
        }
    )*};
}

scripts! {
    /// Takes a shard's lease if it is free (`SET NX PX`), and then the next fencing token.
    LeaseAcquire {
        keys: [lease, fence],
        args: [owner: &'a str, ttl_ms: u64],
        lua: ["lease_acquire.lua"],
    }

    /// Extends a lease if it is still `owner`'s.
    LeaseRenew {
        keys: [lease],
        args: [owner: &'a str, ttl_ms: u64],
        lua: ["lease_renew.lua"],
    }

    /// Deletes a lease if it is still `owner`'s.
    LeaseRelease {
        keys: [lease],
        args: [owner: &'a str],
        lua: ["lease_release.lua"],
    }

    /// Saves a session (fenced by `token`, empty for none), never moving it back within
    /// one session. -1 when fenced.
    SessionSave {
        keys: [session, fence],
        args: [token: &'a str, id: &'a str, seq: u64, shard: &'a str, ttl_ms: u64],
        lua: ["fence.lua", "checkpoint.lua", "session_save.lua"],
    }

    /// Deletes a session (fenced by `token`). -1 when fenced.
    SessionClear {
        keys: [session, fence],
        args: [token: &'a str],
        lua: ["fence.lua", "session_clear.lua"],
    }

    /// Appends a batch of entries to `stream`, each moving the checkpoint to its `id`/`seq`
    /// (when both are given) or deleting it (it ends the session), and — when its `expect`
    /// is `"1"` — only if the checkpoint is the one its writer expected: as if each entry
    /// were a script of its own run in order, in one atomic step, fenced by `token`; then
    /// bounds the stream to `max_len`. `entries` holds, per entry, `expect`, `expected_id`,
    /// `expected_seq`, `id`, `seq`, `ends_session`, `clears_identifying`, the count of its
    /// field strings and those strings. Answers one `{1, entry id}` per entry written,
    /// ending at the first not written: `{-1}` when fenced (none is), `{-2, id, seq}` (the
    /// checkpoint found) when it is not the expected one.
    Publish {
        keys: [session, fence, stream, trimmed, identifying],
        args: [token: &'a str, shard: &'a str, ttl_ms: u64, max_len: u64],
        tail: entries,
        lua: ["fence.lua", "publish.lua"],
    }

    /// Whether entries of `stream` were trimmed before `group` read them: `{1, lost (false
    /// or {delivered, cut})}`, or `{-1}` without the stream or the group (looked for only
    /// once the stream was trimmed: the `XREADGROUP` fails without them anyway). Run in
    /// one transaction with the group's `XREADGROUP`.
    WorkerRead {
        keys: [stream, trimmed],
        args: [group: &'a str],
        lua: ["worker_read.lua"],
    }

    /// Removes the consumers of `group` that died: nothing pending, idle for `idle_ms`.
    WorkerForget {
        keys: [stream],
        args: [group: &'a str, consumer: &'a str, idle_ms: u64],
        lua: ["worker_forget.lua"],
    }

    /// Asks for an IDENTIFY slot in `bucket`: `{1, 0}` granted, `{0, wait_ms}` not. With a
    /// `token`, only for the shard's current owner, and the grant recorded in `identifying`.
    PacerAcquire {
        keys: [bucket, day, fence, identifying],
        args: [
            token: &'a str,
            identifying_ttl_ms: u64,
            slot: &'a str,
            slot_timeout_ms: u64,
            remaining: u32,
            reset_after_ms: u64,
            slots: u32,
            recheck_ms: u64,
        ],
        lua: ["pacer_acquire.lua"],
    }

    /// The IDENTIFY of `slot` was sent now.
    PacerSent {
        keys: [bucket],
        args: [slot: &'a str, window_ms: u64],
        lua: ["pacer_sent.lua"],
    }

    /// `slot` went unused (and its record in `identifying` goes).
    PacerRelease {
        keys: [bucket, day, identifying],
        args: [slot: &'a str],
        lua: ["pacer_release.lua"],
    }
}

scripts! {
    /// Claims an event for `owner`: `"done"`, `"first"` or `"busy"`.
    DedupClaim {
        keys: [done, claim],
        args: [id: &'a str, owner: &'a str, claim_ttl_ms: u64],
        lua: ["dedup_claim.lua"],
    }

    /// Records an event handled (and bounds the record), and drops `owner`'s claim.
    DedupDone {
        keys: [done, claim],
        args: [id: &'a str, owner: &'a str, done_ttl_ms: u64, max_done: u64],
        lua: ["dedup_done.lua"],
    }

    /// Records event ids `ids` handled (and bounds the record).
    DedupMark {
        keys: [done],
        args: [done_ttl_ms: u64, max_done: u64],
        tail: ids,
        lua: ["dedup_mark.lua"],
    }

    /// Extends `owner`'s claim: 1, or 0 if it is no longer `owner`'s.
    DedupRenew {
        keys: [claim],
        args: [owner: &'a str, claim_ttl_ms: u64],
        lua: ["dedup_renew.lua"],
    }

    /// Drops `owner`'s claim.
    DedupRelease {
        keys: [claim],
        args: [owner: &'a str],
        lua: ["dedup_release.lua"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prologue_names_keys_args_and_the_tail_in_order() {
        let lua = prologue(&["lease", "fence"], &["owner", "ttl_ms"], Some("fields"));
        assert_eq!(
            lua,
            "local lease = KEYS[1]\nlocal fence = KEYS[2]\nlocal owner = ARGV[1]\nlocal ttl_ms = ARGV[2]\n\
             local fields = {}\nfor i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end\n"
        );
    }
}

scripts! {
    /// Takes outbox requests for `consumer` of `group` to execute: new ones (`mode`
    /// `"new"`, up to `count`, and as many more as the stream is over `max_len`, which are
    /// refused) or those idle past `claim_idle_ms` in a dead consumer's pending list
    /// (`mode` `"claim"`). Requests that are invalid, too large, too old, refused for
    /// room or answered already are answered (or dropped) here; each one returned is
    /// claimed for `claim_ttl_ms`. Answers `{{entry, id, request}…}`, the last entry id and the outcome of each
    /// request refused.
    OutboxTake {
        keys: [outbox, results],
        args: [
            prefix: &'a str,
            group: &'a str,
            consumer: &'a str,
            mode: &'a str,
            count: usize,
            max_len: u64,
            max_bytes: u64,
            max_age_ms: u64,
            claim_idle_ms: u64,
            claim_ttl_ms: u64,
            result_ttl_ms: u64,
            results_max_len: u64,
        ],
        lua: ["outbox_common.lua", "outbox_take.lua"],
    }

    /// Answers outbox request `id` of `entry` with `result` (the first answer of an id is
    /// kept), acknowledges and deletes the entry, and drops the claim. 1 if the answer is
    /// the first of its id.
    OutboxAnswer {
        keys: [outbox, results],
        args: [
            prefix: &'a str,
            group: &'a str,
            entry: &'a str,
            id: &'a str,
            result: &'a str,
            result_ttl_ms: u64,
            results_max_len: u64,
        ],
        lua: ["outbox_common.lua", "outbox_answer.lua"],
    }
}
