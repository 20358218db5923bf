/* sc-history-db.c: the history's SQLite file: opening and setting up
 * connections, the schema, errors, and the reading queries.
 *
 * Durability: every batch the writer commits is one transaction.  With
 * journal_mode=WAL a committed transaction is in the WAL file before
 * COMMIT returns, so a crash or kill -9 of the process loses nothing
 * committed: the next open replays the WAL.  synchronous=NORMAL skips
 * the fsync at each commit (it syncs at checkpoints), so only a power
 * loss or an operating-system crash can lose the last few transactions,
 * and even then the database stays consistent.  Nothing of a
 * transaction that was cut off is ever visible. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "sc-history-db.h"
#include "sc-history.h"

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
  "       state, id"                                                    \
  "  FROM messages WHERE conversation = ("                              \
  "    SELECT id FROM conversations WHERE server = ?1 AND name = ?2)"

static const char load_sql[] = SELECT_ENTRY " ORDER BY id DESC LIMIT ?3";
static const char search_sql[] =
  SELECT_ENTRY " AND sc_history_contains (text, ?4)"
               " ORDER BY id DESC LIMIT ?3";
/* Rows from ?3 up to, not including, ?4: a primary-key range. */
static const char range_sql[] =
  SELECT_ENTRY " AND id >= ?3 AND id < ?4 ORDER BY id";
/* The matches older than row ?3: how many (every occurrence, as the
 * log counts them), and the newest's row.  One pass over the
 * conversation's older rows, read in key order; only the few rows that
 * match are read again for their number of occurrences. */
static const char count_older_sql[] =
  "SELECT coalesce (sum (sc_history_occurrences (text, ?4)), 0),"
  "       coalesce (max (id), 0) FROM messages"
  " WHERE conversation = ("
  "   SELECT id FROM conversations WHERE server = ?1 AND name = ?2)"
  "   AND id < ?3 AND sc_history_contains (text, ?4)";

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
gboolean
sc_history_db_fail (GError **error, sqlite3 *db, int rc, const char *doing)
{
  g_set_error (error, SC_HISTORY_ERROR, error_code_for (rc), "%s: %s", doing,
               db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return FALSE;
}

gboolean
sc_history_db_exec (sqlite3 *db, const char *sql, GError **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return sc_history_db_fail (error, db, rc, sql);
  return TRUE;
}

gboolean
sc_history_db_prepare (sqlite3 *db,
                       const char *sql,
                       sqlite3_stmt **stmt,
                       GError **error)
{
  int rc =
    sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);

  if (rc != SQLITE_OK)
    return sc_history_db_fail (error, db, rc, "Could not prepare a query");
  return TRUE;
}

/* Runs a statement that returns no rows, and makes it ready again. */
gboolean
sc_history_db_step_done (sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return sc_history_db_fail (error, sqlite3_db_handle (stmt), rc,
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
      sc_history_db_fail (error, db, rc, "Could not open");
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
    return sc_history_db_fail (error, db, rc, "not a readable SQLite database");
  rc = sqlite3_step (stmt);
  wal = rc == SQLITE_ROW &&
        g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0),
                            "wal") == 0;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return sc_history_db_fail (error, db, rc, "not a readable SQLite database");
  if (!wal)
    {
      g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_OPEN,
                           "The file system does not allow write-ahead "
                           "logging");
      return FALSE;
    }
  return sc_history_db_exec (db, "PRAGMA synchronous=NORMAL", error);
}

static gboolean
read_user_version (sqlite3 *db, int *version, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (!sc_history_db_prepare (db, "PRAGMA user_version", &stmt, error))
    return FALSE;
  rc = sqlite3_step (stmt);
  *version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return sc_history_db_fail (error, db, rc,
                               "Could not read the schema version");
  return TRUE;
}

/* Creates the schema in a new file, or checks an existing file's.  The
 * transaction makes two processes opening a new file at once agree. */
