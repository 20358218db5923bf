/* sc-outbox.c: a client's output side, used by every worker.
 *
 * Frames for a client are appended under the outbox lock by whichever
 * worker produced them: its owner (replies) or the worker of another
 * client (forwarded messages, receipts, presence).  The worker that
 * appended schedules a flush at the end of its round, where everything
 * queued during the round goes out in one sendmsg().  So a message
 * crosses from one worker's client to another's without waking the other
 * thread.  When the socket is full the rest waits and EPOLLOUT is watched,
 * in the owner's epoll set, until it drains.
 *
 * Limits, all under the lock:
 * - A forwarded message is refused (RECIPIENT_SLOW, the client stays)
 *   while half the output cap is queued or max_unacked messages wait for
 *   the client's acknowledgement, and refused with SERVER_BUSY while the
 *   server is over its memory budget.  A private message is reserved
 *   before its sender is told it was accepted, and the reservation counts
 *   against those limits: another worker's message cannot take its place
 *   between the sender's reply and the queueing.
 * - Past the whole output cap the client is dropped as too slow: only
 *   replies and notices can take it there, as messages stop at half.
 * - Receipts owed to the client are kept compactly and encoded only while
 *   less than half the cap is queued, so a burst of failures (a recipient
 *   leaving with thousands of unacknowledged messages) reaches a reading
 *   sender at the pace it reads and never overflows its queue.
 *
 * The lock is held across the sendmsg() of a flush and the epoll_ctl()
 * that watches EPOLLOUT: both are non-blocking, and writing under the lock
 * keeps frames from two workers from interleaving on the socket.
 *
 * TLS: a client of the TLS listener has a GnuTLS session here, which the
 * outbox owns with the socket.  Records are sent under the same lock, so
 * there is never more than one sender; the owner reads the session
 * without the lock, which GnuTLS allows (one thread sending while another
 * receives).  Until the owner has finished the handshake nothing is
 * written: the handshake alone uses the session then.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-out-queue.h"
#include "sc-outbox.h"
#include "sc-owed-receipts.h"
#include "sc-tsan.h"
#include "sc-worker.h"

struct _ScOutbox
{
  /* Set at creation, then read-only. */
  ScServer *server;
  ScWorker *owner;
  guint32 id;
  gpointer epoll_tag; /* what the owner's epoll set reports for the fd */

  /* The TLS session, or NULL; set by the owner before the outbox is
   * shared, freed with the socket. */
  gnutls_session_t tls;

  GMutex lock;
  int fd;              /* -1 once the owner closed the socket */
  gboolean tls_ready;  /* the handshake is done: records may be sent */
  gint open;           /* FALSE once closing: frames are refused; set under the
                        * lock, atomically, for sc_outbox_is_open() */
  gboolean overflowed; /* closed for passing the output cap */
  gboolean want_input; /* mirrors the owner's input state for epoll */
  gboolean watching_output;
  gboolean close_when_drained;
  gboolean batch_receipts; /* the client said HELLO with RECEIPT_BATCHES */
  ScWorker *flush_by;      /* the worker that will flush it next, if any */
  guint reserved_messages; /* accepted by a sender's worker, not yet queued */
  gsize reserved_bytes;
  ScOutQueue queue;
  GHashTable *unacked; /* message id -> ScPendingAck, created on use */
  ScOwedReceipts owed;
  gsize reader_held;    /* the owner's read buffer, for the budget */
  gint64 last_progress; /* monotonic: last byte written, or queue start */
  gsize charged;        /* atomic reads: what the budget holds for us */
};

static void update_events (ScOutbox *outbox);

static GPrivate scratch_key =
  G_PRIVATE_INIT ((GDestroyNotify) g_byte_array_unref);

static void
lock (ScOutbox *outbox)
{
  g_mutex_lock (&outbox->lock);
  SC_HAPPENS_AFTER (&outbox->lock);
}

static void
unlock (ScOutbox *outbox)
{
  SC_HAPPENS_BEFORE (&outbox->lock);
  g_mutex_unlock (&outbox->lock);
}

