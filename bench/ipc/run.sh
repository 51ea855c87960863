#!/usr/bin/env bash
# Runs the Go <-> Go IPC benchmarks (ipc/bench_test.go), the Node <->
# Node ones (node-ipc.js) and the C floor of the ping-pong (floor.c: two
# processes, blocking write/read on a socketpair) alternately, exchange by exchange, ROUNDS times
# (Go first in odd rounds, Node first in even ones), then prints a
# markdown table of the medians, the min–max and the Go/Node ratios. The
# ping-pong and handle tests also run with GOMAXPROCS=1 in the Go
# processes. Both sides use the same TCP connector process (the Go test
# binary's) for the handle tests.
#
#   bench/ipc/run.sh                 # 3 rounds, about 2.5 minutes
#   ROUNDS=5 OUT=/tmp/ipc bench/ipc/run.sh
#
# Needs go, node (v20) and a C compiler (cc) on PATH. Raw results stay in $OUT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-1s}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ipc-bench.XXXXXX")}
mkdir -p "$OUT"

(cd "$root" && go test -c -o "$OUT/ipc.test" ./ipc/)
cc -O2 -o "$OUT/floor" "$here/floor.c" # the kernel's floor of the ping-pong
export CONNECTOR="env HERD_TEST_HELPER=ipc-bench-connector $OUT/ipc.test"

# The exchanges, as Go sub-benchmark patterns and node-ipc.js test names.
# Each round runs every exchange in Go and then in Node (or Node, then Go:
# the order alternates), so that both sides of a pair see the same moment
# of a machine that may be busy with other work.
tests=(p2c/100B p2c/64KiB c2p/100B c2p/64KiB pingpong handles conns)
gopattern() { echo "^BenchmarkIPC\$/^${1//\//\$/^}\$"; }

run_go() { # round test
	timeout 60 "$OUT/ipc.test" -test.run '^$' -test.bench "$(gopattern "$2")" \
		-test.benchtime "$BENCHTIME" >>"$OUT/go-$1.txt" 2>>"$OUT/go-$1.err"
	case $2 in pingpong | handles)
		# Again with one P per process (as herd workers that each get
		# one core would run); the table shows both.
		GOMAXPROCS=1 timeout 60 "$OUT/ipc.test" -test.run '^$' -test.bench "$(gopattern "$2")" \
			-test.benchtime "$BENCHTIME" >>"$OUT/go1-$1.txt" 2>>"$OUT/go1-$1.err" ;;
	esac
}
run_node() { # round test
	timeout 60 node "$here/node-ipc.js" "$2" >>"$OUT/node-$1.jsonl" 2>>"$OUT/node-$1.err"
	# The C floor beside Node's ping-pong, in the same moment of the machine.
	if [ "$2" = pingpong ]; then timeout 60 "$OUT/floor" >>"$OUT/c-$1.jsonl" 2>>"$OUT/c-$1.err"; fi
}

{
	echo "date: $(date -u +%FT%TZ)"
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo || true
	echo "go: $(go version)"
	echo "node: $(node --version)"
	echo "load before: $(cat /proc/loadavg)"
} | tee "$OUT/machine.txt" >&2

for r in $(seq 1 "$ROUNDS"); do
	echo "round $r/$ROUNDS" >&2
	echo "$r $(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/load.txt"
	for t in "${tests[@]}"; do
		if ((r % 2)); then run_go "$r" "$t" && run_node "$r" "$t"; else run_node "$r" "$t" && run_go "$r" "$t"; fi
	done
done
echo "load after: $(cat /proc/loadavg)" | tee -a "$OUT/machine.txt" >&2
echo "results in $OUT" >&2
node "$here/summarize.js" "$OUT"
