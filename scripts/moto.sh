#!/usr/bin/env bash
# The AWS API emulator for trailproof's tests and demo: moto's server from PyPI, pinned,
# in a private virtual environment, on a free 127.0.0.1 port.
#
#   scripts/moto.sh install        create the venv and install the pinned moto (idempotent)
#   scripts/moto.sh start [DIR]    install if needed, start on a free port, wait until it
#                                  answers; prints `export TRAILPROOF_TEST_ENDPOINT=...` and
#                                  writes DIR/moto.pid and DIR/moto.endpoint (DIR defaults to
#                                  target/moto)
#   scripts/moto.sh stop [DIR]     stop the server started with the same DIR (by PID)
#   scripts/moto.sh version        print the pinned moto version
#   scripts/moto.sh python         print the venv's python (it also has duckdb, for tests)
#
# Environment: TRAILPROOF_MOTO_VENV (default: ~/.cache/trailproof/moto-venv-<version>),
# PYTHON (default: python3).
set -euo pipefail

MOTO_VERSION="5.2.5"
# DuckDB reads our Parquet outputs in the tests (a real reader, not ours).
DUCKDB_VERSION="2.0.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TRAILPROOF_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/trailproof/moto-venv-$MOTO_VERSION}"
python="${PYTHON:-python3}"

install() {
  if [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c "import moto,duckdb,sys; sys.exit(moto.__version__ != '$MOTO_VERSION' or duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
    return 0
  fi
  echo "Installing moto[server]==$MOTO_VERSION and duckdb==$DUCKDB_VERSION into $venv" >&2
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    # Debian's python3 needs the venv module from a separate package.
    if command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$venv"
    else
      echo "error: '$python -m venv' failed; install Python's venv module" >&2
      exit 1
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" "duckdb==$DUCKDB_VERSION"
}

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="${1:-$here/target/moto}"
  mkdir -p "$dir"
  install
  if [ -f "$dir/moto.pid" ] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
    echo "export TRAILPROOF_TEST_ENDPOINT=$(cat "$dir/moto.endpoint")"
    return 0
  fi
  local port endpoint
  port="$(free_port)"
  endpoint="http://127.0.0.1:$port"
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  echo "$endpoint" >"$dir/moto.endpoint"
  for _ in $(seq 1 100); do
    if "$python" - "$endpoint" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
PY
      echo "export TRAILPROOF_TEST_ENDPOINT=$endpoint"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
      echo "error: moto exited; see $dir/moto.log" >&2
      cat "$dir/moto.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "error: moto did not answer on $endpoint within 10 s; see $dir/moto.log" >&2
  exit 1
}

stop() {
  local dir="${1:-$here/target/moto}"
  if [ -f "$dir/moto.pid" ]; then
    kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
    rm -f "$dir/moto.pid" "$dir/moto.endpoint"
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  version) echo "$MOTO_VERSION" ;;
  python) echo "$venv/bin/python" ;;
  *) echo "usage: $0 install | start [DIR] | stop [DIR] | version | python" >&2; exit 2 ;;
esac
