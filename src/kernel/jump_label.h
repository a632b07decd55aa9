// Static keys (include/linux/jump_label.h, kernel/jump_label.c): a branch
// on a rarely enabled condition that costs, while the key is off, one
// 5-byte no-op in the instruction stream: no load, no compare, no branch
// predictor entry. Enabling the key patches every site of it into a jump to
// its out-of-line code, as Linux does; disabling puts the no-ops back.
//
// Each static_branch_unlikely<key>() that the compiler emits records
// (site, target, key) in the kp_jump_table section (in the section group
// of the function it sits in, so that the copies of an inline function the
// linker discards take their entries with them); static_key_slow_inc/dec
// rewrite the sites of their key (src/arch/x86_64/jump_label.cpp).
//
// The rule, as stop_machine() is Linux's: a key changes only while no
// other thread runs code that tests it. The simulated machine runs on one
// thread; the host machine changes keys before its CPUs start.
//
// Where asm goto or the patching is not available, a site loads the key's
// count and tests it (the generic form of jump_label.h without
// CONFIG_JUMP_LABEL).
#pragma once

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(KP_NO_JUMP_LABEL)
#define KP_JUMP_LABEL 1
#else
#define KP_JUMP_LABEL 0
#endif

namespace kp {

// A key that starts disabled (DEFINE_STATIC_KEY_FALSE); its value is a
// reference count of the users that want it on.
struct static_key_false {
    std::atomic<int> enabled{0};
};

struct jump_entry {
    std::uintptr_t code;    // the 5-byte site
    std::uintptr_t target;  // where the enabled branch goes
    static_key_false* key;
};

// 0 -> 1 patches the key's sites into jumps; 1 -> 0 back into no-ops.
// Throws std::system_error when the code cannot be made writable.
void static_key_slow_inc(static_key_false& key);
void static_key_slow_dec(static_key_false& key);
inline bool static_key_enabled(const static_key_false& key) {
    return key.enabled.load(std::memory_order_relaxed) > 0;
}

// `asm inline`: the site counts as the one instruction it is when the
// compiler weighs inlining, not as the five lines of its text.
template <static_key_false& Key>
[[gnu::always_inline]] inline bool static_branch_unlikely() {
#if KP_JUMP_LABEL
    asm inline goto(
        "1: .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n\t"  // nopl 0x0(%%rax,%%rax,1)
        ".pushsection kp_jump_table, \"aw?\"\n\t"
        ".balign 8\n\t"
        ".quad 1b, %l[l_yes], %c0\n\t"
        ".popsection"
        :
        : "i"(&Key)
        :
        : l_yes);
    return false;
l_yes:
    return true;
#else
    return static_key_enabled(Key);
#endif
}

}  // namespace kp
