/* test-cli.c: sockchat-cli driven through pipes against a real
 * sockchat-server child (an ScServerChild) on 127.0.0.1 with an
 * OS-chosen port.
 *
 * Standard input is a pipe, so the CLI runs in plain mode: it echoes
 * each answer after its prompt and prints one line per event, which the
 * tests match line by line.  Every wait has a deadline. */
#include "config.h"

#include <stdlib.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "sc-accounts.h"
#include "sc-test-peer.h"
#include "sc-server-child.h"
#include "sc-test-tls.h"
#include "sc-test-util.h"

#define DEADLINE_US (10 * G_USEC_PER_SEC)

#define MENU_CONNECTED                                              \
  "Menu: 1 Connect, 2 Disconnect, 3 Get the time, 4 Get the name, " \
  "5 List clients, 6 Send a message, 7 Exit"
#define MENU_DISCONNECTED   "Menu: 1 Connect, 7 Exit"
#define CHOICE_CONNECTED    "Choice [1-7]: "
#define CHOICE_DISCONNECTED "Choice [1 or 7]: "
#define NOT_CONNECTED       "Not connected: choose 1 to connect or 7 to exit."
#define TIMESTAMP           "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d"

/* ------------------------------------------------------------------ */
/* A child process with its output read line by line */

typedef struct
{
  const char *name;
  GSubprocess *process;
  GOutputStream *in;
  GDataInputStream *out;
  GPtrArray *transcript; /* every line read, for failure reports */
} Child;

typedef struct
{
  gboolean done;
  char *line;
  GError *error;
} LineRead;

static void
on_line_read (GObject *source, GAsyncResult *result, gpointer data)
{
  LineRead *read = data;

  read->line = g_data_input_stream_read_line_finish_utf8 (
    G_DATA_INPUT_STREAM (source), result, NULL, &read->error);
  read->done = TRUE;
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
child_dump (Child *child)
{
  g_printerr ("--- output of %s so far:\n", child->name);
  for (guint i = 0; i < child->transcript->len; i++)
    g_printerr ("%s| %s\n", child->name,
                (char *) g_ptr_array_index (child->transcript, i));
  g_printerr ("---\n");
}

/* Returns the next line of output, or NULL at its end.  (transfer full) */
static char *
child_read_line (Child *child)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  LineRead read = { 0 };
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add (DEADLINE_US / 1000, on_deadline, &timed_out);

  g_data_input_stream_read_line_async (child->out, G_PRIORITY_DEFAULT,
                                       cancellable, on_line_read, &read);
  while (!read.done && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!read.done)
    {
      g_cancellable_cancel (cancellable);
      while (!read.done)
        g_main_context_iteration (NULL, TRUE);
      child_dump (child);
      g_test_message ("%s: no complete line within the deadline", child->name);
      g_assert_not_reached ();
    }
  g_source_remove (timeout);
  g_assert_no_error (read.error);
  if (read.line != NULL)
    g_ptr_array_add (child->transcript, g_strdup (read.line));
  return read.line;
}

static gboolean
line_matches (const char *line, const char *pattern, char ***groups)
{
  g_autofree char *anchored = g_strdup_printf ("^(?:%s)$", pattern);
  g_autoptr (GRegex) regex = g_regex_new (anchored, 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;

  g_assert_nonnull (regex);
  if (line == NULL || !g_regex_match (regex, line, 0, &match))
    return FALSE;
  if (groups)
    *groups = g_match_info_fetch_all (match);
  return TRUE;
}

/* Reads the next line and checks it matches @pattern, a whole-line
 * regular expression.  Returns its captures.  (transfer full) */
static char **
child_match (Child *child, const char *pattern)
{
  g_autofree char *line = child_read_line (child);
  char **groups = NULL;

  if (!line_matches (line, pattern, &groups))
    {
      child_dump (child);
      g_test_message ("%s: expected /%s/, got \"%s\"", child->name, pattern,
                      line ? line : "(end of output)");
      g_assert_not_reached ();
    }
  return groups;
}

static void
child_expect (Child *child, const char *pattern)
{
  g_strfreev (child_match (child, pattern));
}

/* Checks the next line is @text exactly. */
static void
child_expect_text (Child *child, const char *text)
{
  g_autofree char *line = child_read_line (child);

  if (g_strcmp0 (line, text) != 0)
    child_dump (child);
  g_assert_cmpstr (line, ==, text);
}

/* Skips lines until one matches @pattern. */
static void
child_wait_for (Child *child, const char *pattern)
{
  for (;;)
    {
      g_autofree char *line = child_read_line (child);

      if (line == NULL)
        {
          child_dump (child);
          g_test_message ("%s: output ended before /%s/", child->name, pattern);
          g_assert_not_reached ();
        }
      if (line_matches (line, pattern, NULL))
        return;
    }
}

static void
child_send (Child *child, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all (child->in, text, strlen (text), NULL, NULL,
                             &error);
  g_assert_no_error (error);
  g_output_stream_flush (child->in, NULL, &error);
  g_assert_no_error (error);
}

static void
on_waited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

/* Waits for the child to exit and returns its exit status. */
static int
child_wait (Child *child)
{
  gboolean exited = FALSE, timed_out = FALSE;
  guint timeout = g_timeout_add (DEADLINE_US / 1000, on_deadline, &timed_out);

  g_subprocess_wait_async (child->process, NULL, on_waited, &exited);
  while (!exited && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!exited)
    {
      g_subprocess_force_exit (child->process);
      while (!exited)
        g_main_context_iteration (NULL, TRUE);
      child_dump (child);
      g_test_message ("%s: did not exit within the deadline", child->name);
      g_assert_not_reached ();
    }
  g_source_remove (timeout);
  g_assert_true (g_subprocess_get_if_exited (child->process));
  return g_subprocess_get_exit_status (child->process);
}

/* Closes standard input, checks the remaining output is @tail (NULL
 * ends it) and that the child exits with status 0. */
static void
child_finish (Child *child, const char *const *tail)
{
  g_autofree char *rest = NULL;

  g_output_stream_close (child->in, NULL, NULL);
  for (guint i = 0; tail && tail[i]; i++)
    child_expect (child, tail[i]);
  rest = child_read_line (child);
  if (rest != NULL)
    child_dump (child);
  g_assert_null (rest);
  g_assert_cmpint (child_wait (child), ==, 0);
}

static void
child_free (Child *child)
{
  if (g_subprocess_get_identifier (child->process) != NULL)
    {
      g_subprocess_force_exit (child->process);
      g_subprocess_wait (child->process, NULL, NULL);
    }
  g_object_unref (child->out);
  g_object_unref (child->process);
  g_ptr_array_unref (child->transcript);
  g_free (child);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Child, child_free)

/* Starts sockchat-cli with @args (NULL-terminated, may be NULL), its
 * standard input and output pipes, in the C locale (the transcripts are
 * checked against the untranslated strings). */
static Child *
cli_spawn (const char *name, const char *const *args)
{
  g_autoptr (GError) error = NULL;
  Child *child = g_new0 (Child, 1);

  child->name = name;
  child->process = sc_test_cli_spawn (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                      args, &error);
  g_assert_no_error (error);
  child->in = g_subprocess_get_stdin_pipe (child->process);
  child->out =
    g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->process));
  child->transcript = g_ptr_array_new_with_free_func (g_free);
  return child;
}

