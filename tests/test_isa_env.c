/* test_isa_env.c - a LUCID_CPU_ISA that names no level is never ignored: the library applies no
 * cap and every plan build and plan load fails with a message naming the value (the CLI
 * refuses it before the library is reached; a program linking the library gets this). The
 * variable is read once per process, so this test is its own process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lucid.h"
#include "test_util.h"

int main(void)
{
    setenv("LUCID_CPU_ISA", "avx3", 1);
    const char *model = LUCID_SOURCE_DIR "/models/fashion/lenet5/model.onnx";
    lucid_model_t *m = NULL;
    lucid_plan_t *p = NULL;
    lucid_error err;
    CHECK(lucid_model_load(model, &m, &err) == LUCID_STATUS_OK, "load %s: %s", model,
          err.message);
    if (!m) return test_summary();
    CHECK(lucid_cpu_cap_get() == LUCID_CPU_ISA_NATIVE, "an unreadable level set a cap");
    lucid_status st = lucid_plan_build(m, NULL, &p, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && p == NULL, "build with LUCID_CPU_ISA=avx3: %d",
          st);
    CHECK(st && strstr(err.message, "LUCID_CPU_ISA='avx3'") != NULL, "message: %s", err.message);
    st = lucid_plan_load(LUCID_SOURCE_DIR "/models/fashion/lenet5/model.onnx", &p, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, "avx3") != NULL,
          "plan load with LUCID_CPU_ISA=avx3: %d %s", st, err.message);
    /* the reference executor has no instruction-set dispatch: it still runs */
    lucid_context_t *ctx = NULL;
    CHECK(lucid_context_create(m, NULL, &ctx, &err) == LUCID_STATUS_OK, "reference context: %s",
          err.message);
    lucid_context_destroy(ctx);
    lucid_model_destroy(m);
    return test_summary();
}
