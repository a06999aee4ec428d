/* reader.h - input as a sequence of blocks, read ahead by a thread for
 * regular files (see reader.c). */
#ifndef PROFD_RENDER_READER_H
#define PROFD_RENDER_READER_H

#include <stddef.h>
#include <stdio.h>

typedef struct reader reader;

/* first/nfirst: bytes already read from in (returned as the first block). */
reader *render__reader_open(FILE *in, const char *first, size_t nfirst);
/* The next block, valid until the next call; *n == 0 at the end. 0 ok, -1 on
 * a read error (errno set). */
int render__reader_next(reader *r, const char **data, size_t *n);
/* Stops the read-ahead thread, if any, and frees everything. */
void render__reader_close(reader *r);

#endif
