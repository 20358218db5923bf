/* sc-out-queue.c: a chunk list, written with one sendmsg() per call.
 *
 * The old output buffer was one growing array that was only reset once
 * it had been sent completely, so a client that read steadily but never
 * quite caught up kept everything ever queued for it.  Here a chunk is
 * freed the moment its last byte is sent, so what a queue holds is what
 * is still unsent, plus at most one spare chunk and the partly sent head.
 * This is how Redis keeps its reply list.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sc-out-queue.h"

/* At most this many chunks go to one sendmsg(). */
#define MAX_IOV 64

struct _ScOutChunk
{
  gsize size; /* bytes of data[] */
  gsize used; /* bytes appended */
  gsize sent; /* bytes written to the socket */
  guint8 data[];
};

static ScOutChunk *
chunk_new (ScOutQueue *queue, gsize size)
{
  ScOutChunk *chunk = g_malloc (sizeof (ScOutChunk) + size);

  chunk->size = size;
  chunk->used = chunk->sent = 0;
  queue->held += sizeof (ScOutChunk) + size;
  return chunk;
}

static void
chunk_free (ScOutQueue *queue, ScOutChunk *chunk)
{
  queue->held -= sizeof (ScOutChunk) + chunk->size;
  g_free (chunk);
}

void
sc_out_queue_init (ScOutQueue *queue)
{
  g_queue_init (&queue->chunks);
  queue->spare = NULL;
  queue->pending = 0;
  queue->held = 0;
}

void
sc_out_queue_clear (ScOutQueue *queue)
{
  ScOutChunk *chunk;

  while ((chunk = g_queue_pop_head (&queue->chunks)) != NULL)
    chunk_free (queue, chunk);
  sc_out_queue_release_spare (queue);
  queue->pending = 0;
}

/* Frees the spare chunk: a connection that has been idle for a while
 * keeps no output memory at all. */
void
sc_out_queue_release_spare (ScOutQueue *queue)
{
  if (queue->spare != NULL)
    chunk_free (queue, g_steal_pointer (&queue->spare));
}

/* A new, empty tail chunk: the spare if there is one. */
static ScOutChunk *
push_chunk (ScOutQueue *queue)
{
  ScOutChunk *chunk = g_steal_pointer (&queue->spare);

  if (chunk == NULL)
    chunk = chunk_new (queue, SC_OUT_QUEUE_CHUNK_SIZE);
  g_queue_push_tail (&queue->chunks, chunk);
  return chunk;
}

/* Copies bytes to the end of the queue, filling the tail chunk and then
 * new ones.  Every chunk has the same size, so beyond the unsent bytes a
 * queue holds at most the sent part of its head, the free room of its
 * tail and one spare: three chunks. */
void
sc_out_queue_append (ScOutQueue *queue, const guint8 *data, gsize length)
{
  ScOutChunk *tail = g_queue_peek_tail (&queue->chunks);

  queue->pending += length;
  while (length > 0)
    {
      gsize n;

      if (tail == NULL || tail->used == tail->size)
        tail = push_chunk (queue);
      n = MIN (length, tail->size - tail->used);
      memcpy (tail->data + tail->used, data, n);
      tail->used += n;
      data += n;
      length -= n;
    }
}

/* A fully sent chunk is freed, or kept as the spare when there is none. */
static void
retire_head (ScOutQueue *queue)
{
  ScOutChunk *head = g_queue_pop_head (&queue->chunks);

  if (queue->spare == NULL)
    {
      head->used = head->sent = 0;
      queue->spare = head;
    }
  else
    chunk_free (queue, head);
}

static void
consume (ScOutQueue *queue, gsize n)
{
  queue->pending -= n;
  while (n > 0)
    {
      ScOutChunk *head = g_queue_peek_head (&queue->chunks);
      gsize take = MIN (n, head->used - head->sent);

      head->sent += take;
      n -= take;
      if (head->sent == head->used)
        retire_head (queue);
    }
}

static int
fill_iov (ScOutQueue *queue, struct iovec *iov)
{
  int n = 0;

  for (GList *l = queue->chunks.head; l != NULL && n < MAX_IOV; l = l->next)
    {
      ScOutChunk *chunk = l->data;

      iov[n].iov_base = chunk->data + chunk->sent;
      iov[n].iov_len = chunk->used - chunk->sent;
      n++;
    }
  return n;
}

/* Writes as much as the socket takes without blocking.  *written is
 * increased by the bytes sent. */
ScOutQueueResult
sc_out_queue_write (ScOutQueue *queue, int fd, gsize *written, int *errsv)
{
  while (queue->pending > 0)
    {
      struct iovec iov[MAX_IOV];
      struct msghdr msg = { .msg_iov = iov };
      ssize_t n;

      msg.msg_iovlen = fill_iov (queue, iov);
      n = sendmsg (fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0)
        {
          consume (queue, (gsize) n);
          *written += (gsize) n;
        }
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        return SC_OUT_QUEUE_BLOCKED;
      else if (errno != EINTR)
        {
          *errsv = errno;
          return SC_OUT_QUEUE_FAILED;
        }
    }
  return SC_OUT_QUEUE_DRAINED;
}

/* The same over a TLS session: one record per call, at most a chunk.
 * When the socket is full, GnuTLS keeps the record it has encrypted and
 * the next call sends it first and reports the size it was given then;
 * the head chunk only ever grows at its end, so that size is still the
 * front of the queue and is consumed as such.  A session error is
 * reported as EPROTO, or the socket's errno (EPIPE if lost) when that is
 * what failed. */
ScOutQueueResult
sc_out_queue_write_tls (ScOutQueue *queue,
                        gnutls_session_t session,
                        gsize *written,
                        int *errsv)
{
  while (queue->pending > 0)
    {
      ScOutChunk *head = g_queue_peek_head (&queue->chunks);
      ssize_t n;

      errno = 0;
      n = gnutls_record_send (session, head->data + head->sent,
                              head->used - head->sent);
      if (n >= 0)
        {
          consume (queue, (gsize) n);
          *written += (gsize) n;
        }
      else if (n == GNUTLS_E_AGAIN)
        return SC_OUT_QUEUE_BLOCKED;
      else if (n != GNUTLS_E_INTERRUPTED)
        {
          *errsv = n != GNUTLS_E_PUSH_ERROR ? EPROTO
                   : errno != 0             ? errno
                                            : EPIPE;
          return SC_OUT_QUEUE_FAILED;
        }
    }
  return SC_OUT_QUEUE_DRAINED;
}