/* A per-thread buffer to encode frames into before they are copied into a
 * queue: no allocation per reply. */
static GByteArray *
scratch_buffer (void)
{
  GByteArray *scratch = g_private_get (&scratch_key);

  if (scratch == NULL)
    {
      scratch = g_byte_array_sized_new (4096);
      g_private_set (&scratch_key, scratch);
    }
  g_byte_array_set_size (scratch, 0);
  return scratch;
}

static gsize
owed_count (ScOutbox *outbox)
{
  return sc_owed_receipts_count (&outbox->owed);
}

static gsize
unacked_count (ScOutbox *outbox)
{
  return outbox->unacked ? g_hash_table_size (outbox->unacked) : 0;
}

/* With the lock held, after any change: brings the server's memory budget
 * up to date with what this outbox holds. */
static void
recharge (ScOutbox *outbox)
{
  gsize total = sc_out_queue_held (&outbox->queue) +
                unacked_count (outbox) * SC_OUTBOX_UNACKED_COST +
                owed_count (outbox) * SC_OUTBOX_OWED_COST + outbox->reader_held;

  if (total == outbox->charged)
    return;
  sc_server_charge_memory (outbox->server,
                           (gssize) total - (gssize) outbox->charged);
  __atomic_store_n (&outbox->charged, total, __ATOMIC_RELAXED);
}

ScOutbox *
sc_outbox_new (
  ScServer *server, ScWorker *owner, guint32 id, int fd, gpointer epoll_tag)
{
  ScOutbox *outbox = g_atomic_rc_box_new0 (ScOutbox);

  outbox->server = server;
  outbox->owner = owner;
  outbox->id = id;
  outbox->fd = fd;
  outbox->epoll_tag = epoll_tag;
  g_mutex_init (&outbox->lock);
  g_atomic_int_set (&outbox->open, TRUE);
  outbox->want_input = TRUE;
  sc_out_queue_init (&outbox->queue);
  return outbox;
}

static void
outbox_clear (ScOutbox *outbox)
{
  /* Every thread that dropped a reference is done with it by now. */
  SC_HAPPENS_AFTER (outbox);
  if (outbox->fd >= 0)
    {
      g_warning ("client %u: its socket was never closed", outbox->id);
      close (outbox->fd);
    }
  g_clear_pointer (&outbox->tls, gnutls_deinit);
  sc_out_queue_clear (&outbox->queue);
  g_clear_pointer (&outbox->unacked, g_hash_table_unref);
  sc_owed_receipts_clear (&outbox->owed);
  outbox->reader_held = 0;
  recharge (outbox);
  g_mutex_clear (&outbox->lock);
}

/* Owner, right after sc_outbox_new(): the connection speaks TLS through
 * @session, which the outbox takes. */
void
sc_outbox_set_tls (ScOutbox *outbox, gnutls_session_t session)
{
  lock (outbox);
  outbox->tls = session;
  unlock (outbox);
}

/* Owner: the session to read from (NULL for a plain connection); it lives
 * until sc_outbox_close_socket(). */
gnutls_session_t
sc_outbox_get_tls (ScOutbox *outbox)
{
  return outbox->tls;
}

/* Owner, during the handshake: GnuTLS waits for the socket to become
 * readable or, with @for_output, writable; only that is watched. */
void
sc_outbox_tls_wait (ScOutbox *outbox, gboolean for_output)
{
  lock (outbox);
  outbox->want_input = !for_output;
  outbox->watching_output = for_output;
  update_events (outbox);
  unlock (outbox);
}

/* Owner: the handshake is done; frames may go out from now on. */
void
sc_outbox_tls_established (ScOutbox *outbox)
{
  lock (outbox);
  outbox->tls_ready = TRUE;
  outbox->want_input = TRUE;
  outbox->watching_output = FALSE;
  update_events (outbox);
  unlock (outbox);
}

ScOutbox *
sc_outbox_ref (ScOutbox *outbox)
{
  return g_atomic_rc_box_acquire (outbox);
}

