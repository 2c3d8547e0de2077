#!/usr/bin/env bash
# `cmake --install` into a staging root puts every file where a Debian system keeps it.
#   check_install.sh BUILD_DIR
set -euo pipefail
build="$1"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR="$stage" cmake --install "$build" >/dev/null
for f in usr/bin/sotongd etc/sotong/sotong.yaml etc/sotong/rules/90-default.yaml \
  etc/sotong/templates/ko.yaml etc/sotong/templates/en.yaml etc/sotong/holidays/kr-2026.yaml \
  usr/lib/systemd/system/sotongd.service usr/lib/sysusers.d/sotong.conf \
  usr/lib/tmpfiles.d/sotong.conf usr/share/doc/sotong/api.md usr/share/man/man8/sotongd.8.gz; do
  [ -e "$stage/$f" ] || { echo "missing /$f"; exit 1; }
done
"$stage/usr/bin/sotongd" --version
echo "install tree: ok"
