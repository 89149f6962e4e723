#!/usr/bin/env bash
# `make demo`: a fresh helpdesk on the embedded defaults. Reports are dropped into a local
# Maildir (no mail server); the daemon turns them into tickets; the mail it sends is written
# to another Maildir (var/demo/sent) instead of an SMTP server.
set -euo pipefail
BIN=${BIN:-.venv/bin}
DIR=var/demo
maild() { "$BIN/maild" --log-level WARNING --config "$DIR/maild.toml" "$@"; }

rm -rf "$DIR"
mkdir -p "$DIR/Maildir/new"
maild init
for f in demo/mail/*.eml; do cp "$f" "$DIR/Maildir/new/"; done
echo "== Seeded $(ls "$DIR/Maildir/new" | wc -l) messages into $DIR/Maildir; running the daemon once"
maild run --once

echo; echo "== Tickets";                 maild tickets list
echo; echo "== Message ledger";          maild messages list
echo; echo "== Mail sent (in $DIR/sent)"; maild outbox list
first=$(maild tickets list --json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[-1]["number"])')
echo; echo "== Ticket $first";           maild tickets show "$first"
echo; echo "== The acknowledgement of ticket $first, as the reporter reads it"
"$BIN/python" - "$DIR/sent/new" <<'PY'
import email, pathlib, sys
from email import policy
files = sorted(pathlib.Path(sys.argv[1]).iterdir(), key=lambda p: p.stat().st_mtime)
msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
for h in ("From", "To", "Subject", "Message-ID", "In-Reply-To", "Auto-Submitted"):
    print(f"{h}: {msg[h]}")
print()
print(msg.get_body(("plain",)).get_content())
PY
