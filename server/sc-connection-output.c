/* sc-connection-output.c: a connection's output queue and socket writes.
 *
 * Frames for a client are appended to one buffer under the connection's
 * out_lock, by whichever worker produced them: its owner (replies) or the
 * worker of another client (forwarded messages, receipts, presence).  The
 * worker that appended schedules a flush at the end of its round, where
 * everything queued during the round goes out in one send().  So a
 * message crosses from one worker's client to another's without waking
 * the other thread, which on these machines costs more than the rest of
 * the relay.  When the socket is full the rest waits and EPOLLOUT is
 * watched, in the owner's epoll set, until it drains.  Past the output
 * cap the client is dropped as too slow; closing itself is always done by
 * the owner.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-connection-private.h"
#include "sc-tsan.h"

/* An output buffer that grew past this is given back once it drains. */
#define OUTPUT_KEEP_SIZE (64 * 1024)

static void
lock (ScConnection *connection)
{
  g_mutex_lock (&connection->out_lock);
  SC_HAPPENS_AFTER (&connection->out_lock);
}

static void
unlock (ScConnection *connection)
{
  SC_HAPPENS_BEFORE (&connection->out_lock);
  g_mutex_unlock (&connection->out_lock);
}

void
sc_connection_output_init (ScConnection *connection)
{
  g_mutex_init (&connection->out_lock);
  connection->output_open = TRUE;
  connection->want_input = TRUE;
  connection->out = g_byte_array_new ();
}

void
sc_connection_output_clear (ScConnection *connection)
{
  g_clear_pointer (&connection->out, g_byte_array_unref);
  g_clear_pointer (&connection->unacked, g_hash_table_unref);
  g_mutex_clear (&connection->out_lock);
}

/* Called with the lock held.  Only while output is open: once it is
 * closed, the owner removes the socket from its epoll set, and its number
 * may soon belong to another client. */
static void
update_events (ScConnection *connection)
{
  if (!connection->output_open)
    return;
  sc_worker_set_events (connection->worker, connection, connection->want_input,
                        connection->watching_output);
}

/* Owner: mirrors whether it still reads, for the epoll registration. */
void
sc_connection_set_input (ScConnection *connection, gboolean want_input)
{
  lock (connection);
  connection->want_input = want_input;
  update_events (connection);
  unlock (connection);
}

/* Asks the owner to close: directly when we are the owner, through its
 * inbox otherwise.  A NULL @reason means the reason the owner already
 * chose when it asked to close once the output drained. */
static void
request_close (ScConnection *connection,
               ScWorker *current,
               ScStatus status,
               const char *reason)
{
  ScWorkItem *item;

  if (current == connection->worker)
    {
      if (reason == NULL)
        sc_connection_close_now_drained (connection);
      else
        sc_connection_close (connection, status, reason);
      return;
    }
  item = sc_work_item_new (SC_WORK_CLOSE, connection->info.id, NULL);
  item->status = status;
  item->reason = g_strdup (reason);
  sc_worker_post (connection->worker, item);
}

static void
schedule_flush (ScConnection *connection, ScWorker *current)
{
  if (connection->flush_by == current)
    return;
  connection->flush_by = current;
  sc_worker_schedule_flush (current, connection);
}

/* With the lock held, after appending: schedules the write, or stops the
 * output of a client that has let too much pile up.  Returns FALSE when
 * the client was found too slow. */
static gboolean
after_append (ScConnection *connection, ScWorker *current)
{
  gsize cap = connection->server->config->output_cap;

  if (connection->out->len - connection->out_head <= cap)
    {
      schedule_flush (connection, current);
      return TRUE;
    }
  connection->output_open = FALSE;
  connection->overflowed = TRUE;
  return FALSE;
}

static void
drop_slow (ScConnection *connection, ScWorker *current, const char *what)
{
  g_autofree char *reason = g_strdup_printf ("too slow: %s", what);

  request_close (connection, current, SC_STATUS_RECIPIENT_SLOW, reason);
}

static void
drop_slow_for_bytes (ScConnection *connection, ScWorker *current)
{
  g_autofree char *what =
    g_strdup_printf ("more than %" G_GSIZE_FORMAT " bytes waiting to be read",
                     connection->server->config->output_cap);

  drop_slow (connection, current, what);
}

/* Queues a frame.  Returns FALSE when the client takes no more output
 * (closing, or just found too slow). */
gboolean
sc_connection_send_frame (ScConnection *connection,
                          GBytes *frame,
                          ScWorker *current)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  gboolean open;
  gboolean fits = TRUE;

  lock (connection);
  open = connection->output_open;
  if (open)
    {
      g_byte_array_append (connection->out, data, size);
      fits = after_append (connection, current);
    }
  unlock (connection);
  if (!fits)
    drop_slow_for_bytes (connection, current);
  return open && fits;
}

/* Owner: queues a message built for this client. */
void
sc_connection_queue_message (ScConnection *connection, const ScMessage *message)
{
  gboolean fits = TRUE;

  lock (connection);
  if (connection->output_open)
    {
      sc_message_append_frame (message, connection->out);
      fits = after_append (connection, connection->worker);
    }
  unlock (connection);
  if (!fits)
    drop_slow_for_bytes (connection, connection->worker);
}

static ScStatus
refusal_status (ScConnection *connection)
{
  return connection->overflowed ? SC_STATUS_RECIPIENT_SLOW
                                : SC_STATUS_RECIPIENT_LEFT;
}

/* Queues a forwarded message and remembers whom to tell once the client
 * acknowledges it.  Returns SC_STATUS_OK, or why it cannot be delivered;
 * the caller then owes the sender a failed receipt. */
