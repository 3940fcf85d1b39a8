// cpp_monitoring.cpp: the monitoring calls of kat.hpp — metrics text in both
// formats, health (stalled included), the history, librdkafka statistics —
// with exceptions and through kat::result.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "kat.hpp"

static unsigned long checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

static bool contains(const std::string &s, const char *needle) {
    return s.find(needle) != std::string::npos;
}

int main() {
    kat::tracker t;
    kat::group g = t.group("billing/0");
    g.assigned("orders", {0, 1, 2});
    g.revoked("orders", {1});

    // Metrics: one series per owned partition, gone once revoked.
    const std::string prom = t.metrics();
    CHECK(contains(prom, "kat_partition_generation{messaging_consumer_group_name=\"billing\","
                         "kat_group=\"billing/0\",messaging_destination_name=\"orders\","
                         "messaging_destination_partition_id=\"2\"} 1\n"));
    CHECK(!contains(prom, "messaging_destination_partition_id=\"1\""));
    CHECK(!contains(prom, "# EOF"));
    const std::string om = t.metrics(KAT_METRICS_OPENMETRICS);
    CHECK(om.size() > 6 && om.compare(om.size() - 6, 6, "# EOF\n") == 0);
    kat::result<std::string> r = t.try_metrics(KAT_METRICS_OPENMETRICS);
    CHECK(r && r.value().find("# TYPE kat_rebalance counter\n") != std::string::npos);

    // Health and history.
    CHECK(g.health().health == KAT_HEALTH_REBALANCING);
    g.assigned("orders", {1});
    CHECK(g.health().health == KAT_HEALTH_ASSIGNED);
    const std::string history = g.history_json();
    CHECK(contains(history, "\"kind\":\"revoke\",\"assigned\":0,\"revoked\":1"));
    CHECK(t.group("other").health().health == KAT_HEALTH_NEVER_JOINED);
    t.set_history_limit(2);
    g.assigned("orders", {3});
    CHECK(g.history_json().find("\"kind\":\"revoke\"") == std::string::npos);
    CHECK(!t.try_set_history_limit(0));

    // A stall threshold alone never makes a group stalled: it takes poll
    // marks (made by the poll loop or the glue) that then stop.
    g.set_stall_after(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(g.health().health == KAT_HEALTH_ASSIGNED);
    g.set_stall_after(std::chrono::milliseconds(0));

    // librdkafka statistics.
    const std::string stats =
        "{\"topics\":{\"orders\":{\"partitions\":{\"0\":{\"partition\":0},\"1\":{\"partition\":1},"
        "\"-1\":{\"partition\":-1}}}},\"cgrp\":{\"state\":\"up\",\"join_state\":\"steady\","
        "\"rebalance_age\":5,\"rebalance_cnt\":3,\"rebalance_reason\":\"r\",\"assignment_size\":3}}";
    g.rdkafka_stats(stats);
    CHECK(contains(t.metrics(), "kat_rdkafka_cgrp_rebalance_total{messaging_consumer_group_name="
                                "\"billing\",kat_group=\"billing/0\"} 3\n"));
    const std::string stripped = g.strip_rdkafka_stats(stats);
    CHECK(contains(stripped, "\"partitions\":{\"0\":{\"partition\":0},\"1\":{\"partition\":1}}"));
    CHECK(!contains(stripped, "\"-1\""));
    kat::result<void> bad = g.try_rdkafka_stats("{\"cgrp\":");
    CHECK(!bad);
    CHECK(bad.err().code() == KAT_ERR_INVALID_ARGUMENT);
    CHECK(contains(bad.err().what(), "statistics JSON"));
    bool thrown = false;
    try {
        (void)g.strip_rdkafka_stats("[");
    } catch (const kat::error &e) {
        thrown = e.code() == KAT_ERR_INVALID_ARGUMENT;
    }
    CHECK(thrown);

    std::printf("cpp_monitoring: %lu checks passed\n", checks);
    return 0;
}
