"""Every file of real-world mail in ../shared/corpus goes through the real ingest and pipeline:
no crash, no message unaccounted for, the daemon still standing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness import start, write_config
from maild.store.models import InboundMessage
from maild.transport.sources import FilesMailbox
from maild.app.daemon import build

from sqlalchemy import select

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOT_MAIL = {".yml", ".tsv", ".md"}


def corpus_files() -> list[Path]:
    assert CORPUS.is_dir(), f"the shared corpus is missing at {CORPUS}"
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in NOT_MAIL
                   and not p.name.endswith((".body.txt", ".head.txt")))
    assert len(files) > 500
    return files


def test_whole_corpus_through_the_pipeline(tmp_path: Path, db_url: str) -> None:
    files = corpus_files()
    config = write_config(tmp_path, {"database": {"url": db_url}, "smtp": {"url": f"maildir:{tmp_path}/sent"}})
    daemon, settings = start(config)
    daemon.close()
    daemon = build(settings, daemon.clock, mailbox=FilesMailbox([str(p) for p in files]))
    try:
        while daemon.ingest.run_once():
            pass
        while daemon.pipeline.run_once():
            pass
        with daemon.factory() as s:
            rows = s.scalars(select(InboundMessage)).all()
            by_sha = {r.sha256: r for r in rows}
            missing = [p for p in files if hashlib.sha256(p.read_bytes()).hexdigest() not in by_sha]
            assert missing == []
            assert [r.id for r in rows if r.state != "done"] == []
            assert all(r.disposition for r in rows)
            assert all(r.reason for r in rows if r.disposition != "duplicate")
    finally:
        daemon.close()
