/* test-history-kill.c: the desktop client killed (SIGKILL) while it
 * writes its history keeps every message it had committed.
 *
 * The real sockchat program runs on the test's display and receives a
 * stream of numbered private messages; once its history file holds a few
 * hundred of them, it is killed mid-stream.  The file must then pass
 * SQLite's integrity check and hold at least those messages, in order,
 * with no gap: what was committed is never lost, and a batch cut off by
 * the kill leaves nothing half-written. */
#include "config.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "sc-client.h"
#include "sc-history.h"
#include "sc-server-child.h"
#include "sc-test-util.h"

#define WAIT_MS        20000
#define KILL_AFTER     300 /* committed rows before the kill */
#define CONVERSATION   "peer:flooder"
#define RECIPIENT_NAME "carol"

/* XDG_DATA_DIRS before the test isolated it: GTK finds its icons and the
 * MIME database there. */
static char *system_data_dirs;

typedef struct
{
  GMainContext *context;
  ScClient *client;
  guint32 recipient;
  guint sent;
  guint answered;
  char *last_error;
} Flooder;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (sc_client_connect_finish (SC_CLIENT (source), result, &error));
}

static void
on_listed (GObject *source, GAsyncResult *result, gpointer data)
{
  Flooder *flooder = data;
  g_autoptr (GPtrArray) peers =
    sc_client_list_clients_finish (SC_CLIENT (source), result, NULL);

  for (guint i = 0; peers && i < peers->len; i++)
    {
      ScPeer *peer = g_ptr_array_index (peers, i);

      if (g_str_equal (peer->nickname, RECIPIENT_NAME))
        flooder->recipient = peer->id;
    }
  flooder->answered++;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  Flooder *flooder = data;
  g_autoptr (GError) error = NULL;

  /* The window may fall behind and the server refuse some (RECIPIENT_SLOW):
   * those are simply not in the history. */
  if (sc_client_send_message_finish (SC_CLIENT (source), result, &error) == 0 &&
      flooder->last_error == NULL)
    flooder->last_error = g_strdup (error->message);
  flooder->answered++;
}

static void
iterate (Flooder *flooder)
{
  while (g_main_context_iteration (flooder->context, FALSE))
    ;
}

/* Asks for the list until the GUI client is in it. */
static void
find_recipient (Flooder *flooder)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;

  while (flooder->recipient == 0)
    {
      guint answered = flooder->answered;

      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      sc_client_list_clients_async (flooder->client, NULL, on_listed, flooder);
      while (flooder->answered == answered)
        g_main_context_iteration (flooder->context, TRUE);
      g_usleep (20 * 1000); /* the window is still starting */
    }
}

static void
send_some (Flooder *flooder, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("kill-test %u", flooder->sent++);

      sc_client_send_message_async (flooder->client, flooder->recipient, text,
                                    NULL, on_sent, flooder);
    }
  iterate (flooder);
}

/* Rows of the conversation in the file, read as another program would;
 * 0 while the file or its tables do not exist yet. */
