/* request_judge.c - run profd_request_parse over files and print a verdict
 * per file, the C counterpart of tests/node/validate.mjs:
 *
 *   request_judge [--min S --max S] FILE...
 *   pass<TAB>FILE   or   fail<TAB>FILE<TAB>ERROR
 *
 * schema_drift.sh feeds it the same generated messages as ajv and requires the
 * same verdicts. Exit status 0 when every file was judged, 1 when a file could
 * not be read, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/session.h"

int main(int argc, char **argv)
{
    profd_limits lim = {10, 300};
    int i = 1, rc = 0;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "--min") == 0)
            lim.duration_min = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max") == 0)
            lim.duration_max = atoi(argv[i + 1]);
        else
            break;
    }
    if (i >= argc || argv[i][0] == '-') {
        fprintf(stderr, "usage: request_judge [--min S --max S] FILE...\n");
        return 2;
    }
    for (; i < argc; i++) {
        size_t len;
        char *buf = profd_read_file(argv[i], 1 << 20, &len);
        if (!buf) {
            fprintf(stderr, "request_judge: cannot read %s\n", argv[i]);
            rc = 1;
            continue;
        }
        profd_request r;
        profd_error err;
        if (profd_request_parse(buf, len, &lim, &r, &err) == 0)
            printf("pass\t%s\n", argv[i]);
        else
            printf("fail\t%s\t%s\n", argv[i], err.msg);
        profd_request_free(&r);
        free(buf);
    }
    return rc;
}
