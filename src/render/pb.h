/* pb.h - the few protobuf wire-format primitives pprof output needs. */
#ifndef PROFD_RENDER_PB_H
#define PROFD_RENDER_PB_H

#include <stddef.h>
#include <stdint.h>

typedef struct pb {
    uint8_t *b;
    size_t n, cap;
    int err; /* set on allocation failure; later writes are dropped */
} pb;

void render__pb_varint(pb *p, uint64_t v);
void render__pb_uint(pb *p, uint32_t field, uint64_t v); /* varint field (skipped when 0) */
void render__pb_bytes(pb *p, uint32_t field, const void *s, size_t n);
void render__pb_packed(pb *p, uint32_t field, const uint64_t *v, size_t n);
/* Append a finished sub-message as a length-delimited field. */
void render__pb_msg(pb *p, uint32_t field, const pb *sub);
void render__pb_reset(pb *p);
void render__pb_free(pb *p);

#endif
