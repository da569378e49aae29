#!/bin/sh
# Runs a command with a Docker daemon of its own: dockerd (Debian's docker.io)
# started on a private socket and data folder, left off the host's network
# set-up (no bridge, no iptables rules, no IP forwarding: containers use
# --network host or none), and stopped afterwards. DOCKER_HOST points the
# command at it.
#
#   tests/kubernetes/with_dockerd.sh build/dockerd python3 -m pytest tests/integration/test_container_image.py
#
# Needs root (dockerd does). Exits with the command's status, or 1 when the
# daemon does not start (its log is printed).
set -eu
state=$(realpath -m "$1")
shift
command -v dockerd >/dev/null || { echo "with_dockerd.sh: no dockerd (apt-get install docker.io)" >&2; exit 1; }
mkdir -p "$state"
rm -f "$state/docker.sock" "$state/dockerd.pid"
dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
  --data-root "$state/root" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
  --host "unix://$state/docker.sock" >"$state/dockerd.log" 2>&1 &
daemon=$!
stop() {
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  # dockerd leaves its network namespace mounted here.
  if mountpoint -q "$state/exec/netns/default" 2>/dev/null; then
    umount "$state/exec/netns/default" || true
  fi
}
trap stop EXIT INT TERM
export DOCKER_HOST="unix://$state/docker.sock"
tries=0
until docker info >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ $tries -gt 120 ] || ! kill -0 "$daemon" 2>/dev/null; then
    echo "with_dockerd.sh: dockerd did not start; its log:" >&2
    tail -n 30 "$state/dockerd.log" >&2
    exit 1
  fi
  sleep 0.5
done
status=0
"$@" || status=$?
exit $status