/* ------------------------------------------------------------------ */
/* The server fixture */

typedef struct
{
  ScServerChild *server;
  char *port;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  const char *args[] = { "--port", "0", "--bind", "127.0.0.1", NULL };
  ScServerChildOptions options = { .args = args, .discard_stderr = TRUE };
  g_autoptr (GError) error = NULL;
  guint16 port;

  g_assert_nonnull (g_getenv ("SC_CLI_BINARY"));
  fixture->server = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  port =
    sc_server_child_read_port (fixture->server, DEADLINE_US / 1000, &error);
  g_assert_no_error (error);
  fixture->port = g_strdup_printf ("%u", port);
}

/* SIGTERM; the server must exit with status 0 within the deadline. */
static void
server_stop (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;
  int status =
    sc_server_child_stop (fixture->server, DEADLINE_US / 1000, &error);

  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (sc_server_child_is_running (fixture->server))
    server_stop (fixture);
  sc_server_child_free (fixture->server);
  g_free (fixture->port);
}

/* Sends "1", the default address, the port and @nickname ("" keeps the
 * default), and checks the CLI connects, asking @prompt for the
 * nickname and connecting as @expected ("": no nickname).  Returns the
 * client id. */
static char *
cli_connect_as (Child *cli,
                Fixture *fixture,
                const char *nickname,
                const char *prompt,
                const char *expected)
{
  g_autofree char *answers =
    g_strdup_printf ("1\n\n%s\n%s\n", fixture->port, nickname);
  g_autofree char *port_line = NULL;
  g_autofree char *nickname_line = NULL;
  g_autofree char *connecting = NULL;
  g_autofree char *connected = NULL;
  g_autofree char *as = NULL;
  g_auto (GStrv) groups = NULL;

  child_send (cli, answers);
  child_expect_text (cli, CHOICE_DISCONNECTED "1");
  child_expect_text (cli, "Server address [127.0.0.1]: ");
  port_line = g_strdup_printf ("Port \\[\\d+\\]: %s", fixture->port);
  child_expect (cli, port_line);
  nickname_line = g_strconcat (prompt, nickname, NULL);
  child_expect_text (cli, nickname_line);
  connecting =
    g_strdup_printf ("Connecting to 127.0.0.1 port %s...", fixture->port);
  child_expect_text (cli, connecting);
  as =
    *expected != '\0' ? g_strdup_printf (" \\(%s\\)", expected) : g_strdup ("");
  connected = g_strdup_printf (
    "Connected to 127\\.0\\.0\\.1 port %s as client (\\d+)%s\\.", fixture->port,
    as);
  groups = child_match (cli, connected);
  child_expect (cli, "Greeting from server \".+\", protocol version 1:");
  child_expect (cli, "  at most \\d+ clients? at a time,");
  child_expect (cli, "  messages of up to \\d+ bytes?,");
  child_expect (cli, "  a heartbeat after \\d+ seconds? of silence\\.");
  child_expect_text (cli, MENU_CONNECTED);
  return g_strdup (groups[1]);
}

/* The same with no nickname at all. */
static char *
cli_connect (Child *cli, Fixture *fixture)
{
  return cli_connect_as (cli, fixture, "", "Nickname (empty for none): ", "");
}

