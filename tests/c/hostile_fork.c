/*
 * hostile_fork.c: fork() while another thread applies events in a loop.
 *
 * Each of 20 children applies one event: it must return, with KAT_OK (and
 * the event applied) or KAT_ERR_FORKED (and nothing changed, every call that
 * needs the writers' lock refused the same way, reads still working). A
 * child forked with no event in flight must apply its event. The parent
 * kills a child that has not answered within a timeout (a hang) and fails.
 *
 * Children report through a pipe and end by exec'ing /bin/true: no exit
 * handler and no leak check runs on their copy of the parent's memory (some
 * of it reachable only from threads the child does not have), as in a
 * program that forks and execs. The output is the same whatever the children
 * found (two checks per child), so every configuration prints the same.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static kat_tracker_t *t;
static kat_group_t *g;
static atomic_int stop;

static void *writer(void *arg) {
    (void)arg;
    for (int32_t i = 0; !atomic_load(&stop); i++) {
        const int32_t p = i % 64;
        if (kat_group_assigned_partitions(g, "orders", &p, 1) != KAT_OK ||
            kat_group_revoked_partitions(g, "orders", &p, 1) != KAT_OK) {
            fprintf(stderr, "writer: %s\n", check_last_error());
            exit(1);
        }
    }
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* In the child: the line of the first failed check, 0 if none. */
#define CHILD_CHECK(cond)          \
    do {                           \
        if (!(cond)) {             \
            failed = __LINE__;     \
            goto done;             \
        }                          \
    } while (0)

/* The child's part: 'A' (applied) or 'F' (refused as forked), and the line
 * of a failed check, written to `fd`; then exec. */
static void child(int fd) {
    int failed = 0;
    char kind = '?';
    uint64_t epoch = 0, epoch_after = 0, before = 0, after = 0;
    const int32_t p = 7;
    /* The epoch of the published snapshot. A parent thread forked between
     * publishing a snapshot and storing its epoch leaves `epoch()` one
     * behind until a read of the snapshot catches it up (this one). */
    kat_snapshot_t *s0 = NULL;
    CHILD_CHECK(kat_tracker_snapshot(t, &s0) == KAT_OK);
    CHILD_CHECK(kat_snapshot_epoch(s0, &epoch) == KAT_OK);
    kat_snapshot_free(s0);
    CHILD_CHECK(kat_tracker_epoch(t, &epoch_after) == KAT_OK && epoch_after == epoch);
    CHILD_CHECK(kat_tracker_generation(t, "busy", "child", 7, &before) == KAT_OK);
    kat_result r = kat_group_assigned_partitions(g, "child", &p, 1);
    if (r == KAT_OK) {
        kind = 'A';
        CHILD_CHECK(kat_tracker_generation(t, "busy", "child", 7, &after) == KAT_OK);
        CHILD_CHECK(after == before + 1);
    } else if (r == KAT_ERR_FORKED) {
        kind = 'F';
        CHILD_CHECK(strstr(check_last_error(), "kat_group_assigned_partitions: ") != NULL);
        CHILD_CHECK(strstr(check_last_error(), "forked") != NULL);
        CHILD_CHECK(strstr(kat_result_message(KAT_ERR_FORKED), "forked") != NULL);
        /* Nothing changed. */
        CHILD_CHECK(kat_tracker_epoch(t, &epoch_after) == KAT_OK && epoch_after == epoch);
        CHILD_CHECK(kat_tracker_generation(t, "busy", "child", 7, &after) == KAT_OK);
        CHILD_CHECK(after == before);
        /* Every call that needs the writers' lock says so too. */
        CHILD_CHECK(kat_group_lost(g) == KAT_ERR_FORKED);
        CHILD_CHECK(kat_group_reset(g) == KAT_ERR_FORKED);
        CHILD_CHECK(kat_group_revoked_partitions(g, "orders", &p, 1) == KAT_ERR_FORKED);
        CHILD_CHECK(kat_tracker_clear(t) == KAT_ERR_FORKED);
        CHILD_CHECK(kat_tracker_set_generations_topics_limit(t, 10) == KAT_ERR_FORKED);
        size_t limit = 1;
        CHILD_CHECK(kat_tracker_generations_topics_limit(t, &limit) == KAT_ERR_FORKED);
        CHILD_CHECK(limit == 1);
        kat_partition_handle_t *h = NULL;
        CHILD_CHECK(kat_group_partition(g, "child", 7, &h) == KAT_ERR_FORKED && h == NULL);
        CHILD_CHECK(kat_tracker_epoch(t, &epoch_after) == KAT_OK && epoch_after == epoch);
    } else {
        failed = __LINE__;
        goto done;
    }
    /* Reads work either way: snapshots are published whole. */
    kat_snapshot_t *s = NULL;
    CHILD_CHECK(kat_tracker_snapshot(t, &s) == KAT_OK);
    uint64_t se = 0;
    CHILD_CHECK(kat_snapshot_epoch(s, &se) == KAT_OK);
    kat_snapshot_free(s);
    CHILD_CHECK(kat_tracker_epoch(t, &epoch_after) == KAT_OK && se == epoch_after);
    kat_generations_t *gens = NULL;
    CHILD_CHECK(kat_tracker_generations(t, &gens) == KAT_OK);
    kat_generations_free(gens);
done:;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "%c %d", kind, failed);
    if (write(fd, msg, (size_t)n) != n) {
        /* The parent sees an empty or short answer and fails. */
    }
    close(fd);
    execl("/bin/true", "true", (char *)NULL);
    _exit(0);
}

/* Forks a child that runs `child`; returns its kind ('A' or 'F'). Fails if
 * it does not answer within `timeout_ms`, or if one of its checks failed. */
static char run_child(long timeout_ms) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(fds[1]);
    }
    close(fds[1]);
    int status = 0;
    long waited = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && waited < timeout_ms) {
        sleep_ms(5);
        waited += 5;
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "a forked child hung (killed after %ld ms)\n", timeout_ms);
        exit(1);
    }
    char msg[32] = {0};
    ssize_t n = read(fds[0], msg, sizeof msg - 1);
    close(fds[0]);
    char kind = '?';
    int failed = -1;
    if (n <= 0 || sscanf(msg, "%c %d", &kind, &failed) != 2 || failed != 0) {
        fprintf(stderr, "the child answered \"%s\" (a failed check at that line)\n", msg);
    }
    CHECK(failed == 0);
    CHECK(kind == 'A' || kind == 'F');
    return kind;
}

int main(void) {
    t = kat_tracker_new();
    CHECK_OK(kat_tracker_group(t, "busy", &g));
    CHECK(KAT_ERR_FORKED == 13);

    /* No event in flight: the child works as any process. */
    CHECK(run_child(60000) == 'A');

    pthread_t w;
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0);
    /* Under valgrind, threads start slowly. */
    sleep_ms(50);
    for (int i = 0; i < 20; i++) {
        sleep_ms(3);
        (void)run_child(60000);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(w, NULL) == 0);

    /* The parent is untouched by its children. */
    const int32_t p = 0;
    CHECK_OK(kat_group_assigned_partitions(g, "parent", &p, 1));
    CHECK_OK(kat_tracker_clear(t));

    kat_group_free(g);
    kat_tracker_free(t);
    printf("hostile_fork: %lu checks passed\n", check_count);
    return 0;
}
