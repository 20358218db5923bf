/* sc-history.c: ScHistory, the conversation history in SQLite.
 *
 * Two connections to one database in WAL mode: the writer thread's,
 * which alone writes, and the owner's, which reads.  WAL lets the owner
 * read the last committed state while the writer appends, so neither
 * waits for the other.
 *
 * Durability: every batch is one transaction.  With journal_mode=WAL a
 * committed transaction is in the WAL file before COMMIT returns, so a
 * crash or kill -9 of the process loses nothing committed: the next
 * open replays the WAL.  synchronous=NORMAL skips the fsync at each
 * commit (it syncs at checkpoints), so only a power loss or an
 * operating-system crash can lose the last few transactions, and even
 * then the database stays consistent.  Nothing of a transaction that
 * was cut off is ever visible. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "sc-history.h"
#include "sc-tsan.h"

/* The writer commits at least this often while rows are queued ... */
#define BATCH_MAX_DELAY_US (100 * G_TIME_SPAN_MILLISECOND)
/* ... and after this many rows, whichever comes first. */
#define BATCH_MAX_ROWS 256
/* Past this many queued operations, appends are dropped rather than
 * held: a writer that cannot keep up (a stalled disk) must not eat the
 * memory of a client under a flood.  At a few hundred bytes an entry
 * this is tens of megabytes. */
#define MAX_QUEUED 262144

/* PRAGMA user_version of the schema this code writes. */
#define SCHEMA_VERSION 1

/* Conversations are a table of their own so that each message row
 * carries a small integer.  Messages are clustered by conversation
 * (WITHOUT ROWID, keyed by conversation and a number counting up within
 * it): opening a conversation reads its last rows from a few adjacent
 * pages, not one page per row scattered among every other
 * conversation's, and pruning deletes one range from its start. */
static const char schema_sql[] =
  "CREATE TABLE conversations ("
  "  id INTEGER PRIMARY KEY,"
  "  server TEXT NOT NULL,"
  "  name TEXT NOT NULL,"
  "  UNIQUE (server, name));"
  "CREATE TABLE messages ("
  "  conversation INTEGER NOT NULL,"
  "  id INTEGER NOT NULL,"
  "  time_us INTEGER NOT NULL,"
  "  kind INTEGER NOT NULL,"
  "  sender_nickname TEXT,"
  "  sender_id INTEGER NOT NULL,"
  "  text TEXT NOT NULL,"
  "  message_id INTEGER NOT NULL,"
  "  state INTEGER NOT NULL,"
  "  PRIMARY KEY (conversation, id)) WITHOUT ROWID;"
  "CREATE INDEX messages_by_message_id ON messages (message_id)"
  "  WHERE message_id != 0;";

#define SELECT_ENTRY                                                    \
  "SELECT time_us, kind, sender_nickname, sender_id, text, message_id," \
  "       state"                                                        \
  "  FROM messages WHERE conversation = ("                              \
  "    SELECT id FROM conversations WHERE server = ?1 AND name = ?2)"

static const char load_sql[] = SELECT_ENTRY " ORDER BY id DESC LIMIT ?3";
static const char search_sql[] =
  SELECT_ENTRY " AND sc_history_contains (text, ?4)"
               " ORDER BY id DESC LIMIT ?3";

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

G_DEFINE_QUARK (sc - history - error - quark, sc_history_error)

/* ---- Entries ---- */

G_DEFINE_BOXED_TYPE (ScHistoryEntry,
                     sc_history_entry,
                     sc_history_entry_copy,
                     sc_history_entry_free)

