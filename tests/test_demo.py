"""`make demo` shows the whole SOP round trip on the embedded defaults: a report, its
acknowledgement, the staff notification, a staff reply with commands, the confirmation and
the one closing mail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_shows_the_staff_side(tmp_path: Path) -> None:
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "MAILD_DEMO_DIR": str(tmp_path / "demo")}
    proc = subprocess.run(["bash", "demo/run.sh"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    notification = out.split("== The notification of ticket")[1].split("== Rina replies")[0]
    assert "Tiket baru" in notification and "#selesai" in notification
    confirmation = out.split("== What Rina gets back")[1].split("== What the reporter gets")[0]
    assert "Perintah diproses" in confirmation and "prioritas: Tinggi" in confirmation
    closing = out.split("== What the reporter gets")[1].split("== Ticket")[0]
    assert "telah selesai ditangani" in closing and "Lupa Password" in closing
    assert "state: closed" in out.split("== Ticket 26-0001 now")[1]
