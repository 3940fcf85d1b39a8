/*
 * leaky.c: leaks one kind of kat object on purpose, chosen by argv[1]
 * ("tracker", "group", "snapshot", "handle", "generations"; "none" frees
 * everything). The driver runs it under valgrind to prove that the
 * suppression in valgrind.supp hides only the global tracker, never a leak.
 */
#include <stdint.h>

#include "check.h"

int main(int argc, char **argv) {
    CHECK(argc == 2);
    const char *leak = argv[1];
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "leaky", &g));
    const int32_t p[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "t", p, 2));
    kat_snapshot_t *s = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition(g, "t", 0, &h));
    kat_generations_t *gens = NULL;
    CHECK_OK(kat_tracker_generations(t, &gens));

    if (strcmp(leak, "snapshot") != 0) kat_snapshot_free(s);
    if (strcmp(leak, "handle") != 0) kat_partition_handle_free(h);
    if (strcmp(leak, "generations") != 0) kat_generations_free(gens);
    if (strcmp(leak, "group") != 0) kat_group_free(g);
    if (strcmp(leak, "tracker") != 0) kat_tracker_free(t);
    /* Forget every pointer, as a leaking program would. */
    s = NULL;
    h = NULL;
    gens = NULL;
    g = NULL;
    t = NULL;
    printf("leaky: leaked %s%s\n", leak, (s || h || gens || g || t) ? "?" : "");
    return 0;
}
