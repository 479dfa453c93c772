"""Alert notifications: rules over the alerts table, delivered by webhook and e-mail.

`config` (what to send where: channels, rules, quiet hours, escalation), `channels`
(the webhook and SMTP senders), `engine` (the notifier thread: which alert needs which
delivery now, de-duplicated by the `notifications` table). docs/fleet-server.md
"Notifications" shows a configuration.
"""