/* ------------------------------------------------------------------ */
/* Tests */

/* Connect, time, name, list, a message to a second client, exit. */
static void
test_session (Fixture *fixture, gconstpointer data)
{
  const char *bob_args[] = { "--host",     "127.0.0.1", "--port", fixture->port,
                             "--nickname", "bob",       NULL };
  g_autoptr (Child) bob = cli_spawn ("bob", bob_args);
  g_autoptr (Child) alice = cli_spawn ("alice", NULL);
  g_autofree char *bob_connected = NULL;
  g_autofree char *alice_id = NULL;
  g_autofree char *pattern = NULL;
  g_auto (GStrv) bob_groups = NULL;
  g_auto (GStrv) time_groups = NULL;
  g_auto (GStrv) name_groups = NULL;
  g_auto (GStrv) row_groups = NULL;
  g_auto (GStrv) sent_groups = NULL;
  g_autofree char *bob_id = NULL;
  g_autofree char *alice_port = NULL;
  g_autofree char *message_id = NULL;
  gint64 unix_time;
  gboolean delivered = FALSE, sent = FALSE;

  /* Bob connects at start, from the command line. */
  pattern = g_strdup_printf ("Connecting to 127\\.0\\.0\\.1 port %s\\.\\.\\.",
                             fixture->port);
  child_expect (bob, pattern);
  g_clear_pointer (&pattern, g_free);
  bob_connected = g_strdup_printf (
    "Connected to 127\\.0\\.0\\.1 port %s as client (\\d+) \\(bob\\)\\.",
    fixture->port);
  bob_groups = child_match (bob, bob_connected);
  bob_id = g_strdup (bob_groups[1]);
  child_wait_for (bob, MENU_CONNECTED);

  /* Alice starts disconnected and connects through the prompts. */
  child_expect_text (alice, MENU_DISCONNECTED);
  alice_id = cli_connect (alice, fixture);
  g_assert_cmpstr (alice_id, !=, bob_id);

  child_send (alice, "3\n");
  child_expect_text (alice, CHOICE_CONNECTED "3");
  child_expect (alice, "Server time: " TIMESTAMP
                       "\\.\\d{3} UTC[+-]\\d\\d:\\d\\d \\(.+\\)");
  time_groups = child_match (alice, "Unix time: (\\d+)\\.\\d{3}");
  unix_time = g_ascii_strtoll (time_groups[1], NULL, 10);
  g_assert_cmpint (ABS (unix_time - g_get_real_time () / G_USEC_PER_SEC), <,
                   60);
  child_expect_text (alice, MENU_CONNECTED);

  child_send (alice, "4\n");
  child_expect_text (alice, CHOICE_CONNECTED "4");
  name_groups = child_match (alice, "Server host name: (.+)");
  g_assert_cmpstr (name_groups[1], ==, g_get_host_name ());
  child_expect_text (alice, MENU_CONNECTED);

  child_send (alice, "5\n");
  child_expect_text (alice, CHOICE_CONNECTED "5");
  child_expect (alice, "  +ID  Nickname  +Address  +Port  Connected since");
  /* Ids increase: Bob came first.  Alice's row is marked. */
  pattern = g_strdup_printf ("   *%s  bob  +127\\.0\\.0\\.1  +\\d+  " TIMESTAMP,
                             bob_id);
  child_expect (alice, pattern);
  g_free (pattern);
  pattern = g_strdup_printf (
    "\\* +%s  -  +127\\.0\\.0\\.1  +(\\d+)  " TIMESTAMP, alice_id);
  row_groups = child_match (alice, pattern);
  alice_port = g_strdup (row_groups[1]);
  child_expect_text (alice, "2 clients connected; * marks you.");
  child_expect_text (alice, MENU_CONNECTED);

  g_free (pattern);
  pattern = g_strdup_printf ("6\n%s\nhello there,  bob!\n", bob_id);
  child_send (alice, pattern);
  child_expect_text (alice, CHOICE_CONNECTED "6");
  g_free (pattern);
  pattern = g_strdup_printf (
    "Client number \\(0 or \"all\" for everyone\\): %s", bob_id);
  child_expect (alice, pattern);
  child_expect_text (alice, "Message: hello there,  bob!");

  /* The reply and the receipt may come in either order; the receipt may
   * also interrupt the prompt that follows the reply. */
  g_free (pattern);
  pattern = g_strdup_printf (
    "Message (\\d+) (sent to|delivered to) client %s\\.", bob_id);
  while (!delivered)
    {
      g_autofree char *line = child_read_line (alice);
      g_auto (GStrv) groups = NULL;

      if (line_matches (line, pattern, &groups))
        {
          if (message_id == NULL)
            message_id = g_strdup (groups[1]);
          g_assert_cmpstr (groups[1], ==, message_id);
          if (g_str_equal (groups[2], "sent to"))
            sent = TRUE;
          else
            delivered = TRUE;
          continue;
        }
      if (!sent || (g_strcmp0 (line, MENU_CONNECTED) != 0 &&
                    g_strcmp0 (line, CHOICE_CONNECTED) != 0))
        child_dump (alice);
      g_assert_true (sent);
      g_assert_true (g_strcmp0 (line, MENU_CONNECTED) == 0 ||
                     g_strcmp0 (line, CHOICE_CONNECTED) == 0);
    }

  /* Bob sees the text with Alice's id, address and port. */
  g_free (pattern);
  pattern = g_strdup_printf ("Client %s joined from 127\\.0\\.0\\.1:%s\\.",
                             alice_id, alice_port);
  child_wait_for (bob, pattern);
  g_free (pattern);
  pattern = g_strdup_printf (
    "Message from client %s at 127\\.0\\.0\\.1:%s: hello there,  bob!",
    alice_id, alice_port);
  child_wait_for (bob, pattern);

  /* Exit. */
  child_send (alice, "7\n");
  for (;;)
    {
      g_autofree char *line = child_read_line (alice);

      if (g_strcmp0 (line, CHOICE_CONNECTED "7") == 0)
        break;
      if (!sent || g_strcmp0 (line, MENU_CONNECTED) != 0)
        child_dump (alice);
      g_assert_true (sent || line_matches (line, pattern, NULL));
      g_assert_cmpstr (line, ==, MENU_CONNECTED);
    }
  {
    const char *tail[] = { "Disconnected\\.", "Goodbye\\.", NULL };

    child_finish (alice, tail);
  }

  /* Bob hears that Alice left, then his input ends: that is Exit too. */
  g_free (pattern);
  pattern = g_strdup_printf ("Client %s left \\(disconnected\\)\\.", alice_id);
  child_wait_for (bob, pattern);
  {
    const char *tail[] = { "Choice \\[1-7\\]: ", "Disconnected\\.",
                           "Goodbye\\.", NULL };

    child_finish (bob, tail);
  }
}

