/* sc-history-writer.c: the history's writer thread, the only one that
 * writes to the database.
 *
 * It takes operations from the inbox and applies them in batches, each
 * one transaction (BEGIN IMMEDIATE): at most BATCH_MAX_ROWS operations,
 * or what arrived within BATCH_MAX_DELAY_US of the first, and an
 * operation someone waits for ends its batch.  Pruning a conversation
 * past the limit is part of the transaction that appended to it. */
#include "config.h"

#include <string.h>

#include "sc-history-db.h"
#include "sc-history-writer.h"
#include "sc-history.h"

/* The writer commits at least this often while rows are queued ... */
#define BATCH_MAX_DELAY_US (100 * G_TIME_SPAN_MILLISECOND)
/* ... and after this many rows, whichever comes first. */
#define BATCH_MAX_ROWS 256

/* A restarted server numbers its messages from the start again, so the
 * newest of our own messages with that id is the one a receipt is
 * about; received messages have no delivery state. */
static const char update_state_sql[] =
  "UPDATE messages SET state = ?3 WHERE (conversation, id) = ("
  "  SELECT m.conversation, m.id FROM messages m"
  "    JOIN conversations c ON c.id = m.conversation"
  "   WHERE m.message_id = ?2 AND m.message_id != 0 AND c.server = ?1"
  "     AND m.kind IN (1, 3)" /* OUTGOING, BROADCAST_OUT */
  "   ORDER BY m.time_us DESC, m.id DESC LIMIT 1)";

static const char insert_sql[] =
  "INSERT INTO messages (conversation, id, time_us, kind,"
  " sender_nickname, sender_id, text, message_id, state)"
  " VALUES (?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char find_conversation_sql[] =
  "SELECT id FROM conversations WHERE server = ?1 AND name = ?2";
static const char add_conversation_sql[] =
  "INSERT INTO conversations (server, name) VALUES (?1, ?2)";
static const char last_id_sql[] =
  "SELECT coalesce (max (id), 0) FROM messages WHERE conversation = ?1";
static const char prune_sql[] =
  "DELETE FROM messages WHERE conversation = ?1 AND id < ?2";
static const char clear_server_messages_sql[] =
  "DELETE FROM messages WHERE conversation IN ("
  "  SELECT id FROM conversations WHERE server = ?1)";
static const char clear_server_conversations_sql[] =
  "DELETE FROM conversations WHERE server = ?1";

/* ---- The writer thread ---- */

/* What the writer knows of one conversation.  Its messages are numbered
 * without gaps (rows are only ever removed from the oldest end), so
 * the number of the next one says which are beyond the limit. */
typedef struct
{
  gint64 id;
  gint64 next;
  gboolean touched;
} ScHistoryConversation;

typedef struct
{
  sqlite3 *db;
  ScHistoryInbox *inbox;
  GQueue taken; /* taken from the inbox, not yet applied */
  guint limit;
  /* "len:server:name" -> ScHistoryConversation, for this transaction's
   * view of the file; emptied whenever a transaction fails. */
  GHashTable *conversations;
  GPtrArray *touched; /* ScHistoryConversation, not owned */
  gboolean cleared;   /* a clear was committed: truncate the WAL */
  gboolean failing;   /* the last batch failed, and that was logged */
  sqlite3_stmt *insert;
  sqlite3_stmt *find_conversation;
  sqlite3_stmt *add_conversation;
  sqlite3_stmt *last_id;
  sqlite3_stmt *prune;
  sqlite3_stmt *update_state;
} ScHistoryWriter;

static gboolean
writer_prepare (ScHistoryWriter *writer, GError **error)
{
  sqlite3 *db = writer->db;

  return sc_history_db_prepare (db, insert_sql, &writer->insert, error) &&
         sc_history_db_prepare (db, find_conversation_sql,
                                &writer->find_conversation, error) &&
         sc_history_db_prepare (db, add_conversation_sql,
                                &writer->add_conversation, error) &&
         sc_history_db_prepare (db, last_id_sql, &writer->last_id, error) &&
         sc_history_db_prepare (db, prune_sql, &writer->prune, error) &&
         sc_history_db_prepare (db, update_state_sql, &writer->update_state,
                                error);
}

