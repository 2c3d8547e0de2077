# Sourced by .ci/demo and bench/ scripts: starts sotong-sandbox and sotongd (embedded SQLite
# store) on loopback in a fresh folder, and stops them again. Needs the binaries in $bin.
# Sets: work (the folder), sp (sandbox port), hp (hook port), roads_token, other_token.

stack_pids=()

stack_stop() {
  for pid in "${stack_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${stack_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stack_pids=()
  [ -n "${work:-}" ] && rm -rf "$work"
}

stack_wait_file() {
  for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "timed out waiting for $1" >&2
  return 1
}

stack_random() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
stack_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# stack_start [extra sandbox flags...]
stack_start() {
  work=$(mktemp -d /tmp/sotong.XXXXXX)
  local sandbox_token
  sandbox_token=$(stack_random)
  roads_token=$(stack_random)
  other_token=$(stack_random)
  SOTONG_SANDBOX_TOKEN="$sandbox_token" "$bin/sotong-sandbox" --listen 127.0.0.1 --port 0 \
    --port-file "$work/sandbox.port" --handle songpaOK "$@" >"$work/sandbox.log" 2>&1 &
  stack_pids+=($!)
  stack_wait_file "$work/sandbox.port"
  sp=$(cat "$work/sandbox.port")
  printf '%s\n' "$sandbox_token" >"$work/mastodon.token"
  cat >"$work/sotong.yaml" <<YAML
ticket_prefix: SP
store: $work/sotong.db
rules_dir: $root/rules
templates_dir: $root/templates
holidays_dir: $root/holidays
time_zone: Asia/Seoul
log_level: ${SOTONG_LOG_LEVEL:-info}
hook: {listen: 127.0.0.1, port: 0}
accounts:
  - name: songpa
    platform: mastodon
    base_url: http://127.0.0.1:$sp
    token_file: mastodon.token
    posts_per_3_hours: 1000000   # the sandbox, not a real instance
departments:
  roads: {name: {ko: 도로과, en: Roads Department}, token_sha256: $(stack_hash "$roads_token")}
  transport: {name: {ko: 교통정책과, en: Transport Department}, token_sha256: $(stack_hash "$other_token-t")}
  safety: {name: {ko: 재난안전과, en: Safety Department}, token_sha256: $(stack_hash "$other_token-s")}
  environment: {name: {ko: 청소행정과, en: Environment Department}, token_sha256: $(stack_hash "$other_token-e")}
  housing: {name: {ko: 주택과, en: Housing Department}, token_sha256: $(stack_hash "$other_token-h")}
  welfare: {name: {ko: 복지정책과, en: Welfare Department}, token_sha256: $(stack_hash "$other_token-w")}
  civil-affairs: {name: {ko: 민원여권과, en: Civil Affairs}, token_sha256: $(stack_hash "$other_token-c")}
YAML
  "$bin/sotongd" --config "$work/sotong.yaml" --check-config
  # Benchmarks that start sotongd themselves want only the sandbox and the config.
  [ -n "${STACK_NO_DAEMON:-}" ] && return 0
  "$bin/sotongd" --config "$work/sotong.yaml" --hook-port-file "$work/hook.port" >"$work/sotongd.log" 2>&1 &
  stack_pids+=($!)
  stack_wait_file "$work/hook.port"
  hp=$(cat "$work/hook.port")
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$hp/healthz" >/dev/null && return 0
    sleep 0.05
  done
  echo "sotongd did not become ready; its log:" >&2
  cat "$work/sotongd.log" >&2
  return 1
}

# stack_mention author visibility language text → prints the new status id
stack_mention() {
  jq -cn --arg a "$1" --arg v "$2" --arg l "$3" --arg t "$4" \
    '{author:$a, visibility:$v, language:$l, text:$t}' |
    curl -fs -X POST -H 'Content-Type: application/json' --data-binary @- \
      "http://127.0.0.1:$sp/_sandbox/mentions" | jq -r .id
}

# stack_wait_streaming: until a reader holds the sandbox's stream open (10 s at most)
stack_wait_streaming() {
  for _ in $(seq 1 200); do
    [ "$(curl -fs "http://127.0.0.1:$sp/_sandbox/stats" | jq .stream_connections)" -ge 1 ] &&
      return 0
    sleep 0.05
  done
  echo "no stream opened" >&2
  return 1
}

# stack_wait_posts N: until the sandbox has received at least N posts (10 s at most)
stack_wait_posts() {
  for _ in $(seq 1 200); do
    [ "$(curl -fs "http://127.0.0.1:$sp/_sandbox/posts" | jq length)" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
