/* pass_list.h - every graph pass, in the order they run: X(symbol). Adding a pass: its own
 * file and one line here. */
#ifndef LUCID_PASSES_PASS_LIST_H
#define LUCID_PASSES_PASS_LIST_H

#define LUCID_PASS_LIST(X)                                                                     \
    X(constant_folding)                                                                        \
    X(noop_removal)                                                                            \
    X(dead_nodes)                                                                              \
    X(transpose_folding)                                                                       \
    X(pad_folding)                                                                             \
    X(bn_folding)                                                                              \
    X(horizontal_fusion)                                                                       \
    X(vertical_fusion)                                                                         \
    X(precision)                                                                               \
    X(qdq_fusion)                                                                              \
    X(reshape_views)                                                                           \
    X(concat_elision)                                                                          \
    X(split_views)

#endif
