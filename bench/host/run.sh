#!/usr/bin/env bash
# Benchmarks (not tests): the host machine beside its peers, in one run,
# printed as one table with ratios and the targets (docs/performance.md).
#
#   bench/host/run.sh [--quick]
#
# Environment:
#   KP_BENCH_BUILD    build directory (default build-bench-host; Release)
#   KP_BENCH_SECONDS  seconds per latency run (default 10; --quick: 3)
#   KP_BENCH_NO_RT=1  do not run the latency benchmarks at host SCHED_FIFO 80
#
# What it needs: cmake and a C++20 compiler (scripts/setup.sh), and for
# the peers libbenchmark-dev, libboost-context-dev, rt-tests (cyclictest)
# and golang-go (scripts/setup.sh --bench). A missing peer is reported as
# such in the table, never guessed.
#
# Where: the measured vCPU (or peer thread) on host CPU 0; senders, the
# machine's watcher thread and the benchmark's own threads on host CPU 1.
# The latency benchmarks (kp's vCPU, cyclictest, Go) run at host
# SCHED_FIFO 80 where chrt allows it, so that the host's other processes
# do not decide the tail of either side; cyclictest runs at -p 80 anyway.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
build=${KP_BENCH_BUILD:-build-bench-host}
seconds=${KP_BENCH_SECONDS:-$([ "$quick" = 1 ] && echo 3 || echo 10)}
events=$([ "$quick" = 1 ] && echo 1000 || echo 5000)
tick_rounds=$([ "$quick" = 1 ] && echo 1 || echo 3)
reps=$([ "$quick" = 1 ] && echo 2 || echo 5)
samples=$((seconds * 1000))
out="$build/bench-host"
mkdir -p "$out"
results="$out/results.txt"
: >"$results"

note() { echo "NOTE $*" >>"$results"; echo "run.sh: $*" >&2; }
# measure NAME COMMAND...: run it, keep its output in $out/NAME.txt and its
# RESULT lines; a failure is noted in the table, and the run goes on.
measure() {
    local name=$1
    shift
    if ! "$@" >"$out/$name.txt" 2>"$out/$name.err"; then
        note "$name failed: $(tail -1 "$out/$name.err")"
    fi
    grep '^RESULT ' "$out/$name.txt" >>"$results" || true
}

# ---- build ------------------------------------------------------------------
generator=()
command -v ninja >/dev/null 2>&1 && [ ! -f "$build/Makefile" ] && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKP_BUILD_TESTS=OFF >"$out/cmake.log"
targets=(kpreempt-bench-host)
# CMakeLists.txt defines the micro-benchmarks only where Google Benchmark is found.
if grep -qs 'kpreempt-bench-host-micro' "$build/build.ninja" "$build/Makefile"; then
    targets+=(kpreempt-bench-host-micro)
else
    note "Google Benchmark not found: no micro-benchmarks (libbenchmark-dev)"
fi
cmake --build "$build" -j2 --target "${targets[@]}" >"$out/build.log"
bench="$build/kpreempt-bench-host"

rt=()
if [ "${KP_BENCH_NO_RT:-0}" != 1 ] && chrt -f 80 true 2>/dev/null; then
    rt=(chrt -f 80)
else
    note "latency benchmarks at the host's default priority (no chrt -f 80)"
fi

# ---- the machine --------------------------------------------------------------
{
    echo "INFO date $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "INFO cpu $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "INFO cpus $(nproc)"
    echo "INFO kernel $(uname -r) $(uname -v)"
    echo "INFO hypervisor $(lscpu | sed -n 's/^Hypervisor vendor: *//p' | head -1)"
    echo "INFO clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo '?')"
    echo "INFO host_preempt $(cat /sys/kernel/debug/sched/preempt 2>/dev/null || echo '(debugfs not readable)')"
    echo "INFO host_config $( (zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null) |
        grep -E '^CONFIG_(HZ|PREEMPT_NONE|PREEMPT_VOLUNTARY|PREEMPT|PREEMPT_DYNAMIC|PREEMPT_RT)=' | tr '\n' ' ')"
    echo "INFO load_before $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "INFO rt ${rt[*]:-none}"
    echo "INFO compiler $(c++ --version | head -1)"
} >>"$results"

# ---- 1. micro-benchmarks: preempt pair, voluntary switch ----------------------
if [ -x "$build/kpreempt-bench-host-micro" ]; then
    echo "run.sh: micro-benchmarks (Google Benchmark, $reps repetitions, medians)" >&2
    "$build/kpreempt-bench-host-micro" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
        --benchmark_min_time=0.5 --benchmark_out="$out/micro.csv" --benchmark_out_format=csv >"$out/micro.log" 2>&1 ||
        note "micro-benchmarks failed (see $out/micro.log)"
    touch "$out/micro.csv"
    # "BM_x/real_time_median",iterations,real_time,cpu_time,ns,...
    awk -F, '$1 ~ /_median"$/ { n = $1; gsub(/"/, "", n); sub(/\/real_time_median$/, "", n);
                                gsub(/[\/:]/, ".", n); print "RESULT micro." n " " $3 }' "$out/micro.csv" >>"$results"
    grep -q 'micro.BM_fcontext_roundtrip ' "$results" ||
        note "Boost.Context not found: no fcontext peer (libboost-context-dev)"
fi

# ---- 2. involuntary preemption against a bare signal round trip ---------------
echo "run.sh: involuntary preemption ($events events each)" >&2
measure preempt-signal "${rt[@]}" "$bench" preempt-signal --events "$events"

