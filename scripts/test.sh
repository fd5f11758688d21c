#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then lint, types, tests.
# Debian packages (as root): tshark (the oracle), tcpdump, nginx, openssl, curl, iproute2 (the lab), patch,
# chromium (renders the HTML report; driven by the playwright package, which downloads no browser).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for pair in tshark:tshark tcpdump:tcpdump nginx:nginx openssl:openssl curl:curl ip:iproute2 patch:patch chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "not root or no apt-get: ${missing[*]} missing; the tests that need them will skip and say why"
  fi
fi

# Not editable: the suite runs what users install, the capture pass compiled by mypyc (setup.py);
# tests/unit/test_compiled.py compares it with the plain sources under src/.
python3 -m pip install -q --disable-pip-version-check '.[test]'
echo "== $(python3 -m tlsdoctor --version)"
echo "== ruff";  python3 -m ruff check src tests bench
echo "== mypy --strict src"; python3 -m mypy src
echo "== pytest"; python3 -m pytest -q -p no:cacheprovider "$@"
