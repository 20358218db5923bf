/* sc-out-queue.h: the bytes waiting to be written to one client, as a
 * list of chunks that are freed as soon as they have been sent.
 *
 * A plain data structure with no lock and no knowledge of the protocol;
 * ScOutbox wraps it with its lock, its cap and the memory budget. */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/* Bytes are packed into chunks of this size, a frame spanning as many as
 * it needs. */
#define SC_OUT_QUEUE_CHUNK_SIZE (16 * 1024)

typedef struct _ScOutChunk ScOutChunk;

typedef struct
{
  GQueue chunks;     /* ScOutChunk*, oldest first */
  ScOutChunk *spare; /* one empty chunk kept for the next append */
  gsize pending;     /* bytes appended and not yet sent */
  gsize held;        /* bytes of chunk memory allocated, spare included */
} ScOutQueue;

typedef enum
{
  SC_OUT_QUEUE_DRAINED, /* everything was written */
  SC_OUT_QUEUE_BLOCKED, /* the socket is full; bytes remain */
  SC_OUT_QUEUE_FAILED,  /* the socket is broken; errno in *errsv */
} ScOutQueueResult;

void sc_out_queue_init (ScOutQueue *queue);
void sc_out_queue_clear (ScOutQueue *queue);
void sc_out_queue_append (ScOutQueue *queue, const guint8 *data, gsize length);
ScOutQueueResult
sc_out_queue_write (ScOutQueue *queue, int fd, gsize *written, int *errsv);
ScOutQueueResult sc_out_queue_write_tls (ScOutQueue *queue,
                                         gnutls_session_t session,
                                         gsize *written,
                                         int *errsv);
void sc_out_queue_release_spare (ScOutQueue *queue);

static inline gsize
sc_out_queue_pending (const ScOutQueue *queue)
{
  return queue->pending;
}

static inline gsize
sc_out_queue_held (const ScOutQueue *queue)
{
  return queue->held;
}

G_END_DECLS