/* @sender_nickname may be NULL; @text NULL is stored as "". */
ScHistoryEntry *
sc_history_entry_new (const char *server,
                      const char *conversation,
                      gint64 time_us,
                      ScHistoryKind kind,
                      const char *sender_nickname,
                      guint32 sender_id,
                      const char *text,
                      guint64 message_id,
                      int state)
{
  ScHistoryEntry *entry;

  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  entry = g_new0 (ScHistoryEntry, 1);
  entry->server = g_strdup (server);
  entry->conversation = g_strdup (conversation);
  entry->time_us = time_us;
  entry->kind = kind;
  entry->sender_nickname = g_strdup (sender_nickname);
  entry->sender_id = sender_id;
  entry->text = g_strdup (text ? text : "");
  entry->message_id = message_id;
  entry->state = state;
  return entry;
}

ScHistoryEntry *
sc_history_entry_copy (const ScHistoryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);
  return sc_history_entry_new (entry->server, entry->conversation,
                               entry->time_us, entry->kind,
                               entry->sender_nickname, entry->sender_id,
                               entry->text, entry->message_id, entry->state);
}

void
sc_history_entry_free (ScHistoryEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->server);
  g_free (entry->conversation);
  g_free (entry->sender_nickname);
  g_free (entry->text);
  g_free (entry);
}

/* ---- Errors ---- */

static ScHistoryError
error_code_for (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return SC_HISTORY_ERROR_CORRUPT;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return SC_HISTORY_ERROR_OPEN;
    default: return SC_HISTORY_ERROR_FAILED;
    }
}

/* Always FALSE, so that callers can return it. */
static gboolean
set_db_error (GError **error, sqlite3 *db, int rc, const char *doing)
{
  g_set_error (error, SC_HISTORY_ERROR, error_code_for (rc), "%s: %s", doing,
               db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return FALSE;
}

static gboolean
exec (sqlite3 *db, const char *sql, GError **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return set_db_error (error, db, rc, sql);
  return TRUE;
}

static gboolean
prepare (sqlite3 *db, const char *sql, sqlite3_stmt **stmt, GError **error)
{
  int rc =
    sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);

  if (rc != SQLITE_OK)
    return set_db_error (error, db, rc, "Could not prepare a query");
  return TRUE;
}

/* Runs a statement that returns no rows, and makes it ready again. */
static gboolean
step_done (sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return set_db_error (error, sqlite3_db_handle (stmt), rc,
                         "Could not write the history");
  return TRUE;
}

/* ---- Opening ---- */

static sqlite3 *
open_connection (const char *path, GError **error)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (
    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
    NULL);

  if (rc != SQLITE_OK)
    {
      set_db_error (error, db, rc, "Could not open");
      sqlite3_close (db);
      return NULL;
    }
  /* Another connection checkpointing may hold the lock briefly. */
  sqlite3_busy_timeout (db, 5000);
  return db;
}

/* The first statement that reads the file: a file that is not SQLite
 * fails here with SQLITE_NOTADB.  WAL is a property of the file, kept
 * once set; synchronous is per connection (see the top of the file for
 * why NORMAL loses nothing committed when the process dies). */
static gboolean
configure_connection (sqlite3 *db, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  gboolean wal;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return set_db_error (error, db, rc, "not a readable SQLite database");
  rc = sqlite3_step (stmt);
  wal = rc == SQLITE_ROW &&
        g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0),
                            "wal") == 0;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return set_db_error (error, db, rc, "not a readable SQLite database");
  if (!wal)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_OPEN,
                           "The file system does not allow write-ahead "
                           "logging");
      return FALSE;
    }
  return exec (db, "PRAGMA synchronous=NORMAL", error);
}

static gboolean
read_user_version (sqlite3 *db, int *version, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (!prepare (db, "PRAGMA user_version", &stmt, error))
    return FALSE;
  rc = sqlite3_step (stmt);
  *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return set_db_error (error, db, rc, "Could not read the schema version");
  return TRUE;
}

/* Creates the schema in a new file, or checks an existing file's.  The
 * transaction makes two processes opening a new file at once agree. */
