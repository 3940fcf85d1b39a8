/* fake_list.h: librdkafka's public partition list layout for the C tests. */
#ifndef KAT_TEST_FAKE_LIST_H
#define KAT_TEST_FAKE_LIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * librdkafka's public partition list layout (stable since 0.9), completed
 * here for unit-level testing without librdkafka: kat.h only forward-declares
 * the struct. Real applications pass librdkafka's own list.
 */
typedef struct fake_topic_partition {
    char *topic;
    int32_t partition;
    int64_t offset;
    void *metadata;
    size_t metadata_size;
    void *opaque;
    int err;
    void *private_;
} fake_topic_partition;

struct rd_kafka_topic_partition_list_s {
    int cnt;
    int size;
    fake_topic_partition *elems;
};

_Static_assert(sizeof(fake_topic_partition) == 64, "librdkafka element is 64 bytes");
_Static_assert(offsetof(fake_topic_partition, partition) == 8, "partition at offset 8");

typedef struct rd_kafka_topic_partition_list_s fake_list;

#endif
