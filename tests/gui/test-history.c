/* test-history.c: ScHistory against real database files in the test's
 * own temporary folder: order and limits of loads, literal and
 * case-insensitive search, delivery states, clearing, the per-
 * conversation bound, persistence, damaged files, and a writer killed
 * with SIGKILL in the middle of its writes.  No display needed.
 *
 * The kill test runs this program again as its writer:
 *   test-history --kill-writer PATH CONVERSATION
 * appends rows 1, 2, 3, ... to CONVERSATION and, after each flush,
 * writes the number of rows committed so far to stdout as a guint64. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "sc-history.h"

#define SERVER "127.0.0.1:5330"

typedef struct
{
  char *path;
  ScHistory *history;
} Fixture;

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->path =
    g_build_filename (g_get_user_data_dir (), "test-history.sqlite3", NULL);
  fixture->history = sc_history_new (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->history);
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->history);
  g_free (fixture->path);
}

static void
fixture_reopen (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  g_clear_object (&fixture->history);
  fixture->history = sc_history_new (fixture->path, &error);
  g_assert_no_error (error);
}

static void
append (ScHistory *history,
        const char *conversation,
        ScHistoryKind kind,
        const char *text,
        guint64 message_id)
{
  g_autoptr (ScHistoryEntry) entry =
    sc_history_entry_new (SERVER, conversation, g_get_real_time (), kind,
                          "alice", 4, text, message_id, 0);

  sc_history_append (history, entry);
}

static GPtrArray *
load (ScHistory *history, const char *conversation, guint limit)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *entries =
    sc_history_load (history, SERVER, conversation, limit, &error);

  g_assert_no_error (error);
  g_assert_nonnull (entries);
  return entries;
}

static const ScHistoryEntry *
entry_at (GPtrArray *entries, guint i)
{
  g_assert_cmpuint (i, <, entries->len);
  return entries->pdata[i];
}

/* Rows come back oldest first, the newest @limit of them, with every
 * field as appended, and only from their own conversation. */
static void
test_load_order (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GPtrArray) last = NULL;
  g_autoptr (GPtrArray) none = NULL;
  g_autoptr (ScHistoryEntry) event = sc_history_entry_new (
    SERVER, "server", 1234, SC_HISTORY_KIND_EVENT, NULL, 0, "bob joined", 0, 7);

  for (guint i = 1; i <= 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i);

      append (fixture->history, "peer:alice", SC_HISTORY_KIND_INCOMING, text,
              i);
      append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN,
              "noise", 100 + i);
    }
  sc_history_append (fixture->history, event);

  all = load (fixture->history, "peer:alice", 100);
  g_assert_cmpuint (all->len, ==, 10);
  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %u", i + 1);

      g_assert_cmpstr (entry_at (all, i)->text, ==, text);
      g_assert_cmpuint (entry_at (all, i)->message_id, ==, i + 1);
      g_assert_cmpstr (entry_at (all, i)->conversation, ==, "peer:alice");
    }

  last = load (fixture->history, "peer:alice", 3);
  g_assert_cmpuint (last->len, ==, 3);
  g_assert_cmpstr (entry_at (last, 0)->text, ==, "message 8");
  g_assert_cmpstr (entry_at (last, 2)->text, ==, "message 10");

  g_clear_pointer (&all, g_ptr_array_unref);
  all = load (fixture->history, "server", 10);
  g_assert_cmpuint (all->len, ==, 1);
  g_assert_cmpint (entry_at (all, 0)->time_us, ==, 1234);
  g_assert_cmpint (entry_at (all, 0)->kind, ==, SC_HISTORY_KIND_EVENT);
  g_assert_null (entry_at (all, 0)->sender_nickname);
  g_assert_cmpint (entry_at (all, 0)->state, ==, 7);

  none = load (fixture->history, "peer:nobody", 10);
  g_assert_cmpuint (none->len, ==, 0);
}

static GPtrArray *
search (ScHistory *history, const char *needle)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *found =
    sc_history_search (history, SERVER, "everyone", needle, 50, &error);

  g_assert_no_error (error);
  g_assert_nonnull (found);
  return found;
}

static guint
count_matches (ScHistory *history, const char *needle)
{
  g_autoptr (GPtrArray) found = search (history, needle);

  return found->len;
}

