#!/usr/bin/env bash
# Test database servers for the sql connector tests: PostgreSQL and MariaDB on 127.0.0.1.
#
# Idempotent; for Debian/Ubuntu with apt, run as root (CI runs it as root via `make test`). Installs the
# server packages if missing, starts both servers without systemd, creates the role/user `gridbridge` and
# the database `gridbridge_test` in each (password auth over TCP), and writes the SQLAlchemy URLs to
# .ci/databases.env (git-ignored; a throwaway password generated on the first run and kept after).
# When that file exists and both servers already accept its credentials, nothing else is done, so a
# non-root `make test` works once `sudo make databases` has run.
set -euo pipefail
cd "$(dirname "$0")"
ENV_FILE="$PWD/databases.env"
DB=gridbridge_test
USER_NAME=gridbridge
HOST=127.0.0.1
log() { echo "databases: $*"; }
die() { echo "databases: $*" >&2; exit 1; }

password=""
if [ -f "$ENV_FILE" ]; then
  password=$(sed -n 's|^GRIDBRIDGE_TEST_POSTGRES_URL=[^:]*://[^:]*:\([^@]*\)@.*|\1|p' "$ENV_FILE")
fi
[ -n "$password" ] || password="gb$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"

pg_port() { pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $3}'; }
my_port=3306

pg_ok() {
  command -v psql >/dev/null && [ -n "$(pg_port)" ] &&
    PGPASSWORD="$password" PGCONNECT_TIMEOUT=3 psql -h "$HOST" -p "$(pg_port)" -U "$USER_NAME" -d "$DB" \
      -tAc "select 1" >/dev/null 2>&1
}
my_ok() {
  command -v mariadb >/dev/null &&
    mariadb -h "$HOST" -P "$my_port" -u "$USER_NAME" --password="$password" --connect-timeout=3 "$DB" \
      -e "select 1" >/dev/null 2>&1
}

if [ -f "$ENV_FILE" ] && pg_ok && my_ok; then
  log "PostgreSQL and MariaDB are up ($ENV_FILE)"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root to install/start the servers: run \`sudo make databases\` (or .ci/databases.sh as root)"
command -v apt-get >/dev/null || die "needs apt-get (Debian/Ubuntu); elsewhere start PostgreSQL and MariaDB yourself and write $ENV_FILE"

# --- packages ------------------------------------------------------------------------------------------
missing=()
for pkg in postgresql mariadb-server mariadb-client; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PostgreSQL ----------------------------------------------------------------------------------------
if [ -z "$(pg_port)" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  log "creating PostgreSQL $version cluster"
  pg_createcluster --locale C.UTF-8 "$version" main >/dev/null
fi
read -r pg_version pg_cluster port status _ < <(pg_lsclusters -h | head -1)
if [ "$status" != "online" ]; then
  log "starting PostgreSQL $pg_version/$pg_cluster on port $port"
  pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
psql_root() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
for _ in $(seq 30); do psql_root -c "select 1" >/dev/null 2>&1 && break; sleep 1; done
psql_root -c "select 1" >/dev/null || die "PostgreSQL did not start (see /var/log/postgresql/)"
psql_root <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN CREATE ROLE $USER_NAME LOGIN; END IF;
END \$\$;
ALTER ROLE $USER_NAME WITH LOGIN PASSWORD '$password';
SQL
if [ -z "$(psql_root -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
  # template0 + C locale: UTF8 whatever the cluster's own encoding (Chinese text must round-trip)
  runuser -u postgres -- createdb -p "$port" -O "$USER_NAME" -E UTF8 --locale=C -T template0 "$DB"
fi

# --- MariaDB -------------------------------------------------------------------------------------------
root_my() { mariadb --protocol=socket -u root "$@"; }
if ! mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1; then
  log "starting MariaDB"
  if ! service mariadb start >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    (setsid mysqld_safe --user=mysql >/dev/null 2>&1 &)
  fi
  for _ in $(seq 60); do mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1 && break; sleep 1; done
fi
mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1 || die "MariaDB did not start (see /var/log/mysql/)"
my_port=$(root_my -NBe "SELECT @@port")
root_my <<SQL
CREATE DATABASE IF NOT EXISTS $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$password';
ALTER USER '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$USER_NAME'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON $DB.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DB.* TO '$USER_NAME'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- URLs ----------------------------------------------------------------------------------------------
umask 022  # throwaway local test credentials: readable so a non-root `make test` can use them
cat >"$ENV_FILE.tmp" <<EOF
# written by .ci/databases.sh — local test servers only (git-ignored)
GRIDBRIDGE_TEST_POSTGRES_URL=postgresql+psycopg://$USER_NAME:$password@$HOST:$port/$DB
GRIDBRIDGE_TEST_MARIADB_URL=mysql+pymysql://$USER_NAME:$password@$HOST:$my_port/$DB?charset=utf8mb4
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"
pg_ok || die "cannot log in to PostgreSQL as $USER_NAME on $HOST:$port"
my_ok || die "cannot log in to MariaDB as $USER_NAME on $HOST:$my_port"
log "PostgreSQL ($HOST:$port) and MariaDB ($HOST:$my_port) ready; URLs in $ENV_FILE"