gboolean
sc_history_db_ensure_schema (sqlite3 *db, GError **error)
{
  g_autofree char *create = NULL;
  int version = 0;

  if (!sc_history_db_exec (db, "BEGIN IMMEDIATE", error))
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
  if (version == 0 && !sc_history_db_exec (db, create, error))
    goto fail;
  return sc_history_db_exec (db, "COMMIT", error);

fail:
  sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

/* Creates the folder the database lives in, private to the user. */
gboolean
sc_history_db_ensure_folder (const char *path, GError **error)
{
  g_autofree char *folder = g_path_get_dirname (path);

  if (g_mkdir_with_parents (folder, 0700) == 0)
    return TRUE;
  g_set_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_OPEN,
               "Could not create %s: %s", folder, g_strerror (errno));
  return FALSE;
}

void
sc_history_db_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
  sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

/* Opens a connection and sets it up as the top of the file says: the
 * writer's and every reader's. */
sqlite3 *
sc_history_db_open (const char *path, GError **error)
{
  sqlite3 *db = open_connection (path, error);

  if (db != NULL && !configure_connection (db, error))
    g_clear_pointer (&db, sqlite3_close);
  return db;
}

/* ---- The search function ---- */

/* Case- and normalisation-insensitive comparison needs both sides in
 * one form; the needle is folded once, each text as it is read.  The
 * form is chosen to find what the log's search (GtkTextIter's
 * case-insensitive one) finds, since the window adds the two counts:
 * case folded, then canonically composed.  GtkTextIter compares
 * decomposed characters but only whole ones, so "cafe" is not in
 * "Café" for either; and it makes no compatibility mappings, so "x2" is
 * not in "x²" either (NFKC would find it). */
static char *
fold (const char *text)
{
  g_autofree char *casefolded = g_utf8_casefold (text, -1);

  return g_utf8_normalize (casefolded, -1, G_NORMALIZE_DEFAULT_COMPOSE);
}

static gboolean
is_ascii (const char *text)
{
  for (; *text; text++)
    if ((guchar) *text >= 0x80)
      return FALSE;
  return TRUE;
}

/* How many times ASCII @text holds @needle, up to @most, each occurrence
 * looked for after the end of the one before, as the log's search goes
 * from match to match. */
static int
count_in_ascii (const char *text, const char *needle, int most)
{
  size_t length = strlen (needle);
  int n = 0;

  if (length == 0)
    return 0;
  for (const char *at = strcasestr (text, needle); at != NULL && n < most;
       at = strcasestr (at + length, needle))
    n++;
  return n;
}

/* @text (composed) folded one character at a time, with @edges[i] set
 * where a character of @text begins or ends in the result, so that a
 * match can be widened to the whole characters it touches. */
static char *
fold_by_character (const char *text, GByteArray *edges)
{
  g_autofree char *composed =
    g_utf8_normalize (text, -1, G_NORMALIZE_DEFAULT_COMPOSE);
  GString *out = g_string_new (NULL);
  guint8 yes = 1, no = 0;

  g_byte_array_append (edges, &yes, 1);
  for (const char *p = composed; p != NULL && *p; p = g_utf8_next_char (p))
    {
      g_autofree char *one = g_strndup (p, g_utf8_next_char (p) - p);
      g_autofree char *folded = fold (one);

      g_string_append (out, folded);
      for (gsize i = 1; i < strlen (folded); i++)
        g_byte_array_append (edges, &no, 1);
      g_byte_array_append (edges, &yes, 1);
    }
  return g_string_free (out, FALSE);
}

/* How many times @text holds @needle (folded), up to @most, as the log's
 * search (GtkTextIter's) counts them: a match takes the whole characters
 * it touches ("s" in "ß", which folds to "ss", is one match, not two),
 * the next is looked for after them, and a match followed by a combining
 * mark is no match ("किताब" is not in "किताबें": its last letter
 * carries a vowel sign there). */
