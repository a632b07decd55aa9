// Patching static-key sites on x86-64 (arch/x86/kernel/jump_label.c): a
// site is the 5-byte no-op `0f 1f 44 00 00` while its key is off and
// `e9 rel32`, a jump to the branch's target, while on.
//
// The text is made writable for the rewrite and read-only again after it
// (text_poke's temporary mapping, here an mprotect of the range the key's
// sites span). Linux rewrites live code that other CPUs may be running
// with the int3 protocol; here the caller guarantees that no other thread
// runs the sites (kernel/jump_label.h), so a plain store is sound, and
// __builtin___clear_cache orders it before the code runs again.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <span>
#include <system_error>

#include "kernel/jump_label.h"

namespace kp {

namespace {

constexpr std::array<unsigned char, 5> nop5 = {0x0f, 0x1f, 0x44, 0x00, 0x00};

std::array<unsigned char, 5> jump_to(const jump_entry& e) {
    const std::intptr_t rel = static_cast<std::intptr_t>(e.target) - static_cast<std::intptr_t>(e.code + 5);
    assert(rel == static_cast<std::int32_t>(rel));
    const auto rel32 = static_cast<std::int32_t>(rel);
    std::array<unsigned char, 5> insn{0xe9};
    std::memcpy(insn.data() + 1, &rel32, sizeof rel32);
    return insn;
}

void protect(std::uintptr_t lo, std::uintptr_t hi, int prot) {
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t start = lo & ~(page - 1);
    if (mprotect(reinterpret_cast<void*>(start), hi - start, prot) != 0)
        throw std::system_error(errno, std::generic_category(), "kpreempt: cannot patch static-key sites (mprotect)");
}

}  // namespace

void arch_jump_label_transform(std::span<jump_entry> table, const static_key_false& key, bool enable) {
    std::uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (const jump_entry& e : table) {
        if (e.key != &key) continue;
        lo = std::min(lo, e.code);
        hi = std::max(hi, e.code + nop5.size());
    }
    if (lo > hi) return;
    protect(lo, hi, PROT_READ | PROT_WRITE | PROT_EXEC);
    for (const jump_entry& e : table) {
        if (e.key != &key) continue;
        auto* site = reinterpret_cast<unsigned char*>(e.code);
        const std::array<unsigned char, 5> from = enable ? nop5 : jump_to(e);
        const std::array<unsigned char, 5> to = enable ? jump_to(e) : nop5;
        // A site is what its key's state says it is: anything else means the
        // table and the code disagree, and patching would corrupt code.
        assert(std::memcmp(site, from.data(), from.size()) == 0);
        (void)from;
        std::memcpy(site, to.data(), to.size());
    }
    protect(lo, hi, PROT_READ | PROT_EXEC);
    __builtin___clear_cache(reinterpret_cast<char*>(lo), reinterpret_cast<char*>(hi));
}

}  // namespace kp
