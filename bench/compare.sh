#!/usr/bin/env bash
# Side-by-side benchmark of Pulse, a trivial net/http handler (the ceiling of
# the beat path) and etcd 3.4 leases, in one run on this machine, everything
# on 127.0.0.1. Prints one table with ratios and each target met or not.
#
#   bench/compare.sh [--quick] [--out DIR] [--yes]
#
# Needs Go and etcd. When etcd is missing it installs Debian's etcd-server
# with apt-get, printing the commands first: as root at once (unattended, as
# in CI), otherwise with sudo after asking (--yes: without asking). Every run
# below is bounded in count and time; the whole script takes about 8 minutes
# at default sizes, about 3 with --quick.
set -euo pipefail

quick=0
out=""
yes=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--out) out="$2"; shift ;;
	--yes) yes=1 ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
# install_etcd installs Debian's etcd-server with apt-get, or says why not.
install_etcd() {
	local sudo="" c
	local cmds=("apt-get update -qq" "env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server")
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "compare.sh: etcd is not on PATH and apt-get is unavailable:" >&2
		echo "  install etcd 3.4 or later so that 'etcd' is on PATH, and run again" >&2
		exit 1
	fi
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "compare.sh: etcd is not on PATH and sudo is unavailable; as root, run:" >&2
			printf '  %s\n' "${cmds[@]}" >&2
			exit 1
		fi
		sudo="sudo"
	fi
	echo "# etcd is not on PATH; installing Debian's etcd-server:" >&2
	for c in "${cmds[@]}"; do echo "#   $sudo${sudo:+ }$c" >&2; done
	if [ -n "$sudo" ] && [ "$yes" != 1 ]; then
		local answer=""
		[ -t 0 ] && { read -r -p "Run these commands? [y/N] " answer || true; }
		case "$answer" in
		y | Y | yes) ;;
		*) echo "compare.sh: etcd not installed; run the commands above, or pass --yes" >&2; exit 1 ;;
		esac
	fi
	for c in "${cmds[@]}"; do
		# shellcheck disable=SC2086 # each command splits into its words
		$sudo $c >&2
	done
	if ! command -v etcd >/dev/null 2>&1; then
		echo "compare.sh: etcd-server is installed, but etcd is still not on PATH" >&2
		exit 1
	fi
}
command -v etcd >/dev/null 2>&1 || install_etcd

cd "$(dirname "$0")/.."
root=$(pwd)
out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/pulse-compare.XXXXXX")}
mkdir -p "$out"

echo "# building into $out" >&2
go build -o "$out/pulse" ./cmd/pulse
(cd bench/etcdload && go build -o "$out/etcdload" .)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

if [ "$quick" = 1 ]; then
	N=20000 NREG=200000 FLAT=4s REP=3 PACED=20s NEXP=2000 ROUNDS=10 QDUR=4s
else
	N=100000 NREG=1000000 FLAT=8s REP=5 PACED=40s NEXP=10000 ROUNDS=50 QDUR=10s
fi
P="$out/pulse bench --spawn --server-log-level warn --max-time 4m"

# run NAME CMD...: runs a bounded command, keeps its output, and its RESULT
# line in NAME.result.
run() {
	local name=$1
	shift
	echo "# $name: $*" >&2
	echo "$*" | sed "s|$out/||g" >"$out/$name.cmd"
	if ! timeout 300 "$@" >"$out/$name.txt" 2>"$out/$name.err"; then
		echo "# $name failed; see $out/$name.err" >&2
		tail -5 "$out/$name.err" >&2
	fi
	grep '^RESULT' "$out/$name.txt" >"$out/$name.result" || true
}

run ceiling $P beats --vs-ceiling --rate 0 --n $N --duration $FLAT --repeat $REP
run paced $P beats --n $N --interval 5s --duration $PACED
run batch $P beats --rate 0 --n $N --duration $FLAT --batch 100
run register $P register --n $N
run register1m $P register --n $NREG
run expiry $P expiry --n $NEXP
run push $P push --m 1000 --rounds $ROUNDS
run query $P query --duration $QDUR
run etcd "$out/etcdload" run --leases $N --ttl 15s --duration $PACED --flat-duration $FLAT --detect-leases 1000 --detect-ttl 3s

