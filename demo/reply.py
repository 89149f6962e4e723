"""Write a staff member's reply to the mail maild sent them, as their mail client would:
``reply.py SENT_MAILDIR INBOX_MAILDIR ADDRESS BODY``. It answers the newest mail sent to
ADDRESS (In-Reply-To its Message-ID, which proves the reply came from them)."""

from __future__ import annotations

import email
import sys
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from maild.transport.maildir import deliver


def main(sent: str, inbox: str, address: str, body: str) -> None:
    mails = sorted((p for p in (Path(sent) / "new").iterdir()), key=lambda p: p.stat().st_mtime)
    ours = [m for m in (email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in mails)
            if address in str(m["To"])]
    notice = ours[-1]
    reply = EmailMessage()
    reply["From"] = f"{notice['To']}"
    reply["To"] = str(notice["From"])
    reply["Subject"] = f"Re: {notice['Subject']}"
    reply["Date"] = formatdate(localtime=True)
    reply["Message-ID"] = make_msgid(domain=address.partition("@")[2])
    reply["In-Reply-To"] = notice["Message-ID"]
    reply["References"] = " ".join(filter(None, (str(notice.get("References", "")), notice["Message-ID"])))
    reply.set_content(body)
    deliver(Path(inbox), reply.as_bytes())


if __name__ == "__main__":
    main(*sys.argv[1:5])