/* % and _ are text, not wildcards; case is ignored in every script;
 * Chinese finds Chinese; results are newest first and bounded. */
static void
test_search (Fixture *fixture, gconstpointer data)
{
  static const char *const texts[] = {
    "100% sure", "snake_case", "plain words",  "PLAIN again", "你好，世界",
    "再见",      "Élan vital", "nothing here", "a%b literal", "x_y_z",
  };
  g_autoptr (GPtrArray) newest = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN,
            texts[i], 0);
  append (fixture->history, "peer:bob", SC_HISTORY_KIND_INCOMING,
          "plain but elsewhere", 0);

  g_assert_cmpuint (count_matches (fixture->history, "%"), ==, 2);
  g_assert_cmpuint (count_matches (fixture->history, "0%"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "_"), ==, 2);
  g_assert_cmpuint (count_matches (fixture->history, "e_c"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "a%b"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "plain"), ==, 2);
  g_assert_cmpuint (count_matches (fixture->history, "世界"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "你"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "见"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "élan"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "ÉLAN"), ==, 1);
  g_assert_cmpuint (count_matches (fixture->history, "missing"), ==, 0);
  g_assert_cmpuint (count_matches (fixture->history, "\\"), ==, 0);

  newest = search (fixture->history, "PLAIN");
  g_assert_cmpstr (entry_at (newest, 0)->text, ==, "PLAIN again");
  g_assert_cmpstr (entry_at (newest, 1)->text, ==, "plain words");
}

static int
state_of (ScHistory *history, const char *conversation, guint i)
{
  g_autoptr (GPtrArray) entries = load (history, conversation, 100);

  return entry_at (entries, i)->state;
}

/* A receipt updates our own message with that id, the newest one if a
 * restarted server reused the id, and never a received message. */
static void
test_update_state (Fixture *fixture, gconstpointer data)
{
  append (fixture->history, "peer:bob", SC_HISTORY_KIND_OUTGOING, "old", 5);
  append (fixture->history, "peer:bob", SC_HISTORY_KIND_INCOMING, "in", 5);
  append (fixture->history, "peer:bob", SC_HISTORY_KIND_OUTGOING, "new", 5);
  append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_OUT, "all",
          6);
  sc_history_update_state (fixture->history, SERVER, 5, 2);
  sc_history_update_state (fixture->history, SERVER, 6, 3);
  sc_history_update_state (fixture->history, "elsewhere:1", 6, 9);

  g_assert_cmpint (state_of (fixture->history, "peer:bob", 0), ==, 0);
  g_assert_cmpint (state_of (fixture->history, "peer:bob", 1), ==, 0);
  g_assert_cmpint (state_of (fixture->history, "peer:bob", 2), ==, 2);
  g_assert_cmpint (state_of (fixture->history, "everyone", 0), ==, 3);
}

static guint
count_rows (ScHistory *history, const char *server, const char *conversation)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries =
    sc_history_load (history, server, conversation, G_MAXUINT, &error);

  g_assert_no_error (error);
  return entries->len;
}

/* Clearing one server leaves the others; clearing all leaves nothing,
 * including rows still queued when it was called. */
static void
test_clear (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistoryEntry) other = sc_history_entry_new (
    "example.org:5330", "everyone", 1, SC_HISTORY_KIND_BROADCAST_IN, "carol", 1,
    "hello", 0, 0);

  append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, "a", 0);
  sc_history_append (fixture->history, other);
  g_assert_true (sc_history_clear_server (fixture->history, SERVER, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "everyone"), ==, 0);
  g_assert_cmpuint (
    count_rows (fixture->history, "example.org:5330", "everyone"), ==, 1);

  append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, "b", 0);
  g_assert_true (sc_history_clear (fixture->history, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "everyone"), ==, 0);
  g_assert_cmpuint (
    count_rows (fixture->history, "example.org:5330", "everyone"), ==, 0);

  /* The store works on after a clear. */
  append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, "c", 0);
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "everyone"), ==, 1);
}

/* Each conversation keeps its newest @limit rows, across many batches,
 * when the limit is lowered, and after a reopen (whose writer reads
 * the conversations' numbering afresh). */
