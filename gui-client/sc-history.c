/* sc-history.c: ScHistory, the conversation history in SQLite.
 *
 * Two connections to one database in WAL mode: the writer thread's
 * (sc-history-writer.c), which alone writes, and the owner's, which
 * reads (sc-history-db.c).  WAL lets the owner read the last committed
 * state while the writer appends, so neither waits for the other.  This
 * file is the object: it queues operations in the inbox the writer takes
 * them from (sc-history-inbox.c), and waits for them where its callers
 * need their effect. */
#include "config.h"

#include "sc-history-db.h"
#include "sc-history-inbox.h"
#include "sc-history-writer.h"
#include "sc-history.h"

/* Past this many queued operations, appends are dropped rather than
 * held: a writer that cannot keep up (a stalled disk) must not eat the
 * memory of a client under a flood.  At a few hundred bytes an entry
 * this is tens of megabytes. */
#define MAX_QUEUED 262144

G_DEFINE_QUARK (sc - history - error - quark, sc_history_error)

/* ---- The object ---- */

struct _ScHistory
{
  GObject parent_instance;

  char *path;
  ScHistoryDb *reader;   /* the owner's connection */
  ScHistoryInbox *inbox; /* to the writer */
  GThread *writer;
  gint dropping; /* the inbox is full and appends are dropped; atomic */
};

G_DEFINE_FINAL_TYPE (ScHistory, sc_history, G_TYPE_OBJECT)

static void
push (ScHistory *self, ScHistoryOp *op)
{
  sc_history_inbox_push (self->inbox, op, G_MAXUINT);
}

static void
sc_history_dispose (GObject *object)
{
  ScHistory *self = SC_HISTORY (object);

  /* The writer commits what was queued before it quits. */
  if (self->writer != NULL)
    {
      push (self, sc_history_op_new (OP_QUIT));
      g_clear_pointer (&self->writer, g_thread_join);
    }
  G_OBJECT_CLASS (sc_history_parent_class)->dispose (object);
}

static void
sc_history_finalize (GObject *object)
{
  ScHistory *self = SC_HISTORY (object);

  g_clear_pointer (&self->reader, sc_history_db_free);
  g_clear_pointer (&self->inbox, sc_history_inbox_unref);
  g_free (self->path);
  G_OBJECT_CLASS (sc_history_parent_class)->finalize (object);
}

static void
sc_history_class_init (ScHistoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_history_dispose;
  object_class->finalize = sc_history_finalize;
}

static void
sc_history_init (ScHistory *self)
{
  self->inbox = sc_history_inbox_new ();
}

/* $XDG_DATA_HOME/sockchat/history.sqlite3 */
char *
sc_history_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "sockchat",
                           "history.sqlite3", NULL);
}

/**
 * sc_history_new:
 * @path: (nullable): the database file; NULL for sc_history_default_path()
 *
 * Opens or creates the history.  A file that is not a SockChat history
 * database, a damaged one, or one a newer SockChat wrote gives an
 * SC_HISTORY_ERROR and NULL; the file is left as it is.
 *
 * Returns: (transfer full): the history, or NULL.
 */
ScHistory *
sc_history_new (const char *path, GError **error)
{
  g_autoptr (ScHistory) self = g_object_new (SC_TYPE_HISTORY, NULL);

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  self->path = path ? g_strdup (path) : sc_history_default_path ();
  if (!sc_history_db_ensure_folder (self->path, error))
    return NULL;
  /* The writer first: it creates the schema the reader prepares for. */
  self->writer = sc_history_writer_start (self->path, self->inbox, error);
  if (self->writer != NULL)
    self->reader = sc_history_db_new (self->path, error);
  if (self->reader == NULL)
    {
      g_prefix_error (error, "Could not open the history %s: ", self->path);
      return NULL;
    }
  return g_steal_pointer (&self);
}

const char *
sc_history_get_path (ScHistory *self)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  return self->path;
}

/**
 * sc_history_append:
 * @entry: (transfer none): copied; the caller keeps it
 *
 * Queues the entry for the writer and returns at once.  Loads and
 * searches see it once it is committed, at most 100 ms later; they
 * wait for that themselves.
 */