ScStatus
sc_connection_deliver (ScConnection *connection,
                       GBytes *frame,
                       guint64 message_id,
                       guint32 sender_id,
                       ScWorker *current)
{
  guint max_unacked = connection->server->config->max_unacked;
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  ScPendingAck *pending;
  ScStatus status = SC_STATUS_OK;
  gboolean too_many = FALSE, too_big = FALSE;

  lock (connection);
  if (!connection->output_open)
    status = refusal_status (connection);
  else if (connection->unacked &&
           g_hash_table_size (connection->unacked) >= max_unacked)
    {
      connection->output_open = FALSE;
      connection->overflowed = TRUE;
      too_many = TRUE;
      status = SC_STATUS_RECIPIENT_SLOW;
    }
  else
    {
      /* Created on first use: most clients of a large idle population
       * never receive a message. */
      if (connection->unacked == NULL)
        connection->unacked =
          g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
      pending = g_new (ScPendingAck, 1);
      pending->message_id = message_id;
      pending->sender_id = sender_id;
      g_hash_table_replace (connection->unacked, &pending->message_id, pending);
      g_byte_array_append (connection->out, data, size);
      too_big = !after_append (connection, current);
    }
  unlock (connection);
  if (too_many)
    drop_slow (connection, current, "too many unacknowledged messages");
  if (too_big)
    drop_slow_for_bytes (connection, current);
  return status;
}

/* Owner: the client acknowledged @message_id; returns its sender. */
gboolean
sc_connection_take_pending_ack (ScConnection *connection,
                                guint64 message_id,
                                guint32 *sender_id)
{
  ScPendingAck *pending = NULL;

  lock (connection);
  if (connection->unacked)
    pending = g_hash_table_lookup (connection->unacked, &message_id);
  if (pending)
    {
      *sender_id = pending->sender_id;
      g_hash_table_remove (connection->unacked, &message_id);
    }
  unlock (connection);
  return pending != NULL;
}

static void
reset_output (ScConnection *connection)
{
  connection->out_head = 0;
  if (connection->out->len > OUTPUT_KEEP_SIZE)
    {
      g_byte_array_unref (connection->out);
      connection->out = g_byte_array_new ();
    }
  else
    g_byte_array_set_size (connection->out, 0);
}

typedef enum
{
  FLUSH_PENDING, /* bytes remain; EPOLLOUT is watched */
  FLUSH_DRAINED, /* all written */
  FLUSH_FAILED,  /* the socket is broken */
} FlushResult;

static FlushResult
write_out (ScConnection *connection, int *errsv)
{
  while (connection->out_head < connection->out->len)
    {
      ssize_t n =
        send (connection->fd, connection->out->data + connection->out_head,
              connection->out->len - connection->out_head,
              MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n >= 0)
        connection->out_head += (gsize) n;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        {
          if (!connection->watching_output)
            {
              connection->watching_output = TRUE;
              update_events (connection);
            }
          return FLUSH_PENDING;
        }
      else if (errno != EINTR)
        {
          *errsv = errno;
          return FLUSH_FAILED;
        }
    }
  reset_output (connection);
  if (connection->watching_output)
    {
      connection->watching_output = FALSE;
      update_events (connection);
    }
  return FLUSH_DRAINED;
}

/* Writes what is queued, from any worker. */
void
sc_connection_flush (ScConnection *connection, ScWorker *current)
{
  FlushResult result = FLUSH_PENDING;
  gboolean close_now = FALSE;
  int errsv = 0;

  lock (connection);
  if (connection->flush_by == current)
    connection->flush_by = NULL;
  if (connection->output_open)
    {
      result = write_out (connection, &errsv);
      close_now = result == FLUSH_DRAINED && connection->close_when_drained;
    }
  unlock (connection);

  if (result == FLUSH_FAILED)
    {
      g_autofree char *reason =
        g_strdup_printf ("connection lost (send: %s)", g_strerror (errsv));
      request_close (connection, current, SC_STATUS_OK, reason);
    }
  else if (close_now)
    request_close (connection, current, SC_STATUS_OK, NULL);
}

/* Owner: close once everything queued has gone out. */
void
sc_connection_set_close_when_drained (ScConnection *connection)
{
  lock (connection);
  connection->close_when_drained = TRUE;
  connection->want_input = FALSE;
  update_events (connection);
  schedule_flush (connection, connection->worker);
  unlock (connection);
}

/* Owner: no frame is accepted from now on. */
void
sc_connection_output_close (ScConnection *connection)
{
  lock (connection);
  connection->output_open = FALSE;
  unlock (connection);
}

/* Owner, on a connection idle for a while: its buffer memory goes back. */
void
sc_connection_trim_output (ScConnection *connection)
{
  lock (connection);
  if (connection->out->len == 0 && connection->flush_by == NULL)
    {
      g_byte_array_unref (connection->out);
      connection->out = g_byte_array_new ();
    }
  unlock (connection);
}

/* Owner, last step: writes what can go without waiting (unless the client
 * was too slow to deserve it), closes the socket and hands back the table
 * of unacknowledged messages for their senders to be told.  Reading what
 * the peer still sends after shutdown() lets the last notice arrive
 * instead of being destroyed by a reset. */
void
sc_connection_close_socket (ScConnection *connection,
                            gboolean send_rest,
                            GHashTable **unacked)
{
  guint8 sink[4096];

  lock (connection);
  connection->output_open = FALSE;
  if (send_rest && connection->out_head < connection->out->len)
    (void) send (connection->fd, connection->out->data + connection->out_head,
                 connection->out->len - connection->out_head,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown (connection->fd, SHUT_WR);
  for (int i = 0; i < 16; i++)
    if (recv (connection->fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
      break;
  close (connection->fd);
  connection->fd = -1;
  *unacked = g_steal_pointer (&connection->unacked);
  unlock (connection);
}
