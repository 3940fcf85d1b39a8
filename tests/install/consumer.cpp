// The C++ consumer of an installed kat (kat.hpp over libkat), built out of
// tree by tests/install.rs like consumer.c.
#include <cstdio>
#include <string>

#include <kat.hpp>

int main() {
    kat::tracker_ref tracker = kat::tracker::global();
    kat::group billing = tracker.group("billing");
    billing.assigned("orders", {0, 1, 2});
    billing.revoked("orders", {2});
    kat::partition_handle handle = billing.partition("orders", 1);
    std::printf("kat %s: orders/1 generation %llu, %s\n", kat_version(),
                static_cast<unsigned long long>(handle.state().generation),
                handle.state().assigned ? "assigned" : "not assigned");
    kat::snapshot snap = tracker.snapshot();
    std::printf("%s\n", snap.to_json().c_str());
    return 0;
}