/* While disconnected the menu offers 1 and 7 only, and refuses 2 to 6. */
static void
test_disconnected_menu (void)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);

  child_expect_text (cli, MENU_DISCONNECTED);
  child_send (cli, "2\n3\n4\n5\n6\n");
  for (guint i = 2; i <= 6; i++)
    {
      g_autofree char *echo = g_strdup_printf (CHOICE_DISCONNECTED "%u", i);

      child_expect_text (cli, echo);
      child_expect_text (cli, NOT_CONNECTED);
      child_expect_text (cli, MENU_DISCONNECTED);
    }
  child_send (cli, "7\n");
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: 7", "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }
}

/* Letters, out-of-range numbers and an empty line at the menu. */
static void
test_bad_choice (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);
  const struct
  {
    const char *input;
    const char *reply;
  } cases[] = {
    { "abc", "Invalid choice \"abc\": enter a number from the menu." },
    { "-1", "Invalid choice \"-1\": enter a number from the menu." },
    { "3x", "Invalid choice \"3x\": enter a number from the menu." },
    { "0", "There is no action 0: enter a number from 1 to 7." },
    { "8", "There is no action 8: enter a number from 1 to 7." },
    { "99999999999999999999999",
      "Invalid choice \"99999999999999999999999\": enter a number from the "
      "menu." },
  };

  child_expect_text (cli, MENU_DISCONNECTED);
  for (guint pass = 0; pass < 2; pass++)
    {
      const char *menu = pass == 0 ? MENU_DISCONNECTED : MENU_CONNECTED;
      const char *choice = pass == 0 ? CHOICE_DISCONNECTED : CHOICE_CONNECTED;

      if (pass == 1)
        g_free (cli_connect (cli, fixture));
      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          g_autofree char *input = g_strconcat (cases[i].input, "\n", NULL);
          g_autofree char *echo = g_strconcat (choice, cases[i].input, NULL);

          child_send (cli, input);
          child_expect_text (cli, echo);
          child_expect_text (cli, cases[i].reply);
          child_expect_text (cli, menu);
        }
      /* An empty line shows the menu again. */
      child_send (cli, "\n");
      child_expect_text (cli, choice);
      child_expect_text (cli, menu);
    }
  {
    const char *tail[] = { "Choice \\[1-7\\]: ", "Disconnected\\.",
                           "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }
}

/* Ports out of range or not numbers, at the prompt and as an option. */
static void
test_bad_port (void)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);
  const char *ports[] = { "0", "70000", "abc", "-5", "65536" };

  child_expect_text (cli, MENU_DISCONNECTED);
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      g_autofree char *input = g_strdup_printf ("1\n\n%s\n", ports[i]);
      g_autofree char *echo = g_strdup_printf ("Port [5330]: %s", ports[i]);
      g_autofree char *reply = g_strdup_printf (
        "Invalid port \"%s\": enter a number from 1 to 65535.", ports[i]);

      child_send (cli, input);
      child_expect_text (cli, CHOICE_DISCONNECTED "1");
      child_expect_text (cli, "Server address [127.0.0.1]: ");
      child_expect_text (cli, echo);
      child_expect_text (cli, reply);
      child_expect_text (cli, MENU_DISCONNECTED);
    }
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }

  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      const char *args[] = { "--port", ports[i], NULL };
      g_autoptr (Child) bad = cli_spawn ("bad", args);
      g_autofree char *rest = child_read_line (bad);

      g_assert_null (rest);
      g_assert_cmpint (child_wait (bad), ==, 2);
    }
}

/* A host that does not resolve, typed or given as an option, and an
 * empty one. */