static gboolean
ensure_schema (sqlite3 *db, GError **error)
{
  g_autofree char *create = NULL;
  int version = 0;

  if (!exec (db, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!read_user_version (db, &version, error))
    goto fail;
  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_VERSION,
                   "The history was written by a newer SockChat "
                   "(schema %d, this one knows %d)",
                   version, SCHEMA_VERSION);
      goto fail;
    }
  create =
    g_strdup_printf ("%s PRAGMA user_version=%d;", schema_sql, SCHEMA_VERSION);
  if (version == 0 && !exec (db, create, error))
    goto fail;
  return exec (db, "COMMIT", error);

fail:
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

/* Creates the folder the database lives in, private to the user. */
static gboolean
ensure_folder (const char *path, GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);

  if (g_mkdir_with_parents (folder, 0700) == 0)
    return TRUE;
  g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_OPEN,
               "Could not create %s: %s", folder, g_strerror (errno));
  return FALSE;
}

/* ---- Operations queued for the writer ---- */

/* A caller waiting for the writer to have committed an operation. */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean done;
  GError *error;
} ScHistoryWait;

typedef enum
{
  OP_APPEND,
  OP_UPDATE_STATE,
  OP_SET_LIMIT,
  OP_CLEAR, /* server NULL: every server */
  OP_FLUSH,
  OP_QUIT,
} ScHistoryOpKind;

typedef struct
{
  ScHistoryOpKind kind;
  ScHistoryEntry *entry; /* OP_APPEND */
  char *server;          /* OP_UPDATE_STATE, OP_CLEAR */
  guint64 message_id;
  int state;
  guint limit;
  ScHistoryWait *wait; /* not owned: the waiter outlives the operation */
} ScHistoryOp;

static void
op_free (ScHistoryOp *op)
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

static void
wait_init (ScHistoryWait *wait)
{
  memset (wait, 0, sizeof *wait);
  g_mutex_init (&wait->mutex);
  g_cond_init (&wait->cond);
}

/* Blocks until the writer completes; hands its error over. */
static gboolean
wait_finish (ScHistoryWait *wait, GError **error)
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

static void
wait_complete (ScHistoryWait *wait, const GError *error)
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
typedef struct
{
  GMutex mutex;
  GCond cond;    /* signalled when ops goes from empty to non-empty */
  GQueue ops;    /* ScHistoryOp, oldest first */
  gint pending;  /* pushed and not yet committed; atomic */
  gint dropping; /* the inbox is full and appends are dropped; atomic */
} ScHistoryInbox;

static ScHistoryInbox *
inbox_new (void)
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

  g_queue_clear_full (&inbox->ops, (GDestroyNotify) op_free);
  g_mutex_clear (&inbox->mutex);
  g_cond_clear (&inbox->cond);
}

static void
inbox_unref (ScHistoryInbox *inbox)
{
  g_atomic_rc_box_release_full (inbox, inbox_clear);
}