static gint64
count_rows (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = 0;

  if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db,
                          "SELECT count (*) FROM messages m JOIN "
                          "conversations c ON c.id = m.conversation "
                          "WHERE c.name = '" CONVERSATION "'",
                          -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

static char *
integrity (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *result = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (
    sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==,
    SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  result = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return result;
}

static GPid
spawn_window (guint16 port)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char *argv[] = { g_getenv ("SC_GUI_BINARY"),
                         "--host",
                         "127.0.0.1",
                         "--port",
                         port_text,
                         "--nickname",
                         RECIPIENT_NAME,
                         "--connect",
                         NULL };
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) envp = g_get_environ ();
  GPid pid;

  g_assert_nonnull (argv[0]);
  /* The program as a user runs it: its own data files, and a warning of
   * its is not a crash (the test's G_DEBUG makes it one here). */
  envp = g_environ_setenv (envp, "XDG_DATA_DIRS", system_data_dirs, TRUE);
  /* The test's isolated folders are GLib's own state, not environment
   * variables: hand them over, so the history file is the test's. */
  envp = g_environ_setenv (envp, "XDG_DATA_HOME", g_get_user_data_dir (), TRUE);
  envp =
    g_environ_setenv (envp, "XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
  envp =
    g_environ_setenv (envp, "XDG_CACHE_HOME", g_get_user_cache_dir (), TRUE);
  envp = g_environ_unsetenv (envp, "G_DEBUG");
  g_spawn_async (NULL, (char **) argv, envp,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                 NULL, &pid, &error);
  g_assert_no_error (error);
  return pid;
}

/* Every row from the first on, in order, none missing. */
static void
assert_prefix (const char *path, guint16 port, gint64 at_least)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (path, &error);
  g_autofree char *server = g_strdup_printf ("127.0.0.1:%u", port);
  g_autoptr (GPtrArray) entries = NULL;

  g_assert_no_error (error);
  entries = sc_history_load (history, server, CONVERSATION, G_MAXUINT, &error);
  g_assert_no_error (error);
  g_test_message ("%u rows after the kill, %" G_GINT64_FORMAT
                  " seen committed before it",
                  entries->len, at_least);
  g_assert_cmpint (entries->len, >=, at_least);
  for (guint i = 0; i < entries->len; i++)
    {
      ScHistoryEntry *entry = g_ptr_array_index (entries, i);
      g_autofree char *expected = g_strdup_printf ("kill-test %u", i);

      g_assert_cmpstr (entry->text, ==, expected);
    }
}

static void
test_kill_mid_write (void)
{
  const char *const server_args[] = { "--port", "0", "--bind", "127.0.0.1",
                                      NULL };
  ScServerChildOptions options = { .args = server_args };
  g_autoptr (GError) error = NULL;
  g_autofree char *path = sc_history_default_path ();
  g_autofree char *check = NULL;
  ScServerChild *server;
  Flooder flooder = { 0 };
  guint16 port;
  GPid pid;
  gint64 committed = 0;
  gint64 deadline;
  int status;

  if (g_getenv ("DISPLAY") == NULL)
    {
      g_test_skip ("no display (run under xvfb-run)");
      return;
    }
  server = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  port = sc_server_child_read_port (server, WAIT_MS, &error);
  g_assert_no_error (error);
  pid = spawn_window (port);

  flooder.context = g_main_context_new ();
  g_main_context_push_thread_default (flooder.context);
  flooder.client = sc_client_new ("flooder");
  sc_client_connect_async (flooder.client, "127.0.0.1", port, "flooder", NULL,
                           on_connected, &flooder);
  while (sc_client_get_state (flooder.client) != SC_CLIENT_STATE_CONNECTED)
    g_main_context_iteration (flooder.context, TRUE);
  find_recipient (&flooder);

  /* Keep writing until the file shows KILL_AFTER rows, then kill the
   * window while more are on their way and being written. */
  deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while ((committed = count_rows (path)) < KILL_AFTER)
    {
      if (g_get_monotonic_time () >= deadline)
        g_error ("%s holds %" G_GINT64_FORMAT " rows of %s after %u sent, "
                 "%u answered (%s)",
                 path, committed, CONVERSATION, flooder.sent, flooder.answered,
                 flooder.last_error ? flooder.last_error : "no error");
      send_some (&flooder, 20);
      g_usleep (5 * 1000);
    }
  send_some (&flooder, 200);
  /* At a random moment of the stream: between batches, or in one. */
  g_usleep (g_test_rand_int_range (0, 150) * 1000);
  iterate (&flooder);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  g_spawn_close_pid (pid);

  check = integrity (path);
  g_assert_cmpstr (check, ==, "ok");
  assert_prefix (path, port, committed);

  sc_client_disconnect (flooder.client);
  g_clear_object (&flooder.client);
  g_free (flooder.last_error);
  g_main_context_pop_thread_default (flooder.context);
  g_main_context_unref (flooder.context);
  sc_server_child_free (server);
}

int
main (int argc, char *argv[])
{
  system_data_dirs =
    g_strdup (g_getenv ("XDG_DATA_DIRS") ? g_getenv ("XDG_DATA_DIRS")
                                         : "/usr/local/share:/usr/share");
  sc_test_init (&argc, &argv);
  g_test_add_func ("/history/kill/window", test_kill_mid_write);
  return g_test_run ();
}