void
sc_history_append (ScHistory *self, const ScHistoryEntry *entry)
{
  ScHistoryOp *op;

  g_return_if_fail (SC_IS_HISTORY (self));
  g_return_if_fail (entry != NULL && entry->server != NULL &&
                    entry->conversation != NULL);
  op = sc_history_op_new (OP_APPEND);
  op->entry = sc_history_entry_copy (entry);
  if (sc_history_inbox_push (self->inbox, op, MAX_QUEUED))
    g_atomic_int_set (&self->dropping, FALSE);
  else if (!g_atomic_int_exchange (&self->dropping, TRUE))
    g_warning ("History writes are %d behind; dropping new messages",
               MAX_QUEUED);
}

/* Sets the delivery state of our own message (outgoing or broadcast
 * out) that the server numbered @message_id; the newest such, since a
 * restarted server reuses ids.  Queued like an append, so it may follow
 * the append of the same message at once. */
void
sc_history_update_state (ScHistory *self,
                         const char *server,
                         guint64 message_id,
                         int state)
{
  ScHistoryOp *op;

  g_return_if_fail (SC_IS_HISTORY (self));
  g_return_if_fail (server != NULL);
  g_return_if_fail (message_id != 0);
  op = sc_history_op_new (OP_UPDATE_STATE);
  op->server = g_strdup (server);
  op->message_id = message_id;
  op->state = state;
  push (self, op);
}

/* Keeps at most @per_conversation rows in each conversation (G_MAXUINT
 * for no bound): applied to every conversation at once, in the writer
 * thread, then after every commit to the conversations it touched. */
void
sc_history_set_limit (ScHistory *self, guint per_conversation)
{
  ScHistoryOp *op;

  g_return_if_fail (SC_IS_HISTORY (self));
  op = sc_history_op_new (OP_SET_LIMIT);
  op->limit = per_conversation;
  push (self, op);
}

/* Queues @op and waits until the writer has committed it and
 * everything queued before it. */
static gboolean
push_and_wait (ScHistory *self, ScHistoryOp *op, GError **error)
{
  ScHistoryWait wait;

  sc_history_wait_init (&wait);
  op->wait = &wait;
  push (self, op);
  return sc_history_wait_finish (&wait, error);
}

/* Returns once everything queued so far is committed (or failed, which
 * the writer has logged). */
void
sc_history_flush (ScHistory *self)
{
  ScHistoryOp *op;

  g_return_if_fail (SC_IS_HISTORY (self));
  if (sc_history_inbox_get_pending (self->inbox) == 0)
    return;
  op = sc_history_op_new (OP_FLUSH);
  push_and_wait (self, op, NULL);
}

/**
 * sc_history_load:
 * @limit: at most this many rows, the newest ones
 *
 * Waits for queued writes, then reads the conversation through its
 * index.
 *
 * Returns: (transfer container) (element-type ScHistoryEntry): oldest
 * first, empty for an unknown conversation; NULL on error.
 */
GPtrArray *
sc_history_load (ScHistory *self,
                 const char *server,
                 const char *conversation,
                 guint limit,
                 GError **error)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  sc_history_flush (self);
  return sc_history_db_load (self->reader, server, conversation, limit, error);
}

/**
 * sc_history_search:
 * @needle: text to find, literally (`%` and `_` are no wildcards),
 *   ignoring case and Unicode normalisation
 * @limit: at most this many matches
 *
 * Waits for queued writes, then walks the conversation newest first
 * through its index, at most the conversation's bound of rows.
 *
 * Returns: (transfer container) (element-type ScHistoryEntry): newest
 * first; NULL on error.
 */
GPtrArray *
sc_history_search (ScHistory *self,
                   const char *server,
                   const char *conversation,
                   const char *needle,
                   guint limit,
                   GError **error)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  g_return_val_if_fail (needle != NULL, NULL);
  sc_history_flush (self);
  return sc_history_db_search (self->reader, server, conversation, needle,
                               limit, error);
}

/**
 * sc_history_load_range:
 * @from_row: the first row wanted (ScHistoryEntry.row)
 * @before_row: the first row not wanted
 *
 * Waits for queued writes, then reads the rows in between through the
 * conversation's primary key; the caller bounds how many that is.
 *
 * Returns: (transfer container) (element-type ScHistoryEntry): oldest
 * first; NULL on error.
 */
