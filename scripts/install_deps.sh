#!/usr/bin/env bash
# Installs what AlphaPulse needs to build, test and run its notebooks, and only what is
# missing, so a prepared machine passes through in seconds:
#   - Deno 2.9.6 (from the npm registry, the binary ships inside the package)
#   - PostgreSQL 15 server binaries, Jupyter nbconvert + jupyter-client, Chromium, gcc (apt)
#   - the project's npm dependencies (`deno install`, into node_modules/)
#   - the Deno Jupyter kernel (`deno jupyter --install`)
# Usage: scripts/install_deps.sh   (from anywhere; runs non-interactively)
set -euo pipefail

DENO_VERSION="2.9.6"
PG_BIN="/usr/lib/postgresql/15/bin"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[install_deps] %s\n' "$*" >&2; }

# Root runs commands directly; anyone else goes through sudo (non-interactive).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo -n "$@"
  fi
}

# --- apt packages --------------------------------------------------------------------------
# Each check that fails adds the packages that satisfy it.
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
# Tests run throwaway clusters as the `postgres` user the package creates.
{ [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] && id postgres >/dev/null 2>&1; } ||
  missing+=(postgresql postgresql-15)
command -v jupyter-nbconvert >/dev/null 2>&1 || have_pkg jupyter-nbconvert || missing+=(jupyter-nbconvert)
# The system interpreter: jupyter runs on it, whatever python3 comes first on PATH (pyenv).
/usr/bin/python3 -c 'import nbclient, jupyter_client' >/dev/null 2>&1 ||
  missing+=(python3-nbclient python3-jupyter-client jupyter-client)
{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } ||
  missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# promtool checks and unit-tests the alert rules in ops/prometheus (tests/ops_test.ts).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v git >/dev/null 2>&1 || missing+=(git)
# `deno task bench server` compiles its load-generating client (bench/fanout_client.c) with cc;
# gcc provides cc, libc6-dev the headers (not pulled in with --no-install-recommends).
command -v cc >/dev/null 2>&1 || missing+=(gcc)
[ -f /usr/include/x86_64-linux-gnu/sys/epoll.h ] || [ -f /usr/include/sys/epoll.h ] ||
  have_pkg libc6-dev || missing+=(libc6-dev)

if [ "${#missing[@]}" -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt: all packages present"
fi

# --- Deno ----------------------------------------------------------------------------------
deno_version() { deno --version 2>/dev/null | awk 'NR==1 {print $2}'; }

if [ "$(deno_version)" != "$DENO_VERSION" ]; then
  log "deno: installing $DENO_VERSION from npm (found: $(deno_version || true))"
  # npm 11 blocks dependency install scripts unless allowed; deno's postinstall only
  # swaps the node wrapper for the native binary, so either way the command works.
  as_root npm install -g --no-fund --no-audit --allow-scripts=deno "deno@$DENO_VERSION" >&2
  hash -r
  got="$(deno_version || true)"
  if [ "$got" != "$DENO_VERSION" ]; then
    log "deno: expected $DENO_VERSION after install, found '${got:-none}' at $(command -v deno || echo '-')"
    exit 1
  fi
else
  log "deno: $DENO_VERSION present"
fi

# --- project dependencies and the Jupyter kernel --------------------------------------------
cd "$ROOT"
log "deno install (npm dependencies into node_modules/)"
deno install --quiet >&2

# Registered and pointing at a deno that exists (a stale path from another install fails).
kernel_ok() {
  jupyter kernelspec list --json 2>/dev/null | python3 -c '
import json, os, sys
spec = json.load(sys.stdin)["kernelspecs"].get("deno")
sys.exit(0 if spec and os.access(spec["spec"]["argv"][0], os.X_OK) else 1)'
}
if kernel_ok; then
  log "jupyter: deno kernel registered"
else
  log "jupyter: registering the deno kernel"
  deno jupyter --install >&2
  kernel_ok || { log "jupyter: deno kernel still not usable"; exit 1; }
fi
log "done"