static void
test_prune (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) kept = NULL;

  sc_history_set_limit (fixture->history, 50);
  for (guint i = 1; i <= 1000; i++)
    {
      g_autofree char *text = g_strdup_printf ("%u", i);

      append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, text,
              i);
      if (i <= 30)
        append (fixture->history, "peer:bob", SC_HISTORY_KIND_INCOMING, text,
                i);
    }
  kept = load (fixture->history, "everyone", G_MAXUINT);
  g_assert_cmpuint (kept->len, ==, 50);
  g_assert_cmpstr (entry_at (kept, 0)->text, ==, "951");
  g_assert_cmpstr (entry_at (kept, 49)->text, ==, "1000");
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "peer:bob"), ==, 30);

  sc_history_set_limit (fixture->history, 20);
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "everyone"), ==, 20);
  g_assert_cmpuint (count_rows (fixture->history, SERVER, "peer:bob"), ==, 20);

  fixture_reopen (fixture);
  sc_history_set_limit (fixture->history, 20);
  append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, "1001",
          1001);
  g_clear_pointer (&kept, g_ptr_array_unref);
  kept = load (fixture->history, "everyone", G_MAXUINT);
  g_assert_cmpuint (kept->len, ==, 20);
  g_assert_cmpstr (entry_at (kept, 0)->text, ==, "982");
  g_assert_cmpstr (entry_at (kept, 19)->text, ==, "1001");
}

/* Rows queued just before the object goes away are committed on the
 * way out, and the next open reads them back. */
static void
test_persistence (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) entries = NULL;

  for (guint i = 1; i <= 500; i++)
    append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN, "x", i);
  fixture_reopen (fixture);
  entries = load (fixture->history, "everyone", G_MAXUINT);
  g_assert_cmpuint (entries->len, ==, 500);
  g_assert_cmpuint (entry_at (entries, 499)->message_id, ==, 500);
}

/* Two windows write one file at once, into the same conversation:
 * neither loses a row ("database is locked", or two rows given one
 * number, were what a second writer got). */
static void
test_two_writers (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) other = sc_history_new (fixture->path, &error);
  g_autoptr (GPtrArray) entries = NULL;
  guint64 sum = 0;

  g_assert_no_error (error);
  for (guint i = 1; i <= 2000; i++)
    append (i % 2 ? fixture->history : other, "everyone",
            SC_HISTORY_KIND_BROADCAST_IN, "x", i);
  sc_history_flush (other);
  entries = load (fixture->history, "everyone", G_MAXUINT);
  g_assert_cmpuint (entries->len, ==, 2000);
  for (guint i = 0; i < entries->len; i++)
    sum += entry_at (entries, i)->message_id;
  g_assert_cmpuint (sum, ==, 2000 * 2001 / 2);
}

/* The default file is $XDG_DATA_HOME/sockchat/history.sqlite3, in a
 * folder only the user can enter. */
static void
test_default_path (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (NULL, &error);
  g_autofree char *folder =
    g_build_filename (g_get_user_data_dir (), "sockchat", NULL);
  g_autofree char *path = g_build_filename (folder, "history.sqlite3", NULL);
  GStatBuf info;

  g_assert_no_error (error);
  g_assert_cmpstr (sc_history_get_path (history), ==, path);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (g_stat (folder, &info), ==, 0);
  g_assert_cmpint (info.st_mode & 0777, ==, 0700);
}

static void
assert_open_fails (const char *path, ScHistoryError code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (path, &error);

  g_assert_null (history);
  g_assert_error (error, SC_HISTORY_ERROR, (int) code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
}

/* A file that is not SQLite, a database whose pages were overwritten,
 * and one from a newer schema each give an error naming the file. */
static void
test_damaged (void)
{
  g_autofree char *text =
    g_build_filename (g_get_user_data_dir (), "not-a-db", NULL);
  g_autofree char *newer =
    g_build_filename (g_get_user_data_dir (), "newer", NULL);
  g_autofree char *noise = g_malloc (8192);
  sqlite3 *db = NULL;

  g_assert_cmpint (g_mkdir_with_parents (g_get_user_data_dir (), 0700), ==, 0);
  for (guint i = 0; i < 8192; i++)
    noise[i] = (char) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (text, noise, 8192, NULL));
  assert_open_fails (text, SC_HISTORY_ERROR_CORRUPT);

  g_assert_true (g_file_set_contents (text, "hello, world\n", -1, NULL));
  assert_open_fails (text, SC_HISTORY_ERROR_CORRUPT);

  g_assert_cmpint (sqlite3_open (newer, &db), ==, SQLITE_OK);
  g_assert_cmpint (
    sqlite3_exec (db, "PRAGMA user_version=99", NULL, NULL, NULL), ==,
    SQLITE_OK);
  sqlite3_close (db);
  assert_open_fails (newer, SC_HISTORY_ERROR_VERSION);
}