static int
count_in_folded (const char *text, const char *needle, int most)
{
  g_autoptr (GByteArray) edges = g_byte_array_new ();
  g_autofree char *folded = fold_by_character (text, edges);
  size_t length = strlen (needle);
  const char *at;
  int n = 0;

  if (length == 0)
    return 0;
  at = strstr (folded, needle);
  while (at != NULL && n < most)
    {
      gsize end = (gsize) (at - folded) + length;

      while (!edges->data[end])
        end++;
      if (!g_unichar_ismark (g_utf8_get_char (folded + end)))
        {
          n++;
          at = strstr (folded + end, needle);
        }
      else
        at = strstr (g_utf8_next_char (at), needle);
    }
  return n;
}

/* sc_history_contains (text, folded_needle) and
 * sc_history_occurrences (text, folded_needle): whether, and how many
 * times, the text holds the needle, literally (no wildcards) and
 * ignoring case in every script; the function's user data is the most
 * it counts.  SQLite's LIKE folds ASCII only.  ASCII texts, the common
 * case in a busy conversation, are compared without folding a copy. */
static void
occurrences_function (sqlite3_context *context, int argc, sqlite3_value **argv)
{
  const char *text = (const char *) sqlite3_value_text (argv[0]);
  const char *needle = (const char *) sqlite3_value_text (argv[1]);
  int most = GPOINTER_TO_INT (sqlite3_user_data (context));

  if (text == NULL || needle == NULL)
    {
      sqlite3_result_int (context, 0);
      return;
    }
  if (is_ascii (text))
    sqlite3_result_int (context, count_in_ascii (text, needle, most));
  else
    sqlite3_result_int (context, count_in_folded (text, needle, most));
}

static int
add_function (sqlite3 *db, const char *name, int most)
{
  return sqlite3_create_function (
    db, name, 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
    GINT_TO_POINTER (most), occurrences_function, NULL, NULL);
}

/* ---- Reading ---- */

struct _ScHistoryDb
{
  sqlite3 *db;
  sqlite3_stmt *load;
  sqlite3_stmt *search;
  sqlite3_stmt *range;
  sqlite3_stmt *count_older;
  GCancellable *cancellable; /* see sc_history_db_set_cancellable() */
};

void
sc_history_db_free (ScHistoryDb *self)
{
  if (self == NULL)
    return;
  sqlite3_finalize (self->load);
  sqlite3_finalize (self->search);
  sqlite3_finalize (self->range);
  sqlite3_finalize (self->count_older);
  sqlite3_close (self->db);
  g_clear_object (&self->cancellable);
  g_free (self);
}

/**
 * sc_history_db_new:
 * @path: a database whose schema the writer has made
 *
 * Opens a reading connection.  It belongs to the thread that uses it:
 * connections are opened without SQLite's own mutex.
 *
 * Returns: (transfer full): the reader, or NULL.
 */
ScHistoryDb *
sc_history_db_new (const char *path, GError **error)
{
  g_autoptr (ScHistoryDb) self = g_new0 (ScHistoryDb, 1);
  int rc;

  self->db = sc_history_db_open (path, error);
  if (self->db == NULL)
    return NULL;
  rc = add_function (self->db, "sc_history_contains", 1);
  if (rc == SQLITE_OK)
    rc = add_function (self->db, "sc_history_occurrences", G_MAXINT);
  if (rc != SQLITE_OK)
    {
      sc_history_db_fail (error, self->db, rc, "Could not set up searching");
      return NULL;
    }
  if (!sc_history_db_prepare (self->db, load_sql, &self->load, error) ||
      !sc_history_db_prepare (self->db, search_sql, &self->search, error) ||
      !sc_history_db_prepare (self->db, range_sql, &self->range, error) ||
      !sc_history_db_prepare (self->db, count_older_sql, &self->count_older,
                              error))
    return NULL;
  return g_steal_pointer (&self);
}

