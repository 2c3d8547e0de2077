#!/usr/bin/env bash
# The Debian package as a sysadmin meets it: built with CPack, installed with dpkg, the
# installed configuration checked by the installed sotongd, then removed and purged cleanly.
# Needs root (it installs on this machine); the unit is installed, never started.
#   check_deb.sh BUILD_DIR
set -euo pipefail
build="$1"
if [ "$(id -u)" -ne 0 ]; then echo "needs root to install the package"; exit 1; fi
if dpkg-query -W -f='${Status}' sotong 2>/dev/null | grep -q installed; then
  echo "a sotong package is installed already; not touching it"
  exit 1
fi
(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls "$build"/sotong_*_amd64.deb)
creds=$(mktemp -d)
cleanup() {
  dpkg --purge sotong >/dev/null 2>&1 || true
  rm -rf /etc/sotong/credentials "$creds"
}
trap cleanup EXIT
dpkg -i "$deb" >/dev/null
dpkg-query -W -f='${Status}\n' sotong
[ -x /usr/bin/sotongd ] && [ -f /usr/lib/systemd/system/sotongd.service ]
getent passwd sotong >/dev/null || { echo "postinst made no sotong user"; exit 1; }
[ -d /var/lib/sotong ] || { echo "postinst made no /var/lib/sotong"; exit 1; }
dpkg-query -W -f='${Conffiles}\n' sotong | grep -q '/etc/sotong/sotong.yaml' ||
  { echo "/etc/sotong/sotong.yaml is not a conffile"; exit 1; }
# The example's secrets as an admin puts them, then handed over as systemd does: one
# credential per LoadCredential= line of the installed unit. The configuration then names only
# credentials the unit loads, or --check-config fails here as ExecStartPre= would.
install -d -m 0700 /etc/sotong/credentials
for name in mastodon-token roads-hmac roads-webhook; do
  (umask 077 && head -c 48 /dev/urandom | base64 >"/etc/sotong/credentials/$name")
done
sed -n 's/^LoadCredential=\([^:]*\):\(.*\)$/\1 \2/p' /usr/lib/systemd/system/sotongd.service |
  while read -r id path; do cp "$path" "$creds/$id"; done
CREDENTIALS_DIRECTORY="$creds" /usr/bin/sotongd --config /etc/sotong/sotong.yaml --check-config
rm -rf /etc/sotong/credentials
dpkg --remove sotong >/dev/null
[ ! -e /usr/bin/sotongd ] || { echo "remove left /usr/bin/sotongd"; exit 1; }
dpkg --purge sotong >/dev/null
[ ! -e /etc/sotong/sotong.yaml ] || { echo "purge left /etc/sotong/sotong.yaml"; exit 1; }
[ ! -e /var/lib/sotong ] || { echo "purge left /var/lib/sotong"; exit 1; }
echo "package: installed, checked, removed and purged"
