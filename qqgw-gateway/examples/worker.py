#!/usr/bin/env python3
"""A qqgw worker in Python: reads the bot's events from Redis Streams (format v1,
qqgw-redis/STREAMS.md), answers every group @-message and C2C message with an echo through
the gateway's outbox, and prints each event, gap and answer.

    pip install redis
    QQ_BOT_APP_ID=102000000 QQGW_REDIS_URL=redis://127.0.0.1:6379 python3 worker.py

Settings (environment): QQ_BOT_APP_ID (for the key prefix qqgw:<app id>, or QQGW_PREFIX),
QQGW_REDIS_URL, QQ_BOT_SHARDS (the shard count, default 1; webhook events are on shard 0),
WORKER_GROUP (default "workers"), WORKER_EXIT_AFTER (stop after N messages; for tests).
"""

import json
import os
import socket
import sys
import time
import uuid
from collections import OrderedDict

import redis

FORMAT = "1"


def shard_total(value):
    # QQ_BOT_SHARDS is "4", "1/4" or "0-1/4": the total is what follows the slash.
    return int(value.split("/")[-1]) if value else 1


class Seen:
    """The event ids handled lately: a replay or a takeover can deliver an event twice."""

    def __init__(self, capacity=65536):
        self.ids = OrderedDict()
        self.capacity = capacity

    def add(self, key):
        if key in self.ids:
            return False
        self.ids[key] = True
        if len(self.ids) > self.capacity:
            self.ids.popitem(last=False)
        return True


def reply_request(event):
    """The outbox request answering a message event, or None."""
    kind, d = event["type"], event["d"]
    text = (d.get("content") or "").strip()
    if kind == "GROUP_AT_MESSAGE_CREATE":
        target = {"type": "group", "id": d["group_openid"]}
    elif kind == "C2C_MESSAGE_CREATE":
        target = {"type": "user", "id": d["author"]["user_openid"]}
    else:
        return None
    return {
        "op": "send",
        "target": target,
        "reply_to": {"message": d["id"]},
        "message": {"content": f"echo: {text}"},
    }


def main():
    url = os.environ.get("QQGW_REDIS_URL", "redis://127.0.0.1:6379")
    prefix = os.environ.get("QQGW_PREFIX") or f"qqgw:{os.environ['QQ_BOT_APP_ID']}"
    total = shard_total(os.environ.get("QQ_BOT_SHARDS", ""))
    group = os.environ.get("WORKER_GROUP", "workers")
    exit_after = int(os.environ.get("WORKER_EXIT_AFTER", "0"))
    consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)

    streams = [f"{prefix}:stream:{shard}/{total}" for shard in range(total)]
    for stream in streams:
        try:
            r.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
    print(f"worker {consumer}: reading {', '.join(streams)} as group {group!r}", flush=True)

    seen, replied, waiting = Seen(), 0, {}
    results = f"{prefix}:outbox:results"
    # Answers from now on (every answer of every worker is appended there).
    last = r.xrevrange(results, count=1)
    results_from = last[0][0] if last else "0-0"
    while True:
        # Short waits while answers are expected: they are read between the reads of events.
        block = 20 if waiting else 1000
        batches = r.xreadgroup(group, consumer, {s: ">" for s in streams}, count=100, block=block)
        for stream, entries in batches or []:
            for entry_id, fields in entries:
                if fields.get("v", FORMAT).split(".")[0] != FORMAT:
                    print(f"{entry_id}: format {fields.get('v')} unknown, skipped", flush=True)
                elif "gap" in fields:
                    gap = json.loads(fields["gap"])
                    print(f"gap on {fields['shard']}: {gap['kind']} after seq {gap['after']}", flush=True)
                else:
                    key = fields["id"] or f"{fields['session']}:{fields['seq']}"
                    if seen.add(key):
                        event = json.loads(fields["event"])
                        d = event["d"] if isinstance(event["d"], dict) else {}
                        about = f" {d['id']} {d['content']!r}" if "content" in d else ""
                        print(f"{fields['shard']} seq {fields['seq'] or '-'} {fields['type']}{about}", flush=True)
                        request = reply_request(event)
                        if request is not None:
                            request_id = f"{fields['id'] or entry_id}:echo"
                            r.xadd(
                                f"{prefix}:outbox",
                                {"v": FORMAT, "id": request_id, "request": json.dumps(request)},
                                maxlen=10000,
                                approximate=True,
                            )
                            waiting[request_id] = (d["id"], time.monotonic())
                # Acknowledged once handled: an entry not acknowledged comes again.
                r.xack(stream, group, entry_id)
        # The answers to our requests (the gateway appends every answer here).
        for _, answers in r.xread({results: results_from}, count=100, block=1 if waiting else None) or []:
            for answer_id, fields in answers:
                results_from = answer_id
                if fields["id"] in waiting:
                    message, sent_at = waiting.pop(fields["id"])
                    took = (time.monotonic() - sent_at) * 1000
                    answer = json.loads(fields["result"])
                    if answer["ok"]:
                        replied += 1
                        result = answer["result"]
                        print(f"  replied to {message}: msg_seq {result['msg_seq']}, {took:.0f} ms", flush=True)
                    else:
                        error = answer["error"]
                        print(
                            f"  not sent to {message}: {error['outcome']} {error.get('code', '')} {error['message']}",
                            flush=True,
                        )
        if exit_after and replied >= exit_after:
            print(f"{replied} replies sent; exiting", flush=True)
            return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
