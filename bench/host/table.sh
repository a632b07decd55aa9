#!/usr/bin/env bash
# The table of bench/host/run.sh from its results file (RESULT/INFO/NOTE
# lines): each measure beside its peer, the ratio, the target and whether
# this run met it. Prints a Markdown table; a value the run did not measure
# prints as n/a, and its target as "not measured".
#
#   bench/host/table.sh build-bench-host/bench-host/results.txt
set -euo pipefail
awk '
function has(k) { return (k in r) }
function us(v) { return sprintf("%.1f us", v / 1000) }
function ns(v) { return sprintf("%.2f ns", v) }
function x(v) { return sprintf("%.2fx", v) }
function verdict(ok) { return ok ? "**met**" : "**not met**" }
function row(what, kp, peer, ratio, target, met) {
    printf "| %s | %s | %s | %s | %s | %s |\n", what, kp, peer, ratio, target, met
}
function missing(what, target) { row(what, "n/a", "n/a", "", target, "not measured") }
# The median of the values whose key is prefix.rN.suffix (N = 0, 1, ...).
function median_rounds(prefix, suffix,    n, i, j, t, v) {
    n = 0
    for (i = 0; (prefix ".r" i "." suffix) in r; i++) v[++n] = r[prefix ".r" i "." suffix]
    if (n == 0) return "";
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
$1 == "RESULT" { r[$2] = $3 + 0 }
$1 == "INFO" { k = $2; $1 = ""; $2 = ""; sub(/^  */, ""); info[k] = $0 }
$1 == "NOTE" { $1 = ""; notes = notes "-" $0 "\n" }
END {
    print "Machine: " info["cpu"] ", " info["cpus"] " CPUs (" info["hypervisor"] " guest), kernel " info["kernel"]
    print "Date: " info["date"] "; load average before " info["load_before"] ", after " info["load_after"]
    print "Host kernel config: " info["host_config"]
    print "Latency runs at host priority: " info["rt"]
    print ""
    print "| measure | kp | peer | ratio | target | this run |"
    print "|---|---|---|---|---|---|"

    a = "micro.BM_kp_preempt_pair"; b = "micro.BM_tls_incdec"; c = "micro.BM_tls_ptr_incdec"
    if (has(a) && has(b)) {
        row("preempt_disable+enable vs thread_local ++/-- (per pair)", ns(r[a]), ns(r[b]), x(r[a] / r[b]), "<= 1.5x", verdict(r[a] / r[b] <= 1.5))
        if (has(c)) row("  same, vs a counter through a thread_local pointer (kp layout, no checks)", ns(r[a]), ns(r[c]), x(r[a] / r[c]), "(info)", "")
    } else missing("preempt_disable+enable vs thread_local ++/--", "<= 1.5x")

    a = "micro.BM_kp_schedule_roundtrip.model.2"; b = "micro.BM_futex_pingpong"; c = "micro.BM_fcontext_roundtrip"
    if (has(a) && has(b)) row("voluntary switch through schedule() vs futex ping-pong, one CPU (per switch)", ns(r[a] / 2), ns(r[b] / 2), x(r[b] / r[a]) " faster", ">= 30x faster", verdict(r[b] / r[a] >= 30))
    else missing("voluntary switch vs futex ping-pong", ">= 30x faster")
    if (has(a) && has(c)) row("voluntary switch through schedule() vs Boost.Context fcontext jump (per switch)", ns(r[a] / 2), ns(r[c] / 2), x(r[a] / r[c]), "<= 5x", verdict(r[a] / r[c] <= 5))
    else missing("voluntary switch vs fcontext", "<= 5x")
    a = "micro.BM_kp_schedule_roundtrip.model.0"
    if (has(a)) row("  same under model none (per switch)", ns(r[a] / 2), "", "", "(info)", "")

    a = "signal.kp_switch.round_trip"; b = "signal.bare.round_trip"
    if (has(a ".p50_ns") && has(b ".p50_ns")) {
        row("involuntary preemption, signal sent -> other task -> spinner resumes, p50", us(r[a ".p50_ns"]), us(r[b ".p50_ns"]) " (bare signal round trip)", x(r[a ".p50_ns"] / r[b ".p50_ns"]), "<= 1.3x", verdict(r[a ".p50_ns"] / r[b ".p50_ns"] <= 1.3))
        row("  same, p99", us(r[a ".p99_ns"]), us(r[b ".p99_ns"]), x(r[a ".p99_ns"] / r[b ".p99_ns"]), "(info)", "")
        row("  signal sent -> other task running, p50 (kp) / handler running (bare)", us(r["signal.kp_switch.to_other.p50_ns"]), us(r["signal.bare.to_other.p50_ns"]), "", "(info)", "")
        row("  redirect + interrupt, no switch: round trip p50", us(r["signal.kp_irq.round_trip.p50_ns"]), us(r[b ".p50_ns"]), x(r["signal.kp_irq.round_trip.p50_ns"] / r[b ".p50_ns"]), "(info)", "")
    } else missing("involuntary preemption vs bare signal round trip", "<= 1.3x")

    a = "kp.full.hog"; b = "host.hog"
    if (has(a ".p99_ns") && has(b ".p99_ns")) {
        d = r[a ".p99_ns"] - r[b ".p99_ns"]
        row("FIFO wakeup, FULL, kernel-mode hog: p99 (peer: host cyclictest + /dev/zero reader)", us(r[a ".p99_ns"]), us(r[b ".p99_ns"]), sprintf("%+.1f us", d / 1000), "<= +20 us", verdict(d <= 20000))
        row("  same, p50 / max", us(r[a ".p50_ns"]) " / " us(r[a ".max_ns"]), us(r[b ".p50_ns"]) " / " us(r[b ".max_ns"]), "", "(info)", "")
        if (has("host_hog.read_us")) row("  the hogs: kp 20 ms syscalls (might_sleep every 1 ms) / host 16 MiB reads of /dev/zero", us(r[a ".hog_syscall.p50_ns"]) " each (p50, wall)", sprintf("%.0f us each, %.1f%% system time", r["host_hog.read_us"], 100 * r["host_hog.system_s"] / (r["host_hog.system_s"] + r["host_hog.user_s"])), "", "(info)", "")
    } else missing("FIFO wakeup, FULL, kernel-mode hog vs cyclictest", "<= +20 us")
    if (has("kp.full.idle.p99_ns") && has("host.idle.p99_ns"))
        row("  idle: p50 / p99", us(r["kp.full.idle.p50_ns"]) " / " us(r["kp.full.idle.p99_ns"]), us(r["host.idle.p50_ns"]) " / " us(r["host.idle.p99_ns"]), "", "(info)", "")
    if (has("kp.full.hog_other.p99_ns"))
        row("  FULL + hog with the vCPU at host SCHED_OTHER: p50 / p99", us(r["kp.full.hog_other.p50_ns"]) " / " us(r["kp.full.hog_other.p99_ns"]), "", "", "(info)", "")
    a = "kp.voluntary.hog"
    if (has(a ".p99_ns")) row("FIFO wakeup, VOLUNTARY, kernel-mode hog (might_sleep every 1 ms): p50 / p99 / max", us(r[a ".p50_ns"]) " / " us(r[a ".p99_ns"]) " / " us(r[a ".max_ns"]), "", "", "(info)", "")
    a = "kp.none.hog"
    if (has(a ".max_ns") && has(a ".hog_syscall.max_ns"))
        row("FIFO wakeup, NONE, kernel-mode hog: max latency vs longest hog syscall (20 ms of CPU, wall)", us(r[a ".max_ns"]), us(r[a ".hog_syscall.max_ns"]) " (hog syscall)", x(r[a ".max_ns"] / r[a ".hog_syscall.max_ns"]), "<= syscall (+0.1 ms)", verdict(r[a ".max_ns"] <= r[a ".hog_syscall.max_ns"] + 100000))
    else missing("FIFO wakeup, NONE, kernel-mode hog", "bounded by the hog syscall")

    a = "kp.spin.normal"; b = "go.spin"
    if (has(a ".p99_ns") && has(b ".p99_ns")) {
        row("1 ms periodic task beside a spinner: p99 (kp SCHED_NORMAL vs Go, GOMAXPROCS=1)", us(r[a ".p99_ns"]), us(r[b ".p99_ns"]), x(r[b ".p99_ns"] / r[a ".p99_ns"]) " lower", ">= 100x lower", verdict(r[b ".p99_ns"] / r[a ".p99_ns"] >= 100))
        row("  same, p50", us(r[a ".p50_ns"]), us(r[b ".p50_ns"]), x(r[b ".p50_ns"] / r[a ".p50_ns"]) " lower", "(info)", "")
        if (has("kp.spin.fifo.p99_ns")) row("  kp task SCHED_FIFO 80 instead: p99", us(r["kp.spin.fifo.p99_ns"]), us(r[b ".p99_ns"]), x(r[b ".p99_ns"] / r["kp.spin.fifo.p99_ns"]) " lower", "(info)", "")
        if (has("go.idle.p99_ns")) row("  Go without the spinner: p50 / p99", "", us(r["go.idle.p50_ns"]) " / " us(r["go.idle.p99_ns"]), "", "(info)", "")
    } else missing("periodic task beside a spinner vs Go", ">= 100x lower p99")

    k1000 = median_rounds("tick.kp1000", "short_lost_pct"); k1 = median_rounds("tick.kp1", "short_lost_pct")
    bt = median_rounds("tick.bare_timer", "short_lost_pct"); bare = median_rounds("tick.bare", "short_lost_pct")
    if (k1000 != "" && k1 != "") {
        row("tick at HZ 1000: CPU lost vs HZ 1 (median of rounds)", sprintf("%.2f%%", k1000), sprintf("%.2f%% (HZ 1)", k1), sprintf("%+.2f%%", k1000 - k1), "< 3%", verdict(k1000 - k1 < 3))
        if (bt != "" && bare != "") row("  peers: plain pthread with a 1 kHz POSIX timer signal / with nothing", "", sprintf("%.2f%% / %.2f%%", bt, bare), sprintf("%+.2f%% (signal alone)", bt - bare), "(info)", "")
        g1 = median_rounds("tick.kp1000", "irq_gap.p50_ns"); g2 = median_rounds("tick.bare_timer", "irq_gap.p50_ns")
        if (g1 != "" && g2 != "") row("  one interrupt-sized gap, p50: kp tick / bare timer signal", us(g1), us(g2), "", "(info)", "")
    } else missing("tick at HZ 1000", "< 3%")

    if (has("tasks.rss_all_blocked_kib")) {
        mib = r["tasks.rss_all_blocked_kib"] / 1024
        row(sprintf("%d blocked tasks, %d KiB stacks: process VmRSS", r["tasks.count"], r["tasks.stack_kib"]), sprintf("%.1f MiB", mib), "", sprintf("%.2f KiB/task", r["tasks.per_task_kib"]), "<= 100 MiB", verdict(mib <= 100))
    } else missing("10,000 tasks with 64 KiB stacks", "<= 100 MiB")
    if (notes != "") { print ""; printf "%s", notes }
}' "$1"
