// cpp_double_include_a.cpp: with cpp_double_include_b.cpp, proves kat.hpp
// can be included in two translation units of one program (everything in
// it is inline) and twice in one translation unit.
#include <cstdio>

#include "kat.hpp"
#include "kat.hpp"

int record_in_b(const kat::group &g);

int main() {
    kat::tracker t;
    kat::group g = t.group("two-units");
    g.assigned("orders", {0, 1});
    const int n = record_in_b(g);
    const kat::snapshot s = t.snapshot();
    if (n != 2 || s.partition_count() != 3 || g.generation("orders", 1) != 2) {
        std::fprintf(stderr, "unexpected state: n=%d\n", n);
        return 1;
    }
    std::printf("cpp_double_include: %d checks passed\n", 3);
    return 0;
}