static void
writer_free (ScHistoryWriter *writer)
{
  sqlite3_finalize (writer->insert);
  sqlite3_finalize (writer->find_conversation);
  sqlite3_finalize (writer->add_conversation);
  sqlite3_finalize (writer->last_id);
  sqlite3_finalize (writer->prune);
  sqlite3_finalize (writer->update_state);
  sqlite3_close (writer->db);
  g_queue_clear_full (&writer->taken, (GDestroyNotify) sc_history_op_free);
  g_clear_pointer (&writer->inbox, sc_history_inbox_unref);
  g_clear_pointer (&writer->conversations, g_hash_table_unref);
  g_clear_pointer (&writer->touched, g_ptr_array_unref);
  g_free (writer);
}

/* The conversation's row id, 0 when it has none yet. */
static gboolean
writer_find_conversation (ScHistoryWriter *writer,
                          const char *server,
                          const char *name,
                          gint64 *id,
                          GError **error)
{
  sqlite3_stmt *stmt = writer->find_conversation;
  int rc;

  sc_history_db_bind_text (stmt, 1, server);
  sc_history_db_bind_text (stmt, 2, name);
  rc = sqlite3_step (stmt);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return sc_history_db_fail (error, writer->db, rc,
                               "Could not find a conversation");
  return TRUE;
}

static gboolean
writer_add_conversation (ScHistoryWriter *writer,
                         const char *server,
                         const char *name,
                         gint64 *id,
                         GError **error)
{
  sc_history_db_bind_text (writer->add_conversation, 1, server);
  sc_history_db_bind_text (writer->add_conversation, 2, name);
  if (!sc_history_db_step_done (writer->add_conversation, error))
    return FALSE;
  *id = sqlite3_last_insert_rowid (writer->db);
  return TRUE;
}

/* The number the conversation's next message gets. */
static gboolean
writer_next_id (ScHistoryWriter *writer,
                gint64 id,
                gint64 *next,
                GError **error)
{
  int rc;

  sqlite3_bind_int64 (writer->last_id, 1, id);
  rc = sqlite3_step (writer->last_id);
  *next = sqlite3_column_int64 (writer->last_id, 0) + 1;
  sqlite3_reset (writer->last_id);
  if (rc != SQLITE_ROW)
    return sc_history_db_fail (error, writer->db, rc,
                               "Could not read the history");
  return TRUE;
}

static ScHistoryConversation *
writer_conversation (ScHistoryWriter *writer,
                     const char *server,
                     const char *name,
                     GError **error)
{
  g_autofree char *key =
    g_strdup_printf ("%zu:%s:%s", strlen (server), server, name);
  ScHistoryConversation *conversation =
    g_hash_table_lookup (writer->conversations, key);
  gint64 id = 0;

  if (conversation != NULL)
    return conversation;
  if (!writer_find_conversation (writer, server, name, &id, error))
    return NULL;
  if (id == 0 && !writer_add_conversation (writer, server, name, &id, error))
    return NULL;
  conversation = g_new0 (ScHistoryConversation, 1);
  conversation->id = id;
  if (!writer_next_id (writer, id, &conversation->next, error))
    {
      g_free (conversation);
      return NULL;
    }
  g_hash_table_insert (writer->conversations, g_steal_pointer (&key),
                       conversation);
  return conversation;
}

static gboolean
writer_append (ScHistoryWriter *writer,
               const ScHistoryEntry *entry,
               GError **error)
{
  sqlite3_stmt *stmt = writer->insert;
  ScHistoryConversation *conversation =
    writer_conversation (writer, entry->server, entry->conversation, error);

  if (conversation == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, conversation->id);
  sqlite3_bind_int64 (stmt, 2, entry->time_us);
  sqlite3_bind_int (stmt, 3, entry->kind);
  sc_history_db_bind_text (stmt, 4, entry->sender_nickname);
  sqlite3_bind_int64 (stmt, 5, entry->sender_id);
  sc_history_db_bind_text (stmt, 6, entry->text);
  sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) entry->message_id);
  sqlite3_bind_int (stmt, 8, entry->state);
  sqlite3_bind_int64 (stmt, 9, conversation->next);
  if (!sc_history_db_step_done (stmt, error))
    return FALSE;
  conversation->next++;
  if (!conversation->touched)
    {
      conversation->touched = TRUE;
      g_ptr_array_add (writer->touched, conversation);
    }
  return TRUE;
}

