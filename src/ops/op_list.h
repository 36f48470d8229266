/* op_list.h - the list of supported ONNX ops: X(ENUM, OnnxName, file_symbol).
 * Adding an op: one line here and its definition in the family file. */
#ifndef LUCID_OPS_OP_LIST_H
#define LUCID_OPS_OP_LIST_H

#define LUCID_OP_LIST(X)                                                                       \
    /* convolution and matrix products: conv.c, gemm.c */                                      \
    X(CONV, Conv, conv)                                                                        \
    X(CONV_TRANSPOSE, ConvTranspose, conv_transpose)                                           \
    X(GEMM, Gemm, gemm)                                                                        \
    X(MATMUL, MatMul, matmul)                                                                  \
    /* normalization: norm.c */                                                                \
    X(BATCH_NORMALIZATION, BatchNormalization, batch_normalization)                            \
    X(INSTANCE_NORMALIZATION, InstanceNormalization, instance_normalization)                   \
    X(LRN, LRN, lrn)                                                                           \
    /* pooling: pool.c */                                                                      \
    X(MAX_POOL, MaxPool, max_pool)                                                             \
    X(AVERAGE_POOL, AveragePool, average_pool)                                                 \
    X(GLOBAL_AVERAGE_POOL, GlobalAveragePool, global_average_pool)                             \
    X(GLOBAL_MAX_POOL, GlobalMaxPool, global_max_pool)                                         \
    /* activations: activation.c */                                                            \
    X(RELU, Relu, relu)                                                                        \
    X(LEAKY_RELU, LeakyRelu, leaky_relu)                                                       \
    X(PRELU, PRelu, prelu)                                                                     \
    X(CLIP, Clip, clip)                                                                        \
    X(SIGMOID, Sigmoid, sigmoid)                                                               \
    X(HARD_SIGMOID, HardSigmoid, hard_sigmoid)                                                 \
    X(HARD_SWISH, HardSwish, hard_swish)                                                       \
    X(TANH, Tanh, tanh)                                                                        \
    X(ELU, Elu, elu)                                                                           \
    X(SELU, Selu, selu)                                                                        \
    X(SOFTPLUS, Softplus, softplus)                                                            \
    /* unary math: unary.c */                                                                  \
    X(ERF, Erf, erf)                                                                           \
    X(SQRT, Sqrt, sqrt)                                                                        \
    X(EXP, Exp, exp)                                                                           \
    X(LOG, Log, log)                                                                           \
    X(NEG, Neg, neg)                                                                           \
    X(ABS, Abs, abs)                                                                           \
    X(RECIPROCAL, Reciprocal, reciprocal)                                                      \
    X(FLOOR, Floor, floor)                                                                     \
    X(CEIL, Ceil, ceil)                                                                        \
    X(NOT, Not, not)                                                                           \
    /* broadcasting binary and variadic: binary.c */                                           \
    X(ADD, Add, add)                                                                           \
    X(SUB, Sub, sub)                                                                           \
    X(MUL, Mul, mul)                                                                           \
    X(DIV, Div, div)                                                                           \
    X(POW, Pow, pow)                                                                           \
    X(MIN, Min, min)                                                                           \
    X(MAX, Max, max)                                                                           \
    X(SUM, Sum, sum)                                                                           \
    X(MEAN, Mean, mean)                                                                        \
    X(EQUAL, Equal, equal)                                                                     \
    X(LESS, Less, less)                                                                        \
    X(GREATER, Greater, greater)                                                               \
    X(AND, And, and)                                                                           \
    X(OR, Or, or)                                                                              \
    X(WHERE, Where, where)                                                                     \
    /* softmax: softmax.c */                                                                   \
    X(SOFTMAX, Softmax, softmax)                                                               \
    X(LOG_SOFTMAX, LogSoftmax, log_softmax)                                                    \
    /* reductions: reduce.c */                                                                 \
    X(REDUCE_MEAN, ReduceMean, reduce_mean)                                                    \
    X(REDUCE_SUM, ReduceSum, reduce_sum)                                                       \
    X(REDUCE_MAX, ReduceMax, reduce_max)                                                       \
    X(REDUCE_MIN, ReduceMin, reduce_min)                                                       \
    X(ARG_MAX, ArgMax, arg_max)                                                                \
    /* shape and views: shape.c */                                                             \
    X(SHAPE, Shape, shape)                                                                     \
    X(SIZE, Size, size)                                                                        \
    X(RESHAPE, Reshape, reshape)                                                               \
    X(FLATTEN, Flatten, flatten)                                                               \
    X(SQUEEZE, Squeeze, squeeze)                                                               \
    X(UNSQUEEZE, Unsqueeze, unsqueeze)                                                         \
    X(IDENTITY, Identity, identity)                                                            \
    X(DROPOUT, Dropout, dropout)                                                               \
    /* data movement: movement.c */                                                            \
    X(CONCAT, Concat, concat)                                                                  \
    X(SPLIT, Split, split)                                                                     \
    X(SLICE, Slice, slice)                                                                     \
    X(TRANSPOSE, Transpose, transpose)                                                         \
    X(EXPAND, Expand, expand)                                                                  \
    X(TILE, Tile, tile)                                                                        \
    X(PAD, Pad, pad)                                                                           \
    X(GATHER, Gather, gather)                                                                  \
    /* generators and casts: generator.c */                                                    \
    X(CONSTANT, Constant, constant)                                                            \
    X(CONSTANT_OF_SHAPE, ConstantOfShape, constant_of_shape)                                   \
    X(RANGE, Range, range)                                                                     \
    X(CAST, Cast, cast)                                                                        \
    /* quantization: quantize.c */                                                          \
    X(QUANTIZE_LINEAR, QuantizeLinear, quantize_linear)                                        \
    X(DEQUANTIZE_LINEAR, DequantizeLinear, dequantize_linear)                                  \
    /* resampling: resize.c */                                                                 \
    X(RESIZE, Resize, resize)                                                                  \
    X(UPSAMPLE, Upsample, upsample)                                                            \
    /* lucid's engine layers (domain "lucid"), made by the optimizer: fused.c */               \
    X(FUSED_CONV, FusedConv, fused_conv)                                                       \
    X(FUSED_GEMM, FusedGemm, fused_gemm)                                                       \
    X(FUSED_BATCH_NORM, FusedBatchNormalization, fused_batch_norm)                             \
    /* lucid's int8 engine layers (domain "lucid"), made by qdq_fusion: qconv.c */             \
    X(QCONV, QConv, qconv)                                                                     \
    X(QGEMM, QGemm, qgemm)                                                                     \
    /* the builder's layout conversions (domain "lucid"): layout.c */                          \
    X(REORDER, Reorder, reorder)

#endif
