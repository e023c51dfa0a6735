#!/usr/bin/env bash
# Throwaway, loopback-only Ceph S3 gateway (radosgw) for tests and benchmarks.
#
#   bench/s3/radosgw.sh start DIR [PORT]   # PORT defaults to 7480
#   bench/s3/radosgw.sh stop DIR
#
# `start` builds a fresh one-mon / one-OSD cluster under DIR (the OSD keeps
# objects in RAM: memstore), starts radosgw on 127.0.0.1:PORT, creates an S3
# user and a bucket, and prints `export ...` lines on stdout, so that
#   eval "$(bench/s3/radosgw.sh start /tmp/rgw)"
# sets up the environment for an S3 client. Everything else goes to stderr.
# `start` refuses a DIR whose instance is still running; otherwise it wipes
# what an earlier start left in DIR. `stop` kills the daemons by their pid
# files and leaves DIR (config, logs) for inspection; `rm -rf DIR` after it.
#
# Environment: BUCKET (default codesearch), TIMEOUT (seconds for the whole
# start, default 90), MEMSTORE_BYTES (OSD capacity in RAM, default 4 GiB).
# See README.md next to this file.
set -euo pipefail

SELF=$(basename "$0")
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUCKET=${BUCKET:-codesearch}
TIMEOUT=${TIMEOUT:-90}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-4294967296}
# The daemons in start order, by ceph entity name (`--id X` makes mon.X, osd.X
# or client.X); the names are also those of their pid and log files.
DAEMONS=(mon.a osd.0 client.rgw.a)
# Written into DIR so that `start` only ever wipes a directory it made itself.
MARKER=.radosgw-sh

log() { echo "$SELF: [${SECONDS}s] $*" >&2; }
die() { echo "$SELF: error: $*" >&2; exit 1; }

usage() {
  echo "usage: $SELF start DIR [PORT]   (PORT defaults to 7480)" >&2
  echo "       $SELF stop DIR" >&2
  exit 2
}

# The executable behind each daemon name, so that a pid file is only trusted
# while it still names our daemon (pids get reused).
comm_of() {
  case $1 in
    mon.*) echo ceph-mon ;;
    osd.*) echo ceph-osd ;;
    client.*) echo radosgw ;;
  esac
}

# Succeeds if pid $1 runs executable $2 and is not a zombie (pid 1 here may
# be slow to reap the daemons once their parent, this script, has exited).
alive() {
  local stat
  [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }  # the state letter follows "(comm) "
  [[ ${stat:0:1} != Z ]]
}

# Prints the pid of daemon $2 of the instance in DIR $1 if it is running.
running_pid() {
  local pidfile=$1/run/$2.pid pid
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" "$(comm_of "$2")" || return 1
  echo "$pid"
}

stop_daemons() {
  local dir=$1 name pid i stopped=0
  # Reverse start order: gateway first, monitor last. SIGKILL, because the
  # state is throwaway and a clean stop is slow or wasteful: radosgw takes
  # ~10 s to drain, and memstore would dump every object it holds into DIR.
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    if pid=$(running_pid "$dir" "$name"); then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 100); do
        alive "$pid" "$(comm_of "$name")" || break
        sleep 0.05
      done
      log "stopped $name (pid $pid)"
      stopped=1
    fi
    rm -f "$dir/run/$name.pid"
  done
  ((stopped)) || log "nothing was running in $dir"
}

