#!/usr/bin/env bash
# The topology of docker-compose.yml without Docker: two chat-server nodes sharing one fresh
# PostgreSQL database and one Redis, behind Debian's nginx running deploy/nginx.conf on
# loopback. Then `deploy_check` (examples/src/deploy_check.rs) proves through nginx that a
# message crossed nodes; the script exits 0 only if it did. On exit, whatever happened, it
# stops every process it started and drops the database and the temporary directory.
#
# Needs: cargo (or CHAT_SERVER_BIN and CHAT_DEPLOY_CHECK_BIN, built binaries), nginx, curl,
# psql, a PostgreSQL that CHAT_DEPLOY_POSTGRES_URL may create databases on (default
# postgres://postgres@127.0.0.1:5432/postgres) and a Redis at CHAT_DEPLOY_REDIS_URL
# (default redis://127.0.0.1:6379; set it empty to run the nodes without Redis, which the
# check must then fail: nothing carries a message from one node to the other).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

POSTGRES_URL=${CHAT_DEPLOY_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${CHAT_DEPLOY_REDIS_URL-redis://127.0.0.1:6379}
ADMIN=deploy-admin

TMP=""
DATABASE=""
PIDS=()

say() {
    printf '[run-native] %s\n' "$*" >&2
}

fail() {
    printf '[run-native] FAILED: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    local status=$?
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$DATABASE" ]; then
        psql "$POSTGRES_URL" -q -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" >/dev/null ||
            say "could not drop the database $DATABASE"
    fi
    if [ -n "$TMP" ]; then
        if [ "$status" -ne 0 ]; then
            local log
            for log in "$TMP"/*.log; do
                [ -s "$log" ] || continue
                printf '\n--- %s (last 40 lines) ---\n' "$(basename "$log")" >&2
                tail -n 40 "$log" >&2
            done
        fi
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port on loopback that nothing listens on now.
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    fail "no free port on 127.0.0.1 after 50 tries"
}

# Waits until `url` answers 200, while the process `pid` (writing `log`) lives.
wait_healthy() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || fail "$(basename "$log" .log) exited before answering $url"
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return
        fi
        sleep 0.3
    done
    fail "$url did not answer within 30 s"
}

for tool in nginx curl psql; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (Debian: apt-get install nginx curl postgresql-client)"
done
psql "$POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null ||
    fail "PostgreSQL does not answer at $POSTGRES_URL (set CHAT_DEPLOY_POSTGRES_URL)"

if [ -z "${CHAT_SERVER_BIN:-}" ] || [ -z "${CHAT_DEPLOY_CHECK_BIN:-}" ]; then
    say "building chat-server and the deploy_check example"
    # One package per build, as .ci/run's earlier steps build them (the same features, so
    # nothing is compiled again there).
    cargo build -q -p chat-server
    cargo build -q -p examples --example deploy_check
fi
SERVER=${CHAT_SERVER_BIN:-$PWD/target/debug/chat-server}
CHECK=${CHAT_DEPLOY_CHECK_BIN:-$PWD/target/debug/examples/deploy_check}
[ -x "$SERVER" ] || fail "no chat-server binary at $SERVER"
[ -x "$CHECK" ] || fail "no deploy_check binary at $CHECK"

TMP=$(mktemp -d)
# nginx's workers (`nobody` when started by root) reach their temporary files inside.
chmod 711 "$TMP"
unique="$(date +%s)_$$_$RANDOM"

DATABASE="chat_deploy_$unique"
psql "$POSTGRES_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DATABASE\"" ||
    fail "cannot create the database $DATABASE"
database_url="${POSTGRES_URL%/*}/$DATABASE"
say "database $DATABASE"

"$SERVER" migrate --database-url "$database_url" >"$TMP/migrate.log" 2>&1 ||
    fail "chat-server migrate failed: $(tail -n 5 "$TMP/migrate.log")"

password="deploy-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
CHAT_SUPERUSER_PASSWORD="$password" "$SERVER" createsuperuser \
    --username "$ADMIN" --database-url "$database_url" >"$TMP/createsuperuser.log" 2>&1 ||
    fail "chat-server createsuperuser failed: $(tail -n 5 "$TMP/createsuperuser.log")"

if [ -n "$REDIS_URL" ]; then
    say "Redis $REDIS_URL, channels prefixed deploy_$unique:"
else
    say "no Redis: each node delivers only its own messages (the check must fail)"
fi
nodes=()
for name in chat-1 chat-2; do
    port=$(free_port)
    log="$TMP/$name.log"
    # One channel prefix per run, so that other runs and tests on the same Redis are not
    # heard; nginx on 127.0.0.1 is the one trusted proxy.
    CHAT_REDIS_URL="$REDIS_URL" "$SERVER" serve \
        --bind "127.0.0.1:$port" \
        --database-url "$database_url" \
        --redis-prefix "deploy_$unique:" \
        --trusted-proxies 127.0.0.1 \
        >"$log" 2>&1 &
    PIDS+=($!)
    wait_healthy "http://127.0.0.1:$port/healthz" "$!" "$log"
    nodes+=("127.0.0.1:$port")
    say "$name is up at 127.0.0.1:$port"
done

# The same nginx.conf as docker-compose.yml's, with the nodes and a loopback port put in,
# and temporary files under $TMP rather than Debian's /var/lib/nginx.
proxy_port=$(free_port)
mkdir -p "$TMP/nginx"
sed -e "s|server chat-1:8000;|server ${nodes[0]};|" \
    -e "s|server chat-2:8000;|server ${nodes[1]};|" \
    -e "s|listen 80;|listen 127.0.0.1:$proxy_port;|" \
    -e "/^http {/a\\
    client_body_temp_path $TMP/nginx/client_body;\\
    proxy_temp_path $TMP/nginx/proxy;\\
    fastcgi_temp_path $TMP/nginx/fastcgi;\\
    uwsgi_temp_path $TMP/nginx/uwsgi;\\
    scgi_temp_path $TMP/nginx/scgi;" \
    deploy/nginx.conf >"$TMP/nginx.conf"
for line in "server ${nodes[0]};" "server ${nodes[1]};" "listen 127.0.0.1:$proxy_port;" \
    "proxy_temp_path $TMP/nginx/proxy;"; do
    grep -qF "$line" "$TMP/nginx.conf" ||
        fail "deploy/nginx.conf changed: rendering it for loopback found no place for '$line'"
done
nginx_args=(-p "$TMP/nginx" -e "$TMP/nginx.log" -c "$TMP/nginx.conf"
    -g "daemon off; pid $TMP/nginx/nginx.pid;")
nginx -t -q "${nginx_args[@]}" 2>>"$TMP/nginx.log" || fail "nginx rejects the rendered deploy/nginx.conf"
nginx "${nginx_args[@]}" >>"$TMP/nginx.log" 2>&1 &
PIDS+=($!)
proxy="http://127.0.0.1:$proxy_port"
wait_healthy "$proxy/healthz" "$!" "$TMP/nginx.log"
say "nginx is up at $proxy in front of ${nodes[*]}"

CHAT_DEPLOY_USERNAME="$ADMIN" CHAT_DEPLOY_PASSWORD="$password" \
    "$CHECK" "$proxy" "${nodes[@]}" ||
    fail "no message was shown to cross nodes through nginx (deploy_check above says why)"

# nginx logs a socket when it closes, which the check's exit has just done.
for _ in $(seq 1 30); do
    grep -q '"GET /ws/api/chat/[0-9]*/ HTTP/1.1" 101 ' "$TMP/nginx.log" && break
    sleep 0.1
done
grep '"GET /ws/api/chat/[0-9]*/ HTTP/1.1" 101 ' "$TMP/nginx.log" >&2 ||
    fail "nginx's access log shows no WebSocket upgrade (101)"
say "passed: a message crossed nodes through nginx"
