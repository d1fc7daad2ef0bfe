# Verifies that a request came from taskflare (Standard Webhooks). Python 3.9+, standard library
# only. `secret`: your WEBHOOK_SECRET ("whsec_..."); `headers`: lower-case names; `body`: the raw
# request body bytes exactly as received (never re-serialised JSON).
import base64
import hashlib
import hmac
import time


def verify_webhook(secret: str, headers: dict, body: bytes, tolerance_seconds: int = 300) -> bool:
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures or not timestamp.isdigit():
        return False
    # Refuse old (replayed) and future-dated messages.
    if abs(time.time() - int(timestamp)) > tolerance_seconds:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # One "v1,<base64>" per secret taskflare signs with (two while it rotates its secret).
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False
