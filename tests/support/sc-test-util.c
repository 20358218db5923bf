/* sc-test-util.c: test set-up, condition waits, replay directories and
 * the terminal client as a child; see sc-test-util.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "sc-test-util.h"

/* The programs under test log every connection with g_message(); keep
 * the TAP output readable unless the test runs with --verbose (outside
 * a GTest program, such as a fuzz target, g_test_verbose() is FALSE).
 * Warnings and worse still go through, and g_test_init() makes them
 * fatal. */
GLogWriterOutput
sc_test_quiet_writer (GLogLevelFlags log_level,
                      const GLogField *fields,
                      gsize n_fields,
                      gpointer user_data)
{
  if ((log_level &
       (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) != 0 &&
      !g_test_verbose ())
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

void
sc_test_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_log_set_writer_func (sc_test_quiet_writer, NULL, NULL);
  /* The tests write to sockets the server may already have closed. */
  signal (SIGPIPE, SIG_IGN);
}

/* Worker threads for the server under test, from SC_TEST_THREADS (meson
 * registers the server, client and fault suites with the counts they
 * need, several for most), else 1. */
guint
sc_test_threads (void)
{
  const char *text = g_getenv ("SC_TEST_THREADS");
  guint64 threads = 1;

  if (text != NULL &&
      !g_ascii_string_to_unsigned (text, 10, 1, 64, &threads, NULL))
    g_error ("SC_TEST_THREADS must be a number from 1 to 64, not “%s”", text);
  return (guint) threads;
}

/* Waits until @condition holds or @timeout_ms pass; returns whether it
 * holds.  For conditions that give no event to wait on (a count in
 * /proc, a process state, a socket queue's length): anything that can be
 * waited on with poll() or a GCond should be.  */
gboolean
sc_test_wait_until (ScTestCondition condition,
                    gpointer user_data,
                    guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gulong interval_us = 100;

  while (!condition (user_data))
    {
      if (g_get_monotonic_time () >= deadline)
        return condition (user_data);
      /* The polling interval of a condition nothing signals: it starts at
       * 0.1 ms and doubles up to 10 ms, so a quick condition is seen at
       * once and a slow one does not spin. */
      g_usleep (interval_us);
      interval_us = MIN (interval_us * 2, 10 * 1000);
    }
  return TRUE;
}

/* Reads and drops whatever comes on @fd until the peer closes the
 * connection (end of stream or an error); FALSE when @timeout_ms pass
 * first. */
gboolean
sc_test_drain_until_closed (int fd, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint8 buffer[16384];

  for (;;)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      struct pollfd pfd = { fd, POLLIN, 0 };
      ssize_t n;

      if (left_ms <= 0)
        return FALSE;
      if (poll (&pfd, 1, (int) left_ms) <= 0)
        continue;
      n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return TRUE;
    }
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The sample files of a fuzz corpus or crash directory, in name order so
 * that TAP output is stable: everything but hidden files and the README
 * that keeps the crashes directory in git.  NULL with @error set when
 * the directory cannot be read.  (transfer full) */
GPtrArray *
sc_test_sample_names (const char *directory, GError **error)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  g_return_val_if_fail (directory != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  dir = g_dir_open (directory, 0, error);
  if (dir == NULL)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && !g_str_has_suffix (name, ".md"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

static void
die_with_parent (gpointer user_data)
{
  /* Between fork and exec: async-signal-safe calls only.  A test that
   * aborts on a failed assertion must not leave the client running. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts the sockchat-cli binary (SC_CLI_BINARY, set by meson) with
 * @args (NULL-terminated, may be NULL) in the C locale, so that its
 * output can be checked against the untranslated strings.  (transfer
 * full) */
GSubprocess *
sc_test_cli_spawn (GSubprocessFlags flags,
                   const char *const *args,
                   GError **error)
{
  const char *binary = g_getenv ("SC_CLI_BINARY");
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  if (binary == NULL)
    g_error ("SC_CLI_BINARY is not set");
  g_ptr_array_add (argv, (gpointer) binary);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "C", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  return g_subprocess_launcher_spawnv (
    launcher, (const char *const *) argv->pdata, error);
}