static void
test_bad_host (void)
{
  const char *empty_args[] = { "--host", "", "--port", "5330", NULL };
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);
  g_autoptr (Child) empty = cli_spawn ("empty", empty_args);

  child_expect_text (cli, MENU_DISCONNECTED);
  child_send (cli, "1\nno-such-host.invalid\n4242\n\n");
  child_expect_text (cli, CHOICE_DISCONNECTED "1");
  child_expect_text (cli, "Server address [127.0.0.1]: no-such-host.invalid");
  child_expect_text (cli, "Port [5330]: 4242");
  child_expect_text (cli, "Nickname (empty for none): ");
  child_expect_text (cli, "Connecting to no-such-host.invalid port 4242...");
  child_expect (cli, "Could not connect to no-such-host\\.invalid port 4242: "
                     "unknown host \\(.+\\)\\.");
  child_expect_text (cli, MENU_DISCONNECTED);
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }

  child_expect_text (empty, "Connecting to \"\" port 5330...");
  child_expect (empty, "Could not connect to \"\" port 5330: unknown host .*");
  child_expect_text (empty, MENU_DISCONNECTED);
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL };

    child_finish (empty, tail);
  }
}

/* Bad client numbers, an unknown client and empty messages. */
static void
test_bad_send (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);
  const char *numbers[] = { "abc", "-1", "4294967296", "" };

  child_expect_text (cli, MENU_DISCONNECTED);
  g_free (cli_connect (cli, fixture));

  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      g_autofree char *input = g_strdup_printf ("6\n%s\n", numbers[i]);
      g_autofree char *echo = g_strdup_printf (
        "Client number (0 or \"all\" for everyone): %s", numbers[i]);
      g_autofree char *reply = g_strdup_printf (
        "Invalid client number \"%s\": enter a number from the list (5), or 0 "
        "or \"all\" for everyone.",
        numbers[i]);

      child_send (cli, input);
      child_expect_text (cli, CHOICE_CONNECTED "6");
      child_expect_text (cli, echo);
      child_expect_text (cli, reply);
      child_expect_text (cli, MENU_CONNECTED);
    }

  /* The server's NO_SUCH_CLIENT reason is shown. */
  child_send (cli, "6\n999\nanyone there?\n");
  child_expect_text (cli, CHOICE_CONNECTED "6");
  child_expect_text (cli, "Client number (0 or \"all\" for everyone): 999");
  child_expect_text (cli, "Message: anyone there?");
  child_expect (cli, "Message not sent: .*no client 999.*");
  child_expect_text (cli, MENU_CONNECTED);

  /* Empty messages are not sent, to one client or to all. */
  child_send (cli, "6\n1\n\n6\nall\n   \n");
  child_expect_text (cli, CHOICE_CONNECTED "6");
  child_expect_text (cli, "Client number (0 or \"all\" for everyone): 1");
  child_expect_text (cli, "Message: ");
  child_expect_text (cli, "The message is empty: nothing was sent.");
  child_expect_text (cli, MENU_CONNECTED);
  child_expect_text (cli, CHOICE_CONNECTED "6");
  child_expect_text (cli, "Client number (0 or \"all\" for everyone): all");
  child_expect_text (cli, "Message:    ");
  child_expect_text (cli, "The message is empty: nothing was sent.");
  child_expect_text (cli, MENU_CONNECTED);

  /* A broadcast with nobody else connected. */
  child_send (cli, "6\n0\nhello?\n");
  child_expect_text (cli, CHOICE_CONNECTED "6");
  child_expect_text (cli, "Client number (0 or \"all\" for everyone): 0");
  child_expect_text (cli, "Message: hello?");
  child_expect (cli, "Message \\d+ reached nobody: no other client is "
                     "connected\\.");
  child_expect_text (cli, MENU_CONNECTED);

  /* Connect while connected, then Disconnect: the short menu is back. */
  child_send (cli, "1\n2\n");
  child_expect_text (cli, CHOICE_CONNECTED "1");
  child_expect (cli, "Already connected to 127\\.0\\.0\\.1 port \\d+: choose 2 "
                     "to disconnect first\\.");
  child_expect_text (cli, MENU_CONNECTED);
  child_expect_text (cli, CHOICE_CONNECTED "2");
  child_expect_text (cli, "Disconnected.");
  child_expect_text (cli, MENU_DISCONNECTED);
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }
}

