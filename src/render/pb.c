/* pb.c - protobuf encoding by hand: varints and length-delimited fields.
 *
 * profile.proto needs only these two wire types, so a 60-line encoder beats
 * a code generator and a library dependency. Sub-messages are built in their
 * own buffer and appended with their length (render__pb_msg). Zero-valued scalar
 * fields are omitted, as proto3 encoders do. */
#include "pb.h"

#include <stdlib.h>
#include <string.h>

static int reserve(pb *p, size_t more)
{
    if (p->err)
        return -1;
    if (p->n + more <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < p->n + more)
        cap *= 2;
    uint8_t *nb = realloc(p->b, cap);
    if (!nb) {
        p->err = 1;
        return -1;
    }
    p->b = nb;
    p->cap = cap;
    return 0;
}

void render__pb_varint(pb *p, uint64_t v)
{
    if (reserve(p, 10) < 0)
        return;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        p->b[p->n++] = byte | (v ? 0x80 : 0);
    } while (v);
}

void render__pb_uint(pb *p, uint32_t field, uint64_t v)
{
    if (!v)
        return;
    render__pb_varint(p, (uint64_t)field << 3);
    render__pb_varint(p, v);
}

void render__pb_bytes(pb *p, uint32_t field, const void *s, size_t n)
{
    render__pb_varint(p, (uint64_t)field << 3 | 2);
    render__pb_varint(p, n);
    if (reserve(p, n) < 0)
        return;
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

void render__pb_packed(pb *p, uint32_t field, const uint64_t *v, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        do {
            len++;
            x >>= 7;
        } while (x);
    }
    render__pb_varint(p, (uint64_t)field << 3 | 2);
    render__pb_varint(p, len);
    for (size_t i = 0; i < n; i++)
        render__pb_varint(p, v[i]);
}

void render__pb_msg(pb *p, uint32_t field, const pb *sub)
{
    if (sub->err)
        p->err = 1;
    render__pb_bytes(p, field, sub->b ? (const void *)sub->b : "", sub->n);
}

void render__pb_reset(pb *p)
{
    p->n = 0;
}

void render__pb_free(pb *p)
{
    free(p->b);
    *p = (pb){0};
}