/* Overwrites all but the first two pages (the header and the schema)
 * of a database with noise. */
static void
damage_pages (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (length, >, 3 * 4096);
  for (gsize i = 2 * 4096; i < length; i++)
    contents[i] = (char) g_test_rand_int_range (0, 256);
  g_assert_true (g_file_set_contents (path, contents, length, NULL));
}

/* A database whose pages were overwritten opens or not, but every
 * failure is an error, never a crash. */
static void
test_damaged_pages (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = NULL;

  for (guint i = 1; i <= 2000; i++)
    append (fixture->history, "everyone", SC_HISTORY_KIND_BROADCAST_IN,
            "some text to fill the pages of the database file", i);
  g_clear_object (&fixture->history);
  /* Closing the last connection checkpointed the WAL into the file. */
  damage_pages (fixture->path);

  fixture->history = sc_history_new (fixture->path, &error);
  if (fixture->history == NULL)
    {
      g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_CORRUPT);
      g_test_message ("open: %s", error->message);
      return;
    }
  rows = sc_history_load (fixture->history, SERVER, "everyone", 100, &error);
  g_assert_null (rows);
  g_assert_error (error, SC_HISTORY_ERROR, SC_HISTORY_ERROR_CORRUPT);
  g_test_message ("load: %s", error->message);
}

/* ---- The writer killed mid-write ---- */

static void
write_all (int fd, const void *data, gsize size)
{
  const char *bytes = data;

  while (size > 0)
    {
      gssize n = write (fd, bytes, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit (3);
      bytes += n;
      size -= (gsize) n;
    }
}

/* The child side; never returns.  Flushes at random intervals so the
 * parent's kill lands as often inside a batch as between them. */
static int
kill_writer_main (const char *path, const char *conversation)
{
  g_autoptr (GError) error = NULL;
  ScHistory *history = sc_history_new (path, &error);
  GRand *rand = g_rand_new ();
  gint64 give_up = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  guint64 next_flush = 1;

  /* Never outlive a parent that died without killing us. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (history == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  sc_history_set_limit (history, G_MAXUINT);
  for (guint64 i = 1; g_get_monotonic_time () < give_up; i++)
    {
      g_autofree char *text = g_strdup_printf ("row %" G_GUINT64_FORMAT, i);
      g_autoptr (ScHistoryEntry) entry = sc_history_entry_new (
        SERVER, conversation, g_get_real_time (), SC_HISTORY_KIND_INCOMING,
        "writer", 1, text, i, 0);

      sc_history_append (history, entry);
      if (i == next_flush)
        {
          sc_history_flush (history);
          write_all (STDOUT_FILENO, &i, sizeof i);
          next_flush = i + g_rand_int_range (rand, 1, 2000);
        }
    }
  return 4;
}

/* Reads the child's reports until @deadline (monotonic µs) or the end
 * of the pipe; keeps the largest count. */
static gboolean
read_reports (int fd, gint64 deadline, guint64 *committed)
{
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      guint64 count;
      gssize n;

      if (left_ms <= 0)
        return TRUE;
      if (poll (&pfd, 1, (int) left_ms) <= 0)
        continue;
      n = read (fd, &count, sizeof count);
      if (n == 0)
        return FALSE;
      g_assert_cmpint (n, ==, sizeof count);
      *committed = MAX (*committed, count);
    }
}

static GPid
spawn_writer (const char *path, const char *conversation, int *out_fd)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  const char *argv[] = { self, "--kill-writer", path, conversation, NULL };
  GPid pid = 0;

  g_assert_no_error (error);
  g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                            G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
                            out_fd, NULL, &error);
  g_assert_no_error (error);
  return pid;
}

/* Kills a writer at a random moment after its first commit; returns
 * how many rows it reported committed. */