void
sc_outbox_unref (ScOutbox *outbox)
{
  SC_HAPPENS_BEFORE (outbox);
  g_atomic_rc_box_release_full (outbox, (GDestroyNotify) outbox_clear);
}

guint32
sc_outbox_get_id (ScOutbox *outbox)
{
  return outbox->id;
}

/* The worker that owns the client now: it changes when the client moves
 * to the worker of the client it talks to (sc-worker.c). */
ScWorker *
sc_outbox_get_owner (ScOutbox *outbox)
{
  ScWorker *owner;

  lock (outbox);
  owner = outbox->owner;
  unlock (outbox);
  return owner;
}

/* The old owner, moving the client: frames for it go to @owner's epoll
 * set from now on, once @owner has taken it (sc_outbox_watch_from). */
void
sc_outbox_set_owner (ScOutbox *outbox, ScWorker *owner)
{
  lock (outbox);
  outbox->owner = owner;
  unlock (outbox);
}

/* The new owner: puts the socket in its epoll set, watching what the
 * outbox's state says.  Under the lock, so that no other worker's change
 * of the events can fall between the reading and the adding. */
void
sc_outbox_watch_from (ScOutbox *outbox, ScWorker *owner)
{
  lock (outbox);
  g_assert (outbox->owner == owner);
  if (g_atomic_int_get (&outbox->open))
    sc_worker_watch (owner, outbox->fd, outbox->epoll_tag, outbox->want_input,
                     outbox->watching_output);
  unlock (outbox);
}

/* Bytes the server holds for this client; read without the lock, so it
 * may be a moment old. */
gsize
sc_outbox_get_held (ScOutbox *outbox)
{
  return __atomic_load_n (&outbox->charged, __ATOMIC_RELAXED);
}

/* Whether it still takes frames; without the lock, so a moment old. */
gboolean
sc_outbox_is_open (ScOutbox *outbox)
{
  return g_atomic_int_get (&outbox->open);
}

/* Whether the client has ended the connection from its side: its end of
 * stream or a reset has reached the kernel, which the owner may not have
 * read yet, or the server is closing it.  Any worker. */
