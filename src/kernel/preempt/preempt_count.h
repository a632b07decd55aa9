// preempt_count: one 32-bit word per CPU, laid out bit for bit as Linux's
// (include/linux/preempt.h) with x86's inverted, folded NEED_RESCHED bit
// (arch/x86/include/asm/preempt.h):
//
//   31 30      24 23  20 19  16 15       8 7        0
//  +--+----------+------+------+----------+----------+
//  |NR|  unused  | NMI  |HARDIRQ| SOFTIRQ | PREEMPT  |
//  +--+----------+------+------+----------+----------+
//
// NR is set when NO reschedule is wanted. So the raw word is 0 exactly when
// the count is 0 and a reschedule is pending: preempt_enable is one
// decrement and one test against zero.
//
// The word is per CPU, not per task (x86): it is never saved on a switch,
// which is why __schedule() must find it at exactly 1 and
// finish_task_switch() at exactly 2.
#pragma once

#include <atomic>
#include <cstdint>

namespace kp {

inline constexpr std::uint32_t PREEMPT_BITS = 8;
inline constexpr std::uint32_t SOFTIRQ_BITS = 8;
inline constexpr std::uint32_t HARDIRQ_BITS = 4;
inline constexpr std::uint32_t NMI_BITS = 4;

inline constexpr std::uint32_t PREEMPT_SHIFT = 0;
inline constexpr std::uint32_t SOFTIRQ_SHIFT = PREEMPT_SHIFT + PREEMPT_BITS;
inline constexpr std::uint32_t HARDIRQ_SHIFT = SOFTIRQ_SHIFT + SOFTIRQ_BITS;
inline constexpr std::uint32_t NMI_SHIFT = HARDIRQ_SHIFT + HARDIRQ_BITS;

constexpr std::uint32_t field_mask(std::uint32_t bits, std::uint32_t shift) { return ((1u << bits) - 1) << shift; }

inline constexpr std::uint32_t PREEMPT_MASK = field_mask(PREEMPT_BITS, PREEMPT_SHIFT);
inline constexpr std::uint32_t SOFTIRQ_MASK = field_mask(SOFTIRQ_BITS, SOFTIRQ_SHIFT);
inline constexpr std::uint32_t HARDIRQ_MASK = field_mask(HARDIRQ_BITS, HARDIRQ_SHIFT);
inline constexpr std::uint32_t NMI_MASK = field_mask(NMI_BITS, NMI_SHIFT);

inline constexpr std::uint32_t PREEMPT_OFFSET = 1u << PREEMPT_SHIFT;
inline constexpr std::uint32_t SOFTIRQ_OFFSET = 1u << SOFTIRQ_SHIFT;
inline constexpr std::uint32_t HARDIRQ_OFFSET = 1u << HARDIRQ_SHIFT;
inline constexpr std::uint32_t NMI_OFFSET = 1u << NMI_SHIFT;
// local_bh_disable adds twice SOFTIRQ_OFFSET, so that bit 8 alone tells
// "serving a softirq" apart from "bottom halves disabled".
inline constexpr std::uint32_t SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET;

inline constexpr std::uint32_t PREEMPT_NEED_RESCHED = 0x80000000u;
inline constexpr std::uint32_t PREEMPT_DISABLE_OFFSET = PREEMPT_OFFSET;  // CONFIG_PREEMPT_COUNT=y
inline constexpr std::uint32_t PREEMPT_LOCK_OFFSET = PREEMPT_DISABLE_OFFSET;
inline constexpr std::uint32_t SOFTIRQ_LOCK_OFFSET = SOFTIRQ_DISABLE_OFFSET + PREEMPT_LOCK_OFFSET;
inline constexpr std::uint32_t PREEMPT_ENABLED = PREEMPT_NEED_RESCHED;  // raw: count 0, nothing pending
inline constexpr std::uint32_t PREEMPT_DISABLED = PREEMPT_DISABLE_OFFSET + PREEMPT_ENABLED;
inline constexpr std::uint32_t INIT_PREEMPT_COUNT = PREEMPT_OFFSET;
inline constexpr std::uint32_t FORK_PREEMPT_COUNT = 2 * PREEMPT_DISABLE_OFFSET + PREEMPT_ENABLED;

static_assert(PREEMPT_MASK == 0x000000ffu);
static_assert(SOFTIRQ_MASK == 0x0000ff00u);
static_assert(HARDIRQ_MASK == 0x000f0000u);
static_assert(NMI_MASK == 0x00f00000u);
static_assert(((PREEMPT_MASK | SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK) & PREEMPT_NEED_RESCHED) == 0);
static_assert(SOFTIRQ_DISABLE_OFFSET == 0x200u && HARDIRQ_OFFSET == 0x10000u && NMI_OFFSET == 0x100000u);

// The raw per-CPU word. Only its own CPU changes the count; the fold is also
// done on the owning CPU (resched_curr locally, or the reschedule IPI), so a
// plain load/store pair suffices as on x86 (where it is one `decl %gs:`).
// An interrupt between the load and the store can only fold the
// NEED_RESCHED bit; dec_and_test re-reads to catch that (as arm64 does).
class preempt_word {
public:
    std::uint32_t raw() const { return load(); }
    std::uint32_t count() const { return load() & ~PREEMPT_NEED_RESCHED; }