/* The server going away is shown, and the menu shrinks at once. */
static void
test_server_shutdown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);

  child_expect_text (cli, MENU_DISCONNECTED);
  g_free (cli_connect (cli, fixture));
  server_stop (fixture);

  /* Each line printed while the prompt is up comes on a line of its own,
   * and the prompt follows it again. */
  child_expect_text (cli, CHOICE_CONNECTED);
  child_expect (cli, "The server is shutting down(: .*)?\\.");
  child_expect_text (cli, CHOICE_CONNECTED);
  child_expect (cli, "Disconnected: .+\\.");
  child_expect_text (cli, MENU_DISCONNECTED);
  child_send (cli, "3\n");
  child_expect_text (cli, CHOICE_DISCONNECTED "3");
  child_expect_text (cli, NOT_CONNECTED);
  child_expect_text (cli, MENU_DISCONNECTED);
  {
    const char *tail[] = { "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }
}

/* ------------------------------------------------------------------ */
/* TLS */

typedef struct
{
  ScServerChild *server;
  char *folder;
  char *cert;
  char *key;
  char *port; /* the TLS port */
} TlsFixture;

static void
tls_fixture_setup (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *args[] = { "--port",     "0",  "--bind",     "127.0.0.1",
                         "--tls-port", "0",  "--tls-cert", NULL,
                         "--tls-key",  NULL, NULL };
  ScServerChildOptions options = { .args = args, .discard_stderr = TRUE };
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;

  fixture->folder = g_dir_make_tmp ("sc-cli-tls-XXXXXX", &error);
  g_assert_no_error (error);
  sc_test_tls_make_certificate (fixture->folder, "server", &fixture->cert,
                                &fixture->key);
  args[7] = fixture->cert;
  args[9] = fixture->key;
  fixture->server = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  sc_server_child_read_port (fixture->server, DEADLINE_US / 1000, &error);
  g_assert_no_error (error);
  /* The TLS port is printed on the line after the plain one. */
  while (fixture->port == NULL && g_get_monotonic_time () < deadline)
    {
      g_autofree char *out = sc_server_child_get_stdout (fixture->server);
      const char *line = strstr (out, "listening for TLS on port ");

      if (line != NULL && strchr (line, '\n') != NULL)
        fixture->port = g_strndup (line + strlen ("listening for TLS on port "),
                                   strcspn (line + strlen ("listening for TLS "
                                                           "on port "),
                                            "\n"));
      else
        g_usleep (10000); /* the child's output comes in by itself */
    }
  g_assert_nonnull (fixture->port);
}

static void
tls_fixture_teardown (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (
    sc_server_child_stop (fixture->server, DEADLINE_US / 1000, &error), ==, 0);
  sc_server_child_free (fixture->server);
  g_remove (fixture->cert);
  g_remove (fixture->key);
  g_rmdir (fixture->folder);
  g_free (fixture->cert);
  g_free (fixture->key);
  g_free (fixture->folder);
  g_free (fixture->port);
}

static const char *const connected_tail[] = {
  "Greeting from server \".+\", protocol version 1:",
  "  at most \\d+ clients? at a time,",
  "  messages of up to \\d+ bytes?,",
  "  a heartbeat after \\d+ seconds? of silence\\.",
  MENU_CONNECTED,
  NULL,
};

/* --tls: a new certificate is shown and trusted only after "y"; the next
 * run finds it remembered; a different one is refused with a warning. */
static void
test_tls (TlsFixture *fixture, gconstpointer data)
{
  const char *args[] = { "--tls",       "--host",     "127.0.0.1", "--port",
                         fixture->port, "--nickname", "alice",     NULL };
  g_autoptr (Child) first = NULL;
  g_autoptr (Child) second = NULL;
  g_autoptr (Child) third = NULL;
  g_autofree char *connecting = g_strdup_printf (
    "Connecting to 127\\.0\\.0\\.1 port %s\\.\\.\\.", fixture->port);
  g_autofree char *connected = g_strdup_printf (
    "Connected to 127\\.0\\.0\\.1 port %s as client \\d+ \\(alice\\)\\.",
    fixture->port);
  g_autofree char *known = NULL;
  g_autofree char *path = NULL;
  g_auto (GStrv) shown = NULL;
  g_autofree char *encrypted = NULL;

  /* The clients remember certificates in this test's own folder. */
  g_setenv ("XDG_CONFIG_HOME", g_get_user_config_dir (), TRUE);
  first = cli_spawn ("first", args);
  child_expect (first, connecting);
  child_expect (first, "The certificate of 127\\.0\\.0\\.1 port \\d+ is not "
                       "signed by an authority this system trusts, and this "
                       "is the first time it is seen\\.");
  shown = child_match (first, "Its SHA-256 fingerprint is ([0-9A-F:]{95})");
  child_expect (first, "Compare it with .*");
  child_send (first, "y\n");
  child_expect_text (first, "Trust this certificate and remember it? [y/N]: y");
  child_expect (first, connecting);
  child_expect (first, connected);
  encrypted = g_strdup_printf ("Encrypted with TLS\\. Server certificate "
                               "SHA-256 %s \\(seen for the first time, now "
                               "remembered\\)\\.",
                               shown[1]);
  child_expect (first, encrypted);
  for (guint i = 0; connected_tail[i]; i++)
    child_expect (first, connected_tail[i]);
  child_finish (first,
                (const char *[]){ "Choice \\[1-7\\]: ", "Disconnected\\.",
                                  "Goodbye\\.", NULL });

  second = cli_spawn ("second", args);
  child_expect (second, connecting);
  child_expect (second, connected);
  g_free (encrypted);
  encrypted = g_strdup_printf ("Encrypted with TLS\\. Server certificate "
                               "SHA-256 %s \\(the one remembered for this "
                               "server\\)\\.",
                               shown[1]);
  child_expect (second, encrypted);
  for (guint i = 0; connected_tail[i]; i++)
    child_expect (second, connected_tail[i]);
  child_finish (second,
                (const char *[]){ "Choice \\[1-7\\]: ", "Disconnected\\.",
                                  "Goodbye\\.", NULL });

  /* The server's certificate "changes": another one is remembered. */
  path = g_build_filename (g_get_user_config_dir (), "sockchat",
                           "known-servers", NULL);
  known = g_strdup_printf ("127.0.0.1 %s 00:11:22:33\n", fixture->port);
  g_assert_true (g_file_set_contents (path, known, -1, NULL));
  third = cli_spawn ("third", (const char *[]){ "--tls", "--trust-new",
                                                "--host", "127.0.0.1", "--port",
                                                fixture->port, NULL });
  child_expect (third, connecting);
  child_expect (third, "Could not connect to 127\\.0\\.0\\.1 port \\d+: "
                       "WARNING: the certificate of .* has CHANGED\\..*");
  child_expect_text (third, MENU_DISCONNECTED);
  child_finish (
    third, (const char *[]){ "Choice \\[1 or 7\\]: ", "Goodbye\\.", NULL });
}

/* --version, --help and an unknown option. */
static void
test_options (void)
{
  const char *version_args[] = { "--version", NULL };
  const char *help_args[] = { "--help", NULL };
  const char *bad_args[] = { "--no-such-option", NULL };
  g_autoptr (Child) version = cli_spawn ("version", version_args);
  g_autoptr (Child) help = cli_spawn ("help", help_args);
  g_autoptr (Child) bad = cli_spawn ("bad", bad_args);

  child_finish (version,
                (const char *[]){ "sockchat-cli " PACKAGE_VERSION, NULL });
  child_wait_for (help, "  -H, --host=ADDRESS .*");
  child_wait_for (help, "  -p, --port=PORT .*");
  child_wait_for (help, "  -n, --nickname=NAME .*");
  child_wait_for (help, "  -V, --version .*");
  child_finish (help, (const char *[]){ "", NULL });

  /* The error goes to standard error; standard output stays empty. */
  g_output_stream_close (bad->in, NULL, NULL);
  g_assert_null (child_read_line (bad));
  g_assert_cmpint (child_wait (bad), ==, 2);
}

/* Option 1 asks for a nickname too; an empty answer keeps the last one
 * (issue 13). */
static void
test_connect_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Child) cli = cli_spawn ("cli", NULL);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  child_expect_text (cli, MENU_DISCONNECTED);
  first = cli_connect_as (cli, fixture, "alice",
                          "Nickname (empty for none): ", "alice");
  child_send (cli, "2\n");
  child_expect_text (cli, CHOICE_CONNECTED "2");
  child_expect_text (cli, "Disconnected.");
  child_expect_text (cli, MENU_DISCONNECTED);
  second = cli_connect_as (cli, fixture, "", "Nickname [alice]: ", "alice");
  g_assert_cmpstr (first, !=, second);
  {
    const char *tail[] = { "Choice \\[1-7\\]: ", "Disconnected\\.",
                           "Goodbye\\.", NULL };

    child_finish (cli, tail);
  }
}

