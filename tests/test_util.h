/* test_util.h - what the C tests share: pass/fail counters, CHECK, and the closing line
 * ("N passed, M failed") that ctest and CI read. */
#ifndef LUCID_TEST_UTIL_H
#define LUCID_TEST_UTIL_H

#include <stdio.h>

static int passed, failed;

/* Counts a check; on failure prints the file, line and a printf-style message. */
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (cond) {                                                                            \
            passed++;                                                                          \
        } else {                                                                               \
            failed++;                                                                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
        }                                                                                      \
    } while (0)

/* Prints the closing line; the exit status for main. */
static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
