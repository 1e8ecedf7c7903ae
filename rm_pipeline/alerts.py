"""Alerts to a person: a Slack-compatible webhook (`{"text": ...}` posted as JSON).

The webhook URL is a secret (it carries the channel's token): it is read from the settings when an
alert is sent and never logged. A webhook that cannot be reached costs a logged warning, never the
run that raised the alert.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


def post_alert(webhook_url: str, message: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """POST `{"text": message}` to the webhook; True when it answered 2xx."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps({"text": message}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        log.warning("alert not delivered to the webhook: %s", reason)
        return False
