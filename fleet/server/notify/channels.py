"""Senders: a webhook POST (httpx) and an e-mail (smtplib). Each raises on failure so
the engine records the error and retries; nothing here decides what to send."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx

from fleet.server.notify.config import EmailChannel, WebhookChannel


class DeliveryError(Exception):
    """A channel could not deliver (the message says why, for the history page)."""


def send_webhook(channel: WebhookChannel, payload: dict[str, Any]) -> None:
    try:
        response = httpx.post(channel.url, json=payload, headers=channel.headers, timeout=channel.timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {channel.url}: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"webhook {channel.url}: HTTP {response.status_code}")


def email_message(channel: EmailChannel, payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to)
    msg["Subject"] = payload["subject"]
    msg["X-Kiosk-Alert-Id"] = str(payload["alert_id"])
    msg.set_content(payload["text"])
    return msg


def send_email(channel: EmailChannel, payload: dict[str, Any]) -> None:
    password = os.environ.get(channel.password_env) if channel.password_env else None
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s) as smtp:
            if channel.starttls:
                smtp.starttls()
            if channel.username and password is not None:
                smtp.login(channel.username, password)
            smtp.send_message(email_message(channel, payload))
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail via {channel.host}:{channel.port}: {exc.__class__.__name__}: {exc}") from exc


def send(channel: WebhookChannel | EmailChannel, payload: dict[str, Any]) -> None:
    if isinstance(channel, WebhookChannel):
        send_webhook(channel, payload)
    else:
        send_email(channel, payload)
