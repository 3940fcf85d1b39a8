/*
 * check.h: the assertion helpers shared by the C test programs in tests/c.
 *
 * Every failed check prints file:line and the failing expression (plus the
 * last kat error on this thread) to stderr and exits with status 1.
 */
#ifndef KAT_TEST_CHECK_H
#define KAT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kat.h"

/* Number of checks that passed; each program prints it at the end. */
static unsigned long check_count = 0;

static inline const char *check_last_error(void) {
    static char message[2048];
    message[0] = '\0';
    kat_last_error_message(message, sizeof message);
    return message;
}

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            exit(1);                                                         \
        }                                                                    \
        ++check_count;                                                       \
    } while (0)

/* Asserts that `call` returns `expected` (a kat_result). */
#define CHECK_RESULT(call, expected)                                              \
    do {                                                                          \
        kat_result check_r_ = (call);                                             \
        if (check_r_ != (expected)) {                                             \
            fprintf(stderr,                                                       \
                    "%s:%d: %s returned %d (%s), expected %d (%s); last error: "  \
                    "%s\n",                                                       \
                    __FILE__, __LINE__, #call, (int)check_r_,                     \
                    kat_result_message((unsigned)check_r_), (int)(expected),      \
                    kat_result_message((unsigned)(expected)), check_last_error()); \
            exit(1);                                                              \
        }                                                                         \
        ++check_count;                                                            \
    } while (0)

#define CHECK_OK(call) CHECK_RESULT(call, KAT_OK)

/* Asserts that two NUL-terminated strings are equal. */
#define CHECK_STREQ(actual, expected)                                          \
    do {                                                                       \
        const char *check_a_ = (actual);                                       \
        const char *check_e_ = (expected);                                     \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {             \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #actual, check_a_ ? check_a_ : "(null)",         \
                    check_e_);                                                 \
            exit(1);                                                           \
        }                                                                      \
        ++check_count;                                                         \
    } while (0)

/* Asserts that the last kat error on this thread contains `needle`. */
#define CHECK_ERROR_MENTIONS(needle)                                            \
    do {                                                                        \
        const char *check_m_ = check_last_error();                              \
        if (strstr(check_m_, (needle)) == NULL) {                               \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", \
                    __FILE__, __LINE__, check_m_, (needle));                    \
            exit(1);                                                            \
        }                                                                       \
        ++check_count;                                                          \
    } while (0)

#endif /* KAT_TEST_CHECK_H */