static ScHistoryEntry *
read_entry (sqlite3_stmt *stmt, const char *server, const char *conversation)
{
  ScHistoryEntry *entry = sc_history_entry_new (
    server, conversation, sqlite3_column_int64 (stmt, 0),
    (ScHistoryKind) sqlite3_column_int (stmt, 1),
    (const char *) sqlite3_column_text (stmt, 2),
    (guint32) sqlite3_column_int64 (stmt, 3),
    (const char *) sqlite3_column_text (stmt, 4),
    (guint64) sqlite3_column_int64 (stmt, 5), sqlite3_column_int (stmt, 6));

  entry->row = sqlite3_column_int64 (stmt, 7);
  return entry;
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
      sc_history_db_fail (error, sqlite3_db_handle (stmt), rc,
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

/* The needle as the search function wants it. */
static char *
fold_needle (const char *needle, GError **error)
{
  char *folded = fold (needle);

  if (folded == NULL)
    g_set_error_literal (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_FAILED,
                         "The search text is not valid UTF-8");
  return folded;
}

/* The newest @limit rows of the conversation, oldest first; see
 * sc_history_load(). */
GPtrArray *
sc_history_db_load (ScHistoryDb *self,
                    const char *server,
                    const char *conversation,
                    guint limit,
                    GError **error)
{
  GPtrArray *entries;

  sc_history_db_bind_text (self->load, 1, server);
  sc_history_db_bind_text (self->load, 2, conversation);
  sqlite3_bind_int64 (self->load, 3, limit);
  entries = read_entries (self->load, server, conversation, error);
  if (entries != NULL)
    reverse (entries);
  return entries;
}

/* At most @limit rows holding @needle, newest first; see
 * sc_history_search(). */
GPtrArray *
sc_history_db_search (ScHistoryDb *self,
                      const char *server,
                      const char *conversation,
                      const char *needle,
                      guint limit,
                      GError **error)
{
  g_autofree char *folded = fold_needle (needle, error);

  if (folded == NULL)
    return NULL;
  sc_history_db_bind_text (self->search, 1, server);
  sc_history_db_bind_text (self->search, 2, conversation);
  sqlite3_bind_int64 (self->search, 3, limit);
  sc_history_db_bind_text (self->search, 4, folded);
  return read_entries (self->search, server, conversation, error);
}

/* Rows @from_row <= row < @before_row, oldest first. */
GPtrArray *
sc_history_db_load_range (ScHistoryDb *self,
                          const char *server,
                          const char *conversation,
                          gint64 from_row,
                          gint64 before_row,
                          GError **error)
{
  sc_history_db_bind_text (self->range, 1, server);
  sc_history_db_bind_text (self->range, 2, conversation);
  sqlite3_bind_int64 (self->range, 3, from_row);
  sqlite3_bind_int64 (self->range, 4, before_row);
  return read_entries (self->range, server, conversation, error);
}

/* How many times rows older than @before_row hold @needle, and the
 * newest such row (0 for none). */
gboolean
sc_history_db_count_older (ScHistoryDb *self,
                           const char *server,
                           const char *conversation,
                           const char *needle,
                           gint64 before_row,
                           guint *n_older,
                           gint64 *newest_row,
                           GError **error)
{
  g_autofree char *folded = fold_needle (needle, error);
  sqlite3_stmt *stmt = self->count_older;
  int rc;

  if (folded == NULL)
    return FALSE;
  sc_history_db_bind_text (stmt, 1, server);
  sc_history_db_bind_text (stmt, 2, conversation);
  sqlite3_bind_int64 (stmt, 3, before_row);
  sc_history_db_bind_text (stmt, 4, folded);
  rc = sqlite3_step (stmt);
  *n_older = rc == SQLITE_ROW ? (guint) sqlite3_column_int64 (stmt, 0) : 0;
  *newest_row = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 1) : 0;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_ROW)
    return sc_history_db_fail (error, self->db, rc,
                               "Could not search the history");
  return TRUE;
}

static int
is_cancelled (void *data)
{
  return g_cancellable_is_cancelled (data);
}

/* Makes the reader's queries stop, failing, soon after @cancellable is
 * cancelled: a search over a long conversation need not run to its end
 * once nobody wants its answer.  The reader keeps a ref. */
void
sc_history_db_set_cancellable (ScHistoryDb *self, GCancellable *cancellable)
{
  g_set_object (&self->cancellable, cancellable);
  if (cancellable != NULL)
    sqlite3_progress_handler (self->db, 1000, is_cancelled, cancellable);
  else
    sqlite3_progress_handler (self->db, 0, NULL, NULL);
}