/* Reads the lines of one incoming message or notice: the first starts
 * with @head, and every other line up to one containing @last is a
 * marked continuation.  Fails on an escape, a bidi control, a line wider
 * than the 40 columns the caller set (a terminal would wrap it without a
 * mark) or a line that could pass for one of the client's own. */
static void
expect_marked_message (Child *cli, const char *head, const char *last)
{
  g_autofree char *first = NULL;

  do
    {
      g_free (first);
      first = child_read_line (cli);
      g_assert_nonnull (first);
    }
  while (!g_str_has_prefix (first, head));
  g_assert_null (strchr (first, '\x1b'));
  for (char *line = g_strdup (first); line != NULL;)
    {
      gboolean done = strstr (line, last) != NULL;

      g_assert_null (strchr (line, '\x1b'));
      g_assert_null (strstr (line, "\u202E"));
      /* Within the 40 columns, so that no terminal wraps it unmarked. */
      g_assert_cmpuint (g_utf8_strlen (line, -1), <=, 40);
      if (line != NULL && !g_str_equal (line, first) &&
          !g_str_has_prefix (line, "  | "))
        child_dump (cli);
      g_assert_true (g_str_equal (line, first) ||
                     g_str_has_prefix (line, "  | "));
      g_free (line);
      line = done ? NULL : child_read_line (cli);
      if (!done)
        g_assert_nonnull (line);
    }
}

/* A hostile sender's text: escapes, bidi overrides, its own line breaks
 * and padding that a narrow terminal would wrap into a fake line. */
static void
test_hostile_text (Fixture *fixture, gconstpointer data)
{
  const char *args[] = { "--host",     "127.0.0.1", "--port", fixture->port,
                         "--nickname", "bob",       NULL };
  g_autoptr (Child) bob = NULL;
  g_autoptr (ScTestPeer) mallory = NULL;
  g_autofree char *padded = NULL;
  g_autofree char *head = NULL;
  g_autoptr (ScMessage) reply = NULL;
  ScMessage *broadcast;
  ScMessage *rename;

  /* Pipes are no terminal: COLUMNS gives the width to wrap at. */
  g_setenv ("COLUMNS", "40", TRUE);
  bob = cli_spawn ("bob", args);
  g_unsetenv ("COLUMNS");
  child_wait_for (bob, MENU_CONNECTED);

  mallory = sc_test_peer_connect ((guint16) atoi (fixture->port));
  sc_message_free (sc_test_peer_hello (mallory, "mallory"));
  /* What fits the first line of 40 columns. */
  head = g_strdup_printf ("Message to everyone from client %u ",
                          sc_test_peer_get_id (mallory));

  broadcast = sc_message_new (SC_MSG_BROADCAST, 0);
  broadcast->text = g_strdup (
    "hi\x1b[2J\x1b[31m red \u202Eevil\r\nMessage from client 1 (alice) at "
    "10.0.0.1:4000: fake one\u2028second fake");
  sc_message_free (sc_test_peer_request (mallory, broadcast));
  expect_marked_message (bob, head, "second fake");

  padded =
    g_strdup_printf ("hi%*sMessage from client 1 (alice): fake two", 60, "");
  broadcast = sc_message_new (SC_MSG_BROADCAST, 0);
  broadcast->text = g_strdup (padded);
  sc_message_free (sc_test_peer_request (mallory, broadcast));
  expect_marked_message (bob, head, "fake two");

  /* A notice carries a nickname: padded, it must not wrap into a line of
   * its own either. */
  g_free (head);
  head =
    g_strdup_printf ("Client %u is now called", sc_test_peer_get_id (mallory));
  rename = sc_message_new (SC_MSG_SET_NICKNAME, 0);
  rename->nickname = g_strdup_printf ("a%*sClient 9 left", 17, "");
  reply = sc_test_peer_request (mallory, rename);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  expect_marked_message (bob, head, "left");
}

