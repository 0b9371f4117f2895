"""Reminders and documents: digests and notices rendered from Jinja2 templates (the campaign's language
only), delivery through the outbox to channels (SMTP, DingTalk, WeCom, Feishu, webhooks, a JSON-lines
file) with retries, and the report builders (XLSX, CSV, JSON, HTML, PDF, SVG/PNG).

May import campaign_model (and its store); never flows or campaign_app. Settings reach it as values
(notifications/settings.py declares its own), never by importing the app.
"""
