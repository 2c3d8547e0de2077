#!/usr/bin/env bash
# The unit as systemd reads it: `systemd-analyze verify` clean (with the built sotongd in place
# of /usr/bin/sotongd, which is not installed here) and an exposure of at most 1.5 by
# `systemd-analyze security --offline=yes` (systemd-hostnamed's level).
# The sysusers.d and tmpfiles.d snippets are applied to an empty root.
#   check_unit.sh SOURCE_DIR SOTONGD
set -euo pipefail
src="$1"
sotongd="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/bin/sotongd#$sotongd#g" "$src/systemd/sotongd.service" >"$work/sotongd.service"
out=$(systemd-analyze verify --man=no "$work/sotongd.service" 2>&1 || true)
if [ -n "$out" ]; then
  echo "systemd-analyze verify:"
  echo "$out"
  exit 1
fi
# What the daemon is built around: losing one of these would go unnoticed by verify.
for d in Type=notify WatchdogSec= 'ExecReload=/bin/kill -HUP $MAINPID' Restart=on-failure \
  StateDirectory=sotong ConfigurationDirectory=sotong LoadCredential= '--check-config'; do
  grep -qF -- "$d" "$src/systemd/sotongd.service" || { echo "the unit lacks $d"; exit 1; }
done
line=$(systemd-analyze security --offline=yes "$work/sotongd.service" 2>&1 | grep 'Overall exposure level')
echo "$line"
level=$(echo "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }' || { echo "exposure $level is above 1.5"; exit 1; }

# sysusers.d and tmpfiles.d snippets, applied to an empty root.
mkdir -p "$work/root/etc"
systemd-sysusers --root="$work/root" "$src/systemd/sotong.sysusers"
grep -q '^sotong:' "$work/root/etc/passwd" || { echo "sysusers made no sotong user"; exit 1; }
systemd-tmpfiles --root="$work/root" --create "$src/systemd/sotong.tmpfiles"
[ -d "$work/root/var/lib/sotong" ] || { echo "tmpfiles made no /var/lib/sotong"; exit 1; }
echo "sysusers and tmpfiles: ok"
