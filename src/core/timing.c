/* timing.c - the monotonic clock. */
#include <time.h>

#include "lucid.h"

double lucid_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