gboolean
sc_outbox_peer_has_left (ScOutbox *outbox)
{
  struct tcp_info info;
  socklen_t size = sizeof info;
  gboolean left;

  lock (outbox);
  if (!g_atomic_int_get (&outbox->open) || outbox->fd < 0)
    left = TRUE;
  else
    /* Not a TCP socket (a test's socket pair): never known to have left. */
    left = getsockopt (outbox->fd, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 &&
           info.tcpi_state != TCP_ESTABLISHED;
  unlock (outbox);
  return left;
}

gsize
sc_outbox_get_unacked (ScOutbox *outbox)
{
  gsize n;

  lock (outbox);
  n = unacked_count (outbox);
  unlock (outbox);
  return n;
}

gsize
sc_outbox_get_owed (ScOutbox *outbox)
{
  gsize n;

  lock (outbox);
  n = owed_count (outbox);
  unlock (outbox);
  return n;
}

/* Called with the lock held.  Only while output is open: once it is
 * closed, the owner removes the socket from its epoll set, and its number
 * may soon belong to another client. */
static void
update_events (ScOutbox *outbox)
{
  if (!g_atomic_int_get (&outbox->open))
    return;
  sc_worker_set_events (outbox->owner, outbox->fd, outbox->epoll_tag,
                        outbox->want_input, outbox->watching_output);
}

/* Asks the owner to close: directly when we are the owner, through its
 * inbox otherwise.  A NULL @reason means the reason the owner already
 * chose when it asked to close once the output drained. */
void
sc_outbox_drop (ScOutbox *outbox,
                ScWorker *current,
                ScStatus status,
                const char *reason)
{
  ScWorkItem *item = sc_work_item_new (SC_WORK_CLOSE, outbox->id);
  ScWorker *owner = sc_outbox_get_owner (outbox);

  item->status = status;
  item->reason = g_strdup (reason);
  if (current == owner)
    sc_worker_close_now (current, item);
  else
    sc_worker_post (owner, item);
}

static void
schedule_flush (ScOutbox *outbox, ScWorker *current)
{
  if (outbox->flush_by == current)
    return;
  outbox->flush_by = current;
  sc_worker_schedule_flush (current, outbox);
}

static gsize
cap (ScOutbox *outbox)
{
  return outbox->server->config->output_cap;
}

/* With the lock held: appends one frame, or stops the output of a client
 * that has let too much pile up.  Returns FALSE when the client was found
 * too slow. */
static gboolean
append (ScOutbox *outbox, const guint8 *data, gsize size, ScWorker *current)
{
  if (sc_out_queue_pending (&outbox->queue) == 0)
    outbox->last_progress = g_get_monotonic_time ();
  sc_out_queue_append (&outbox->queue, data, size);
  if (sc_out_queue_held (&outbox->queue) <= cap (outbox))
    {
      schedule_flush (outbox, current);
      return TRUE;
    }
  g_atomic_int_set (&outbox->open, FALSE);
  outbox->overflowed = TRUE;
  return FALSE;
}

static void
drop_for_bytes (ScOutbox *outbox, ScWorker *current)
{
  g_autofree char *reason = g_strdup_printf (
    "too slow: more than %" G_GSIZE_FORMAT " bytes waiting to be read",
    cap (outbox));

  sc_outbox_drop (outbox, current, SC_STATUS_RECIPIENT_SLOW, reason);
}

static gboolean
append_bytes (ScOutbox *outbox,
              const guint8 *data,
              gsize size,
              ScWorker *current)
{
  gboolean open, fits = TRUE;

  lock (outbox);
  open = g_atomic_int_get (&outbox->open);
  if (open)
    {
      fits = append (outbox, data, size, current);
      recharge (outbox);
    }
  unlock (outbox);
  if (!fits)
    drop_for_bytes (outbox, current);
  return open && fits;
}

/* Queues a frame.  Returns FALSE when the client takes no more output
 * (closing, or just found too slow). */
gboolean
sc_outbox_send_frame (ScOutbox *outbox, GBytes *frame, ScWorker *current)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);

  return append_bytes (outbox, data, size, current);
}

gboolean
sc_outbox_send_message (ScOutbox *outbox,
                        const ScMessage *message,
                        ScWorker *current)
{
  GByteArray *scratch = scratch_buffer ();

  sc_message_append_frame (message, scratch);
  return append_bytes (outbox, scratch->data, scratch->len, current);
}

static ScStatus
refusal_status (ScOutbox *outbox)
{
  return outbox->overflowed ? SC_STATUS_RECIPIENT_SLOW
                            : SC_STATUS_RECIPIENT_LEFT;
}

/* With the lock held: whether a forwarded message may be queued now,
 * counting those already reserved. */
static ScStatus
delivery_status (ScOutbox *outbox, guint64 message_id)
{
  if (!g_atomic_int_get (&outbox->open))
    return refusal_status (outbox);
  if (outbox->unacked && g_hash_table_contains (outbox->unacked, &message_id))
    return SC_STATUS_BAD_REQUEST;
  if (sc_server_memory_exceeded (outbox->server))
    return SC_STATUS_SERVER_BUSY;
  if (unacked_count (outbox) + outbox->reserved_messages >=
        outbox->server->config->max_unacked ||
      sc_out_queue_pending (&outbox->queue) + outbox->reserved_bytes >=
        cap (outbox) / 2)
    return SC_STATUS_RECIPIENT_SLOW;
  return SC_STATUS_OK;
}

static void
remember_unacked (ScOutbox *outbox, guint64 message_id, guint32 sender_id)
{
  ScPendingAck *pending = g_new (ScPendingAck, 1);

  /* Created on first use: most clients of a large idle population never
   * receive a message. */
  if (outbox->unacked == NULL)
    outbox->unacked =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  pending->message_id = message_id;
  pending->sender_id = sender_id;
  g_hash_table_replace (outbox->unacked, &pending->message_id, pending);
}

