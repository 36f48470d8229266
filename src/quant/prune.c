/* prune.c - weight pruning of one layer: unstructured magnitude pruning and 2:4 structured
 * pruning along the reduction axis, both with exact, index-ordered tie rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant.h"

/* Shared with compress.c, which drives them (quant.h declares only the graph-level call). */
int64_t lucid_prune_count(double sparsity, int64_t n);
lucid_status lucid_prune_magnitude(float *w, int64_t n, int64_t count, lucid_error *err);
void lucid_prune_2_4(float *w, int64_t outer, int64_t len, int64_t inner);

/* floor(sparsity * n). The product is taken in double; 1e-6 is added before the floor so that
 * a decimal fraction whose binary form is a hair low still counts as meant (0.29 * 100 is
 * 28.999999999999996 in double and prunes 29 weights, not 28). Layers have far fewer than
 * 10^9 weights, so the term never reaches a whole weight by itself. */
int64_t lucid_prune_count(double sparsity, int64_t n)
{
    if (n <= 0 || !(sparsity > 0)) return 0;
    double c = floor(sparsity * (double)n + 1e-6);
    if (c >= (double)n) return n;
    return (int64_t)c;
}

/* |w| as an ordered integer: for finite floats (the caller checks) the bit pattern without
 * the sign orders like the magnitude, and -0 and +0 become equal. */
static uint32_t magnitude_key(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x7fffffffu;
}

typedef struct mag_index {
    uint32_t mag;
    int64_t index;
} mag_index;

/* Smaller magnitude first; equal magnitudes by index: a total order, so qsort (not stable)
 * still gives one answer everywhere. */
static int mag_index_cmp(const void *pa, const void *pb)
{
    const mag_index *a = pa, *b = pb;
    if (a->mag != b->mag) return a->mag < b->mag ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Zeroes the `count` weights of smallest |w|; among equal magnitudes the lower index goes
 * first. Weights that are zero already have the smallest magnitude, so they are the first
 * counted. Every weight must be finite. */
lucid_status lucid_prune_magnitude(float *w, int64_t n, int64_t count, lucid_error *err)
{
    if (count <= 0) return LUCID_STATUS_OK;
    mag_index *order = malloc(sizeof *order * (size_t)n);
    if (!order) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        order[i].mag = magnitude_key(w[i]);
        order[i].index = i;
    }
    qsort(order, (size_t)n, sizeof *order, mag_index_cmp);
    for (int64_t i = 0; i < count && i < n; i++)
        w[order[i].index] = 0.0f;
    free(order);
    return LUCID_STATUS_OK;
}

/* 2:4 structured pruning. The weight is seen as [outer, len, inner] with len the reduction
 * (input-channel) axis: element (o, k, i) is w[(o * len + k) * inner + i]. For every (o, i),
 * the len values along k are cut into groups of 4 consecutive k (0-3, 4-7, ...); a group
 * keeps its 2 largest |w| and zeroes the others; a last group shorter than 4 (r = len % 4
 * values) keeps ceil(r / 2). Among equal magnitudes the lower k is kept. Every weight must be
 * finite. */
void lucid_prune_2_4(float *w, int64_t outer, int64_t len, int64_t inner)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            float *base = w + o * len * inner + i;
            for (int64_t k0 = 0; k0 < len; k0 += 4) {
                int g = len - k0 < 4 ? (int)(len - k0) : 4;
                int keep = g == 4 ? 2 : (g + 1) / 2;
                uint32_t mag[4];
                for (int a = 0; a < g; a++)
                    mag[a] = magnitude_key(base[(k0 + a) * inner]);
                /* a value's rank: how many in its group come before it (larger, or equal
                 * and earlier); it is kept when fewer than `keep` do */
                bool kill[4] = {false, false, false, false};
                for (int a = 0; a < g; a++) {
                    int rank = 0;
                    for (int b = 0; b < g; b++)
                        if (mag[b] > mag[a] || (mag[b] == mag[a] && b < a)) rank++;
                    kill[a] = rank >= keep;
                }
                for (int a = 0; a < g; a++)
                    if (kill[a]) base[(k0 + a) * inner] = 0.0f;
            }
        }
    }
}