GPtrArray *
sc_history_load_range (ScHistory *self,
                       const char *server,
                       const char *conversation,
                       gint64 from_row,
                       gint64 before_row,
                       GError **error)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  sc_history_flush (self);
  return sc_history_db_load_range (self->reader, server, conversation, from_row,
                                   before_row, error);
}

/* What a count of older matches asks, and then answers. */
typedef struct
{
  char *server;
  char *conversation;
  char *needle;
  gint64 before_row;
  guint n_older;
  gint64 newest_row;
} CountOlder;

static void
count_older_free (CountOlder *count)
{
  g_free (count->server);
  g_free (count->conversation);
  g_free (count->needle);
  g_free (count);
}

/* In a worker thread: a connection of its own, since the owner's
 * belongs to the owner's thread.  Opening one costs a fraction of a
 * millisecond next to the search itself. */
static void
count_older_thread (GTask *task,
                    gpointer source,
                    gpointer data,
                    GCancellable *cancellable)
{
  ScHistory *self = source;
  CountOlder *count = data;
  g_autoptr (ScHistoryDb) reader = NULL;
  GError *error = NULL;

  /* A count the user typed past while it waited for a pool thread: the
   * flush below may wait long for a busy writer, holding the thread. */
  if (g_task_return_error_if_cancelled (task))
    return;
  /* Flushing only queues an operation and waits for the writer: safe
   * from any thread, and it makes the count include every append made
   * before the call. */
  sc_history_flush (self);
  reader = sc_history_db_new (self->path, &error);
  if (reader != NULL)
    {
      sc_history_db_set_cancellable (reader, cancellable);
      sc_history_db_count_older (reader, count->server, count->conversation,
                                 count->needle, count->before_row,
                                 &count->n_older, &count->newest_row, &error);
    }
  if (g_task_return_error_if_cancelled (task))
    g_clear_error (&error);
  else if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * sc_history_count_older_async:
 * @needle: as for sc_history_search()
 * @before_row: only rows older than this one count
 *
 * Counts the matches of @needle in the text of the conversation's rows
 * older than @before_row (every occurrence, as ScMessageLog's search
 * counts them), and finds the newest row that holds one, in a worker
 * thread: the whole
 * conversation may have to be read, and the caller's thread (the GTK
 * one) must not wait for that.  Cancelling @cancellable stops the query.
 */
void
sc_history_count_older_async (ScHistory *self,
                              const char *server,
                              const char *conversation,
                              const char *needle,
                              gint64 before_row,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  CountOlder *count;

  g_return_if_fail (SC_IS_HISTORY (self));
  g_return_if_fail (server != NULL && conversation != NULL && needle != NULL);
  count = g_new0 (CountOlder, 1);
  count->server = g_strdup (server);
  count->conversation = g_strdup (conversation);
  count->needle = g_strdup (needle);
  count->before_row = before_row;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, sc_history_count_older_async);
  g_task_set_task_data (task, count, (GDestroyNotify) count_older_free);
  g_task_run_in_thread (task, count_older_thread);
}

/* @n_older and @newest_row (0 for none) are set when it returns TRUE. */
gboolean
sc_history_count_older_finish (ScHistory *self,
                               GAsyncResult *result,
                               guint *n_older,
                               gint64 *newest_row,
                               GError **error)
{
  CountOlder *count;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  count = g_task_get_task_data (G_TASK (result));
  *n_older = count->n_older;
  *newest_row = count->newest_row;
  return TRUE;
}

static gboolean
clear (ScHistory *self, const char *server, GError **error)
{
  ScHistoryOp *op = sc_history_op_new (OP_CLEAR);

  op->server = g_strdup (server);
  return push_and_wait (self, op, error);
}

/* Deletes every conversation of every server, including writes queued
 * before the call, and overwrites the deleted text on disk. */
gboolean
sc_history_clear (ScHistory *self, GError **error)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), FALSE);
  return clear (self, NULL, error);
}

/* The same for one server's conversations. */
gboolean
sc_history_clear_server (ScHistory *self, const char *server, GError **error)
{
  g_return_val_if_fail (SC_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (server != NULL, FALSE);
  return clear (self, server, error);
}
