"""Stage 3c: the admin is told, once, when a mailbox cannot be read or the outbox is stuck for
too long (``[alerts]``), and once more when it recovers.

An open alert is a row ``alert:{mailbox}:{alarm}`` in ``timer_firings`` (UNIQUE key) whose
``fired_at`` is when the trouble began. Opening inserts the row and queues the alert in one
transaction; recovering deletes the row and queues the recovery mail in one transaction, its
outbox cause carrying the row's ``fired_at``. So a restart, or a second daemon on the same
database, never mails twice: the row says the admin was told, and only the transaction that
deleted it mails the recovery. A crash between the two halves of either undoes both.

What trouble is differs by alarm. A mailbox is in trouble from its first failed read until the
next good one (the daemon keeps ``failing_since``; a restarted daemon starts counting afresh,
so it alerts no earlier, but an alert already open stays open until a read succeeds). The
outbox is in trouble while its oldest queued mail has waited longer than the threshold
(younger mail is mail on its way); that is read from the database, so it is the same for
every daemon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.render.renderer import local_time
from maild.render.views import AlertView
from maild.service.health import alert_key, alert_kind
from maild.service.mailer import Mailer
from maild.sop.phrases import duration
from maild.sop.vocabulary import Alarm, MailState
from maild.store.db import transaction
from maild.store.models import OutgoingMail, TimerFiring
from maild.store.queries import insert_ignore

log = logging.getLogger(__name__)

# What the alert's Message-ID carries in place of a ticket number: a reply to it proves nothing
# about any ticket (sop.proof).
TOPIC = "alert"


@dataclass(frozen=True)
class AlertSettings:
    admin_address: str  # empty: no alerts
    mailbox_after: timedelta
    outbox_after: timedelta
    relay: str  # where mail goes out (the transport's description), named in the outbox alert


@dataclass(frozen=True)
class MailboxLook:
    """The daemon's last look at one mailbox: since when its reads fail (None: the last read
    worked) and the last error."""

    name: str
    source: str
    failing_since: datetime | None
    error: str = ""


@dataclass(frozen=True)
class Trouble:
    """One alarm's state now: since when it is in trouble (None: it is not) and the last error."""

    since: datetime | None
    error: str = ""


class Verdict(Enum):
    """What one look decides for one alarm."""

    NOTHING = "nothing"
    OPEN = "open"
    CLOSE = "close"


def decide(opened: bool, trouble: Trouble, now: datetime, after: timedelta) -> Verdict:
    """Open an alert when trouble has lasted ``after``; close an open one when trouble is over."""
    if not opened:
        late = trouble.since is not None and now - trouble.since >= after
        return Verdict.OPEN if late else Verdict.NOTHING
    return Verdict.CLOSE if trouble.since is None else Verdict.NOTHING


def open_alerts(session: Session, mailbox: str) -> dict[Alarm, datetime]:
    """The alarms open for ``mailbox``, with when their trouble began (by the UNIQUE key's index)."""
    keys = {alert_key(mailbox, alarm): alarm for alarm in Alarm}
    rows = session.execute(select(TimerFiring.key, TimerFiring.fired_at).where(TimerFiring.key.in_(keys)))
    return {keys[key]: fired_at for key, fired_at in rows}