/* FALSE, dropping @op, when the inbox holds @max already. */
static gboolean
inbox_push (ScHistoryInbox *inbox, ScHistoryOp *op, guint max)
{
  gboolean was_empty;

  lock (&inbox->mutex);
  if (inbox->ops.length >= max)
    {
      unlock (&inbox->mutex);
      op_free (op);
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
static void
inbox_take (ScHistoryInbox *inbox, GQueue *into, gint64 deadline)
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

  return prepare (db, insert_sql, &writer->insert, error) &&
         prepare (db, find_conversation_sql, &writer->find_conversation,
                  error) &&
         prepare (db, add_conversation_sql, &writer->add_conversation, error) &&
         prepare (db, last_id_sql, &writer->last_id, error) &&
         prepare (db, prune_sql, &writer->prune, error) &&
         prepare (db, update_state_sql, &writer->update_state, error);
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
  g_queue_clear_full (&writer->taken, (GDestroyNotify) op_free);
  g_clear_pointer (&writer->inbox, inbox_unref);
  g_clear_pointer (&writer->conversations, g_hash_table_unref);
  g_clear_pointer (&writer->touched, g_ptr_array_unref);
  g_free (writer);
}

static void
bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
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

  bind_text (stmt, 1, server);
  bind_text (stmt, 2, name);
  rc = sqlite3_step (stmt);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return set_db_error (error, writer->db, rc,
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
  bind_text (writer->add_conversation, 1, server);
  bind_text (writer->add_conversation, 2, name);
  if (!step_done (writer->add_conversation, error))
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
    return set_db_error (error, writer->db, rc, "Could not read the history");
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
  bind_text (stmt, 4, entry->sender_nickname);
  sqlite3_bind_int64 (stmt, 5, entry->sender_id);
  bind_text (stmt, 6, entry->text);
  sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) entry->message_id);
  sqlite3_bind_int (stmt, 8, entry->state);
  sqlite3_bind_int64 (stmt, 9, conversation->next);
  if (!step_done (stmt, error))
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
  bind_text (writer->update_state, 1, op->server);
  sqlite3_bind_int64 (writer->update_state, 2, (sqlite3_int64) op->message_id);
  sqlite3_bind_int (writer->update_state, 3, op->state);
  return step_done (writer->update_state, error);
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
  return step_done (writer->prune, error);
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
  if (!prepare (writer->db, "SELECT id FROM conversations", &stmt, error))
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  sqlite3_finalize (stmt);
  if (rc != SQLITE_DONE)
    return set_db_error (error, writer->db, rc, "Could not list conversations");
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
    return set_db_error (error, writer->db, sqlite3_errcode (writer->db),
                         "Could not prepare a query");
  bind_text (stmt, 1, server);
  ok = step_done (stmt, error);
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
    return exec (writer->db, "DELETE FROM messages; DELETE FROM conversations",
                 error);
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
    inbox_take (writer->inbox, &writer->taken, deadline);
  return g_queue_pop_head (&writer->taken);
}

/* Applies @first and what follows it, within the batch bounds, in one
 * transaction; pruning is part of the same transaction.  Returns the
 * operations applied, in order. */
static GPtrArray *
writer_collect (ScHistoryWriter *writer, ScHistoryOp *first, GError **error)
{
  GPtrArray *ops = g_ptr_array_new_with_free_func ((GDestroyNotify) op_free);
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
  exec (writer->db, "BEGIN IMMEDIATE", &error);
  /* Another window's writer may have added rows or cleared the store
   * since our last batch: conversation ids and next row numbers are
   * read again under this transaction's lock. */
  g_hash_table_remove_all (writer->conversations);
  ops = writer_collect (writer, first, &error);
  if (error == NULL)
    writer_prune_touched (writer, &error);
  if (error == NULL)
    exec (writer->db, "COMMIT", &error);
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
        wait_complete (op->wait, error);
    }
  quit = ((ScHistoryOp *) ops->pdata[ops->len - 1])->kind == OP_QUIT;
  g_atomic_int_add (&writer->inbox->pending, -(gint) ops->len);
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

/* ---- The object ---- */

struct _ScHistory
{
  GObject parent_instance;

  char *path;
  sqlite3 *db; /* the owner's, for reading */
  sqlite3_stmt *load;
  sqlite3_stmt *search;
  ScHistoryInbox *inbox; /* to the writer */
  GThread *writer;
};

G_DEFINE_FINAL_TYPE (ScHistory, sc_history, G_TYPE_OBJECT)

static void
push (ScHistory *self, ScHistoryOp *op)
{
  inbox_push (self->inbox, op, G_MAXUINT);
}

static void
sc_history_dispose (GObject *object)
{
  ScHistory *self = SC_HISTORY (object);

  /* The writer commits what was queued before it quits. */
  if (self->writer != NULL)
    {
      ScHistoryOp *quit = g_new0 (ScHistoryOp, 1);

      quit->kind = OP_QUIT;
      push (self, quit);
      g_clear_pointer (&self->writer, g_thread_join);
    }
  G_OBJECT_CLASS (sc_history_parent_class)->dispose (object);
}

