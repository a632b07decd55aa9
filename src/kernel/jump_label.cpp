#include "kernel/jump_label.h"

#include <cassert>
#include <mutex>
#include <span>

namespace kp {

// The transformation of a key's sites is the CPU architecture's
// (arch/x86/kernel/jump_label.c); it sees the whole table and the key.
void arch_jump_label_transform(std::span<jump_entry> table, const static_key_false& key, bool enable);

namespace {

std::mutex jump_label_mutex;  // jump_label_lock()

#if KP_JUMP_LABEL
// The linker's bounds of the section; weak, for a program with no site.
extern "C" jump_entry __start_kp_jump_table[] __attribute__((weak));
extern "C" jump_entry __stop_kp_jump_table[] __attribute__((weak));

void jump_label_update(const static_key_false& key, bool enable) {
    if (!__start_kp_jump_table) return;
    arch_jump_label_transform({__start_kp_jump_table, __stop_kp_jump_table}, key, enable);
}
#else
void jump_label_update(const static_key_false&, bool) {}
#endif

}  // namespace

void static_key_slow_inc(static_key_false& key) {
    const std::lock_guard lock(jump_label_mutex);
    if (key.enabled.load(std::memory_order_relaxed) == 0) jump_label_update(key, true);
    key.enabled.fetch_add(1, std::memory_order_relaxed);
}

void static_key_slow_dec(static_key_false& key) {
    const std::lock_guard lock(jump_label_mutex);
    const int was = key.enabled.fetch_sub(1, std::memory_order_relaxed);
    assert(was > 0);
    if (was == 1) jump_label_update(key, false);
}

}  // namespace kp
