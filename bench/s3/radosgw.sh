#!/usr/bin/env bash
# Throwaway, loopback-only Ceph S3 gateway (radosgw) for tests and benchmarks.
#
#   bench/s3/radosgw.sh start DIR [PORT]   # PORT defaults to 7480
#   bench/s3/radosgw.sh stop DIR
#
# `start` builds a fresh one-mon / one-OSD cluster under DIR (the OSD keeps
# objects in RAM: memstore), starts radosgw on 127.0.0.1:PORT, creates an S3
# user and a bucket, and prints `export ...` lines on stdout for
#   eval "$(bench/s3/radosgw.sh start /tmp/rgw)"
# Everything else goes to stderr. `stop` kills the daemons by their pid files
# and leaves DIR (logs) in place. See README.md next to this file.
#
# Environment: BUCKET (default codesearch), TIMEOUT (seconds, default 90).
set -euo pipefail

SELF=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUCKET=${BUCKET:-codesearch}
TIMEOUT=${TIMEOUT:-90}
# The daemons, in start order. The names are ceph entity names
# (--id X gives mon.X, osd.X, client.X) and also the pid/log file names.
DAEMONS=(mon.a osd.0 client.rgw.a)
# Written into DIR so that `start` only ever wipes a directory it made itself.
MARKER=.radosgw-sh

log() { echo "$SELF: [${SECONDS}s] $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  echo "usage: $SELF start DIR [PORT]   (PORT defaults to 7480)" >&2
  echo "       $SELF stop DIR" >&2
  exit 2
}

# The binary each daemon runs as, to check a pid file still names our process
# (pids get reused) before signalling it.
comm_of() {
  case $1 in
    mon.*) echo ceph-mon ;;
    osd.*) echo ceph-osd ;;
    client.*) echo radosgw ;;
  esac
}

# Prints the pid of daemon $2 under DIR $1 if that daemon is running.
running_pid() {
  local pidfile=$1/run/$2.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$(comm_of "$2")" ]] || return 1
  echo "$pid"
}

stop_daemons() {
  local dir=$1 name pid i
  # Reverse start order: gateway first, monitor last.
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    if pid=$(running_pid "$dir" "$name"); then
      if [[ $name == osd.* ]]; then
        # On a clean shutdown memstore writes every object it holds into the
        # OSD data dir; the data is throwaway, so skip that and kill outright.
        kill -KILL "$pid" 2>/dev/null || true
      else
        kill -TERM "$pid" 2>/dev/null || true
      fi
      # Give it up to 5 s, then insist.
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$dir/run/$name.pid"
  done
}

# Succeeds if nothing listens on 127.0.0.1:$1 (binding is the only sure test).
port_free() {
  node -e '
    const s = require("net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(+process.argv[1], "127.0.0.1", () => s.close());
  ' "$1"
}

# A port the kernel considers free right now on 127.0.0.1.
free_port() {
  node -e '
    const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });
  '
}

# Random upper-case hex string of $1 bytes (2*$1 characters).
random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n' | tr a-f A-F
}

