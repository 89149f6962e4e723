"""The Prometheus endpoint of ``maild run`` (``[metrics]``), on its own registry.

What the database knows (the outbox, dead and waiting messages, messages by disposition, SLA
levels missed) is read at scrape time by ``DatabaseCollector``, so it is always current and
the same whichever process did the work; a restart loses nothing. What only the running loop
knows (the pipeline's latency, the acknowledgements' latency, whether the mailbox answers) is
kept in ``Metrics``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from maild.base.clock import Clock
from maild.base.config import metrics_address
from maild.base.errors import ConfigError
from maild.base.settings import Settings
from maild.service import health
from maild.base.settings import DEFAULT_MAILBOX
from maild.sop.vocabulary import Alarm
from maild.stages.sender import Delivered
from maild.store.db import transaction

log = logging.getLogger(__name__)

# A batch of the pipeline takes from a few milliseconds (one reply) to minutes (hundreds of
# reports with attachments after an outage).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# A report is acknowledged within seconds while the servers answer; minutes when the mailbox
# is polled; hours when the relay refuses mail.
ACK_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class DatabaseCollector(Collector):
    """The figures read from the database at each scrape (``service.health.queues``)."""

    def __init__(self, factory: Callable[[], sessionmaker[Session] | None], clock: Clock) -> None:
        self._factory = factory
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("maild_database_up", "1 when the last scrape could read the database.")
        factory = self._factory()
        if factory is None:
            up.add_metric([], 0)
            yield up
            return
        try:
            with transaction(factory) as session:
                q = health.queues(session, self._clock())
                boxes = health.mailbox_health(session, ())
        except SQLAlchemyError as exc:
            log.warning("metrics: database unreachable: %s", getattr(exc, "orig", None) or exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        for name, text, value in (
            ("maild_outbox_queued", "Outgoing mail waiting to be sent.", q.mail_queued),
            ("maild_outbox_failed", "Outgoing mail given up on (needs 'maild outbox retry').", q.mail_failed),
            ("maild_outbox_oldest_queued_seconds", "How long the oldest queued mail has waited (0: none).",
             q.oldest_queued_seconds),
            ("maild_messages_waiting", "Messages received and waiting for the pipeline.", q.messages_waiting),
            ("maild_messages_dead", "Messages quarantined after failing (needs 'maild dead').", q.messages_dead),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        messages = CounterMetricFamily("maild_messages", "Messages the pipeline has handled, by disposition.",
                                       labels=["disposition"])
        for disposition, count in sorted(q.dispositions.items()):
            messages.add_metric([disposition], count)
        yield messages
        breaches = CounterMetricFamily("maild_sla_breaches", "SLA targets missed, by level (response, "
                                       "resolution, head).", labels=["level"])
        for level, count in sorted(q.sla_breaches.items()):
            breaches.add_metric([level], count)
        yield breaches
        alerts = GaugeMetricFamily("maild_alert_open", "1 while the admin has been mailed about trouble that has "
                                   "not recovered ([alerts]), by mailbox and alarm (mailbox, outbox).",
                                   labels=["mailbox", "alarm"])
        opened = {(a.mailbox, str(a.alarm)) for a in q.alerts}
        for mailbox, alarm in sorted(opened | {(DEFAULT_MAILBOX, str(a)) for a in Alarm}):
            alerts.add_metric([mailbox, alarm], 1 if (mailbox, alarm) in opened else 0)
        yield alerts
        yield from mailbox_families(boxes, self._clock())


def mailbox_families(boxes: tuple[health.MailboxHealth, ...], now: datetime) -> Iterator[Metric]:
    """Per mailbox: its open tickets, its queued mail (the totals stay ``maild_outbox_queued``),
    and which daemon holds its lease (1 while held, the holder as a label)."""
    tickets = GaugeMetricFamily("maild_mailbox_tickets_open", "Open tickets, by mailbox.", labels=["mailbox"])
    queued = GaugeMetricFamily("maild_mailbox_outbox_queued", "Outgoing mail waiting to be sent, by mailbox.",
                               labels=["mailbox"])
    lease = GaugeMetricFamily("maild_mailbox_lease", "1 for the daemon holding the mailbox's lease (it reads "
                              "the mailbox); no sample while nobody holds it.", labels=["mailbox", "holder"])
    for box in boxes:
        tickets.add_metric([box.name], box.tickets_open)
        queued.add_metric([box.name], box.mail_queued)
        if box.lease_holder is not None and box.lease_expires_at is not None and box.lease_expires_at >= now:
            lease.add_metric([box.name, box.lease_holder], 1)
    yield from (tickets, queued, lease)


@dataclass
class Metrics:
    """The daemon's metrics on a registry of its own (no global state); ``factory`` is the
    session factory the collector reads with (replaced when the daemon reloads)."""

    clock: Clock
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))
    factory: sessionmaker[Session] | None = None

    def __post_init__(self) -> None:
        self.pipeline_seconds = Histogram("maild_pipeline_batch_seconds", "Time the pipeline took for one batch "
                                          "of messages (batches with work only).", buckets=LATENCY_BUCKETS,
                                          registry=self.registry)
        self.ack_seconds = Histogram("maild_ack_latency_seconds", "From a report's arrival (received_at) to its "
                                     "acknowledgement handed to the SMTP server.", buckets=ACK_BUCKETS,
                                     registry=self.registry)
        self.mailbox_up = Gauge("maild_mailbox_up", "1 when the mailbox answered at the last look, 0 while it "
                                "fails; by mailbox, for the mailboxes this daemon reads (holds the lease of).",
                                ["mailbox"], registry=self.registry)
        self.registry.register(DatabaseCollector(lambda: self.factory, self.clock))

    def delivered(self, mail: Delivered) -> None:
        """The sender's word that the SMTP server took a mail: acknowledgements are timed."""
        if mail.report_received_at is not None:
            self.ack_seconds.observe(max(0.0, (mail.sent_at - mail.report_received_at).total_seconds()))


@dataclass
class Endpoint:
    """A running metrics endpoint."""

    server: WSGIServer
    thread: threading.Thread

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def serve(settings: Settings, metrics: Metrics) -> Endpoint:
    """Serve ``metrics`` on ``metrics.listen`` (checked by the config: loopback unless allowed)."""
    host, port = metrics_address(settings)
    try:
        server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"metrics.listen: cannot listen on {settings.metrics.listen}: {exc.strerror}") from None
    log.info("metrics on http://%s/metrics", settings.metrics.listen)
    return Endpoint(server, thread)
