/* sc-history-inbox.c: the operations queued for the history's writer,
 * and the inbox that carries them: all that the owner and the writer
 * thread share. */
#include "config.h"

#include <string.h>

#include "sc-history-inbox.h"
#include "sc-tsan.h"

ScHistoryOp *
sc_history_op_new (ScHistoryOpKind kind)
{
  ScHistoryOp *op = g_new0 (ScHistoryOp, 1);

  op->kind = kind;
  return op;
}

void
sc_history_op_free (ScHistoryOp *op)
{
  sc_history_entry_free (op->entry);
  g_free (op->server);
  g_free (op);
}

/* GLib's mutexes and conditions are invisible to ThreadSanitizer, so
 * these say what they order: everything before an unlock happens
 * before everything after the next lock of the same mutex. */
static void
lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  SC_HAPPENS_AFTER (mutex);
}

static void
unlock (GMutex *mutex)
{
  SC_HAPPENS_BEFORE (mutex);
  g_mutex_unlock (mutex);
}

/* g_cond_wait_until() with @deadline -1 waiting for ever. */
static gboolean
cond_wait (GCond *cond, GMutex *mutex, gint64 deadline)
{
  gboolean signalled = TRUE;

  SC_HAPPENS_BEFORE (mutex);
  if (deadline < 0)
    g_cond_wait (cond, mutex);
  else
    signalled = g_cond_wait_until (cond, mutex, deadline);
  SC_HAPPENS_AFTER (mutex);
  return signalled;
}

void
sc_history_wait_init (ScHistoryWait *wait)
{
  memset (wait, 0, sizeof *wait);
  g_mutex_init (&wait->mutex);
  g_cond_init (&wait->cond);
}

/* Blocks until the writer completes; hands its error over. */
gboolean
sc_history_wait_finish (ScHistoryWait *wait, GError **error)
{
  lock (&wait->mutex);
  while (!wait->done)
    cond_wait (&wait->cond, &wait->mutex, -1);
  unlock (&wait->mutex);
  g_mutex_clear (&wait->mutex);
  g_cond_clear (&wait->cond);
  if (wait->error != NULL)
    {
      g_propagate_error (error, wait->error);
      return FALSE;
    }
  return TRUE;
}

void
sc_history_wait_complete (ScHistoryWait *wait, const GError *error)
{
  lock (&wait->mutex);
  wait->error = error ? g_error_copy (error) : NULL;
  wait->done = TRUE;
  g_cond_signal (&wait->cond);
  unlock (&wait->mutex);
}

/* ---- The inbox: all that the owner and the writer share ---- */

/* Reference-counted (g_atomic_rc_box): the owner pushes, the writer
 * takes everything queued under one lock, so that a flood costs the
 * pushing thread a short critical section per message and the writer
 * one per batch, instead of both contending for every message. */
struct _ScHistoryInbox
{
  GMutex mutex;
  GCond cond;   /* signalled when ops goes from empty to non-empty */
  GQueue ops;   /* ScHistoryOp, oldest first */
  gint pending; /* pushed and not yet committed; atomic */
};

ScHistoryInbox *
sc_history_inbox_new (void)
{
  ScHistoryInbox *inbox = g_atomic_rc_box_new0 (ScHistoryInbox);

  g_mutex_init (&inbox->mutex);
  g_cond_init (&inbox->cond);
  g_queue_init (&inbox->ops);
  return inbox;
}

static void
inbox_clear (gpointer data)
{
  ScHistoryInbox *inbox = data;

  g_queue_clear_full (&inbox->ops, (GDestroyNotify) sc_history_op_free);
  g_mutex_clear (&inbox->mutex);
  g_cond_clear (&inbox->cond);
}

ScHistoryInbox *
sc_history_inbox_ref (ScHistoryInbox *inbox)
{
  return g_atomic_rc_box_acquire (inbox);
}

void
sc_history_inbox_unref (ScHistoryInbox *inbox)
{
  g_atomic_rc_box_release_full (inbox, inbox_clear);
}

/* FALSE, dropping @op, when the inbox holds @max already. */
gboolean
sc_history_inbox_push (ScHistoryInbox *inbox, ScHistoryOp *op, guint max)
{
  gboolean was_empty;

  lock (&inbox->mutex);
  if (inbox->ops.length >= max)
    {
      unlock (&inbox->mutex);
      sc_history_op_free (op);
      return FALSE;
    }
  was_empty = g_queue_is_empty (&inbox->ops);
  g_queue_push_tail (&inbox->ops, op);
  g_atomic_int_inc (&inbox->pending);
  if (was_empty)
    g_cond_signal (&inbox->cond);
  unlock (&inbox->mutex);
  return TRUE;
}

/* Moves everything queued to the empty @into, waiting for something
 * until @deadline (monotonic; -1 for ever).  @into stays empty when the
 * deadline passes first. */
void
sc_history_inbox_take (ScHistoryInbox *inbox, GQueue *into, gint64 deadline)
{
  g_assert (g_queue_is_empty (into));
  lock (&inbox->mutex);
  while (g_queue_is_empty (&inbox->ops))
    if (!cond_wait (&inbox->cond, &inbox->mutex, deadline))
      break;
  *into = inbox->ops;
  g_queue_init (&inbox->ops);
  unlock (&inbox->mutex);
}

/* Operations pushed and not yet committed. */
guint
sc_history_inbox_get_pending (ScHistoryInbox *inbox)
{
  return (guint) g_atomic_int_get (&inbox->pending);
}

/* The writer has committed (or failed) @n operations it took. */
void
sc_history_inbox_committed (ScHistoryInbox *inbox, guint n)
{
  g_atomic_int_add (&inbox->pending, -(gint) n);
}
