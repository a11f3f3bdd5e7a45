"""What the scheduler calls when a feed's task fails for good: a log line naming the feed, the task
and the error, and a POST to the webhook whose URL is in the environment variable the feed declares
(`run.notify_failure_env`) — if that variable is set. The warehouse already records the failed batch."""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)


def failure_message(context: dict, feed_id: str) -> dict:
    ti = context.get("ti") or context.get("task_instance")
    error = context.get("exception")
    return {
        "feed": feed_id,
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(error).__name__}: {error}" if error else None,
    }


def notify_failure(feed_id: str, env_name: str | None):
    """The on_failure_callback of a feed's tasks."""

    def callback(context: dict) -> None:
        message = failure_message(context, feed_id)
        log.error("feed %s failed: %s", feed_id, json.dumps(message, ensure_ascii=False, default=str))
        url = os.environ.get(env_name) if env_name else None
        if not url:
            return
        import httpx  # lazy: httpx (0.2 s) only when a webhook is set: every DAG file imports this module at each parse

        try:
            httpx.post(url, json=message, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:  # a notification that fails must not hide the task's own failure
            log.error("could not notify %s of the failure of feed %s: %s", env_name, feed_id, exc)

    return callback
