/* fuzz_memory_output.c - libFuzzer target for the memory capture output parser
 * (src/sampler/memory_output.c): the file the target's own code can write anything into.
 *
 * Properties beyond "no crash, leak or UB":
 *  - accepted input gives stacks whose weights add up to the summary's bytes, at most
 *    PROFD_MEMORY_STACKS_MAX of them, each line free of control bytes;
 *  - the stacks copied out, put back between the same header and summary, are accepted
 *    again with the same summary (what is kept is exactly what was checked). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    if (!f)
        return 0;
    profd_memory_summary sum;
    char msg[512];
    int rc = profd_memory_parse((const char *)data, size, f, &sum, msg, sizeof msg);
    fclose(f);
    if (rc != 0) {
        if (!memchr(msg, '\0', sizeof msg) || strchr(msg, '\n'))
            abort(); /* one line */
        free(out);
        return 0;
    }
    if (sum.stacks > PROFD_MEMORY_STACKS_MAX || sum.bytes < 0 || sum.blocks < 0)
        abort();
    for (size_t i = 0; i < outlen; i++)
        if ((unsigned char)out[i] < 0x20 && out[i] != '\n')
            abort();
    char tail[160];
    int n = snprintf(tail, sizeof tail,
                     "# summary bytes=%lld blocks=%lld peak=%lld frames=%d tracer=%s\n# end\n",
                     sum.bytes, sum.blocks, sum.peak, sum.frames,
                     sum.traced_by_target ? "target" : "profd");
    size_t head = strlen("# profd-memory 1\n");
    char *again = malloc(head + outlen + (size_t)n);
    if (!again)
        abort();
    memcpy(again, "# profd-memory 1\n", head);
    memcpy(again + head, out, outlen);
    memcpy(again + head + outlen, tail, (size_t)n);
    profd_memory_summary sum2;
    if (profd_memory_parse(again, head + outlen + (size_t)n, NULL, &sum2, msg, sizeof msg) != 0 ||
        memcmp(&sum, &sum2, sizeof sum) != 0)
        abort();
    free(again);
    free(out);
    return 0;
}
