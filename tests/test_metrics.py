"""The Prometheus endpoint of a real ``maild run``: the figures change as mail flows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import report, run_cli, write_config
from maild.app.daemon import build
from maild.app.metrics import Metrics
from maild.base.clock import FrozenClock
from maild.base.errors import ConfigError
from maild.base.config import load_settings
from maild.transport.maildir import deliver
from servers import SmtpSink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """Every sample of the endpoint, by name and labels (``name{label=value}``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


def wait_until(look: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not look():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_the_figures_change_as_mail_flows(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    maildir, port = tmp_path / "Maildir", free_port()
    config = write_config(tmp_path, {
        "database": {"url": db_url},
        "mailbox": {"url": f"maildir:{maildir}", "poll_interval": 3600},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"},
        "digest": {"enabled": False},
        "metrics": {"enabled": True, "listen": f"127.0.0.1:{port}"},
    }, staff=True)
    run_cli(config, "db", "upgrade")
    log = open(tmp_path / "daemon.log", "ab")  # noqa: SIM115 - the child owns it
    daemon = subprocess.Popen([sys.executable, "-m", "maild", "--config", str(config), "run"],
                              stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        def up() -> bool:
            try:
                return scrape(port).get("maild_mailbox_up{mailbox=default}") == 1
            except OSError:
                return False
        wait_until(up)
        before = scrape(port)
        assert before["maild_database_up"] == 1 and before["maild_outbox_queued"] == 0
        assert "maild_messages_total{disposition=new_ticket}" not in before
        assert before["maild_pipeline_batch_seconds_count"] == 0
        assert before["maild_ack_latency_seconds_count"] == 0

        smtp_sink.mode = "tempfail"  # the acknowledgements cannot leave: the outbox fills and ages
        for i in range(3):
            deliver(maildir, report(sender=f"pelapor{i}@cv-maju.co.id", subject=f"Tidak bisa login {i}").raw)
        wait_until(lambda: scrape(port).get("maild_messages_total{disposition=new_ticket}") == 3)
        during = scrape(port)
        assert during["maild_outbox_queued"] >= 3 and during["maild_outbox_oldest_queued_seconds"] > 0
        assert during["maild_pipeline_batch_seconds_count"] >= 1
        assert during["maild_messages_dead"] == 0 and during["maild_messages_waiting"] == 0
        assert during["maild_ack_latency_seconds_count"] == 0  # not acknowledged until handed to SMTP

        smtp_sink.mode = "ok"
        subprocess.run([sys.executable, "-m", "maild", "--config", str(config), "outbox", "retry"],
                       check=True, capture_output=True, timeout=60)  # due now, not after the back-off
        wait_until(lambda: scrape(port)["maild_outbox_queued"] == 0)
        after = scrape(port)
        assert after["maild_outbox_oldest_queued_seconds"] == 0 and after["maild_outbox_failed"] == 0
        assert len(smtp_sink.messages) >= 6  # an acknowledgement and a staff notice per report
        assert after["maild_ack_latency_seconds_count"] == 3  # the acknowledgements only, not the staff notices
        assert after["maild_ack_latency_seconds_sum"] > 0
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()


def test_ack_latency_runs_from_receipt_to_smtp(tmp_path: Path, db_url: str, smtp_sink: SmtpSink) -> None:
    """Received at 09:00, the relay refuses (4xx) until 09:10: one acknowledgement, 600 s."""
    maildir, clock = tmp_path / "Maildir", FrozenClock()
    config = write_config(tmp_path, {
        "database": {"url": db_url}, "mailbox": {"url": f"maildir:{maildir}"},
        "smtp": {"url": f"smtp://127.0.0.1:{smtp_sink.port}"}, "digest": {"enabled": False},
    }, staff=True)
    run_cli(config, "db", "upgrade")
    metrics = Metrics(clock)
    daemon = build(load_settings(config), clock, metrics=metrics)
    try:
        smtp_sink.mode = "tempfail"
        deliver(maildir, report().raw)
        daemon.run_once()
        assert metrics.registry.get_sample_value("maild_ack_latency_seconds_count") == 0
        smtp_sink.mode = "ok"
        clock.advance(minutes=10)
        daemon.run_once()
        assert len(smtp_sink.messages) == 2  # the acknowledgement and the staff notice
        value = metrics.registry.get_sample_value
        assert value("maild_ack_latency_seconds_count") == 1 and value("maild_ack_latency_seconds_sum") == 600
        assert value("maild_ack_latency_seconds_bucket", {"le": "300.0"}) == 0
        assert value("maild_ack_latency_seconds_bucket", {"le": "900.0"}) == 1
    finally:
        daemon.close()


@pytest.mark.parametrize(("listen", "remote", "error"), [
    ("0.0.0.0:9464", False, "not a loopback address"),
    ("192.0.2.7:9464", False, "not a loopback address"),
    ("127.0.0.1", False, "is not HOST:PORT"),
    ("127.0.0.1:99999", False, "is not HOST:PORT"),
])
def test_the_endpoint_stays_on_loopback_unless_allowed(tmp_path: Path, listen: str, remote: bool, error: str) -> None:
    config = write_config(tmp_path, {"metrics": {"enabled": True, "listen": listen, "allow_remote": remote}})
    with pytest.raises(ConfigError, match=f"metrics.listen: .*{error}"):
        load_settings(config)


@pytest.mark.parametrize("listen", ["127.0.0.1:9464", "[::1]:9464", "localhost:9464"])
def test_loopback_addresses_are_taken(tmp_path: Path, listen: str) -> None:
    assert load_settings(write_config(tmp_path, {"metrics": {"listen": listen}})).metrics.listen == listen


def test_a_remote_address_when_allowed(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"metrics": {"listen": "0.0.0.0:9464", "allow_remote": True}})
    assert load_settings(config).metrics.allow_remote
