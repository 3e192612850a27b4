#!/bin/sh
# Start the local MariaDB server if it is not running, and wait until it accepts connections.
# The MariaDB tests fail (rather than skip) under CI=true, so CI runs this first.
set -eu

HOST=${MYSQL_HOST:-127.0.0.1}
PORT=${MYSQL_TCP_PORT:-3306}

ready() {
    mysqladmin --host="$HOST" --port="$PORT" --user=root --connect-timeout=2 ping >/dev/null 2>&1
}

if ! ready; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi

tries=0
until ready; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "MariaDB did not accept connections on $HOST:$PORT after 30 s" >&2
        exit 1
    fi
    sleep 0.5
done
echo "MariaDB accepts connections on $HOST:$PORT"
