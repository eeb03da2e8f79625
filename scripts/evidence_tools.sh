#!/usr/bin/env bash
# The real third-party tools the evidence-pack tests check trailproof's outputs with,
# installed on demand (idempotent), pinned:
#   - OSCAL: compliance-trestle 3.12.4 (NIST OSCAL 1.1.3 models) and 5.2.0 (OSCAL 1.2.1
#     models, stricter on dates, empty lists and titles), in two private venvs;
#   - OCSF: py-ocsf-models 0.10.0 (OCSF 1.5.0, what Prowler pins), beside trestle 3.12.4;
#   - headless Chromium (Debian's `chromium` package) for report.html.
#
#   scripts/evidence_tools.sh install   install what is missing; prints the exports below
#
# Prints: TRAILPROOF_OSCAL11_PYTHON, TRAILPROOF_OSCAL12_PYTHON (the venvs' pythons; the OCSF
# models are in the first) and TRAILPROOF_CHROMIUM (the browser binary).
set -euo pipefail

TRESTLE_11="3.12.4"
TRESTLE_12="5.2.0"
OCSF_MODELS="0.10.0"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/trailproof"
python="${PYTHON:-python3}"

venv() { # DIR PACKAGES... ; CHECK is the import line that proves the venv is complete
  local dir="$1" check="$2"; shift 2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$check" 2>/dev/null; then
    return 0
  fi
  echo "Installing $* into $dir" >&2
  rm -rf "$dir"
  "$python" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
}

chromium() {
  for c in "${TRAILPROOF_CHROMIUM:-}" /usr/lib/chromium/chromium "$(command -v chromium || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then
      echo "$c"
      return 0
    fi
  done
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
    echo /usr/lib/chromium/chromium
    return 0
  fi
  echo "error: headless Chromium is needed for the report test: install Debian's 'chromium' package" >&2
  exit 1
}

case "${1:-install}" in
  install)
    o11="$cache/oscal-venv-trestle-$TRESTLE_11-ocsf-$OCSF_MODELS"
    o12="$cache/oscal-venv-trestle-$TRESTLE_12"
    venv "$o11" "import trestle, py_ocsf_models, sys; from importlib.metadata import version as v; sys.exit(v('compliance-trestle') != '$TRESTLE_11' or v('py-ocsf-models') != '$OCSF_MODELS')" \
      "compliance-trestle==$TRESTLE_11" "py-ocsf-models==$OCSF_MODELS"
    venv "$o12" "import trestle, sys; from importlib.metadata import version as v; sys.exit(v('compliance-trestle') != '$TRESTLE_12')" \
      "compliance-trestle==$TRESTLE_12"
    echo "export TRAILPROOF_OSCAL11_PYTHON=$o11/bin/python"
    echo "export TRAILPROOF_OSCAL12_PYTHON=$o12/bin/python"
    echo "export TRAILPROOF_CHROMIUM=$(chromium)"
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