# v RUN KEY: a figure of a run, "-" when missing.
v() {
	local x
	x=$(grep -o " $2=[^ ]*" "$out/$1.result" 2>/dev/null | head -1 | cut -d= -f2)
	echo "${x:--}"
}
# ratio A B: A/B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
# us SECONDS_PER_1K: microseconds per operation.
us() { awk -v a="$1" 'BEGIN { if (a == "-" || a < 0) print "-"; else printf "%.1f", a * 1000 }'; }
# met VALUE OP LIMIT: yes or no.
met() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
	if (a == "-" || b == "-") { print "n/a"; exit }
	ok = (op == "<=") ? (a + 0 <= b + 0) : (op == ">=") ? (a + 0 >= b + 0) : (op == "<") ? (a + 0 < b + 0) : (a + 0 == b + 0)
	print ok ? "yes" : "NO" }'; }
row() { printf "%-44s %12s %12s %12s %9s %9s   %-26s %s\n" "$@"; }

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo
echo "Pulse side by side: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) cores ($cpu_model), $mem; $(go version | cut -d' ' -f3); etcd $(v etcd version) (data dir on $(v etcd data_dir_fs))"
echo "load generator and servers share the same cores; sizes: N=$N instances/leases, $([ $quick = 1 ] && echo quick || echo default)"
echo
row "figure" "pulse" "ceiling" "etcd" "p/ceil" "p/etcd" "target" "met"
row "beats/renewals per s, flat out" "$(v ceiling beats_per_s)" "$(v ceiling ceiling_beats_per_s)" "$(v etcd flat_renewals_per_s)" \
	"$(ratio "$(v ceiling beats_per_s)" "$(v ceiling ceiling_beats_per_s)")" "$(ratio "$(v ceiling beats_per_s)" "$(v etcd flat_renewals_per_s)")" \
	">= 0.8 of ceiling" "$(met "$(ratio "$(v ceiling beats_per_s)" "$(v ceiling ceiling_beats_per_s)")" ">=" 0.8)"