/* Holds room for one message of @size bytes, so that the sender can be
 * told it was accepted before it is queued (its reply must come before any
 * receipt); returns SC_STATUS_OK, or why it would be refused.  Each
 * reservation that succeeded must be followed by
 * sc_outbox_deliver_reserved() on the same thread. */
ScStatus
sc_outbox_reserve (ScOutbox *outbox, guint64 message_id, gsize size)
{
  ScStatus status;

  lock (outbox);
  status = delivery_status (outbox, message_id);
  if (status == SC_STATUS_OK)
    {
      outbox->reserved_messages++;
      outbox->reserved_bytes += size;
    }
  unlock (outbox);
  return status;
}

/* With the lock held: queues a message the limits allow. */
static gboolean
queue_message (ScOutbox *outbox,
               GBytes *frame,
               guint64 message_id,
               guint32 sender_id,
               gboolean receipt,
               ScWorker *current)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);
  gboolean fits;

  if (receipt)
    remember_unacked (outbox, message_id, sender_id);
  fits = append (outbox, data, size, current);
  recharge (outbox);
  return fits;
}

/* Queues a forwarded message and, when the sender wants a @receipt,
 * remembers whom to tell once the client acknowledges it.  Returns
 * SC_STATUS_OK, or why it was not queued: the caller then owes the sender
 * that outcome. */
ScStatus
sc_outbox_deliver (ScOutbox *outbox,
                   GBytes *frame,
                   guint64 message_id,
                   guint32 sender_id,
                   gboolean receipt,
                   ScWorker *current)
{
  ScStatus status;
  gboolean fits = TRUE;

  lock (outbox);
  status = delivery_status (outbox, message_id);
  if (status == SC_STATUS_OK)
    fits =
      queue_message (outbox, frame, message_id, sender_id, receipt, current);
  unlock (outbox);
  if (!fits)
    drop_for_bytes (outbox, current);
  return status;
}

/* Queues a message reserved with sc_outbox_reserve(): the limits were
 * checked then.  Fails only when the client has gone meanwhile
 * (RECIPIENT_LEFT, or RECIPIENT_SLOW when it was dropped as too slow). */
ScStatus
sc_outbox_deliver_reserved (ScOutbox *outbox,
                            GBytes *frame,
                            guint64 message_id,
                            guint32 sender_id,
                            gboolean receipt,
                            ScWorker *current)
{
  ScStatus status = SC_STATUS_OK;
  gboolean fits = TRUE;

  lock (outbox);
  g_assert (outbox->reserved_messages > 0);
  outbox->reserved_messages--;
  outbox->reserved_bytes -=
    MIN (outbox->reserved_bytes, g_bytes_get_size (frame));
  if (g_atomic_int_get (&outbox->open))
    fits =
      queue_message (outbox, frame, message_id, sender_id, receipt, current);
  else
    status = refusal_status (outbox);
  unlock (outbox);
  if (!fits)
    drop_for_bytes (outbox, current);
  return status;
}

/* The client acknowledged @message_id; returns its sender. */
gboolean
sc_outbox_take_pending_ack (ScOutbox *outbox,
                            guint64 message_id,
                            guint32 *sender_id)
{
  ScPendingAck *pending = NULL;

  lock (outbox);
  if (outbox->unacked)
    pending = g_hash_table_lookup (outbox->unacked, &message_id);
  if (pending)
    {
      *sender_id = pending->sender_id;
      g_hash_table_remove (outbox->unacked, &message_id);
      recharge (outbox);
    }
  unlock (outbox);
  return pending != NULL;
}

/* Records that this client is owed the outcome of one of its messages at
 * @recipient_id.  It is encoded when the client has room for it. */