static guint64
kill_one_writer (const char *path, const char *conversation)
{
  int fd = -1;
  GPid pid = spawn_writer (path, conversation, &fd);
  guint64 committed = 0;
  gint64 first_deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  int status = 0;

  while (committed == 0 && g_get_monotonic_time () < first_deadline)
    g_assert_true (
      read_reports (fd, g_get_monotonic_time () + 10000, &committed));
  g_assert_cmpuint (committed, >, 0);
  read_reports (fd,
                g_get_monotonic_time () +
                  g_test_rand_int_range (0, 400) * G_TIME_SPAN_MILLISECOND,
                &committed);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  /* Reports written before the kill are still in the pipe. */
  read_reports (fd, G_MAXINT64, &committed);
  close (fd);
  g_spawn_close_pid (pid);
  return committed;
}

static void
assert_integrity (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (
    sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==,
    SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* Every row the writer reported committed is there, in order, with no
 * gap and nothing foreign; a transaction cut off leaves nothing. */
static void
assert_rows (const char *path, const char *conversation, guint64 committed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (path, &error);
  g_autoptr (GPtrArray) rows = NULL;

  g_assert_no_error (error);
  rows = sc_history_load (history, SERVER, conversation, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, >=, committed);
  for (guint i = 0; i < rows->len; i++)
    {
      g_autofree char *text = g_strdup_printf ("row %u", i + 1);

      g_assert_cmpuint (entry_at (rows, i)->message_id, ==, i + 1);
      g_assert_cmpstr (entry_at (rows, i)->text, ==, text);
    }
  g_test_message ("%s: %" G_GUINT64_FORMAT " reported committed, %u found",
                  conversation, committed, rows->len);
}

static void
test_kill_mid_write (void)
{
  g_autofree char *path =
    g_build_filename (g_get_user_data_dir (), "killed.sqlite3", NULL);
  guint64 committed[5];

  g_assert_cmpint (g_mkdir_with_parents (g_get_user_data_dir (), 0700), ==, 0);
  for (guint round = 0; round < G_N_ELEMENTS (committed); round++)
    {
      g_autofree char *conversation = g_strdup_printf ("round-%u", round);

      committed[round] = kill_one_writer (path, conversation);
      assert_integrity (path);
      /* Earlier rounds' rows survive later kills too. */
      for (guint done = 0; done <= round; done++)
        {
          g_autofree char *earlier = g_strdup_printf ("round-%u", done);

          assert_rows (path, earlier, committed[done]);
        }
    }
}

/* ---- Numbers ---- */

static void
fill (ScHistory *history, guint conversations, guint first, guint last)
{
  for (guint i = first; i < last; i++)
    for (guint c = 0; c < conversations; c++)
      {
        g_autofree char *conversation = g_strdup_printf ("peer:%u", c);
        g_autofree char *text = g_strdup_printf (
          "message %u of a conversation, long enough to look like one", i);

        append (history, conversation, SC_HISTORY_KIND_INCOMING, text, i + 1);
      }
}

static double
ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000.0;
}

/* This thread's CPU time, which other processes on a busy machine do
 * not inflate as they do the wall clock. */
static gint64
thread_cpu_us (void)
{
  struct timespec now;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

/* The caller's side of a flood: only the appends are timed, not the
 * making of the entries. */
static void
time_flood (ScHistory *history)
{
  g_autoptr (GPtrArray) entries =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_history_entry_free);
  gint64 start, cpu_start;
  double queue_ms, cpu_ms;

  for (guint i = 0; i < 50000; i++)
    {
      g_autofree char *conversation = g_strdup_printf ("peer:%u", i % 20);
      g_autofree char *text = g_strdup_printf (
        "message %u of a conversation, long enough to look like one", i / 20);

      g_ptr_array_add (
        entries, sc_history_entry_new (SERVER, conversation, g_get_real_time (),
                                       SC_HISTORY_KIND_INCOMING, "alice", 4,
                                       text, i + 1, 0));
    }
  start = g_get_monotonic_time ();
  cpu_start = thread_cpu_us ();
  for (guint i = 0; i < entries->len; i++)
    sc_history_append (history, entries->pdata[i]);
  queue_ms = ms_since (start);
  cpu_ms = (thread_cpu_us () - cpu_start) / 1000.0;
  sc_history_flush (history);
  g_test_message ("append 50,000 rows in 20 conversations: %.1f ms on the "
                  "caller's thread (%.1f ms of its CPU, %.2f us each), "
                  "%.1f ms until committed",
                  queue_ms, cpu_ms, cpu_ms * 1000 / 50000, ms_since (start));
}

/* Not asserted tightly: printed for the record. */
static void
test_numbers (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GPtrArray) found = NULL;
  gint64 start;
  double open_ms, cold_ms, warm_ms, search_ms;

  sc_history_set_limit (fixture->history, G_MAXUINT);
  time_flood (fixture->history);
  fill (fixture->history, 20, 2500, 10000);
  sc_history_flush (fixture->history);

  start = g_get_monotonic_time ();
  fixture_reopen (fixture);
  open_ms = ms_since (start);

  start = g_get_monotonic_time ();
  loaded = load (fixture->history, "peer:7", 1000);
  cold_ms = ms_since (start);
  g_assert_cmpuint (loaded->len, ==, 1000);
  g_clear_pointer (&loaded, g_ptr_array_unref);
  start = g_get_monotonic_time ();
  loaded = load (fixture->history, "peer:7", 1000);
  warm_ms = ms_since (start);

  start = g_get_monotonic_time ();
  found = sc_history_search (fixture->history, SERVER, "peer:7",
                             "message 17 of", 100, NULL);
  search_ms = ms_since (start);
  g_assert_cmpuint (found->len, ==, 1);

  g_test_message ("200,000 rows in 20 conversations: close and reopen "
                  "%.1f ms; load the last 1,000 of one conversation %.2f ms "
                  "(first), %.2f ms (again); search its 10,000 rows %.2f ms",
                  open_ms, cold_ms, warm_ms, search_ms);
  /* Orders of magnitude, so that a lost index fails. */
  g_assert_cmpfloat (cold_ms, <, 1000);
}

