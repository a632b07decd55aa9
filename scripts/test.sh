#!/usr/bin/env bash
# Builds and runs every test twice: a plain build in build/ and an
# AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/.
# Exits non-zero if any build or test fails. The last line is
# "N passed, N failed" over both suites (a failed build or demo run counts
# as one failure).
#
# Environment: KP_BUILD_DIR, KP_ASAN_BUILD_DIR (build directories),
# KP_JOBS (parallel jobs; default: all cores).
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${KP_BUILD_DIR:-build}
ASAN_DIR=${KP_ASAN_BUILD_DIR:-build-asan}
JOBS=${KP_JOBS:-$(nproc)}

# Sanitizer runtime options: any report fails the test (UBSan is also built
# with -fno-sanitize-recover); LeakSanitizer is on. Not detect_stack_use_after_return:
# its fake frames of tasks left blocked at teardown are not scanned for leaks
# (see task_stack::forget_frames).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_passed=0
total_failed=0
status=0
summary=()

# run_suite LABEL DIR CMAKE_ARGS...
run_suite() {
    local label=$1 dir=$2
    shift 2
    echo "=== $label: configure + build in $dir ==="
    if ! cmake -S . -B "$dir" -G Ninja "$@" || ! cmake --build "$dir" -j "$JOBS"; then
        echo "=== $label: BUILD FAILED ==="
        status=1
        total_failed=$((total_failed + 1))
        summary+=("$label: build failed")
        return
    fi
    echo "=== $label: demo ==="
    if ! "$dir/kpreempt-demo"; then
        echo "=== $label: DEMO FAILED ==="
        status=1
        total_failed=$((total_failed + 1))
        summary+=("$label: demo failed")
    fi
    echo "=== $label: ctest ==="
    local log
    log=$(mktemp)
    (cd "$dir" && ctest --output-on-failure --timeout 600 -j "$JOBS") 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        status=1
        total_failed=$((total_failed + 1))
        summary+=("$label: ctest produced no summary (rc $rc)")
        return
    fi
    local failed total
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    total_passed=$((total_passed + total - failed))
    total_failed=$((total_failed + failed))
    [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] || status=1
    summary+=("== $label ($dir) ==" "$line")
}

run_suite "plain" "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKP_SANITIZE=OFF
run_suite "asan+ubsan" "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKP_SANITIZE=ON -DKP_BUILD_BENCH=OFF

echo
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
exit "$status"
