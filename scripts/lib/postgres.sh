# A throwaway PostgreSQL cluster of our own on a loopback port, for the tests that run the portal
# on PostgreSQL. Source it, then `postgres_start` exports ASSENT_TEST_POSTGRES (a superuser URL,
# trust authentication on 127.0.0.1 only) and `postgres_stop` stops the cluster and deletes it.
# The binaries are Debian's (package postgresql); the cluster runs as the `postgres` user when
# the caller is root, since PostgreSQL refuses to run as root. Arguments to `postgres_start` are
# more server options, which win over ours (`postgres_start -c fsync=on` for a benchmark).

postgres_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
  echo "postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2
  return 1
}

postgres_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_start() {
  local bin port
  bin="$(postgres_bin)"
  POSTGRES_DIR="$(mktemp -d /tmp/assent-postgres.XXXXXX)"
  chmod 755 "$POSTGRES_DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$POSTGRES_DIR"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  postgres_as "$bin/initdb" -D "$POSTGRES_DIR/data" -U assent --auth=trust -E UTF8 --no-locale >/dev/null
  # Room for several portals' pools at once; fsync off: the cluster dies with the test run.
  postgres_as "$bin/pg_ctl" -D "$POSTGRES_DIR/data" -l "$POSTGRES_DIR/log" -w \
    -o "-h 127.0.0.1 -p $port -k $POSTGRES_DIR -c max_connections=300 -c fsync=off $*" start >/dev/null
  export ASSENT_TEST_POSTGRES="postgres://assent@127.0.0.1:$port/postgres"
  POSTGRES_BIN="$bin"
}

postgres_stop() {
  if [ -n "${POSTGRES_DIR:-}" ]; then
    postgres_as "$POSTGRES_BIN/pg_ctl" -D "$POSTGRES_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$POSTGRES_DIR"
    unset ASSENT_TEST_POSTGRES POSTGRES_DIR
  fi
}
