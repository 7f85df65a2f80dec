"""Delivery channels: the log, a webhook (one JSON POST with an ``Idempotency-Key``) and
e-mail (one message, ``Message-ID`` from the same key), each within a wall-clock deadline
however slowly the receiver drips; and ``send_pending``, the policy of which channel gets
which alerts again. Runs with no warehouse lock held; secrets never reach logs or errors."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from urllib.parse import urlsplit

from pipelines.lib.redact import install_log_redaction, redact, register_login

# the channels log under the package's name, as they did before the split
log = logging.getLogger("pipelines.lib.alerts")


def _webhook_url(cfg) -> str:
    return os.environ.get("GPU_TRACKER_WEBHOOK_URL") or cfg["webhook"].get("url") or ""


def _redact(text: str, secrets: list[str]) -> str:
    """Remove secrets -- and for URLs also their path and query, which is where webhook tokens
    live and what HTTP client errors quote -- from a message."""
    parts = []
    for s in secrets:
        if not s:
            continue
        parts.append(s)
        split = urlsplit(s)
        if split.scheme and split.netloc:
            parts.extend(p for p in (split.path, split.query) if p and p != "/")
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "<redacted>")
    return redact(text)[:500]


def channels(cfg) -> list[str]:
    out = ["log"]
    if _webhook_url(cfg):
        out.append("webhook")
    if cfg["email"].get("host") and cfg["email"].get("to"):
        out.append("email")
    return out


class DeliveryFailed(Exception):
    """The channel did not take the alerts (refused, unreachable, HTTP error, rejected): they
    were not delivered, and sending them again is safe."""


class DeliveryUnknown(Exception):
    """The alerts were sent but no answer came before the deadline (a timeout after sending, a
    connection cut while waiting): they may have arrived. Never re-sent blindly."""


def delivery_key(alert_ids: list[str]) -> str:
    """The idempotency key of one send: the same alerts give the same key, so a receiver that
    dedupes on it (or on each alert's ``alert_id``) ignores a resend."""
    return hashlib.sha256("|".join(sorted(alert_ids)).encode()).hexdigest()[:24]


class _Deadline:
    """A total wall-clock deadline for one delivery. Socket timeouts are per operation: a
    server that drips one byte every few seconds never trips them. At the deadline the
    watchdog shuts the socket down, which ends any blocked read or write at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self._sockets.append(sock)
        if self.expired:
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def __enter__(self) -> _Deadline:  # noqa: PYI034 -- a private class, never subclassed
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def _why(exc: BaseException, deadline: _Deadline) -> str:
    if deadline.expired:
        return f"no complete answer within the {deadline.seconds:g} s delivery deadline"
    return f"{type(exc).__name__}: {exc}"


def _send_webhook(cfg, alerts: list[dict], key: str) -> None:
    """POST the alerts as one JSON body with an ``Idempotency-Key`` header (also in the body);
    raise DeliveryFailed if the request did not get through or was answered with an error,
    DeliveryUnknown if it was sent but no status line came before the deadline."""
    text = "\n".join(f"[{a['severity']}] {a['message']}" for a in alerts)
    body = {
        "text": f"GPU tracker: {len(alerts)} alert(s)\n{text}",
        "idempotency_key": key,
        "alerts": [
            {k: a[k] for k in ("alert_id", "date", "rule", "subject", "severity", "message")}
            | {"payload": json.loads(a["payload"] or "{}")}
            for a in alerts
        ],
    }
    data = json.dumps(body, default=str).encode()
    url = urlsplit(_webhook_url(cfg))
    per_operation = float(cfg["webhook"].get("timeout_seconds", 10))
    total = float(cfg["webhook"].get("deadline_seconds", 30))
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "Content-Length": str(len(data)),
    }
    with _Deadline(total) as deadline:
        conn = conn_cls(url.hostname, url.port, timeout=min(per_operation, deadline.remaining()))
        try:
            try:
                conn.connect()
                deadline.watch(conn.sock)
                conn.request("POST", path, body=data, headers=headers)
            except Exception as exc:  # noqa: BLE001 -- nothing (complete) reached the receiver
                raise DeliveryFailed(_why(exc, deadline)) from None
            try:
                status = conn.getresponse().status
            except Exception as exc:  # noqa: BLE001 -- sent: it may have arrived
                raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
        finally:
            conn.close()
    if status >= 300:
        raise DeliveryFailed(f"webhook answered HTTP {status}")


def _send_email(cfg, alerts: list[dict], key: str) -> None:
    """One message with every alert (``Message-ID`` derived from the idempotency key, so a mail
    system can drop a resend); DeliveryFailed before the message was handed over or when the
    server rejected it, DeliveryUnknown when the connection died or the deadline passed while
    the message was being transferred."""
    e = cfg["email"]
    msg = EmailMessage()
    msg["Subject"] = f"GPU tracker: {len(alerts)} alert(s)"
    msg["From"] = e.get("from_addr") or e.get("username") or "gpu-tracker@localhost"
    msg["To"] = ", ".join(e["to"])
    msg["Message-ID"] = f"<{key}@gpu-tracker>"
    msg.set_content(
        "\n\n".join(f"[{a['severity']}] {a['rule']} {a['subject']}\n{a['message']}" for a in alerts)
    )
    per_operation = float(e.get("timeout_seconds", 10))
    password = os.environ.get("GPU_TRACKER_SMTP_PASSWORD", "")
    if e.get("username"):
        # an SMTP server that echoes the AUTH line quotes base64(user/password): redact those too
        register_login(str(e["username"]), "GPU_TRACKER_SMTP_PASSWORD")
    smtp_cls = smtplib.SMTP_SSL if e.get("ssl") else smtplib.SMTP
    with _Deadline(float(e.get("deadline_seconds", 60))) as deadline:
        smtp = None
        try:
            smtp = smtp_cls(timeout=min(per_operation, deadline.remaining()))
            smtp.connect(e["host"], int(e["port"]))
            deadline.watch(smtp.sock)
            if e.get("starttls") and not e.get("ssl"):
                smtp.starttls()
                deadline.watch(smtp.sock)
            if e.get("username") and password:
                smtp.login(e["username"], password)
        except Exception as exc:  # noqa: BLE001 -- the message was not handed over
            raise DeliveryFailed(_why(exc, deadline)) from None
        try:
            smtp.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryFailed(_why(exc, deadline)) from None
        except smtplib.SMTPResponseException as exc:
            if deadline.expired:
                raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
            raise DeliveryFailed(_why(exc, deadline)) from None  # the server answered: rejected
        except Exception as exc:  # noqa: BLE001 -- cut during the transfer: it may have arrived
            raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
        finally:
            try:
                smtp.close()
            except Exception:  # noqa: BLE001,S110 -- closing a dead connection
                pass


_SENDERS = {"webhook": _send_webhook, "email": _send_email}


def _csv_set(text: str | None) -> list[str]:
    return [x for x in (text or "").split(",") if x]


def send_pending(cfg, alerts: list[dict]) -> dict[str, dict[str, str]]:
    """Send claimed alerts to every configured channel that does not have them -- with no
    warehouse lock held. Returns {alert_id: {channel: "delivered" | "failed: ..." |
    "unknown: ..."}} for the channels attempted.

    Policy for "unknown" (sent, no answer before the deadline): the alert is *not* sent again
    on the next run -- a receiver without deduplication would show it twice. It stays pending
    (``gpu-tracker alerts`` exits 1, ``marts.alerts.delivery_unknown`` names the channel)
    for an operator to check the receiver. With ``[alerts.webhook] resend_unknown = true``
    (for a receiver that dedupes on the ``Idempotency-Key`` header or the alerts' ids) it is
    resent in the same batch with the same key. "failed" alerts are retried on every run."""
    outcomes: dict[str, dict[str, str]] = {a["alert_id"]: {} for a in alerts}
    secrets = [_webhook_url(cfg), os.environ.get("GPU_TRACKER_SMTP_PASSWORD", "")]
    install_log_redaction()  # urllib3/http.client debug output could quote the webhook's token path
    for channel in channels(cfg):
        todo = [a for a in alerts if channel not in _csv_set(a["channels_delivered"])]
        if channel == "log":
            for a in todo:
                log.warning("ALERT %s", a["message"])
                outcomes[a["alert_id"]][channel] = "delivered"
            continue
        fresh = [a for a in todo if channel not in _csv_set(a["delivery_unknown"])]
        batches = [(delivery_key([a["alert_id"] for a in fresh]), fresh)] if fresh else []
        if channel == "webhook" and cfg["webhook"].get("resend_unknown"):
            fresh_ids = {a["alert_id"] for a in fresh}
            unknown = [a for a in todo if a["alert_id"] not in fresh_ids]
            for key in dict.fromkeys(
                a["delivery_key"] or delivery_key([a["alert_id"]]) for a in unknown
            ):
                batches.append(
                    (
                        key,
                        [
                            a
                            for a in unknown
                            if (a["delivery_key"] or delivery_key([a["alert_id"]])) == key
                        ],
                    )
                )
        for key, batch in batches:
            try:
                _SENDERS[channel](cfg, batch, key)
                outcome = "delivered"
            except DeliveryUnknown as exc:
                outcome = f"unknown: {exc}"
            except DeliveryFailed as exc:
                outcome = f"failed: {exc}"
            if outcome != "delivered":
                outcome = (
                    outcome.split(": ", 1)[0] + ": " + _redact(outcome.split(": ", 1)[1], secrets)
                )
                log.error("alert delivery %s", _redact(f"{channel} {outcome}", secrets))
            for a in batch:
                outcomes[a["alert_id"]][channel] = outcome
                if channel == "webhook":
                    a["delivery_key"] = key
    return outcomes
