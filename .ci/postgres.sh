#!/bin/sh
# Start the local PostgreSQL cluster if it is not running, and wait until it accepts connections.
# The PostgreSQL tests fail (rather than skip) under CI=true, so CI runs this first.
set -eu

HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
fi

tries=0
until pg_isready -q -h "$HOST" -p "$PORT"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "PostgreSQL did not accept connections on $HOST:$PORT after 30 s" >&2
        exit 1
    fi
    sleep 0.5
done
echo "PostgreSQL accepts connections on $HOST:$PORT"