/* ---- Older matches, for the window's search ---- */

typedef struct
{
  gboolean done;
  gboolean ok;
  guint n_older;
  gint64 newest_row;
  GError *error;
} CountOlder;

static void
on_count_older (GObject *source, GAsyncResult *result, gpointer data)
{
  CountOlder *count = data;

  count->ok =
    sc_history_count_older_finish (SC_HISTORY (source), result, &count->n_older,
                                   &count->newest_row, &count->error);
  count->done = TRUE;
}

/* Runs the count and the main loop until it answers. */
static CountOlder
count_older (ScHistory *history,
             const char *needle,
             gint64 before_row,
             GCancellable *cancellable)
{
  CountOlder count = { 0 };

  sc_history_count_older_async (history, SERVER, "peer:0", needle, before_row,
                                cancellable, on_count_older, &count);
  while (!count.done)
    g_main_context_iteration (NULL, TRUE);
  return count;
}

/* Rows are numbered 1, 2, ... in their conversation; the count sees the
 * matches older than a row and names the newest, ignoring case, in a
 * worker thread that also waits for appends queued before it; a range
 * loads rows by number.  On a conversation of 10,000 rows the count's
 * time is printed: the window runs it off the GTK thread. */
static void
test_search_older (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) range = NULL;
  g_autoptr (GPtrArray) loaded = NULL;
  g_autoptr (GCancellable) cancelled = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  CountOlder count;
  gint64 start;
  double count_ms, range_ms;

  fill (fixture->history, 1, 0, 10000);
  loaded = load (fixture->history, "peer:0", 3);
  g_assert_cmpint (((ScHistoryEntry *) loaded->pdata[0])->row, ==, 9998);
  g_assert_cmpint (((ScHistoryEntry *) loaded->pdata[2])->row, ==, 10000);

  /* "message 17 of" is in row 18 only; "message 1" starts rows 2 and
   * 11 to 20, 101 to 200 and 1001 to 2000. */
  count = count_older (fixture->history, "MESSAGE 17 of", 10001, NULL);
  g_assert_no_error (count.error);
  g_assert_true (count.ok);
  g_assert_cmpuint (count.n_older, ==, 1);
  g_assert_cmpint (count.newest_row, ==, 18);
  count = count_older (fixture->history, "message 17 of", 18, NULL);
  g_assert_true (count.ok);
  g_assert_cmpuint (count.n_older, ==, 0);
  g_assert_cmpint (count.newest_row, ==, 0);
  count = count_older (fixture->history, "message 1", 1500, NULL);
  g_assert_true (count.ok);
  g_assert_cmpuint (count.n_older, ==, 1 + 10 + 100 + 499);
  g_assert_cmpint (count.newest_row, ==, 1499);
  start = g_get_monotonic_time ();
  count = count_older (fixture->history, "message 1", 10001, NULL);
  count_ms = ms_since (start);
  g_assert_cmpuint (count.n_older, ==, 1 + 10 + 100 + 1000);
  g_assert_cmpint (count.newest_row, ==, 2000);

  /* Queued, not yet committed: the count waits for it. */
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING, "late one", 1);
  count = count_older (fixture->history, "late one", 10002, NULL);
  g_assert_cmpuint (count.n_older, ==, 1);
  g_assert_cmpint (count.newest_row, ==, 10001);

  g_cancellable_cancel (cancelled);
  count = count_older (fixture->history, "message", 10001, cancelled);
  g_assert_false (count.ok);
  g_assert_error (count.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&count.error);

  start = g_get_monotonic_time ();
  range = sc_history_load_range (fixture->history, SERVER, "peer:0", 5000,
                                 10000, &error);
  range_ms = ms_since (start);
  g_assert_no_error (error);
  g_assert_cmpuint (range->len, ==, 5000);
  g_assert_cmpint (((ScHistoryEntry *) range->pdata[0])->row, ==, 5000);
  g_assert_cmpstr (((ScHistoryEntry *) range->pdata[0])->text, ==,
                   "message 4999 of a conversation, long enough to look like "
                   "one");
  g_test_message ("10,000 rows: count the matches among all of them %.2f ms "
                  "(in the worker thread, opening its connection included); "
                  "load 5,000 rows by number %.2f ms",
                  count_ms, range_ms);
}