    void add(std::uint32_t val) { store(load() + val); }
    void sub(std::uint32_t val) { store(load() - val); }
    // Subtract and report whether the whole word is now 0: count reached
    // zero and a reschedule is folded in.
    bool sub_and_test(std::uint32_t val) {
        const std::uint32_t v = load() - val;
        store(v);
        return v == 0 || load() == 0;
    }
    // should_resched(off): count == off and a reschedule pending.
    bool should_resched(std::uint32_t offset) const { return load() == offset; }

    void set_need_resched() { store(load() & ~PREEMPT_NEED_RESCHED); }
    void clear_need_resched() { store(load() | PREEMPT_NEED_RESCHED); }
    bool test_need_resched() const { return (load() & PREEMPT_NEED_RESCHED) == 0; }
    // preempt_count_set: replace the count, keep the folded bit.
    void set_count(std::uint32_t c) { store((load() & PREEMPT_NEED_RESCHED) | (c & ~PREEMPT_NEED_RESCHED)); }
    void set_raw(std::uint32_t r) { store(r); }

private:
    std::uint32_t load() const {
        std::atomic_signal_fence(std::memory_order_seq_cst);
        return word_.load(std::memory_order_relaxed);
    }
    void store(std::uint32_t v) {
        word_.store(v, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    std::atomic<std::uint32_t> word_{PREEMPT_DISABLED};
};

// CONFIG_DEBUG_PREEMPT's limits for preempt_count_add/sub, per CPU. The
// preempt tracer (the preempt_disable/enable events, the preemptoff and
// preemptirqsoff latency tracers) is hooked into these checks: while it is
// live, trace_array::publish sets the limits so that every add and sub fails
// its check and takes the out-of-line path, which traces. Off, the hook costs
// nothing beyond the check Linux makes anyway (no static-key no-op).
// Bytes, as the PREEMPT field is: each check stays one compare.
struct preempt_check_limits {
    static constexpr std::uint8_t ADD_WARN_AT = PREEMPT_MASK - 10;
    std::uint8_t add_warn_at = ADD_WARN_AT;  // warn when the PREEMPT field reaches it
    std::uint8_t sub_floor = 0;              // warn when a sub finds the PREEMPT field at or below it
    void set_traced(bool on) {
        add_warn_at = on ? 0 : ADD_WARN_AT;
        sub_floor = on ? PREEMPT_MASK : 0;
    }
};
static_assert(PREEMPT_MASK == 0xff, "preempt_check_limits compares the PREEMPT field as a byte");

// Context predicates on a count (NEED_RESCHED already masked off).
constexpr std::uint32_t nmi_count(std::uint32_t pc) { return pc & NMI_MASK; }
constexpr std::uint32_t hardirq_count(std::uint32_t pc) { return pc & HARDIRQ_MASK; }
constexpr std::uint32_t softirq_count(std::uint32_t pc) { return pc & SOFTIRQ_MASK; }
constexpr std::uint32_t irq_count(std::uint32_t pc) { return pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK); }
constexpr bool pc_in_nmi(std::uint32_t pc) { return nmi_count(pc) != 0; }
constexpr bool pc_in_hardirq(std::uint32_t pc) { return hardirq_count(pc) != 0; }
constexpr bool pc_in_serving_softirq(std::uint32_t pc) { return (softirq_count(pc) & SOFTIRQ_OFFSET) != 0; }
constexpr bool pc_in_softirq(std::uint32_t pc) { return softirq_count(pc) != 0; }
constexpr bool pc_in_interrupt(std::uint32_t pc) { return irq_count(pc) != 0; }
constexpr bool pc_in_task(std::uint32_t pc) { return (pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)) == 0; }
constexpr bool pc_in_atomic(std::uint32_t pc) { return pc != 0; }
constexpr int interrupt_context_level(std::uint32_t pc) {
    return int((pc & NMI_MASK) != 0) + int((pc & (NMI_MASK | HARDIRQ_MASK)) != 0) +
           int((pc & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)) != 0);
}

}  // namespace kp
