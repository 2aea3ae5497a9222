"""A local SMTP server for development that keeps every message as a .eml file."""

from __future__ import annotations

import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from itertools import count
from pathlib import Path

from aiosmtpd.controller import Controller

_numbers = count(1)


class MailboxHandler:
    """aiosmtpd handler writing each received message to `folder`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:
        name = f"{time.time_ns()}-{next(_numbers):05d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def start_catcher(folder: str | Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the catcher in a background thread; `.stop()` it when done."""
    controller = Controller(MailboxHandler(folder), hostname=host, port=port)
    try:
        controller.start()
    except OSError:
        # aiosmtpd leaves its event loop open when it cannot bind (the port is in use).
        controller.loop.close()
        raise
    return controller


def read_mailbox(folder: str | Path, limit: int = 200) -> list[tuple[str, EmailMessage]]:
    """The newest messages of the folder as (file name, parsed message)."""
    path = Path(folder)
    if not path.is_dir():
        return []
    files = sorted(path.glob("*.eml"), reverse=True)[:limit]
    return [(f.name, message_from_bytes(f.read_bytes(), policy=default)) for f in files]
