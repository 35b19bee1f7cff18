#!/usr/bin/env bash
# Installs the programs outside npm that some tests drive (Debian and Ubuntu; run as root or
# through sudo). Without them `npm test` skips those tests and names what is missing; CI
# (.ci/run) runs this first, and there a missing tool fails the run.
#   nats-server           the cluster tests (several daemons sharing rooms)
#   microsocks            the SOCKS5 tests (a real SOCKS5 proxy)
#   strace                the no-disk tests (every file system call traced)
#   openssl               the NATS TLS tests (a throw-away certificate authority)
#   python3-srp, python3-cryptography
#                         a v1 client on the libraries the original cmd-chat client uses
#   jq                    the README's bot example, run as printed
#   systemd               systemd-analyze checks the deploy unit (.ci/package-check)
set -euo pipefail
packages=(nats-server microsocks strace openssl python3-srp python3-cryptography jq systemd)
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: no apt-get here; install these with your package manager: ${packages[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-test-tools: installed ${packages[*]}"