# Starts daemon $1 in the foreground of a new session (so a Ctrl-C or hangup
# in the caller's terminal cannot reach it later) with its output in the log
# dir, and records its pid. setsid does not fork here (a background job of a
# non-interactive shell is not a process-group leader), so $! is the daemon.
spawn() {
  local name=$1; shift
  setsid "$@" -f -c "$DIR/ceph.conf" --setuser root --setgroup root \
    </dev/null >>"$DIR/log/$name.out" 2>&1 &
  echo $! >"$DIR/run/$name.pid"
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails when
# the overall deadline passes or when one of the started daemons has died.
wait_for() {
  local what=$1; shift
  local name
  until "$@" >/dev/null 2>&1; do
    for name in "${DAEMONS[@]}"; do
      if [[ -f $DIR/run/$name.pid ]] && ! running_pid "$DIR" "$name" >/dev/null; then
        die "$name exited while waiting for $what; see $DIR/log/$name.log and $DIR/log/$name.out"
      fi
    done
    ((SECONDS < DEADLINE)) || die "timed out after ${TIMEOUT}s waiting for $what; logs in $DIR/log"
    sleep 0.2
  done
}

ceph_cli() { ceph -c "$DIR/ceph.conf" --connect-timeout 5 "$@"; }

osd_up() { [[ $(ceph_cli osd stat -f json) =~ \"num_up_osds\":1[,}] ]]; }

# Any HTTP answer from the gateway (anonymous GET / lists zero buckets).
rgw_up() { curl -sf -o /dev/null "http://127.0.0.1:$PORT/"; }

# SigV4-signed PUT of the bucket, with the aws4 package from the repo.
# 200 = created; 409 BucketAlreadyOwnedByYou is fine too.
create_bucket() {
  NODE_PATH=$REPO_ROOT/node_modules node -e '
    const aws4 = require("aws4"), http = require("http");
    const [host, bucket, accessKeyId, secretAccessKey] = process.argv.slice(1);
    const req = aws4.sign({ host, path: "/" + bucket, method: "PUT", service: "s3", region: "us-east-1" },
                          { accessKeyId, secretAccessKey });
    const [hostname, port] = host.split(":");
    http.request({ hostname, port, path: req.path, method: "PUT", headers: req.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        if (res.statusCode === 200 || (res.statusCode === 409 && body.includes("BucketAlreadyOwnedByYou"))) return;
        console.error(`PUT /${bucket}: HTTP ${res.statusCode} ${body}`);
        process.exit(1);
      });
    }).on("error", (e) => { console.error(e.message); process.exit(1); }).end();
  ' "127.0.0.1:$PORT" "$BUCKET" "$ACCESS_KEY" "$SECRET_KEY"
}

write_conf() {
  cat >"$DIR/ceph.conf" <<EOF
# Generated by $SELF: throwaway single-node cluster, loopback only, no auth.
[global]
fsid = $FSID
# msgr v2 only: one port for the mon, and nothing else needs v1.
mon host = [v2:127.0.0.1:$MON_PORT]
ms bind msgr1 = false
# Daemons default to "secure" (encrypted) mon sessions, which need cephx; with
# auth none radosgw could then never reach the mon (-13 in its log).
ms mon client mode = crc
ms bind ipv6 = false
public addr = 127.0.0.1
public network = 127.0.0.1/32
auth cluster required = none
auth service required = none
auth client required = none
# Never read anything from /etc/ceph or /var/lib/ceph: all state lives in DIR.
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
# One OSD: pools of size 1, placement across OSDs (type 0) not hosts, and few
# PGs so the pools rgw creates fit on one OSD without a mgr to autoscale them.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# Every osdmap change (OSD boot, each pool rgw creates) is a paxos round that
# the mon batches for up to 1 s by default; with one mon there is no point.
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
# Objects live in RAM (up to this many bytes); nothing survives a stop.
osd objectstore = memstore
memstore device bytes = 4294967296

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
EOF
}

cmd_start() {
  DEADLINE=$((SECONDS + TIMEOUT))
  [[ $PORT =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool node curl setsid; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH"
  done
  [[ -f $REPO_ROOT/node_modules/aws4/aws4.js ]] || die "aws4 not installed in $REPO_ROOT/node_modules (run npm install)"

  # Refuse to touch a live instance or a directory we did not create.
  if [[ -d $DIR ]]; then
    local name pid
    for name in "${DAEMONS[@]}"; do
      if pid=$(running_pid "$DIR" "$name"); then
        die "an instance is already running in $DIR ($name, pid $pid); run: $SELF stop $DIR"
      fi
    done
    if [[ -n $(ls -A "$DIR") && ! -f $DIR/$MARKER ]]; then
      die "$DIR is not empty and was not made by $SELF; refusing to wipe it"
    fi
  fi
  port_free "$PORT" || die "127.0.0.1:$PORT is already in use"

  # A fresh cluster every time: wipe whatever a previous start left.
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  rm -rf "${DIR:?}"/{ceph.conf,keyring,monmap,env,mon,osd,rgw,log,run}
  touch "$DIR/$MARKER"
  mkdir -p "$DIR"/{mon,osd,rgw,log,run}

  # From here on, a failure stops whatever was started.
  trap 'on_exit $?' EXIT

  FSID=$(uuidgen)
  MON_PORT=$(free_port)
  write_conf
  log "cluster $FSID in $DIR (mon 127.0.0.1:$MON_PORT, s3 127.0.0.1:$PORT)"

  # Auth is off, but mon --mkfs still insists on a keyring holding a mon. key.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >&2
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >&2
  ceph-mon -c "$DIR/ceph.conf" --id a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    --setuser root --setgroup root >&2
  spawn mon.a ceph-mon --id a
  log "mon.a started"

  # Register osd.0 with the mon (this also waits for the mon to answer).
  local osd_uuid
  osd_uuid=$(uuidgen)
  mkdir -p "$DIR/osd/ceph-0"  # memstore's mkfs does not create its data dir
  wait_for "the monitor" ceph_cli osd new "$osd_uuid" 0
  ceph-osd -c "$DIR/ceph.conf" --id 0 --mkfs --osd-uuid "$osd_uuid" --setuser root --setgroup root \
    >>"$DIR/log/osd.0.out" 2>&1 || die "ceph-osd --mkfs failed; see $DIR/log/osd.0.out"
  spawn osd.0 ceph-osd --id 0
  wait_for "osd.0 to come up" osd_up
  log "osd.0 up"

  spawn client.rgw.a radosgw --id rgw.a
  wait_for "radosgw on 127.0.0.1:$PORT" rgw_up
  log "radosgw answering on 127.0.0.1:$PORT"

  ACCESS_KEY=$(random_hex 10)
  SECRET_KEY=$(random_hex 20)
  radosgw-admin -c "$DIR/ceph.conf" user create --uid=codesearch --display-name=codesearch \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >>"$DIR/log/radosgw-admin.out" 2>&1 ||
    die "radosgw-admin user create failed; see $DIR/log/radosgw-admin.out"
  create_bucket || die "could not create bucket $BUCKET"
  log "bucket $BUCKET ready after ${SECONDS}s"

  cat >"$DIR/env" <<EOF
export AWS_ENDPOINT=http://127.0.0.1:$PORT
export AWS_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export CODESEARCH_S3_BUCKET=$BUCKET
EOF
  STARTED=1
  cat "$DIR/env"
}

on_exit() {
  [[ ${STARTED:-} == 1 ]] && return
  log "start failed (exit $1); stopping what was started"
  stop_daemons "$DIR"
}

[[ $# -ge 2 ]] || usage
DIR=$2
case $1 in
  start)
    [[ $# -le 3 ]] || usage
    PORT=${3:-7480}
    cmd_start
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    [[ -d $DIR ]] || die "$DIR does not exist"
    stop_daemons "$DIR"
    ;;
  *) usage ;;
esac
