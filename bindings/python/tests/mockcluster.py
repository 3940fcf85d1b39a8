"""librdkafka's mock cluster, driven through the copy of librdkafka bundled
with confluent-kafka (its public mock API, called with ctypes)."""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Optional

import confluent_kafka


def _librdkafka() -> ctypes.CDLL:
    package = os.path.dirname(confluent_kafka.__file__)
    candidates = sorted(
        glob.glob(os.path.join(package, os.pardir, "confluent_kafka.libs", "librdkafka*.so*"))
        + glob.glob(os.path.join(package, ".dylibs", "librdkafka*.dylib"))
    )
    if not candidates:
        raise RuntimeError("confluent-kafka's bundled librdkafka was not found")
    lib = ctypes.CDLL(candidates[0])
    c_void_p, c_char_p, c_int, c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    lib.rd_kafka_conf_new.restype = c_void_p
    lib.rd_kafka_conf_set.argtypes = [c_void_p, c_char_p, c_char_p, c_char_p, c_size_t]
    lib.rd_kafka_conf_set.restype = c_int
    lib.rd_kafka_new.argtypes = [c_int, c_void_p, c_char_p, c_size_t]
    lib.rd_kafka_new.restype = c_void_p
    lib.rd_kafka_destroy.argtypes = [c_void_p]
    lib.rd_kafka_mock_cluster_new.argtypes = [c_void_p, c_int]
    lib.rd_kafka_mock_cluster_new.restype = c_void_p
    lib.rd_kafka_mock_cluster_destroy.argtypes = [c_void_p]
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [c_void_p]
    lib.rd_kafka_mock_cluster_bootstraps.restype = c_char_p
    lib.rd_kafka_mock_topic_create.argtypes = [c_void_p, c_char_p, c_int, c_int]
    lib.rd_kafka_mock_topic_create.restype = c_int
    lib.rd_kafka_mock_group_initial_rebalance_delay_ms.argtypes = [c_void_p, c_int]
    lib.rd_kafka_mock_set_group_consumer_session_timeout_ms.argtypes = [c_void_p, c_int]
    lib.rd_kafka_mock_set_group_consumer_heartbeat_interval_ms.argtypes = [c_void_p, c_int]
    return lib


class MockCluster:
    """A one-broker mock cluster with topics of exact shapes, tuned for speed:
    no initial rebalance delay, short KIP-848 session and heartbeat."""

    def __init__(self, brokers: int = 1) -> None:
        self._lib = _librdkafka()
        errstr = ctypes.create_string_buffer(512)
        conf = self._lib.rd_kafka_conf_new()
        for key, value in (("log_level", "3"),):
            if self._lib.rd_kafka_conf_set(conf, key.encode(), value.encode(), errstr, 512) != 0:
                raise RuntimeError(errstr.value.decode())
        self._rk: Optional[int] = self._lib.rd_kafka_new(0, conf, errstr, 512)
        if not self._rk:
            raise RuntimeError(errstr.value.decode())
        self._cluster: Optional[int] = self._lib.rd_kafka_mock_cluster_new(self._rk, brokers)
        if not self._cluster:
            raise RuntimeError("rd_kafka_mock_cluster_new failed")
        self._lib.rd_kafka_mock_group_initial_rebalance_delay_ms(self._cluster, 0)
        self._lib.rd_kafka_mock_set_group_consumer_session_timeout_ms(self._cluster, 1500)
        self._lib.rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(self._cluster, 100)
        self.bootstrap_servers: str = self._lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()

    def create_topic(self, name: str, partitions: int) -> None:
        err = self._lib.rd_kafka_mock_topic_create(self._cluster, name.encode(), partitions, 1)
        if err != 0:
            raise RuntimeError(f"rd_kafka_mock_topic_create({name!r}) failed: {err}")

    def close(self) -> None:
        if self._cluster:
            self._lib.rd_kafka_mock_cluster_destroy(self._cluster)
            self._cluster = None
        if self._rk:
            self._lib.rd_kafka_destroy(self._rk)
            self._rk = None