/* The count of older matches finds what the log's search finds in the
 * same texts (test-message-log.c's /gui/message-log/search-text-only):
 * every occurrence, each after the end of the one before, case aside,
 * of whole characters. */
static void
test_search_occurrences (Fixture *fixture, gconstpointer data)
{
  const struct
  {
    const char *needle;
    guint n;
    gint64 newest_row;
  } expected[] = {
    { "bob", 3, 1 },    { "cafe", 0, 0 },      { "CAFÉ", 1, 2 },
    { "aa", 2, 3 },     { "x2", 0, 0 },        { "fi", 1, 4 },
    { "joined", 1, 6 }, { "delivered", 0, 0 }, { "alice", 0, 0 },
    { "[", 0, 0 },      { "s", 2, 7 },         { "किताब", 0, 0 },
    { "\u0628", 1, 8 },
  };

  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING,
          "Bob, bob and BOB", 0);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING, "Café au lait",
          0);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING, "aaaa", 0);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING, "x² ﬁne", 0);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_OUTGOING, "hi", 7);
  sc_history_update_state (fixture->history, SERVER, 7, 1);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_EVENT, "joined", 0);
  /* As GtkTextIter counts: "ß" folds to "ss" but is one character; a
   * letter followed by a combining mark (a vowel sign) is not matched
   * alone. */
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING, "Straße", 0);
  append (fixture->history, "peer:0", SC_HISTORY_KIND_INCOMING,
          "किताबें \u0628\u064E\u0628", 0);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      CountOlder count =
        count_older (fixture->history, expected[i].needle, 9, NULL);

      g_assert_no_error (count.error);
      g_assert_true (count.ok);
      g_assert_cmpuint (count.n_older, ==, expected[i].n);
      g_assert_cmpint (count.newest_row, ==, expected[i].newest_row);
    }
}

static void
add (const char *path, void (*test) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, NULL, fixture_set_up, test, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  if (argc == 4 && g_str_equal (argv[1], "--kill-writer"))
    return kill_writer_main (argv[2], argv[3]);

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  add ("/history/load/order", test_load_order);
  add ("/history/search/literal", test_search);
  add ("/history/state/update", test_update_state);
  add ("/history/clear", test_clear);
  add ("/history/prune", test_prune);
  add ("/history/persistence", test_persistence);
  add ("/history/two-writers", test_two_writers);
  g_test_add_func ("/history/open/default-path", test_default_path);
  g_test_add_func ("/history/open/damaged", test_damaged);
  add ("/history/open/damaged-pages", test_damaged_pages);
  g_test_add_func ("/history/kill/mid-write", test_kill_mid_write);
  add ("/history/numbers", test_numbers);
  add ("/history/search/older", test_search_older);
  add ("/history/search/occurrences", test_search_occurrences);
  return g_test_run ();
}