/* --password-file: a registered nickname is taken with the password in
 * the file, and refused without it.  Over plain TCP the password is sent
 * only with --allow-plaintext-password: without it the client refuses
 * before sending anything. */
static void
test_registered_nickname (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sockchat-cli-XXXXXX", NULL);
  g_autofree char *accounts = g_build_filename (dir, "accounts", NULL);
  g_autofree char *secret = g_build_filename (dir, "secret", NULL);
  /* Over plain TCP: --tls has its own test. */
  const char *server_args[] = { "--port",
                                "0",
                                "--bind",
                                "127.0.0.1",
                                "--accounts-file",
                                accounts,
                                "--allow-plaintext-password",
                                NULL };
  ScServerChildOptions options = { .args = server_args,
                                   .discard_stderr = TRUE };
  g_autoptr (ScServerChild) server = NULL;
  g_autoptr (Child) owner = NULL;
  g_autoptr (Child) stranger = NULL;
  g_autoptr (Child) careful = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *port = NULL;
  g_autofree char *connected = NULL;

  g_assert_true (sc_accounts_append (accounts, "alice", "wonderland", &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (secret, "wonderland\n", -1, &error));
  server = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  port = g_strdup_printf (
    "%u", sc_server_child_read_port (server, DEADLINE_US / 1000, &error));
  g_assert_no_error (error);

  {
    const char *args[] = { "--host",     "127.0.0.1", "--port",          port,
                           "--nickname", "alice",     "--password-file", secret,
                           NULL };
    careful = cli_spawn ("careful", args);
  }
  child_wait_for (careful, "Could not connect to 127\\.0\\.0\\.1 port \\d+: "
                           "the password would cross the network "
                           "unencrypted.*");
  {
    const char *args[] = { "--host",
                           "127.0.0.1",
                           "--port",
                           port,
                           "--nickname",
                           "alice",
                           "--password-file",
                           secret,
                           "--allow-plaintext-password",
                           NULL };
    owner = cli_spawn ("owner", args);
  }
  connected = g_strdup_printf (
    "Connected to 127\\.0\\.0\\.1 port %s as client \\d+ \\(alice\\)\\.", port);
  child_wait_for (owner, connected);
  child_wait_for (owner, MENU_CONNECTED);
  {
    const char *args[] = { "--host",     "127.0.0.1", "--port", port,
                           "--nickname", "Alice",     NULL };
    stranger = cli_spawn ("stranger", args);
  }
  child_wait_for (stranger, "Could not connect to 127\\.0\\.0\\.1 port \\d+: "
                            ".*registered.*");
  {
    const char *tail[] = { "Choice \\[1-7\\]: ", "Disconnected\\.",
                           "Goodbye\\.", NULL };

    child_finish (owner, tail);
  }
  g_assert_cmpint (sc_server_child_stop (server, DEADLINE_US / 1000, &error),
                   ==, 0);
  g_unlink (accounts);
  g_unlink (secret);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/cli/session", Fixture, NULL, fixture_setup, test_session,
              fixture_teardown);
  g_test_add_func ("/cli/menu/disconnected", test_disconnected_menu);
  g_test_add ("/cli/bad-input/choice", Fixture, NULL, fixture_setup,
              test_bad_choice, fixture_teardown);
  g_test_add_func ("/cli/bad-input/port", test_bad_port);
  g_test_add_func ("/cli/bad-input/host", test_bad_host);
  g_test_add ("/cli/bad-input/send", Fixture, NULL, fixture_setup,
              test_bad_send, fixture_teardown);
  g_test_add ("/cli/server-shutdown", Fixture, NULL, fixture_setup,
              test_server_shutdown, fixture_teardown);
  g_test_add_func ("/cli/options", test_options);
  g_test_add_func ("/cli/connect/registered-nickname",
                   test_registered_nickname);
  g_test_add ("/cli/connect/nickname", Fixture, NULL, fixture_setup,
              test_connect_nickname, fixture_teardown);
  g_test_add ("/cli/message/hostile-text", Fixture, NULL, fixture_setup,
              test_hostile_text, fixture_teardown);
  g_test_add ("/cli/tls", TlsFixture, NULL, tls_fixture_setup, test_tls,
              tls_fixture_teardown);
  return g_test_run ();
}