static gboolean
writer_update_state (ScHistoryWriter *writer,
                     const ScHistoryOp *op,
                     GError **error)
{
  sc_history_db_bind_text (writer->update_state, 1, op->server);
  sqlite3_bind_int64 (writer->update_state, 2, (sqlite3_int64) op->message_id);
  sqlite3_bind_int (writer->update_state, 3, op->state);
  return sc_history_db_step_done (writer->update_state, error);
}

/* Deletes a conversation's rows beyond the limit, oldest first, given
 * the number its next message would get. */
static gboolean
writer_prune_one (ScHistoryWriter *writer,
                  gint64 id,
                  gint64 next,
                  GError **error)
{
  gint64 first_kept = next - (gint64) writer->limit;

  if (first_kept <= 1)
    return TRUE;
  sqlite3_bind_int64 (writer->prune, 1, id);
  sqlite3_bind_int64 (writer->prune, 2, first_kept);
  return sc_history_db_step_done (writer->prune, error);
}

static gboolean
writer_prune_touched (ScHistoryWriter *writer, GError **error)
{
  for (guint i = 0; i < writer->touched->len; i++)
    {
      ScHistoryConversation *conversation = writer->touched->pdata[i];

      conversation->touched = FALSE;
      if (!writer_prune_one (writer, conversation->id, conversation->next,
                             error))
        return FALSE;
    }
  g_ptr_array_set_size (writer->touched, 0);
  return TRUE;
}

/* A new limit applies to every conversation at once, touched or not. */
static gboolean
writer_set_limit (ScHistoryWriter *writer, guint limit, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  writer->limit = limit;
  if (!sc_history_db_prepare (writer->db, "SELECT id FROM conversations", &stmt,
                              error))
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return sc_history_db_fail (error, writer->db, rc,
                               "Could not list conversations");
  for (guint i = 0; i < ids->len; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);
      gint64 next = 0;

      if (!writer_next_id (writer, id, &next, error) ||
          !writer_prune_one (writer, id, next, error))
        return FALSE;
    }
  return TRUE;
}