void
sc_outbox_owe_receipt (ScOutbox *outbox,
                       guint64 message_id,
                       guint32 recipient_id,
                       ScStatus status,
                       ScWorker *current)
{
  lock (outbox);
  if (g_atomic_int_get (&outbox->open))
    {
      sc_owed_receipts_add (&outbox->owed, message_id, recipient_id, status);
      recharge (outbox);
      schedule_flush (outbox, current);
    }
  unlock (outbox);
}

/* The most ids one DELIVERY_RECEIPTS frame carries: it must fit the
 * client's payload limit with its other fields around it. */
static guint
batch_limit (ScOutbox *outbox)
{
  return MIN (1024, (outbox->server->config->max_payload - 256) / 8);
}

/* With the lock held: encodes owed receipts into the queue while less than
 * half the cap is queued. */
static void
emit_owed (ScOutbox *outbox)
{
  GByteArray *scratch = scratch_buffer ();
  guint per_frame = outbox->batch_receipts ? batch_limit (outbox) : 1;

  while (sc_out_queue_pending (&outbox->queue) < cap (outbox) / 2 &&
         sc_owed_receipts_encode_next (&outbox->owed, per_frame, scratch))
    {
      if (sc_out_queue_pending (&outbox->queue) == 0)
        outbox->last_progress = g_get_monotonic_time ();
      sc_out_queue_append (&outbox->queue, scratch->data, scratch->len);
      g_byte_array_set_size (scratch, 0);
    }
}

typedef enum
{
  FLUSH_PENDING, /* bytes remain; EPOLLOUT is watched */
  FLUSH_DRAINED, /* all written */
  FLUSH_FAILED,  /* the socket is broken */
} FlushResult;

static void
watch_output (ScOutbox *outbox, gboolean watch)
{
  if (outbox->watching_output == watch)
    return;
  outbox->watching_output = watch;
  update_events (outbox);
}

static FlushResult
write_out (ScOutbox *outbox, int *errsv)
{
  for (;;)
    {
      gsize written = 0;
      ScOutQueueResult result;

      emit_owed (outbox);
      result =
        outbox->tls
          ? sc_out_queue_write_tls (&outbox->queue, outbox->tls, &written,
                                    errsv)
          : sc_out_queue_write (&outbox->queue, outbox->fd, &written, errsv);
      if (written > 0)
        outbox->last_progress = g_get_monotonic_time ();
      if (result == SC_OUT_QUEUE_FAILED)
        return FLUSH_FAILED;
      if (result == SC_OUT_QUEUE_BLOCKED)
        {
          watch_output (outbox, TRUE);
          return FLUSH_PENDING;
        }
      if (owed_count (outbox) == 0)
        break;
    }
  watch_output (outbox, FALSE);
  return FLUSH_DRAINED;
}

/* Writes what is queued, from any worker. */
void
sc_outbox_flush (ScOutbox *outbox, ScWorker *current)
{
  FlushResult result = FLUSH_PENDING;
  gboolean close_now = FALSE;
  int errsv = 0;

  lock (outbox);
  if (outbox->flush_by == current)
    outbox->flush_by = NULL;
  if (g_atomic_int_get (&outbox->open) && outbox->tls && !outbox->tls_ready)
    /* Still in the handshake: a close asked for meanwhile need not wait
     * for output no one could read. */
    close_now = outbox->close_when_drained;
  else if (g_atomic_int_get (&outbox->open))
    {
      result = write_out (outbox, &errsv);
      close_now = result == FLUSH_DRAINED && outbox->close_when_drained;
      recharge (outbox);
    }
  unlock (outbox);

  if (result == FLUSH_FAILED)
    {
      g_autofree char *reason =
        g_strdup_printf ("connection lost (send: %s)", g_strerror (errsv));
      sc_outbox_drop (outbox, current, SC_STATUS_OK, reason);
    }
  else if (close_now)
    sc_outbox_drop (outbox, current, SC_STATUS_OK, NULL);
}

/* Owner: whether receipts may be batched (the client said it reads
 * DELIVERY_RECEIPTS). */
void
sc_outbox_set_batch_receipts (ScOutbox *outbox, gboolean batches)
{
  lock (outbox);
  outbox->batch_receipts = batches;
  unlock (outbox);
}

