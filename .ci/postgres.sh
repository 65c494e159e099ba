# Sourced by .ci/run: a throwaway PostgreSQL server on loopback for the event-store tests.
# Installs Debian's postgresql when missing, starts a fresh cluster in a temp folder (as the
# postgres user: the server refuses to run as root) and exports CAMMSR_TEST_POSTGRES.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "ci: installing postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
PG_DIR=$(mktemp -d /tmp/cammsr-ci-pg-XXXXXX)
PG_PORT=${CAMMSR_CI_PG_PORT:-55432}
chown postgres "$PG_DIR"
# From / because the postgres user cannot enter the checkout when it sits in a private temp folder.
run_pg() { if [ "$(id -u)" = 0 ]; then (cd / && su postgres -s /bin/sh -c "$*"); else sh -c "$*"; fi; }
run_pg "$PG_BIN/initdb -D $PG_DIR/data -A trust -U postgres >/dev/null"
run_pg "$PG_BIN/pg_ctl -D $PG_DIR/data -o \"-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1\" -l $PG_DIR/log -w start >/dev/null"
trap 'run_pg "$PG_BIN/pg_ctl -D $PG_DIR/data -m fast stop >/dev/null" || true; rm -rf "$PG_DIR"' EXIT
export CAMMSR_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "ci: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
