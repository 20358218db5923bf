/* sc-client-sender.c: the output queue of one connection and the thread
 * that writes it (see sc-client-sender.h).
 *
 * Frames are kept as one GBytes each and released as soon as they are
 * written, so memory follows what is still unsent.  The thread writes
 * with MSG_DONTWAIT and waits for writability with poll() bounded by the
 * send timeout, which restarts whenever the socket takes bytes: a slow
 * reader is fine, a server that stopped reading is given up on.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-sender.h"
#include "sc-protocol.h"
#include "sc-tsan.h"

struct _ScClientSender
{
  gint ref_count; /* atomic */
  int fd;
  ScClientTls *tls; /* owned; records are written through it, or NULL */
  guint timeout_ms;
  gsize max_queued;
  GThread *thread;

  /* Everything below is guarded by lock. */
  GMutex lock;
  GCond cond;
  GQueue chunks; /* GBytes*, oldest first */
  gsize queued;  /* bytes in chunks plus the chunk being written */
  gboolean closing;
  gboolean drain;
  gboolean closed; /* the socket is closed: the thread is done with it */
  char *failure;   /* why the connection was given up; set once */
};

/* How long a client leaving by choice waits for the server to close its
 * side, the sign that the server has forgotten the client. */
#define LINGER_MS 2000

static void
lock (ScClientSender *self)
{
  g_mutex_lock (&self->lock);
  SC_HAPPENS_AFTER (&self->lock);
}

static void
unlock (ScClientSender *self)
{
  SC_HAPPENS_BEFORE (&self->lock);
  g_mutex_unlock (&self->lock);
}

/* g_cond_wait() gives the lock up and takes it again inside GLib, where
 * ThreadSanitizer does not see it: the hand-over is stated here. */
static void
wait_locked (ScClientSender *self)
{
  SC_HAPPENS_BEFORE (&self->lock);
  g_cond_wait (&self->cond, &self->lock);
  SC_HAPPENS_AFTER (&self->lock);
}

/* Gives the connection up: the shutdown wakes the receiver, which then
 * reports @failure (taken) as the reason. */
static void
fail_locked (ScClientSender *self, char *failure)
{
  if (self->failure == NULL)
    {
      self->failure = failure;
      shutdown (self->fd, SHUT_RDWR);
    }
  else
    g_free (failure);
  g_queue_clear_full (&self->chunks, (GDestroyNotify) g_bytes_unref);
  g_cond_broadcast (&self->cond);
}

/* Returns FALSE when @deadline passes before the socket takes bytes. */
static gboolean
wait_writable (ScClientSender *self, gint64 deadline)
{
  struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };

  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time () + 999) / 1000;
      int n;

      if (left_ms <= 0)
        return FALSE;
      n = poll (&pfd, 1, (int) MIN (left_ms, G_MAXINT));
      if (n > 0)
        return TRUE;
      if (n < 0 && errno != EINTR)
        return TRUE; /* let send() report it */
    }
}

/* Returns NULL once all of @chunk is written, else why it could not be. */
static char *
write_chunk (ScClientSender *self, GBytes *chunk)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (chunk, &size);
  gint64 timeout_us = (gint64) self->timeout_ms * 1000;
  gint64 deadline = g_get_monotonic_time () + timeout_us;
  gsize done = 0;

  while (done < size)
    {
      const char *why = NULL;
      ssize_t n = self->tls ? sc_client_tls_send (self->tls, data + done,
                                                  size - done, &why)
                            : send (self->fd, data + done, size - done,
                                    MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n > 0)
        {
          done += (gsize) n;
          deadline = g_get_monotonic_time () + timeout_us;
        }
      else if (n < 0 && errno == EINTR)
        continue;
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (!wait_writable (self, deadline))
            return g_strdup_printf ("the server stopped reading: it took no "
                                    "data for %u ms",
                                    self->timeout_ms);
        }
      else if (why != NULL)
        return g_strdup_printf ("sending failed: TLS: %s", why);
      else
        return g_strdup_printf ("sending failed: %s",
                                g_strerror (n < 0 ? errno : EPIPE));
    }
  return NULL;
}

/* Whether the server has closed its side: the connection has left the
 * states in which our end of stream is still unanswered.  Read from the
 * kernel (TCP_INFO) because the receiver has already shut the reading
 * side, after which recv() would report an end at once. */
static gboolean
server_closed (int fd)
{
  struct tcp_info info;
  socklen_t size = sizeof info;

  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &size) < 0)
    return TRUE;
  return info.tcpi_state != TCP_ESTABLISHED &&
         info.tcpi_state != TCP_FIN_WAIT1 && info.tcpi_state != TCP_FIN_WAIT2;
}

/* Leaving by choice: says so (end of stream) and waits, at most
 * LINGER_MS, until the server closes its side too.  The server forgets a
 * client (its nickname with it) before it closes the socket, so once
 * this returns, the next connection can take the same nickname. */
static void
wait_for_server_close (int fd)
{
  gint64 deadline = g_get_monotonic_time () + LINGER_MS * 1000;
  gulong interval_us = 200;

  if (shutdown (fd, SHUT_WR) < 0)
    return;
  while (!server_closed (fd) && g_get_monotonic_time () < deadline)
    {
      /* Nothing signals the peer's FIN on a socket whose reading side
       * is shut: poll the state, quickly at first. */
      g_usleep (interval_us);
      interval_us = MIN (interval_us * 2, 10 * 1000);
    }
}

