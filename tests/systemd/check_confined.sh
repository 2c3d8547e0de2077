#!/usr/bin/env bash
# sotongd under the unit's restrictions that can be had without systemd as PID 1: a read-only
# file system but for its state folder (ProtectSystem=strict, StateDirectory=), a private
# /tmp (PrivateTmp=), an unprivileged user (User=), no capabilities at all
# (CapabilityBoundingSet=, AmbientCapabilities=), no_new_privs (NoNewPrivileges=), and its
# token from $CREDENTIALS_DIRECTORY (LoadCredential=). It must start, answer a mention, reload
# on SIGHUP and stop with 0 on SIGTERM. The seccomp filters (SystemCallFilter=,
# RestrictAddressFamilies=, MemoryDenyWriteExecute=) need systemd to apply them.
#   check_confined.sh SOURCE_DIR BUILD_DIR     (root; exits 77 to skip where it cannot run)
set -euo pipefail
root="$1"
bin="$2"
if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
  echo "needs root and mount namespaces"
  exit 77
fi
uid=65534
state=$(mktemp -d /var/tmp/sotong-confined.XXXXXX)
creds=$(mktemp -d /var/tmp/sotong-creds.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$state" "$creds"
}
trap cleanup EXIT
chown "$uid:$uid" "$state"
chmod 0700 "$state"
# Installed as a package would put them, outside /tmp (PrivateTmp= hides it).
chmod 0711 "$creds"
mkdir -p "$creds/usr/bin" "$creds/etc"
cp "$bin/sotongd" "$creds/usr/bin/"
cp -r "$root/rules" "$root/templates" "$root/holidays" "$creds/etc/"
chmod -R a+rX "$creds/usr" "$creds/etc"

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
SOTONG_SANDBOX_TOKEN="$token" "$bin/sotong-sandbox" --listen 127.0.0.1 --port 0 \
  --port-file "$creds/sandbox.port" --handle songpaOK >"$creds/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$creds/sandbox.port" ] && break; sleep 0.05; done
sp=$(cat "$creds/sandbox.port")
# As systemd hands credentials over: a file the service user alone can read.
mkdir -p "$creds/c"
printf '%s\n' "$token" >"$creds/c/mastodon-token"
chown -R "$uid:$uid" "$creds/c"
chmod 0500 "$creds/c"
chmod 0400 "$creds/c/mastodon-token"
cat >"$state/sotong.yaml" <<YAML
store: $state/sotong.db
rules_dir: $creds/etc/rules
templates_dir: $creds/etc/templates
holidays_dir: $creds/etc/holidays
log_format: json
hook: {listen: 127.0.0.1, port: 0}
accounts:
  - {name: songpa, platform: mastodon, base_url: "http://127.0.0.1:$sp",
     token_credential: mastodon-token, posts_per_3_hours: 1000000}
departments:
YAML
for d in roads transport safety environment housing welfare civil-affairs; do
  echo "  $d: {token_sha256: $(printf '%s' "$d-$token" | sha256sum | cut -d' ' -f1)}" \
    >>"$state/sotong.yaml"
done
chown "$uid:$uid" "$state/sotong.yaml"

# Every mount read-only but the state folder; /tmp private and empty.
confine='
  mount --bind "$STATE" "$STATE"
  for m in $(findmnt -rn -o TARGET | grep -vE "^/(proc|sys|dev)(/|$)" | sort -u); do
    [ "$m" = "$STATE" ] && continue
    mount -o remount,bind,ro "$m" 2>/dev/null || true
  done
  mount -t tmpfs -o mode=1777 tmpfs /tmp
  exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
    --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- "$@"'
STATE="$state" CREDENTIALS_DIRECTORY="$creds/c" unshare -m --propagation private \
  sh -c "$confine" confine "$creds/usr/bin/sotongd" --config "$state/sotong.yaml" \
  --hook-port-file "$state/hook.port" 2>"$creds/sotongd.log" &
daemon=$!
pids+=($daemon)
for _ in $(seq 1 200); do [ -s "$state/hook.port" ] && break; sleep 0.05; done
[ -s "$state/hook.port" ] || { echo "sotongd did not start confined:"; cat "$creds/sotongd.log"; exit 1; }
hp=$(cat "$state/hook.port")
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$hp/readyz" >/dev/null && break; sleep 0.1; done

# What the process runs with, as the kernel says.
# unshare, sh and setpriv each exec the next: the PID started is sotongd itself.
status=/proc/$daemon/status
grep -q "^CapEff:[[:space:]]*0000000000000000" "$status" || { echo "capabilities left"; exit 1; }
grep -q "^NoNewPrivs:[[:space:]]*1" "$status" || { echo "no_new_privs not set"; exit 1; }
grep -q "^Uid:[[:space:]]*$uid" "$status" || { echo "not running as uid $uid"; exit 1; }

curl -fs -X POST -H 'Content-Type: application/json' \
  --data '{"author":"citizen","text":"잠실동 육교에 구멍이 났어요","language":"ko"}' \
  "http://127.0.0.1:$sp/_sandbox/mentions" >/dev/null
for _ in $(seq 1 100); do
  [ "$(curl -fs "http://127.0.0.1:$sp/_sandbox/posts" | jq length)" -ge 1 ] && break
  sleep 0.1
done
[ "$(curl -fs "http://127.0.0.1:$sp/_sandbox/posts" | jq length)" -ge 1 ] ||
  { echo "no reply posted:"; cat "$creds/sotongd.log"; exit 1; }
kill -HUP "$daemon"
for _ in $(seq 1 100); do grep -q '"msg":"reloaded"' "$creds/sotongd.log" && break; sleep 0.1; done
grep -q '"msg":"reloaded"' "$creds/sotongd.log" || { echo "no reload:"; cat "$creds/sotongd.log"; exit 1; }
kill -TERM "$daemon"
rc=0
wait "$daemon" || rc=$?
[ "$rc" -eq 0 ] || { echo "exit status $rc:"; cat "$creds/sotongd.log"; exit 1; }
[ -s "$state/sotong.db" ] || { echo "no store in the state folder"; exit 1; }
echo "confined: read-only system, private /tmp, uid $uid, no capabilities, no_new_privs:" \
  "started, answered, reloaded, stopped with 0"
