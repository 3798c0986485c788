#!/usr/bin/env bash
# deps.sh - install what building and testing shadowmmu needs on Debian.
# Idempotent; skips apt-get when everything is already there.
set -euo pipefail
need=()
for pkg in build-essential cmake; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