static gpointer
sender_thread (gpointer data)
{
  gboolean leaving;
  ScClientSender *self = data;

  lock (self);
  for (;;)
    {
      GBytes *chunk;
      char *failure;

      while (self->failure == NULL && !self->closing &&
             g_queue_is_empty (&self->chunks))
        wait_locked (self);
      if (self->failure != NULL || g_queue_is_empty (&self->chunks) ||
          (self->closing && !self->drain))
        break;
      chunk = g_queue_pop_head (&self->chunks);
      unlock (self);
      failure = write_chunk (self, chunk);
      lock (self);
      self->queued -= g_bytes_get_size (chunk);
      g_bytes_unref (chunk);
      if (failure)
        fail_locked (self, failure);
    }
  /* The receiver may still be reading this socket until the owner has
   * stopped it and called sc_client_sender_close(). */
  while (!self->closing)
    wait_locked (self);
  leaving = self->drain && self->failure == NULL;
  unlock (self);
  if (leaving)
    wait_for_server_close (self->fd);
  close (self->fd);
  lock (self);
  self->closed = TRUE;
  g_cond_broadcast (&self->cond);
  unlock (self);
  /* The receiver was stopped before the close: no one else uses it. */
  g_clear_pointer (&self->tls, sc_client_tls_free);
  sc_client_sender_unref (self);
  return NULL;
}

/* Waits until the thread has closed the socket, at most @timeout_ms;
 * FALSE when it has not by then. */
gboolean
sc_client_sender_wait_closed (ScClientSender *self, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean closed;

  g_return_val_if_fail (self != NULL, FALSE);
  lock (self);
  while (!self->closed)
    {
      SC_HAPPENS_BEFORE (&self->lock);
      if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
        {
          SC_HAPPENS_AFTER (&self->lock);
          break;
        }
      SC_HAPPENS_AFTER (&self->lock);
    }
  closed = self->closed;
  unlock (self);
  return closed;
}

/* Takes @fd; its thread closes it.  @max_queued caps the unsent bytes. */
ScClientSender *
sc_client_sender_new (int fd, guint timeout_ms, gsize max_queued)
{
  return sc_client_sender_new_tls (fd, NULL, timeout_ms, max_queued);
}

/* The same, writing TLS records through @tls (taken, freed by the thread
 * once the socket is closed), which the receiver may read at the same
 * time. */
ScClientSender *
sc_client_sender_new_tls (int fd,
                          ScClientTls *tls,
                          guint timeout_ms,
                          gsize max_queued)
{
  ScClientSender *self = g_new0 (ScClientSender, 1);

  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (timeout_ms > 0, NULL);

  self->ref_count = 2; /* the caller's and the thread's */
  self->fd = fd;
  self->tls = tls;
  self->timeout_ms = timeout_ms;
  self->max_queued = max_queued;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->chunks);
  SC_HAPPENS_BEFORE (self);
  self->thread = g_thread_new ("sc-sender", sender_thread, self);
  return self;
}

ScClientSender *
sc_client_sender_ref (ScClientSender *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
sc_client_sender_unref (ScClientSender *self)
{
  if (self == NULL)
    return;
  SC_HAPPENS_BEFORE (&self->ref_count);
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  SC_HAPPENS_AFTER (&self->ref_count);
  g_queue_clear_full (&self->chunks, (GDestroyNotify) g_bytes_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->failure);
  g_free (self);
}

/* Queues a copy of @data.  Fails when the connection is closing or was
 * given up, and gives it up when the queue would pass its cap.  Any
 * thread; never waits for the network. */
gboolean
sc_client_sender_push (ScClientSender *self,
                       const guint8 *data,
                       gsize length,
                       GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);

  lock (self);
  if (self->failure == NULL && !self->closing &&
      self->queued + length > self->max_queued)
    fail_locked (self,
                 g_strdup_printf ("the server is not reading: %" G_GSIZE_FORMAT
                                  " bytes are waiting to be sent",
                                  self->queued));
  if (self->failure != NULL || self->closing)
    {
      g_set_error_literal (error, SC_ERROR, SC_ERROR_CLOSED,
                           self->failure ? self->failure : "not connected");
      unlock (self);
      return FALSE;
    }
  g_queue_push_tail (&self->chunks, g_bytes_new (data, length));
  self->queued += length;
  g_cond_signal (&self->cond);
  unlock (self);
  return TRUE;
}

/* Bytes not yet taken by the socket. */
gsize
sc_client_sender_get_queued (ScClientSender *self)
{
  gsize queued;

  g_return_val_if_fail (self != NULL, 0);
  lock (self);
  queued = self->queued;
  unlock (self);
  return queued;
}

/* Why the sender gave the connection up, or NULL. */
char *
sc_client_sender_dup_failure (ScClientSender *self)
{
  char *failure;

  g_return_val_if_fail (self != NULL, NULL);
  lock (self);
  failure = g_strdup (self->failure);
  unlock (self);
  return failure;
}

/* Refuses further frames.  With @drain, what is queued is still written
 * (within the send timeout) before the socket is closed, so the owner
 * can leave without waiting; without, the socket is shut down at once.
 * The owner must have stopped the receiver first. */
void
sc_client_sender_close (ScClientSender *self, gboolean drain)
{
  g_return_if_fail (self != NULL);

  lock (self);
  if (self->closing)
    {
      unlock (self);
      return;
    }
  self->closing = TRUE;
  self->drain = drain;
  if (!drain)
    shutdown (self->fd, SHUT_RDWR);
  g_cond_broadcast (&self->cond);
  unlock (self);
  /* Nobody joins the thread: it ends on its own once the queue is out. */
  g_thread_unref (g_steal_pointer (&self->thread));
}
