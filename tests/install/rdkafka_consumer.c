/* A librdkafka consumer using the installed kat_rdkafka.h, built out of tree
 * by tests/install.rs with `pkg-config --cflags --libs kat rdkafka` (the
 * system librdkafka; libkat never links one). One consumer on librdkafka's
 * mock cluster, with kat_rebalance_cb: kat must show the four partitions
 * assigned after the group formed, and none after rd_kafka_consumer_close().
 * Prints "assigned 4, after close 0". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kat_rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define NPART 4

static void die(const char *what, const char *detail) {
    fprintf(stderr, "rdkafka_consumer: %s: %s\n", what, detail);
    exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char errstr[256];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        die(key, errstr);
    }
}

static int assigned(kat_group_t *group) {
    int n = 0;
    for (int p = 0; p < NPART; p++) {
        bool is = false;
        if (kat_group_is_assigned(group, "orders", p, &is) != KAT_OK) {
            die("kat_group_is_assigned", "failed");
        }
        n += is;
    }
    return n;
}

int main(void) {
    char errstr[256];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    set(mconf, "test.mock.num.brokers", "1");
    rd_kafka_t *mock = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof errstr);
    if (mock == NULL) {
        die("mock cluster", errstr);
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock);
    if (mc == NULL || rd_kafka_mock_topic_create(mc, "orders", NPART, 1) != 0) {
        die("mock cluster", "no topic");
    }

    kat_group_t *group = NULL;
    if (kat_tracker_group(kat_tracker_global(), "installed/consumer-1", &group) != KAT_OK) {
        die("kat_tracker_group", "failed");
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc));
    set(conf, "group.id", "installed");
    set(conf, "session.timeout.ms", "6000");
    set(conf, "partition.assignment.strategy", "range");
    rd_kafka_conf_set_rebalance_cb(conf, kat_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, group);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        die("consumer", errstr);
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, "orders", RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, topics) != 0) {
        die("subscribe", "failed");
    }
    rd_kafka_topic_partition_list_destroy(topics);

    const time_t deadline = time(NULL) + 60;
    while (assigned(group) < NPART && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m != NULL) {
            rd_kafka_message_destroy(m);
        }
    }
    const int before = assigned(group);
    rd_kafka_consumer_close(rk);
    const int after = assigned(group);
    rd_kafka_destroy(rk);
    rd_kafka_destroy(mock);
    kat_group_free(group);
    printf("assigned %d, after close %d\n", before, after);
    return before == NPART && after == 0 ? 0 : 1;
}
