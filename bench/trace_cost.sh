#!/usr/bin/env bash
# Benchmark (not a test): what tracing costs a scheduling-heavy simulated
# run, compiled in but off, against the same run with the tracepoints
# compiled out (-DKP_TRACEPOINTS=OFF), and with every event recorded.
#
#   bench/trace_cost.sh [ROUNDS] [SECONDS]     (defaults: 15 rounds of 5 s virtual)
#
# Builds two Release trees (build-bench/on, build-bench/off) if needed,
# then runs kpreempt-bench-sched from each in turn, ROUNDS times,
# interleaved so that drift in the host's speed hits both alike. Reports,
# per build, the best and the median rate of scheduling events per second
# of process CPU time; the best is the one least disturbed by other load
# on a shared host. Every run must give the same trace hash (same work).
# With valgrind installed, also the instructions of one --seconds 0.1 run.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
seconds=${2:-5}

build() {  # dir, extra cmake args
    [ -x "$1/kpreempt-bench-sched" ] ||
        cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKP_BUILD_TESTS=OFF "${@:2}" >/dev/null
    cmake --build "$1" --target kpreempt-bench-sched >/dev/null
}
build build-bench/on
build build-bench/off -DKP_TRACEPOINTS=OFF

rate() {  # binary, extra args: scheduling events per CPU-second, then the trace hash
    "$@" --seconds "$seconds" | awk '/scheduling events\/s/ {r=$3} /event trace hash/ {h=$4} END {print r, h}'
}

declare -A rates
hashes=""
for ((i = 0; i < rounds; i++)); do
    for b in on off; do
        read -r r h < <(rate "build-bench/$b/kpreempt-bench-sched")
        rates[$b]+="$r "
        hashes+="$h "
    done
done
read -r all_rate _ < <(rate build-bench/on/kpreempt-bench-sched --trace all)

stats() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {printf "%s %s\n", v[NR], v[int((NR+1)/2)]}'; }
read -r on_best on_med < <(echo "${rates[on]}" | stats)
read -r off_best off_med < <(echo "${rates[off]}" | stats)

echo "kpreempt-bench-sched --seconds $seconds, $rounds interleaved rounds; scheduling events per CPU-second (M)"
echo "distinct trace hashes: $(echo "$hashes" | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ')"
printf '%-34s best %s  median %s\n' "compiled out (-DKP_TRACEPOINTS=OFF)" "$off_best" "$off_med"
printf '%-34s best %s  median %s\n' "compiled in, off (default)" "$on_best" "$on_med"
# Each round's two runs are neighbours in time: the median of the rounds'
# ratios is the estimate least moved by the host's drift.
# The quartiles say how far to trust the median.
read -r q1 paired q3 < <(paste <(echo "${rates[off]}" | tr ' ' '\n' | grep .) <(echo "${rates[on]}" | tr ' ' '\n' | grep .) |
         awk '{print $1/$2}' | sort -g |
         awk '{v[NR]=$1} END {print v[int((NR+3)/4)], v[int((NR+1)/2)], v[int((3*NR+3)/4)]}')
awk -v a="$on_best" -v b="$off_best" -v p="$paired" -v q1="$q1" -v q3="$q3" \
    'BEGIN {printf "cost when off, in time per event: %+.1f%% (median of the rounds; quartiles %+.1f%%, %+.1f%%), %+.1f%% (best against best)\n", (p-1)*100, (q1-1)*100, (q3-1)*100, (b/a-1)*100}'
awk -v a="$all_rate" -v b="$off_best" \
    'BEGIN {printf "--trace all (one run): %s M/s, %.2fx the time per event of compiled out\n", a, b/a}'

if command -v valgrind >/dev/null; then
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" --seconds 0.1 2>&1 >/dev/null |
           awk '/Collected/ {print $NF}'; }
    on_ir=$(ir build-bench/on/kpreempt-bench-sched)
    off_ir=$(ir build-bench/off/kpreempt-bench-sched)
    # Patched code needs valgrind to re-read what it rewrote.
    all_ir=$(ir --smc-check=all build-bench/on/kpreempt-bench-sched --trace all)
    awk -v a="$on_ir" -v b="$off_ir" -v c="$all_ir" 'BEGIN {
        printf "instructions, --seconds 0.1: compiled out %.1f M, off %.1f M (%+.1f%%), --trace all %.1f M (x%.2f)\n",
               b/1e6, a/1e6, (a/b-1)*100, c/1e6, c/b }'
fi