/* Owner: mirrors whether it still reads, for the epoll registration. */
void
sc_outbox_set_input (ScOutbox *outbox, gboolean want_input)
{
  lock (outbox);
  outbox->want_input = want_input;
  update_events (outbox);
  unlock (outbox);
}

/* Owner: the size of its read buffer, charged to the budget here so that
 * everything held for one client is in one number. */
void
sc_outbox_set_reader_held (ScOutbox *outbox, gsize bytes)
{
  lock (outbox);
  outbox->reader_held = bytes;
  recharge (outbox);
  unlock (outbox);
}

/* Owner: close once everything queued has gone out. */
void
sc_outbox_close_when_drained (ScOutbox *outbox)
{
  lock (outbox);
  outbox->close_when_drained = TRUE;
  outbox->want_input = FALSE;
  update_events (outbox);
  schedule_flush (outbox, outbox->owner);
  unlock (outbox);
}

/* Owner: no frame is accepted from now on. */
void
sc_outbox_close (ScOutbox *outbox)
{
  lock (outbox);
  g_atomic_int_set (&outbox->open, FALSE);
  unlock (outbox);
}

gboolean
sc_outbox_overflowed (ScOutbox *outbox)
{
  gboolean overflowed;

  lock (outbox);
  overflowed = outbox->overflowed;
  unlock (outbox);
  return overflowed;
}

/* Owner, on a connection idle for a while: its spare chunk goes back. */
void
sc_outbox_trim (ScOutbox *outbox)
{
  lock (outbox);
  if (sc_out_queue_pending (&outbox->queue) == 0)
    {
      sc_out_queue_release_spare (&outbox->queue);
      recharge (outbox);
    }
  unlock (outbox);
}

/* Owner: TRUE when bytes have waited more than @limit_us without the
 * client reading any of them. */
gboolean
sc_outbox_stalled (ScOutbox *outbox, gint64 now, gint64 limit_us)
{
  gboolean stalled;

  lock (outbox);
  stalled = g_atomic_int_get (&outbox->open) &&
            sc_out_queue_pending (&outbox->queue) > 0 &&
            now - outbox->last_progress > limit_us;
  unlock (outbox);
  return stalled;
}

/* Owner, last step: writes what can go without waiting (unless the client
 * was too slow to deserve it), closes the socket and hands back the table
 * of unacknowledged messages (message id -> sender) for their senders to
 * be told.  Reading what the peer still sends after shutdown() lets the
 * last notice arrive instead of being destroyed by a reset.
 * (transfer full) */
GHashTable *
sc_outbox_close_socket (ScOutbox *outbox, gboolean send_rest)
{
  guint8 sink[4096];
  GHashTable *unacked;
  gsize written = 0;
  int errsv;

  lock (outbox);
  g_atomic_int_set (&outbox->open, FALSE);
  if (outbox->tls && outbox->tls_ready)
    {
      /* What fits without waiting, then the close_notify alert, which
       * tells the client the end is the server's and not an attack. */
      if (send_rest)
        (void) sc_out_queue_write_tls (&outbox->queue, outbox->tls, &written,
                                       &errsv);
      (void) gnutls_bye (outbox->tls, GNUTLS_SHUT_WR);
    }
  else if (send_rest && outbox->tls == NULL)
    (void) sc_out_queue_write (&outbox->queue, outbox->fd, &written, &errsv);
  shutdown (outbox->fd, SHUT_WR);
  for (int i = 0; i < 16; i++)
    if (recv (outbox->fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
      break;
  close (outbox->fd);
  outbox->fd = -1;
  g_clear_pointer (&outbox->tls, gnutls_deinit);
  unacked = g_steal_pointer (&outbox->unacked);
  sc_out_queue_clear (&outbox->queue);
  sc_owed_receipts_clear (&outbox->owed);
  outbox->reader_held = 0;
  recharge (outbox);
  unlock (outbox);
  return unacked;
}