static void
sc_history_finalize (GObject *object)
{
  ScHistory *self = SC_HISTORY (object);

  g_clear_pointer (&self->load, sqlite3_finalize);
  g_clear_pointer (&self->search, sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  g_clear_pointer (&self->inbox, inbox_unref);
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
  self->inbox = inbox_new ();
}

/* Case- and normalisation-insensitive comparison needs both sides in
 * one form; the needle is folded once, each text as it is read. */
static char *
fold (const char *text)
{
  g_autofree char *casefolded = g_utf8_casefold (text, -1);

  return g_utf8_normalize (casefolded, -1, G_NORMALIZE_ALL_COMPOSE);
}

static gboolean
is_ascii (const char *text)
{
  for (; *text; text++)
    if ((guchar) *text >= 0x80)
      return FALSE;
  return TRUE;
}

/* sc_history_contains (text, folded_needle): whether the text holds the
 * needle, literally (no wildcards) and ignoring case in every script.
 * SQLite's LIKE folds ASCII only.  ASCII texts, the common case in a
 * busy conversation, are compared without folding a copy. */
static void
contains_function (sqlite3_context *context, int argc, sqlite3_value **argv)
{
  const char *text = (const char *) sqlite3_value_text (argv[0]);
  const char *needle = (const char *) sqlite3_value_text (argv[1]);
  g_autofree char *folded = NULL;

  if (text == NULL || needle == NULL)
    {
      sqlite3_result_int (context, 0);
      return;
    }
  if (is_ascii (text))
    {
      sqlite3_result_int (context, strcasestr (text, needle) != NULL);
      return;
    }
  folded = fold (text);
  sqlite3_result_int (context,
                      folded != NULL && strstr (folded, needle) != NULL);
}

static gboolean
open_reader (ScHistory *self, GError **error)
{
  int rc;

  self->db = open_connection (self->path, error);
  if (self->db == NULL || !configure_connection (self->db, error))
    return FALSE;
  rc = sqlite3_create_function (self->db, "sc_history_contains", 2,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC |
                                  SQLITE_INNOCUOUS,
                                NULL, contains_function, NULL, NULL);
  if (rc != SQLITE_OK)
    return set_db_error (error, self->db, rc, "Could not set up searching");
  return prepare (self->db, load_sql, &self->load, error) &&
         prepare (self->db, search_sql, &self->search, error);
}

/* Opens the writer's connection and checks the schema; the thread
 * starts only once everything that can fail has succeeded. */
static gboolean
start_writer (ScHistory *self, GError **error)
{
  ScHistoryWriter *writer = g_new0 (ScHistoryWriter, 1);

  writer->inbox = g_atomic_rc_box_acquire (self->inbox);
  g_queue_init (&writer->taken);
  writer->limit = SC_HISTORY_DEFAULT_LIMIT;
  writer->conversations =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  writer->touched = g_ptr_array_new ();
  writer->db = open_connection (self->path, error);
  /* Deleted and pruned text is overwritten, not left in free pages. */
  if (writer->db == NULL || !configure_connection (writer->db, error) ||
      !exec (writer->db, "PRAGMA secure_delete=ON", error) ||
      !ensure_schema (writer->db, error) || !writer_prepare (writer, error))
    {
      writer_free (writer);
      return FALSE;
    }
  self->writer = g_thread_new ("sc-history", writer_thread, writer);
  return TRUE;
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
  if (!ensure_folder (self->path, error))
    return NULL;
  /* The writer first: it creates the schema the reader prepares for. */
  if (!start_writer (self, error) || !open_reader (self, error))
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
  op = g_new0 (ScHistoryOp, 1);
  op->kind = OP_APPEND;
  op->entry = sc_history_entry_copy (entry);
  if (inbox_push (self->inbox, op, MAX_QUEUED))
    g_atomic_int_set (&self->inbox->dropping, FALSE);
  else if (!g_atomic_int_exchange (&self->inbox->dropping, TRUE))
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
  op = g_new0 (ScHistoryOp, 1);
  op->kind = OP_UPDATE_STATE;
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
  op = g_new0 (ScHistoryOp, 1);
  op->kind = OP_SET_LIMIT;
  op->limit = per_conversation;
  push (self, op);
}

/* Queues @op and waits until the writer has committed it and
 * everything queued before it. */
static gboolean
push_and_wait (ScHistory *self, ScHistoryOp *op, GError **error)
{
  ScHistoryWait wait;

  wait_init (&wait);
  op->wait = &wait;
  push (self, op);
  return wait_finish (&wait, error);
}

/* Returns once everything queued so far is committed (or failed, which
 * the writer has logged). */
void
sc_history_flush (ScHistory *self)
{
  ScHistoryOp *op;

  g_return_if_fail (SC_IS_HISTORY (self));
  if (g_atomic_int_get (&self->inbox->pending) == 0)
    return;
  op = g_new0 (ScHistoryOp, 1);
  op->kind = OP_FLUSH;
  push_and_wait (self, op, NULL);
}

static ScHistoryEntry *
read_entry (sqlite3_stmt *stmt, const char *server, const char *conversation)
{
  return sc_history_entry_new (
    server, conversation, sqlite3_column_int64 (stmt, 0),
    (ScHistoryKind) sqlite3_column_int (stmt, 1),
    (const char *) sqlite3_column_text (stmt, 2),
    (guint32) sqlite3_column_int64 (stmt, 3),
    (const char *) sqlite3_column_text (stmt, 4),
    (guint64) sqlite3_column_int64 (stmt, 5), sqlite3_column_int (stmt, 6));
}

/* Steps a bound load or search statement to the end, newest first. */
static GPtrArray *
read_entries (sqlite3_stmt *stmt,
              const char *server,
              const char *conversation,
              GError **error)
{
  g_autoptr (GPtrArray) entries =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_history_entry_free);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (entries, read_entry (stmt, server, conversation));
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    {
      set_db_error (error, sqlite3_db_handle (stmt), rc,
                    "Could not read the history");
      return NULL;
    }
  return g_steal_pointer (&entries);
}