fp=$(us "$(v ceiling cpu_s_per_1k)") fc=$(us "$(v ceiling ceiling_cpu_s_per_1k)") fe=$(us "$(v etcd flat_cpu_s_per_1k)")
row "server CPU us per beat/renewal, flat out" "$fp" "$fc" "$fe" "$(ratio "$fp" "$fc")" "$(ratio "$fp" "$fe")" "<= etcd" "$(met "$fp" "<=" "$fe")"
bp=$(us "$(v batch cpu_s_per_1k)")
row "  Pulse batch endpoint, 100 beats/request" "$bp" "" "$fe" "" "$(ratio "$bp" "$fe")" "(opt-in, Pulse client)" ""
row "  its beats per s, flat out" "$(v batch beats_per_s)" "" "$(v etcd flat_renewals_per_s)" "" "$(ratio "$(v batch beats_per_s)" "$(v etcd flat_renewals_per_s)")" "" ""
pp=$(us "$(v paced cpu_s_per_1k)") pe=$(us "$(v etcd paced_cpu_s_per_1k)")
row "server CPU us per beat/renewal, paced N/5s" "$pp" "" "$pe" "" "$(ratio "$pp" "$pe")" "<= etcd" "$(met "$pp" "<=" "$pe")"
row "load generator CPU us per beat/renewal, flat" "$(us "$(v ceiling client_cpu_s_per_1k)")" "$(us "$(v ceiling ceiling_client_cpu_s_per_1k)")" "$(us "$(v etcd flat_client_cpu_s_per_1k)")" "" "" "(client side, same cores)" ""
row "paced beats/renewals per s achieved" "$(v paced beats_per_s)" "" "$(v etcd paced_renewals_per_s)" "" "$(ratio "$(v paced beats_per_s)" "$(v etcd paced_renewals_per_s)")" "N/5s" ""
row "paced p99 latency ms" "$(v paced p99_ms)" "" "$(v etcd paced_p99_ms)" "" "" "" ""
row "instances falsely unhealthy, N paced $PACED" "$(v paced unhealthy_delta)" "" "" "" "" "0" "$(met "$(v paced unhealthy_delta)" "==" 0)"
row "registrations per s (N)" "$(v register register_per_s)" "" "$(v etcd register_per_s)" "" "$(ratio "$(v register register_per_s)" "$(v etcd register_per_s)")" ">= 20000" "$(met "$(v register register_per_s)" ">=" 20000)"
row "RSS bytes per instance/lease (N)" "$(v register bytes_per_instance)" "" "$(v etcd bytes_per_lease)" "" "$(ratio "$(v register bytes_per_instance)" "$(v etcd bytes_per_lease)")" "" ""
row "RSS bytes per instance ($NREG)" "$(v register1m bytes_per_instance)" "" "" "" "" "<= 1024" "$(met "$(v register1m bytes_per_instance)" "<=" 1024)"
row "registrations per s ($NREG)" "$(v register1m register_per_s)" "" "" "" "" ">= 20000" "$(met "$(v register1m register_per_s)" ">=" 20000)"
row "idle RSS MiB" "$(v register idle_rss_mib)" "" "$(v etcd idle_rss_mib)" "" "$(ratio "$(v register idle_rss_mib)" "$(v etcd idle_rss_mib)")" "< 20" "$(met "$(v register idle_rss_mib)" "<" 20)"
row "unhealthy transition late ms p50/p99" "$(v expiry unhealthy_late_p50_ms)/$(v expiry unhealthy_late_p99_ms)" "" "" "" "" "p99 <= 50" "$(met "$(v expiry unhealthy_late_p99_ms)" "<=" 50)"
row "removal late ms p50/p99 (etcd: deletion)" "$(v expiry removal_late_p50_ms)/$(v expiry removal_late_p99_ms)" "" "$(v etcd detect_late_p50_ms)/$(v etcd detect_late_p99_ms)" "" \
	"$(ratio "$(v expiry removal_late_p99_ms)" "$(v etcd detect_late_p99_ms)")" "p99 <= 50" "$(met "$(v expiry removal_late_p99_ms)" "<=" 50)"
row "late max ms (unhealthy, removal / etcd)" "$(v expiry unhealthy_late_max_ms), $(v expiry removal_late_max_ms)" "" "$(v etcd detect_late_max_ms)" "" "" "" ""
row "beating instances marked unhealthy (expiry)" "$(v expiry false_unhealthy)" "" "" "" "" "0" "$(met "$(v expiry false_unhealthy)" "==" 0)"
row "push to 1000 UDP subscribers p50/p99 ms" "$(v push p50_ms)/$(v push p99_ms)" "" "" "" "" "p99 <= 100" "$(met "$(v push p99_ms)" "<=" 100)"
row "  raw UDP baseline p50/p99 ms" "$(v push baseline_p50_ms)/$(v push baseline_p99_ms)" "" "" "" "" "" ""
row "list queries per s, 100 instances" "$(v query queries_per_s)" "" "" "" "" "" ""
row "  list query p50/p99 ms" "$(v query p50_ms)/$(v query p99_ms)" "" "" "" "" "" ""
echo
echo "detection after the owner stops: Pulse marks unhealthy at last beat + preserved.heart.beat.timeout and removes at"
echo "+ preserved.ip.delete.timeout (3 s / 6 s here); etcd deletes at last renewal + TTL (3 s), seen by a watch"
echo "$(v etcd detect_from_kill_p50_ms) ms (median) after the holder was killed."
echo
echo "commands (run from the repository root, after building into \$OUT):"
for f in ceiling paced batch register register1m expiry push query etcd; do
	[ -f "$out/$f.cmd" ] && echo "  \$OUT/$(cat "$out/$f.cmd")"
done
echo "full outputs: $out"
