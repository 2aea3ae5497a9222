"""A real SMTP server on the loopback interface that records what it receives."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from notifications.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    """aiosmtpd handler keeping every message, parsed with the default policy."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        # address -> SMTP reply refusing it, e.g. "451 4.3.0 try later"
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


class SmtpServer:
    """Start, stop and restart a recording SMTP server on a fixed free port."""

    def __init__(self):
        self.port = free_port()
        self.recorder = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    def message_ids(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.messages)

    def settings(self, **overrides) -> Settings:
        values = dict(
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            smtp_timeout=5,
            base_url="https://kaikaku.example.jp",
            secret_key="test-secret-key",
            mail_from="Kaikaku 行政改革事務局 <kaikaku@city.iruma.example.jp>",
        )
        values.update(overrides)
        return Settings(**values)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