/* Runs a one-off statement with the server as its only parameter. */
static gboolean
writer_exec_for_server (ScHistoryWriter *writer,
                        const char *sql,
                        const char *server,
                        GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean ok;

  if (sqlite3_prepare_v2 (writer->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    return sc_history_db_fail (error, writer->db, sqlite3_errcode (writer->db),
                               "Could not prepare a query");
  sc_history_db_bind_text (stmt, 1, server);
  ok = sc_history_db_step_done (stmt, error);
  sqlite3_finalize (stmt);
  return ok;
}

static gboolean
writer_clear (ScHistoryWriter *writer, const char *server, GError **error)
{
  g_ptr_array_set_size (writer->touched, 0);
  g_hash_table_remove_all (writer->conversations);
  writer->cleared = TRUE;
  if (server == NULL)
    return sc_history_db_exec (
      writer->db, "DELETE FROM messages; DELETE FROM conversations", error);
  return writer_exec_for_server (writer, clear_server_messages_sql, server,
                                 error) &&
         writer_exec_for_server (writer, clear_server_conversations_sql, server,
                                 error);
}

static gboolean
writer_apply (ScHistoryWriter *writer, const ScHistoryOp *op, GError **error)
{
  switch (op->kind)
    {
    case OP_APPEND: return writer_append (writer, op->entry, error);
    case OP_UPDATE_STATE: return writer_update_state (writer, op, error);
    case OP_SET_LIMIT: return writer_set_limit (writer, op->limit, error);
    case OP_CLEAR: return writer_clear (writer, op->server, error);
    case OP_FLUSH:
    case OP_QUIT: return TRUE;
    default: g_assert_not_reached ();
    }
}

/* Operations someone waits for end the batch, so that they are
 * answered as soon as they are committed. */
static gboolean
op_ends_batch (const ScHistoryOp *op)
{
  return op->wait != NULL || op->kind == OP_QUIT;
}

/* The next operation, waiting for one until @deadline (monotonic; -1
 * for ever); NULL when the deadline passed. */
static ScHistoryOp *
writer_next (ScHistoryWriter *writer, gint64 deadline)
{
  if (g_queue_is_empty (&writer->taken))
    sc_history_inbox_take (writer->inbox, &writer->taken, deadline);
  return g_queue_pop_head (&writer->taken);
}

/* Applies @first and what follows it, within the batch bounds, in one
 * transaction; pruning is part of the same transaction.  Returns the
 * operations applied, in order. */
static GPtrArray *
writer_collect (ScHistoryWriter *writer, ScHistoryOp *first, GError **error)
{
  GPtrArray *ops =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_history_op_free);
  gint64 deadline = g_get_monotonic_time () + BATCH_MAX_DELAY_US;
  ScHistoryOp *op = first;

  while (op != NULL)
    {
      g_ptr_array_add (ops, op);
      if (*error == NULL)
        writer_apply (writer, op, error);
      if (op_ends_batch (op) || ops->len >= BATCH_MAX_ROWS)
        break;
      op = writer_next (writer, deadline);
    }
  return ops;
}

/* After a clear, the WAL still holds the deleted rows' old pages:
 * copy the zeroed pages back and empty it. */
static void
writer_forget_cleared (ScHistoryWriter *writer)
{
  if (!writer->cleared)
    return;
  writer->cleared = FALSE;
  sqlite3_wal_checkpoint_v2 (writer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                             NULL);
}

/* One transaction.  FALSE once told to quit. */
static gboolean
writer_run_batch (ScHistoryWriter *writer, ScHistoryOp *first)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ops = NULL;
  gboolean quit;

  /* IMMEDIATE takes the write lock first, waiting (busy_timeout) for
   * another window's writer; a deferred transaction that reads before
   * it writes would fail with "database is locked" instead. */
  sc_history_db_exec (writer->db, "BEGIN IMMEDIATE", &error);
  /* Another window's writer may have added rows or cleared the store
   * since our last batch: conversation ids and next row numbers are
   * read again under this transaction's lock. */
  g_hash_table_remove_all (writer->conversations);
  ops = writer_collect (writer, first, &error);
  if (error == NULL)
    writer_prune_touched (writer, &error);
  if (error == NULL)
    sc_history_db_exec (writer->db, "COMMIT", &error);
  /* A full disk or a damaged file fails every batch: say so once, not
   * ten times a second. */
  if (error != NULL && !writer->failing)
    g_warning ("History not saved: %s", error->message);
  writer->failing = error != NULL;
  if (error != NULL)
    {
      sqlite3_exec (writer->db, "ROLLBACK", NULL, NULL, NULL);
      g_ptr_array_set_size (writer->touched, 0);
      g_hash_table_remove_all (writer->conversations);
    }
  writer_forget_cleared (writer);
  for (guint i = 0; i < ops->len; i++)
    {
      ScHistoryOp *op = ops->pdata[i];

      if (op->wait != NULL)
        sc_history_wait_complete (op->wait, error);
    }
  quit = ((ScHistoryOp *) ops->pdata[ops->len - 1])->kind == OP_QUIT;
  sc_history_inbox_committed (writer->inbox, ops->len);
  return !quit;
}

static gpointer
writer_thread (gpointer data)
{
  ScHistoryWriter *writer = data;

  while (writer_run_batch (writer, writer_next (writer, -1)))
    ;
  writer_free (writer);
  return NULL;
}

/**
 * sc_history_writer_start:
 * @path: the database file, made if need be
 * @inbox: where the writer takes its operations from; it keeps a ref
 *
 * Opens the writer's connection and makes or checks the schema; the
 * thread starts only once everything that can fail has succeeded.  It
 * ends after committing an OP_QUIT.
 *
 * Returns: (transfer full): the thread to join, or NULL.
 */
GThread *
sc_history_writer_start (const char *path,
                         ScHistoryInbox *inbox,
                         GError **error)
{
  ScHistoryWriter *writer = g_new0 (ScHistoryWriter, 1);

  writer->inbox = sc_history_inbox_ref (inbox);
  g_queue_init (&writer->taken);
  writer->limit = SC_HISTORY_DEFAULT_LIMIT;
  writer->conversations =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  writer->touched = g_ptr_array_new ();
  writer->db = sc_history_db_open (path, error);
  /* Deleted and pruned text is overwritten, not left in free pages. */
  if (writer->db == NULL ||
      !sc_history_db_exec (writer->db, "PRAGMA secure_delete=ON", error) ||
      !sc_history_db_ensure_schema (writer->db, error) ||
      !writer_prepare (writer, error))
    {
      writer_free (writer);
      return NULL;
    }
  return g_thread_new ("sc-history", writer_thread, writer);
}
