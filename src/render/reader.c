/* reader.c - input blocks for the collapsed parser, read ahead in a thread.
 *
 * Parsing is CPU-bound and so is read(2) from the page cache (a copy per
 * byte): on these 2-core machines a second thread that only reads lets the
 * two overlap, and on a busy machine it also doubles our share of the CPU.
 * The thread fills NBLOCKS fixed blocks in turn (bounded memory: NBLOCKS x
 * BLOCK), the parser consumes them in order and hands each back when it asks
 * for the next.
 *
 * Only regular files get the thread. A pipe or a terminal is read inline:
 * a thread blocked in read(2) on a stalled pipe could not be stopped when
 * the parser gives up early (a --strict error). */
#include "reader.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BLOCK (512u << 10)
#define NBLOCKS 4

struct reader {
    FILE *in;
    const char *first;
    size_t nfirst;
    int threaded;
    char *buf[NBLOCKS];
    size_t len[NBLOCKS];
    int err[NBLOCKS];
    unsigned head, count; /* filled blocks: head .. head+count-1 */
    int held;             /* the parser holds buf[head] */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
};

static void *read_ahead(void *arg)
{
    reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->count == NBLOCKS && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        unsigned slot = (r->head + r->count) % NBLOCKS;
        pthread_mutex_unlock(&r->mu);
        size_t n = fread(r->buf[slot], 1, BLOCK, r->in);
        int err = n == 0 && ferror(r->in) ? (errno ? errno : EIO) : 0;
        pthread_mutex_lock(&r->mu);
        r->len[slot] = n;
        r->err[slot] = err;
        r->count++;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (n == 0)
            return NULL;
    }
}

reader *render__reader_open(FILE *in, const char *first, size_t nfirst)
{
    reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = in;
    r->first = first;
    r->nfirst = nfirst;
    struct stat st;
    r->threaded = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 4 * BLOCK;
    for (int i = 0; i < (r->threaded ? NBLOCKS : 1); i++)
        if (!(r->buf[i] = malloc(BLOCK))) {
            render__reader_close(r);
            return NULL;
        }
    if (r->threaded) {
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        if (pthread_create(&r->th, NULL, read_ahead, r) != 0) {
            pthread_mutex_destroy(&r->mu);
            pthread_cond_destroy(&r->cv);
            r->threaded = 0; /* read inline instead */
        }
    }
    return r;
}

int render__reader_next(reader *r, const char **data, size_t *n)
{
    if (r->first) {
        *data = r->first;
        *n = r->nfirst;
        r->first = NULL;
        if (*n)
            return 0;
    }
    if (!r->threaded) {
        *n = fread(r->buf[0], 1, BLOCK, r->in);
        *data = r->buf[0];
        return *n == 0 && ferror(r->in) ? -1 : 0;
    }
    pthread_mutex_lock(&r->mu);
    if (r->held) { /* hand the previous block back */
        r->head = (r->head + 1) % NBLOCKS;
        r->count--;
        r->held = 0;
        pthread_cond_broadcast(&r->cv);
    }
    while (r->count == 0)
        pthread_cond_wait(&r->cv, &r->mu);
    *data = r->buf[r->head];
    *n = r->len[r->head];
    int err = r->err[r->head];
    if (*n)
        r->held = 1;
    pthread_mutex_unlock(&r->mu);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

void render__reader_close(reader *r)
{
    if (!r)
        return;
    if (r->threaded) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
    }
    for (int i = 0; i < NBLOCKS; i++)
        free(r->buf[i]);
    free(r);
}