class Alerts:
    """Looks at the mailbox and the outbox at every tick and mails the admin on a change."""

    def __init__(self, factory: sessionmaker[Session], mailer: Mailer, settings: AlertSettings, clock: Clock) -> None:
        self.factory = factory
        self.mailer = mailer
        self.settings = settings
        self.clock = clock

    def run_once(self, mailbox: MailboxLook) -> int:
        """Open or close the alerts of ``mailbox`` and of the outbox; return how many mails were queued."""
        s = self.settings
        if not s.admin_address:
            return 0
        now = self.clock()
        queued = 0
        with transaction(self.factory) as session:
            opened = open_alerts(session, mailbox.name)
            for alarm, trouble, after, source in (
                (Alarm.MAILBOX, Trouble(mailbox.failing_since, mailbox.error), s.mailbox_after, mailbox.source),
                (Alarm.OUTBOX, self._outbox(session, now), s.outbox_after, s.relay),
            ):
                verdict = decide(alarm in opened, trouble, now, after)
                if verdict is Verdict.OPEN:
                    queued += self._open(session, mailbox.name, alarm, trouble, source, now)
                elif verdict is Verdict.CLOSE:
                    queued += self._close(session, mailbox.name, alarm, opened[alarm], source, now)
        return queued

    def _outbox(self, session: Session, now: datetime) -> Trouble:
        """The outbox is in trouble while its oldest queued mail has waited ``outbox_after``."""
        oldest = session.execute(
            select(OutgoingMail.created_at, OutgoingMail.last_error)
            .where(OutgoingMail.state == MailState.QUEUED, OutgoingMail.mailbox == self.mailer.settings.identity.mailbox)
            .order_by(OutgoingMail.created_at, OutgoingMail.id).limit(1)).first()
        if oldest is None or now - oldest.created_at < self.settings.outbox_after:
            return Trouble(None)
        return Trouble(oldest.created_at, oldest.last_error or "")

    def _open(self, session: Session, mailbox: str, alarm: Alarm, trouble: Trouble, source: str,
              now: datetime) -> int:
        assert trouble.since is not None  # decide() opens only on trouble
        key = alert_key(mailbox, alarm)
        if not insert_ignore(session, TimerFiring, {"key": key, "ticket_id": None, "kind": alert_kind(alarm),
                                                    "fired_at": trouble.since}, ["key"]):
            return 0  # another daemon opened it first
        view = self._view(session, mailbox, alarm, trouble.since, trouble.error, source, now)
        cause = f"{key}:{trouble.since.isoformat()}"
        sent = self.mailer.queue_notice(session, "alert", self.settings.admin_address, "", view, cause, TOPIC, now,
                                        automatic=False)
        if alarm is Alarm.OUTBOX:
            # This alert is queued in the very outbox that is stuck: it leaves only when the relay
            # takes mail again (possibly together with its recovery). The log, `maild status` and
            # the metrics endpoint show the open alert meanwhile.
            log.error("ALERT: outgoing mail stuck since %s (relay %s: %s); the alert to %s waits in the same "
                      "outbox and may not leave until the relay works: see 'maild status' and the metrics",
                      trouble.since.isoformat(), source, trouble.error or "-", self.settings.admin_address)
        else:
            log.error("ALERT: mailbox %s (%s) cannot be read since %s: %s; %s", mailbox, source,
                      trouble.since.isoformat(), trouble.error or "-",
                      f"mailed {self.settings.admin_address}" if sent else "no alert mail queued")
        return int(sent)

    def _close(self, session: Session, mailbox: str, alarm: Alarm, since: datetime, source: str,
               now: datetime) -> int:
        key = alert_key(mailbox, alarm)
        # Only the transaction that deletes the row mails: a second daemon finds it gone. Matching
        # fired_at too, a daemon that looked before a newer outage opened never closes that one.
        if session.execute(delete(TimerFiring).where(TimerFiring.key == key, TimerFiring.fired_at == since)
                           .returning(TimerFiring.id)).first() is None:
            return 0
        view = self._view(session, mailbox, alarm, since, "", source, now)
        sent = self.mailer.queue_notice(session, "alert_recovered", self.settings.admin_address, "", view,
                                        f"{key}:{since.isoformat()}", TOPIC, now, automatic=False)
        log.warning("RECOVERED: %s %s after %s (since %s)", alarm, mailbox, duration(now - since, "en"),
                    since.isoformat())
        return int(sent)

    def _view(self, session: Session, mailbox: str, alarm: Alarm, since: datetime, error: str, source: str,
              now: datetime) -> AlertView:
        m = self.mailer.settings
        waiting = session.scalar(select(func.count(OutgoingMail.id)).where(
            OutgoingMail.state == MailState.QUEUED, OutgoingMail.mailbox == mailbox))
        return AlertView(
            helpdesk_name=m.identity.name, helpdesk_address=m.identity.address, recipient_name="",
            mailbox=mailbox, what=alarm, since=local_time(since, m.timezone, m.language),
            lasted=duration(now - since, m.language), error=error, queued=int(waiting or 0), source=source,
        )
