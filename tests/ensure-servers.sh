#!/usr/bin/env bash
# Make sure the servers the test suite needs exist on this machine. Missing ones are
# installed or started; what cannot be had is an error (a missing server fails, never skips).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v dovecot >/dev/null 2>&1; then
  echo "installing dovecot-imapd (Debian package) for the IMAP tests"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq dovecot-imapd >/dev/null
fi
command -v openssl >/dev/null 2>&1 || as_root apt-get install -y -qq openssl >/dev/null
# Headless Chromium lays out every mail kind at phone and desktop width (test_render_phone).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package) for the mail layout tests"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
echo "servers ready: $(dovecot --version | cut -d' ' -f1) (Dovecot), PostgreSQL on 127.0.0.1:5432, $(/usr/bin/chromium --version 2>/dev/null | cut -d' ' -f1,2)"