static void
reverse (GPtrArray *array)
{
  for (guint i = 0, j = array->len; i + 1 < j; i++, j--)
    {
      gpointer swap = array->pdata[i];

      array->pdata[i] = array->pdata[j - 1];
      array->pdata[j - 1] = swap;
    }
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
  GPtrArray *entries;

  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  sc_history_flush (self);
  bind_text (self->load, 1, server);
  bind_text (self->load, 2, conversation);
  sqlite3_bind_int64 (self->load, 3, limit);
  entries = read_entries (self->load, server, conversation, error);
  if (entries != NULL)
    reverse (entries);
  return entries;
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
  g_autofree char *folded = NULL;

  g_return_val_if_fail (SC_IS_HISTORY (self), NULL);
  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  g_return_val_if_fail (needle != NULL, NULL);
  folded = fold (needle);
  if (folded == NULL)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_FAILED,
                           "The search text is not valid UTF-8");
      return NULL;
    }
  sc_history_flush (self);
  bind_text (self->search, 1, server);
  bind_text (self->search, 2, conversation);
  sqlite3_bind_int64 (self->search, 3, limit);
  bind_text (self->search, 4, folded);
  return read_entries (self->search, server, conversation, error);
}

static gboolean
clear (ScHistory *self, const char *server, GError **error)
{
  ScHistoryOp *op = g_new0 (ScHistoryOp, 1);

  op->kind = OP_CLEAR;
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