# ---- 3. FIFO wakeup latency beside a kernel-mode hog, per model ---------------
for model in none voluntary full; do
    echo "run.sh: wakeup latency, $model + kernel-hog (${seconds} s)" >&2
    measure "wakeup-$model-hog" "${rt[@]}" "$bench" wakeup --model "$model" --load kernel-hog --policy fifo \
        --samples "$samples" --seconds "$seconds" --key "kp.$model.hog"
done
echo "run.sh: wakeup latency, full + idle, and full + kernel-hog at the host's default priority" >&2
measure wakeup-full-idle "${rt[@]}" "$bench" wakeup --model full --load idle --policy fifo --samples "$samples" \
    --seconds "$seconds" --key kp.full.idle
measure wakeup-full-hog-other "$bench" wakeup --model full --load kernel-hog --policy fifo --samples "$samples" \
    --seconds "$seconds" --key kp.full.hog_other

# cyclictest's histogram (1 us buckets) -> RESULT lines: p50/p99/p999 from
# the buckets (overflows count as above the last one), avg and max from
# its own summary lines.
cyclictest_results() {  # key, file
    awk -v key="$1" '
        /^[0-9]+ [0-9]+$/ { b = $1 + 0; c = $2 + 0; cnt[b] = c; total += c; if (b > top) top = b; next }
        /^# Histogram Overflows:/ { over = $4 + 0 }
        /^# Avg Latencies:/ { avg = $4 + 0 }
        /^# Max Latencies:/ { max = $4 + 0 }
        END {
            n = total + over
            if (n == 0) exit
            split("0.50 0.99 0.999", qs, " "); split("p50 p99 p999", names, " ")
            for (i = 1; i <= 3; i++) {
                want = qs[i] * n; seen = 0; v = -1
                for (b = 0; b <= top; b++) { seen += cnt[b]; if (seen >= want) { v = b; break } }
                if (v < 0) v = top + 1
                printf "RESULT %s.%s_ns %d\n", key, names[i], v * 1000
            }
            printf "RESULT %s.n %d\nRESULT %s.avg_ns %d\nRESULT %s.max_ns %d\n", key, n, key, avg * 1000, key, max * 1000
        }' "$2"
}

if command -v cyclictest >/dev/null 2>&1; then
    ct=(cyclictest -m -p 80 -i 1000 -l "$samples" -q -a 0 -t 1 -h 20000)
    echo "run.sh: ${ct[*]} (idle, then beside a /dev/zero reader on CPU 0)" >&2
    echo "INFO cyclictest_cmd ${ct[*]}" >>"$results"
    "${ct[@]}" >"$out/cyclictest-idle.txt" 2>&1 || note "cyclictest failed (see $out/cyclictest-idle.txt)"
    cyclictest_results host.idle "$out/cyclictest-idle.txt" >>"$results"
    "$bench" host-hog --cpu 0 --seconds $((seconds + 3)) >"$out/host-hog.txt" &
    hog=$!
    sleep 1
    "${ct[@]}" >"$out/cyclictest-hog.txt" 2>&1 || note "cyclictest failed (see $out/cyclictest-hog.txt)"
    wait "$hog" || note "host-hog failed"
    grep '^RESULT ' "$out/host-hog.txt" >>"$results" || true
    cyclictest_results host.hog "$out/cyclictest-hog.txt" >>"$results"
else
    note "cyclictest not found: no host peer for the wakeup latency (rt-tests)"
fi

# ---- 4. a 1 ms periodic task beside a user-mode spinner, against Go ----------
echo "run.sh: periodic task beside a spinner, kp (normal and fifo)" >&2
for policy in normal fifo; do
    measure "wakeup-spin-$policy" "${rt[@]}" "$bench" wakeup --model full --load user-spin --policy "$policy" \
        --samples "$samples" --seconds "$seconds" --key "kp.spin.$policy"
done
if command -v go >/dev/null 2>&1; then
    echo "run.sh: the Go peer (GOMAXPROCS=1)" >&2
    if GOCACHE="$PWD/$out/go-cache" go build -o "$PWD/$out/go-periodic" bench/host/go/periodic.go 2>"$out/go-build.log"; then
        echo "INFO go $(go version)" >>"$results"
        measure go-spin "${rt[@]}" env GOMAXPROCS=1 "$out/go-periodic" -seconds "$seconds" -key go.spin
        measure go-idle "${rt[@]}" env GOMAXPROCS=1 "$out/go-periodic" -seconds "$seconds" -spin=false -key go.idle
    else
        note "the Go peer did not build (see $out/go-build.log)"
    fi
else
    note "go not found: no Go peer (golang-go)"
fi

# ---- 5. the tick's share of a vCPU --------------------------------------------
echo "run.sh: tick overhead ($tick_rounds rounds of 2 s per subject)" >&2
for ((r = 0; r < tick_rounds; r++)); do
    measure "tick-bare-r$r" "${rt[@]}" "$bench" tick --subject bare --seconds 2 --key "tick.bare.r$r"
    measure "tick-bare-timer-r$r" "${rt[@]}" "$bench" tick --subject bare-timer --hz 1000 --seconds 2 \
        --key "tick.bare_timer.r$r"
    measure "tick-kp1000-r$r" "${rt[@]}" "$bench" tick --subject kp --hz 1000 --seconds 2 --key "tick.kp1000.r$r"
    measure "tick-kp1-r$r" "${rt[@]}" "$bench" tick --subject kp --hz 1 --seconds 2 --key "tick.kp1.r$r"
done

# ---- 6. 10,000 blocked tasks with 64 KiB stacks -------------------------------
echo "run.sh: 10,000 tasks" >&2
measure tasks "$bench" tasks --count 10000 --stack-kib 64

echo "INFO load_after $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results"
bash "$(dirname "$0")/table.sh" "$results" | tee "$out/table.md"
