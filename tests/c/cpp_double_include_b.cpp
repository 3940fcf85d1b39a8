// cpp_double_include_b.cpp: the second translation unit including kat.hpp.
#include "kat.hpp"

int record_in_b(const kat::group &g) {
    g.assigned("orders", {1, 2});
    int n = 0;
    if (g.is_assigned("orders", 1)) ++n;
    if (g.is_assigned("orders", 2)) ++n;
    return n;
}
