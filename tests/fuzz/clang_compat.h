/* clang_compat.h - included before every library file of the fuzz build (CMakeLists.txt,
 * LUCID_FUZZ) when clang is older than 15, which lacks __builtin_roundevenf: nearbyint rounds
 * half to even in the default rounding mode, which is what the kernels ask for. */
#ifndef LUCID_FUZZ_CLANG_COMPAT_H
#define LUCID_FUZZ_CLANG_COMPAT_H
#define __builtin_roundevenf(x) __builtin_nearbyintf(x)
#endif
