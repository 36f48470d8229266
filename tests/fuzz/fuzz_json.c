/* fuzz_json.c - the JSON reader lucid reads peer engines' result documents with
 * (ch_json_parse in src/characterize/json.c), then a walk of the tree and the lookups the
 * peer code makes. The CLI's JSON is written with cJSON and never read back, so this is the one
 * JSON reader of untrusted text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/characterize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const ch_json *j, int depth)
{
    size_t n = 0;
    for (; j; j = j->next) {
        n++;
        if (j->type == CH_JSTR && !j->str) abort();
        if (j->child) n += walk(j->child, depth + 1);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) abort();
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    ch_json *doc = ch_json_parse(text);
    free(text);
    if (!doc) return 0;
    (void)walk(doc, 0);
    (void)ch_json_number(doc, "latency_ms", -1);
    (void)ch_json_string(doc, "error");
    const ch_json *outs = ch_json_get(doc, "outputs");
    if (outs)
        for (const ch_json *o = outs->child; o; o = o->next) (void)ch_json_string(o, "name");
    ch_json_free(doc);
    return 0;
}
