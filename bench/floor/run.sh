#!/usr/bin/env bash
# The floor of a round-robin primary's CPU per connection against Node
# workers, for docs/benchmarks.md: primary.c is a single-threaded epoll
# loop in C that does only what such a primary must per connection
# (accept4, sendmsg with the descriptor, read the worker's answer, close
# its copy), with 2 Node workers (worker.js) answering as Node's cluster
# workers answer newconn and serving the bench app's handler. Not herd:
# a yardstick for herd's primary and Node's.
#
#   bench/floor/run.sh [PORT] [SECONDS]   # prints req/s and the primary's µs of CPU per connection
set -euo pipefail
cd "$(dirname "$0")"
port=${1:-3900}
secs=${2:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -o "$out/primary" primary.c
"$out/primary" "$port" worker.js &
pid=$!
trap 'kill $pid 2>/dev/null; pkill -P $pid 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port/"
wrk -t1 -c50 -d1s -H "Connection: close" "$url" >/dev/null # warm-up
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
c0=$(cpu)
res=$(wrk -t1 -c50 -d"${secs}s" -H "Connection: close" "$url")
c1=$(cpu)
n=$(awk '/requests in/{print $1}' <<<"$res")
rps=$(awk '/Requests\/sec/{print $2}' <<<"$res")
tick=$(getconf CLK_TCK)
echo "floor: $rps req/s, primary $(awk -v c=$((c1 - c0)) -v n="$n" -v t="$tick" 'BEGIN{printf "%.1f", c/t*1e6/n}') µs of CPU per connection"
