#!/usr/bin/env bash
# Runs one compatibility suite against bin/pulse and ends with one line,
# "compat-go: PASS (12s)" or "compat-node: FAIL (30s)".
#   go    nacos-sdk-go v1.1.4, the Go module in compat/gosdk
#   node  npm nacos-naming 2.6.3, installed with npm ci in compat/node
# A suite that cannot run (missing tool, failed install, no test executed, a
# skipped test) fails: it never passes by doing nothing.
set -uo pipefail
suite=${1:?usage: compat/run.sh go|node}
cd "$(dirname "$0")/.."
export PULSE_BIN="$PWD/bin/pulse"
GO=${GO:-go}
NPM=${NPM:-npm}

run_go() {
	cd compat/gosdk &&
		"$GO" mod download &&
		"$GO" vet ./... &&
		"$GO" test -race -count=1 -parallel 8 -timeout 5m -v ./...
}

run_node() {
	cd compat/node &&
		"$NPM" ci --no-audit --no-fund &&
		"$NPM" test
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$SECONDS
rc=0
case $suite in
go | node) ;;
*) echo "compat/run.sh: unknown suite $suite" >&2; exit 2 ;;
esac
if [[ ! -x $PULSE_BIN ]]; then
	echo "compat-$suite: $PULSE_BIN is missing: run make build" >&2
	rc=1
else
	("run_$suite") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	case $suite in
	go)
		grep -q -- '^--- PASS' "$log" || { echo "compat-go: no test passed" >&2; rc=1; }
		! grep -q -- '--- SKIP' "$log" || { echo "compat-go: a test was skipped" >&2; rc=1; }
		;;
	node)
		grep -Eq '^# pass [1-9]' "$log" || { echo "compat-node: no test passed" >&2; rc=1; }
		! grep -Eq '^# (skipped|todo) [1-9]' "$log" || { echo "compat-node: a test was skipped" >&2; rc=1; }
		;;
	esac
fi
result=PASS
[[ $rc == 0 ]] || result=FAIL
echo "compat-$suite: $result ($((SECONDS - start))s)"
exit "$rc"
