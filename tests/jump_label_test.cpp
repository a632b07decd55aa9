// Static keys: a site follows its key through enable, nesting and disable,
// and two keys' sites are patched independently.
#include <gtest/gtest.h>

#include "kernel/jump_label.h"

namespace kp {
namespace {

static_key_false key_a;
static_key_false key_b;

[[gnu::noinline]] int site_a() { return static_branch_unlikely<key_a>() ? 1 : 0; }
[[gnu::noinline]] int site_b() { return static_branch_unlikely<key_b>() ? 1 : 0; }
// The same key at a second site, inlined into its caller.
inline int site_a_inlined() { return static_branch_unlikely<key_a>() ? 10 : 0; }
[[gnu::noinline]] int both_a() { return site_a() + site_a_inlined(); }

TEST(JumpLabel, SitesFollowTheirKeyOnly) {
    EXPECT_EQ(both_a(), 0);
    EXPECT_EQ(site_b(), 0);
    static_key_slow_inc(key_a);
    EXPECT_TRUE(static_key_enabled(key_a));
    EXPECT_EQ(both_a(), 11);
    EXPECT_EQ(site_b(), 0);
    static_key_slow_inc(key_a);  // nested user: no second patch
    static_key_slow_dec(key_a);
    EXPECT_EQ(both_a(), 11);     // still one user
    static_key_slow_dec(key_a);
    EXPECT_FALSE(static_key_enabled(key_a));
    EXPECT_EQ(both_a(), 0);
    static_key_slow_inc(key_b);
    EXPECT_EQ(site_b(), 1);
    EXPECT_EQ(both_a(), 0);
    static_key_slow_dec(key_b);
    EXPECT_EQ(site_b(), 0);
}

}  // namespace
}  // namespace kp
