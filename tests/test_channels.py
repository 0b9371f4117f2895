"""Delivery channels against real peers on loopback: aiosmtpd for email, an HTTP server for robots and webhooks."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from campaign_model.errors import InvalidInput
from notifications.channels.base import DeliveryError, Message
from notifications.channels.email import EmailChannel
from notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from notifications.channels.webhook import WebhookChannel, redact_url
from notifications.config import build_channels, load_channels
from tests.loopback import LoopbackHTTP, LoopbackSMTP, free_port

SENDER = "县教育局 <robot@example.cn>"
PASSWORD = "s3cret-pw-0042"


def message(**changes) -> Message:
    base = Message(message_id="small-2023.s1.20230220", campaign="small-2023", recipient="s1",
                   recipient_name="第一小学", emails=["s1@example.cn", "head@example.cn"], phones=["13800000001"],
                   subject="【提醒】2023年作风整顿：实施方案 即将到期", text="第一小学：\n实施方案 2月24日到期。",
                   markdown="### 第一小学\n- 实施方案 **2月24日** 到期", html="<p>第一小学：实施方案 2月24日到期。</p>",
                   at_iso="2023-02-20T09:00:00+08:00", items=[{"artifact": "plan", "kind": "before"}])
    return dataclasses.replace(base, **changes)


def mailer(server: LoopbackSMTP, **kwargs) -> EmailChannel:
    kwargs.setdefault("sender", SENDER)
    kwargs.setdefault("ssl_context", server.client_context)
    return EmailChannel("mail", "127.0.0.1", server.port, server.security, **kwargs)


# --- email


def test_email_with_chinese_subject_plain_and_html_parts():
    with LoopbackSMTP() as server:
        channel = mailer(server)
        channel.send(message())
        channel.close()
    [got] = server.received
    assert got.mail_from == "robot@example.cn"
    assert got.rcpt_tos == ["s1@example.cn", "head@example.cn"]
    assert b"=?utf-8?" in got.content  # RFC 2047: the raw header is ASCII
    [mail] = server.messages
    assert mail["Subject"] == message().subject
    assert mail["From"].addresses[0].display_name == "县教育局"
    assert [a.addr_spec for a in mail["To"].addresses] == ["s1@example.cn", "head@example.cn"]
    assert mail["Message-ID"] == "<small-2023.s1.20230220.campaignflow@example.cn>"
    assert mail["Date"].datetime.isoformat() == "2023-02-20T09:00:00+08:00"
    assert mail.get_content_type() == "multipart/alternative"
    # on the wire every line ends in CRLF, as SMTP requires
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == message().text
    assert mail.get_body(("html",)).get_content().strip() == message().html


def test_same_message_id_gives_same_header_and_plain_mail_has_one_part():
    with LoopbackSMTP() as server:
        channel = mailer(server)
        channel.send(message(html=None))
        channel.send(message(html=None))  # a repeat after a crash: recognisably the same message
        channel.close()
    first, second = server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first.get_content_type() == "text/plain"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(security):
    with LoopbackSMTP(security=security, users={"robot@example.cn": PASSWORD}) as server:
        channel = mailer(server, username="robot@example.cn", password=PASSWORD)
        channel.send(message())
        channel.close()
    assert [r.login for r in server.received] == ["robot@example.cn"]


def test_wrong_password_is_permanent_and_not_repeated():
    with LoopbackSMTP(security="starttls", users={"robot@example.cn": PASSWORD}) as server:
        channel = mailer(server, username="robot@example.cn", password="wrong-password-123")
        with pytest.raises(DeliveryError) as err:
            channel.send(message())
        channel.close()
    assert err.value.retryable is False
    assert "535" in str(err.value) and "wrong-password-123" not in str(err.value)
    assert server.received == []


def test_untrusted_certificate_is_refused_unless_verification_is_off():
    with LoopbackSMTP(security="ssl") as server:
        strict = EmailChannel("mail", "127.0.0.1", server.port, "ssl", sender=SENDER)
        with pytest.raises(DeliveryError) as err:
            strict.send(message())
        lax = EmailChannel("mail", "127.0.0.1", server.port, "ssl", sender=SENDER, verify=False)
        lax.send(message())
        lax.close()
    assert err.value.retryable is False and "certificate" in str(err.value)
    assert len(server.received) == 1


def test_connection_refused_is_retryable():
    channel = EmailChannel("mail", "127.0.0.1", free_port(), "none", sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError) as err:
        channel.send(message())
    assert err.value.retryable is True


@pytest.mark.parametrize("reply, retryable", [("550 5.1.1 no such user", False), ("450 4.2.1 try later", True)])
def test_refused_recipient(reply, retryable):
    with LoopbackSMTP() as server:
        server.refuse = {"s1@example.cn": reply, "head@example.cn": reply}
        channel = mailer(server)
        with pytest.raises(DeliveryError) as err:
            channel.send(message())
        server.refuse = {}
        channel.send(message())  # the connection survives a refused transaction
        channel.close()
    assert err.value.retryable is retryable and "s1@example.cn" in str(err.value)
    assert len(server.received) == 1 and server.connections == 1


@pytest.mark.parametrize("reply", ["550 5.1.1 no such user", "450 4.2.1 try later"])
def test_partly_refused_is_reported_not_retried(reply):
    with LoopbackSMTP() as server:
        server.refuse = {"head@example.cn": reply}
        channel = mailer(server)
        with pytest.raises(DeliveryError) as err:
            channel.send(message())
        channel.close()
    assert err.value.retryable is False and "head@example.cn" in str(err.value)
    assert [r.rcpt_tos for r in server.received] == [["s1@example.cn"]]


def test_one_connection_serves_many_sends():
    with LoopbackSMTP(security="starttls", users={"robot@example.cn": PASSWORD}) as server:
        channel = mailer(server, username="robot@example.cn", password=PASSWORD)
        for i in range(3):
            channel.send(message(message_id=f"m{i}"))
        channel.close()
    assert server.connections == 1
    assert [r.connection for r in server.received] == [1, 1, 1]


def test_reconnects_once_after_the_server_dropped_an_idle_connection():
    with LoopbackSMTP(idle_timeout=0.2) as server:
        channel = mailer(server)
        channel.send(message(message_id="m1"))
        time.sleep(0.5)
        channel.send(message(message_id="m2"))
        channel.close()
    assert [r.connection for r in server.received] == [1, 2]


def test_no_address_is_not_accepted():
    channel = EmailChannel("mail", "127.0.0.1", 25, "none", sender=SENDER)
    assert channel.accepts(message()) and not channel.accepts(message(emails=[]))
    with pytest.raises(DeliveryError) as err:
        channel.send(message(emails=[]))
    assert err.value.retryable is False


# --- chat robots


@pytest.fixture
def http():
    with LoopbackHTTP() as server:
        yield server


def dingtalk_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_dingtalk_signed_markdown(http):
    secret = "SEC0123456789abcdef"

    def dingtalk(request):  # verifies as DingTalk does: recompute the signature from the timestamp
        ok = request.query["sign"] == dingtalk_sign(secret, request.query["timestamp"])
        return 200, {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign not match"}

    http.responder = dingtalk
    before = time.time() * 1000
    robot = DingTalkRobot("county-group", http.url("/robot/send?access_token=tok-abc-123"), secret)
    robot.send(message())
    robot.close()
    [request] = http.requests
    assert request.path == "/robot/send" and request.query["access_token"] == "tok-abc-123"
    assert before - 1000 <= int(request.query["timestamp"]) <= time.time() * 1000
    assert request.json["msgtype"] == "markdown"
    assert request.json["markdown"]["title"] == message().subject
    assert request.json["markdown"]["text"].startswith(message().markdown)
    assert "@13800000001" in request.json["markdown"]["text"]
    assert request.json["at"]["atMobiles"] == ["13800000001"]


@pytest.mark.parametrize("errcode, retryable", [(310000, False), (130101, True), (-1, True), (300001, False)])
def test_dingtalk_error_codes(http, errcode, retryable):
    http.reply(200, {"errcode": errcode, "errmsg": "refused"})
    robot = DingTalkRobot("county-group", http.url("/robot/send?access_token=tok-abc-123"), "SEC-secret-value")
    with pytest.raises(DeliveryError) as err:
        robot.send(message())
    robot.close()
    assert err.value.retryable is retryable and str(errcode) in str(err.value)
    assert "tok-abc-123" not in str(err.value) and "SEC-secret-value" not in str(err.value)
    assert "access_token" not in str(err.value)


def test_wecom_markdown_and_rate_limit(http):
    robot = WeComRobot("wecom-group", http.url("/cgi-bin/webhook/send?key=wecom-key-0001"))
    robot.send(message())
    assert http.requests[0].json == {"msgtype": "markdown", "markdown": {"content": message().markdown}}
    assert http.requests[0].query == {"key": "wecom-key-0001"}
    http.reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    with pytest.raises(DeliveryError) as err:
        robot.send(message())
    robot.close()
    assert err.value.retryable is True and "wecom-key-0001" not in str(err.value)


def test_wecom_truncates_by_bytes(http):
    robot = WeComRobot("wecom-group", http.url("/cgi-bin/webhook/send?key=k"))
    robot.send(message(markdown="督" * 3000))  # 9000 bytes in UTF-8
    robot.close()
    assert len(http.requests[0].json["markdown"]["content"].encode()) <= 4096


def test_feishu_signed_text(http):
    secret = "feishu-secret-42"

    def feishu(request):
        key = f"{request.json['timestamp']}\n{secret}".encode()
        ok = request.json["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        return 200, {"code": 0, "msg": "success"} if ok else {"code": 19021, "msg": "sign match fail"}

    http.responder = feishu
    hook = "/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    robot = FeishuRobot("feishu-group", http.url(hook), secret)
    robot.send(message())
    [request] = http.requests
    assert request.json["msg_type"] == "text"
    assert request.json["content"]["text"] == f"{message().subject}\n{message().text}"
    assert abs(int(request.json["timestamp"]) - time.time()) < 5
    http.responder = lambda request: (200, {"code": 19021, "msg": "sign match fail"})
    with pytest.raises(DeliveryError) as err:
        robot.send(message())
    robot.close()
    assert err.value.retryable is False and "0a1b2c3d" not in str(err.value)


def test_feishu_rate_limit_is_retryable(http):
    http.reply(200, {"code": 11232, "msg": "frequency limited"})
    robot = FeishuRobot("feishu-group", http.url("/open-apis/bot/v2/hook/x"))
    with pytest.raises(DeliveryError) as err:
        robot.send(message())
    robot.close()
    assert err.value.retryable is True


def test_robots_take_only_their_units():
    everyone = WeComRobot("all", "http://127.0.0.1:9/x")
    some = DingTalkRobot("district", "http://127.0.0.1:9/x", units=["s2", "d1"])
    assert everyone.accepts(message())
    assert some.accepts(message(recipient="d1")) and not some.accepts(message())


# --- webhook


def test_webhook_is_signed_over_timestamp_and_body(http):
    secret = "whsec-ops-9876"

    def receiver(request):
        timestamp = request.headers["x-campaignflow-timestamp"]
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
        ok = request.headers["x-campaignflow-signature"] == f"sha256={expected}"
        return (204, b"") if ok else (401, {"error": "bad signature"})

    http.responder = receiver
    hook = WebhookChannel("ops", http.url("/campaignflow"), secret)
    hook.send(message())
    hook.close()
    [request] = http.requests
    assert request.json == dataclasses.asdict(message())
    assert request.headers["x-campaignflow-message-id"] == message().message_id
    assert abs(int(request.headers["x-campaignflow-timestamp"]) - time.time()) < 5


@pytest.mark.parametrize("status, retryable", [(503, True), (429, True), (400, False), (404, False)])
def test_webhook_status_codes(http, status, retryable):
    http.reply(status, {"error": "no"})
    hook = WebhookChannel("ops", http.url("/campaignflow?token=hook-token-77"), "whsec-ops-9876")
    with pytest.raises(DeliveryError) as err:
        hook.send(message())
    hook.close()
    assert err.value.retryable is retryable and str(status) in str(err.value)
    assert "hook-token-77" not in str(err.value) and "whsec-ops-9876" not in str(err.value)


def test_webhook_connection_refused_is_retryable():
    hook = WebhookChannel("ops", f"http://127.0.0.1:{free_port()}/x?token=hook-token-77", "whsec-ops-9876")
    with pytest.raises(DeliveryError) as err:
        hook.send(message())
    hook.close()
    assert err.value.retryable is True and "hook-token-77" not in str(err.value)


# --- secrets


def test_repr_shows_name_and_kind_only():
    channels = [EmailChannel("mail", "smtp.example.cn", 465, "ssl", "robot@example.cn", PASSWORD, sender=SENDER),
                DingTalkRobot("dt", "https://oapi.dingtalk.com/robot/send?access_token=tok-abc-123", "SEC-xyz-1"),
                WeComRobot("wc", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-0001"),
                FeishuRobot("fs", "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789", "fs-secret-1"),
                WebhookChannel("ops", "https://hooks.example.cn/x", "whsec-ops-9876")]
    for channel in channels:
        text = repr(channel)
        assert channel.name in text and channel.kind in text
        for secret in (PASSWORD, "tok-abc-123", "SEC-xyz-1", "wecom-key-0001", "0a1b2c3d", "fs-secret-1",
                       "whsec-ops-9876", "smtp.example.cn"):
            assert secret not in text
        channel.close()


def test_redact_url():
    assert redact_url("https://oapi.dingtalk.com/robot/send?access_token=abc") == "https://oapi.dingtalk.com/robot/send"
    assert redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd") == \
        "https://open.feishu.cn/open-apis/bot/v2/hook/***"
    assert redact_url("https://user:pw@hooks.example.cn:8443/campaignflow#x") == "https://hooks.example.cn:8443/campaignflow"


# --- configuration

CHANNELS_YAML = """\
channels:
  - {name: mail, type: email, host: smtp.example.cn, port: 465, security: ssl, username: robot@example.cn,
     password: "${SMTP_PASSWORD}", sender: "县教育局 <robot@example.cn>"}
  - {name: county-group, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}",
     secret: "${DINGTALK_SECRET}", units: all}
  - {name: district, type: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}",
     units: [d1, s1]}
  - {name: fs, type: feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook/h"}
  - {name: ops, type: webhook, url: "https://hooks.example.cn/campaignflow", secret: "${WEBHOOK_SECRET}"}
"""
ENV = {"SMTP_PASSWORD": "p:w#1", "DINGTALK_TOKEN": "tok-abc-123", "DINGTALK_SECRET": "SEC-xyz-1",
       "WECOM_KEY": "wecom-key-0001", "WEBHOOK_SECRET": "whsec-ops-9876"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_and_build_channels(tmp_path):
    configs = load_channels(write(tmp_path, CHANNELS_YAML), ENV)
    assert [c.name for c in configs] == ["mail", "county-group", "district", "fs", "ops"]
    assert configs[0].password.get_secret_value() == "p:w#1"  # substituted after parsing: ':' and '#' survive
    assert configs[1].url.endswith("access_token=tok-abc-123")
    channels = build_channels(configs)
    assert [c.kind for c in channels] == ["email", "dingtalk", "wecom", "feishu", "webhook"]
    assert channels[2].accepts(message()) and not channels[2].accepts(message(recipient="s2"))
    for config in configs:
        shown = json.dumps(config.safe_dict(), ensure_ascii=False) + repr(config) + str(config)
        assert not any(secret in shown for secret in ENV.values())
    assert configs[0].safe_dict()["password"] == "***"
    assert configs[1].safe_dict()["url"] == "https://oapi.dingtalk.com/robot/send?***"
    for channel in channels:
        channel.close()


def test_file_from_environment(tmp_path):
    path = write(tmp_path, CHANNELS_YAML)
    assert len(load_channels(None, {**ENV, "CAMPAIGN_CHANNELS": str(path)})) == 5
    assert len(load_channels(None, {**ENV, "CAMPAIGN_HOME": str(tmp_path)})) == 5
    assert load_channels(None, {"CAMPAIGN_HOME": str(tmp_path / "elsewhere")}) == []
    with pytest.raises(InvalidInput, match="cannot read"):
        load_channels(None, {"CAMPAIGN_CHANNELS": str(tmp_path / "missing.yaml")})


def test_missing_variable_names_variable_and_channel(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "DINGTALK_SECRET"}
    with pytest.raises(InvalidInput) as err:
        load_channels(write(tmp_path, CHANNELS_YAML), env)
    text = str(err.value)
    assert "DINGTALK_SECRET" in text and "county-group" in text and "channels[1]" in text
    assert text.index("环境变量") < text.index("environment variable")  # Chinese first, English in parentheses


@pytest.mark.parametrize("item, expected", [
    ("{name: x, type: sms, url: 'https://a.cn'}", ["channels[0] (x)", "type", "sms", "unknown channel type"]),
    ("{name: x, type: email, security: ssl}", ["channels[0] (x)", "host", "required field missing"]),
    ("{name: x, type: email, host: h, security: tls}", ["security", "'tls'"]),
    ("{name: x, type: dingtalk}", ["url", "required field missing"]),
    ("{name: x, type: webhook, url: 'ftp://a.cn/x', secret: s}", ["url", "http(s)://"]),
    ("{name: x, type: wecom, url: 'https://a.cn', secret: s}", ["secret", "unknown field"]),
    ("{name: x, type: email, host: h, security: ssl, password: 0123}", ["password", "quote it"]),
    ("{name: x, type: email, host: h, security: ssl, password: 密码}", ["password", "ASCII"]),
])
def test_invalid_settings_name_channel_and_field(tmp_path, item, expected):
    with pytest.raises(InvalidInput) as err:
        load_channels(write(tmp_path, f"channels:\n  - {item}\n"), {})
    for part in expected:
        assert part in str(err.value)


def test_duplicate_names_are_refused(tmp_path):
    text = "channels:\n  - {name: a, type: wecom, url: 'https://a.cn/x'}\n  - {name: a, type: wecom, url: 'https://a.cn/y'}\n"
    with pytest.raises(InvalidInput, match="duplicate channel name"):
        load_channels(write(tmp_path, text), {})
