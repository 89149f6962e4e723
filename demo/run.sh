#!/usr/bin/env bash
# `make demo`: a fresh helpdesk on the embedded defaults. Reports are dropped into a local
# Maildir (no mail server); the daemon turns them into tickets; the mail it sends is written
# to another Maildir (var/demo/sent) instead of an SMTP server.
set -euo pipefail
BIN=${BIN:-.venv/bin}
DIR=${MAILD_DEMO_DIR:-var/demo}
maild() { "$BIN/maild" --log-level WARNING --config "$DIR/maild.toml" "$@"; }

rm -rf "$DIR"
mkdir -p "$DIR/Maildir/new"
maild init
# The helpdesk's people: one staff member and the coordinator (maild init leaves them out).
cat >> "$DIR/maild.toml" <<'TOML'

[[staff]]
name = "Rina Wati"
address = "rina@lpse.tanatidungkab.go.id"

[coordinator]
name = "Koordinator Helpdesk"
address = "koordinator@lpse.tanatidungkab.go.id"
TOML
show() {  # show MAILDIR ADDRESS [SUBJECT]: the newest mail sent to ADDRESS (whose subject has SUBJECT)
"$BIN/python" - "$@" <<'PY'
import email, pathlib, sys
from email import policy
files = sorted(pathlib.Path(sys.argv[1]).iterdir(), key=lambda p: p.stat().st_mtime)
mails = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
want = sys.argv[3] if len(sys.argv) > 3 else ""
msg = [m for m in mails if sys.argv[2] in str(m["To"]) and want in str(m["Subject"])][-1]
for h in ("From", "To", "Subject", "Message-ID", "In-Reply-To"):
    print(f"{h}: {msg[h]}")
print()
print(msg.get_body(("plain",)).get_content())
PY
}
for f in demo/mail/*.eml; do cp "$f" "$DIR/Maildir/new/"; done
echo "== Seeded $(ls "$DIR/Maildir/new" | wc -l) messages into $DIR/Maildir; running the daemon once"
maild run --once

echo; echo "== Tickets";                 maild tickets list
echo; echo "== Message ledger";          maild messages list
echo; echo "== Mail sent (in $DIR/sent)"; maild outbox list
first=$(maild tickets list --json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[-1]["number"])')
echo; echo "== Ticket $first";           maild tickets show "$first"
reporter=$(maild tickets list --json | "$BIN/python" -c 'import json,sys; print(json.load(sys.stdin)[-1]["reporter"])')
echo; echo "== The acknowledgement of ticket $first, as the reporter ($reporter) reads it"
show "$DIR/sent/new" "$reporter" "[LPSE #$first]"
echo; echo "== The notification of ticket $first, as the staff member (Rina) reads it"
show "$DIR/sent/new" rina@lpse.tanatidungkab.go.id "[LPSE #$first] Tiket baru"

echo; echo "== Rina replies from her mail client: an answer and two commands"
body=$'Silakan gunakan menu "Lupa Password" di halaman login SPSE; tautan reset dikirim ke email terdaftar.\n#prioritas tinggi\n#selesai Password sudah direset dan dicoba berhasil.\n\nSalam,\nRina'
printf '%s\n' "$body" | sed 's/^/  | /'
"$BIN/python" demo/reply.py "$DIR/sent" "$DIR/Maildir" rina@lpse.tanatidungkab.go.id "$body"
maild run --once
echo; echo "== What Rina gets back: the confirmation of her commands"
show "$DIR/sent/new" rina@lpse.tanatidungkab.go.id
echo; echo "== What the reporter gets: one closing mail with the answer (SOP step 8)"
show "$DIR/sent/new" "$reporter" "[LPSE #$first]"
echo; echo "== Ticket $first now";        maild tickets show "$first"