# Succeeds if nothing listens on 127.0.0.1:$1 (binding is the only sure test).
port_free() {
  node -e '
    const s = require("net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(+process.argv[1], "127.0.0.1", () => s.close());
  ' "$1"
}

# A port that is free on 127.0.0.1 right now, for the monitor.
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

# Starts daemon $1 (the command follows) in the foreground of its own session,
# so that signals meant for the caller's terminal or process group (Ctrl-C
# later on, `timeout`) do not reach it; output goes to DIR/log/NAME.out and
# the pid to DIR/run/NAME.pid. setsid only forks when it is a process-group
# leader, which a background child of a non-interactive shell never is, so
# $! is the daemon itself; we wait for the exec to be sure.
spawn() {
  local name=$1 comm i; shift
  setsid "$@" -f -c "$DIR/ceph.conf" --setuser root --setgroup root \
    </dev/null >>"$DIR/log/$name.out" 2>&1 &
  local pid=$!
  disown "$pid"  # no "Killed" job notices from this shell when we stop it
  echo "$pid" >"$DIR/run/$name.pid"
  comm=$(comm_of "$name")
  for i in $(seq 100); do
    alive "$pid" "$comm" && return 0
    [[ -d /proc/$pid ]] || break
    sleep 0.01
  done
  die "$name did not start; see $DIR/log/$name.out"
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails when
# the overall deadline passes or as soon as a started daemon has died.
wait_for() {
  local what=$1 name; shift
  until "$@" >/dev/null 2>&1; do
    for name in "${DAEMONS[@]}"; do
      if [[ -f $DIR/run/$name.pid ]] && ! running_pid "$DIR" "$name" >/dev/null; then
        die "$name exited while waiting for $what; see $DIR/log/$name.log and $DIR/log/$name.out"
      fi
    done
    ((SECONDS < DEADLINE)) || die "timed out after ${TIMEOUT}s waiting for $what; logs in $DIR/log"
    sleep 0.1
  done
}

ceph_cli() { ceph -c "$DIR/ceph.conf" --connect-timeout 5 "$@"; }

osd_up() { [[ $(ceph_cli osd stat -f json) =~ \"num_up_osds\":1[,}] ]]; }

# Any HTTP answer from the gateway (an anonymous GET / lists zero buckets).
rgw_up() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; }

# SigV4-signed PUT of the bucket, signed with the repo's aws4 package.
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
# msgr v2 only: the mon needs a single port, and nothing here speaks v1.
mon host = [v2:127.0.0.1:$MON_PORT]
ms bind msgr1 = false
ms bind ipv6 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.1/32
auth cluster required = none
auth service required = none
auth client required = none
# Daemons default to "secure" (encrypted) mon sessions, which need cephx; with
# auth none radosgw could then never reach the mon (-13 in its log).
ms mon client mode = crc
# Nothing is read from /etc/ceph or /var/lib/ceph: all state lives in DIR.
keyring = $DIR/keyring
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
# One OSD: pools of size 1, replicas placed across OSDs (type 0) rather than
# hosts, and few PGs per pool, so that the pools radosgw creates fit on one
# OSD without a mgr to autoscale them.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# Every osdmap change (the OSD booting, each pool radosgw creates) is a paxos
# round, which the mon batches for up to 1 s by default; with that, start
# takes ~15 s instead of ~2 s.
paxos propose interval = 0.05
paxos min wait = 0.01
# The mon store is tiny; do not shut the mon down when the disk is nearly full.
mon data avail warn = 1
mon data avail crit = 0

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
# Objects live in RAM, up to this many bytes; nothing survives a stop.
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
EOF
}

cmd_start() {
  DEADLINE=$((SECONDS + TIMEOUT))
  [[ $PORT =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$PORT'"
  local tool name pid
  for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool node curl setsid uuidgen; do
    command -v "$tool" >/dev/null || die "$tool not found in PATH"
  done
  [[ -f $REPO_ROOT/node_modules/aws4/aws4.js ]] ||
    die "aws4 is not installed in $REPO_ROOT/node_modules (run npm install)"

  # Refuse to touch a live instance or a directory we did not create.
  if [[ -d $DIR ]]; then
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

  # A fresh cluster every time: wipe whatever an earlier start left.
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd)
  rm -rf "${DIR:?}"/{ceph.conf,keyring,monmap,env,mon,osd,rgw,log,run}
  touch "$DIR/$MARKER"
  mkdir -p "$DIR"/{mon,osd/ceph-0,rgw,log,run}

  # From here on, any failure (or Ctrl-C) stops whatever was started.
  trap 'on_exit $?' EXIT
  trap 'exit 130' INT TERM HUP

  FSID=$(uuidgen)
  MON_PORT=$(free_port)
  write_conf
  log "cluster $FSID in $DIR (mon 127.0.0.1:$MON_PORT, S3 127.0.0.1:$PORT)"

  # Auth is off, but mon --mkfs still insists on a keyring holding a mon. key.
  {
    ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' &&
      monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" &&
      ceph-mon -c "$DIR/ceph.conf" --id a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
        --setuser root --setgroup root
  } >>"$DIR/log/mkfs.out" 2>&1 || die "creating the monitor failed; see $DIR/log/mkfs.out"
  spawn mon.a ceph-mon --id a

  # Register osd.0 with the mon (retried until the mon answers), then create
  # its (in-memory) store and start it.
  local osd_uuid
  osd_uuid=$(uuidgen)
  wait_for "the monitor" ceph_cli osd new "$osd_uuid" 0
  log "mon.a up"
  ceph-osd -c "$DIR/ceph.conf" --id 0 --mkfs --osd-uuid "$osd_uuid" --setuser root --setgroup root \
    >>"$DIR/log/mkfs.out" 2>&1 || die "ceph-osd --mkfs failed; see $DIR/log/mkfs.out"
  spawn osd.0 ceph-osd --id 0
  wait_for "osd.0 to come up" osd_up
  log "osd.0 up"

  # radosgw creates its pools and the default zone itself on first start.
  spawn client.rgw.a radosgw --id rgw.a
  wait_for "radosgw on 127.0.0.1:$PORT" rgw_up
  log "radosgw answering on 127.0.0.1:$PORT"

  # Even with auth none, S3 requests are signed, so the gateway needs a user
  # with keys. Created after radosgw is up, so that the two do not race to
  # create the default zone.
  ACCESS_KEY=$(random_hex 10)
  SECRET_KEY=$(random_hex 20)
  radosgw-admin -c "$DIR/ceph.conf" user create --uid=codesearch --display-name=codesearch \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >>"$DIR/log/radosgw-admin.out" 2>&1 ||
    die "radosgw-admin user create failed; see $DIR/log/radosgw-admin.out"
  create_bucket || die "could not create bucket $BUCKET"
  log "bucket $BUCKET created; ready (stop with: $SELF stop $DIR)"

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
  echo "$SELF: start failed (exit $1); stopping what was started" >&2
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
