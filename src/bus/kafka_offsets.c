/* kafka_offsets.c - store offsets in order, whatever order messages finish in.
 *
 * Kafka keeps one position per partition, not one flag per message. The worker
 * finishes messages out of order (a short capture overtakes a long one), and
 * storing "last finished + 1" would then move the position past a message that
 * is still being handled; a crash would lose it. So each partition keeps the
 * offsets still held. The position stored is the lowest of: the lowest held
 * offset, the lowest released offset (RELEASE means "not handled, redeliver
 * after a restart"), and the highest finished offset + 1. It only ever moves
 * forward. A few messages are held at a time (PROFD_MAX_CONCURRENT plus one),
 * so a small array per partition is enough. */
#include "kafka_internal.h"

#include <stdlib.h>
#include <string.h>

struct kafka_part {
    int32_t partition;
    int64_t *held;
    int n, cap;
    int64_t done_next; /* highest finished offset + 1, or -1 */
    int64_t released;  /* lowest released offset, or INT64_MAX */
    int64_t stored;    /* last position stored, or -1 */
};

void bus__kafka_offsets_init(kafka_offsets *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
}

void bus__kafka_offsets_free(kafka_offsets *o)
{
    for (int i = 0; i < o->n; i++)
        free(o->p[i].held);
    free(o->p);
    pthread_mutex_destroy(&o->mu);
}

static void part_reset(kafka_part *p, int32_t partition)
{
    free(p->held);
    memset(p, 0, sizeof *p);
    p->partition = partition;
    p->done_next = -1;
    p->released = INT64_MAX;
    p->stored = -1;
}

static kafka_part *find(kafka_offsets *o, int32_t partition, int create)
{
    for (int i = 0; i < o->n; i++)
        if (o->p[i].partition == partition)
            return &o->p[i];
    if (!create)
        return NULL;
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 8;
        kafka_part *v = realloc(o->p, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        o->p = v;
        o->cap = cap;
    }
    kafka_part *p = &o->p[o->n++];
    p->held = NULL;
    part_reset(p, partition);
    return p;
}

void bus__kafka_offsets_delivered(kafka_offsets *o, int32_t partition, int64_t offset)
{
    pthread_mutex_lock(&o->mu);
    kafka_part *p = find(o, partition, 1);
    if (p && p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        int64_t *v = realloc(p->held, (size_t)cap * sizeof *v);
        if (v) {
            p->held = v;
            p->cap = cap;
        }
    }
    if (p && p->n < p->cap)
        p->held[p->n++] = offset;
    pthread_mutex_unlock(&o->mu);
}

static int take_held(kafka_part *p, int64_t offset)
{
    for (int i = 0; i < p->n; i++)
        if (p->held[i] == offset) {
            p->held[i] = p->held[--p->n];
            return 1;
        }
    return 0;
}

static int64_t position(const kafka_part *p)
{
    int64_t pos = p->done_next;
    if (p->released < pos)
        pos = p->released;
    for (int i = 0; i < p->n; i++)
        if (p->held[i] < pos)
            pos = p->held[i];
    return pos;
}

int64_t bus__kafka_offsets_done(kafka_offsets *o, int32_t partition, int64_t offset, int release)
{
    int64_t store = -1;
    pthread_mutex_lock(&o->mu);
    kafka_part *p = find(o, partition, 0);
    if (p && take_held(p, offset)) { /* unknown: from before a revoke, ignore */
        if (release && offset < p->released)
            p->released = offset;
        if (!release && offset + 1 > p->done_next)
            p->done_next = offset + 1;
        int64_t pos = position(p);
        if (pos > p->stored) {
            p->stored = pos;
            store = pos;
        }
    }
    pthread_mutex_unlock(&o->mu);
    return store;
}

void bus__kafka_offsets_forget(kafka_offsets *o, int32_t partition)
{
    pthread_mutex_lock(&o->mu);
    kafka_part *p = find(o, partition, 0);
    if (p)
        part_reset(p, partition);
    pthread_mutex_unlock(&o->mu);
}
