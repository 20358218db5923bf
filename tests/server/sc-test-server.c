/* sc-test-server.c: the in-process server fixture. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sc-test-server.h"

/* The server logs every connection with g_message(); keep the TAP output
 * readable unless the test runs with --verbose.  Warnings and worse still
 * go through, and g_test_init() makes them fatal. */
static GLogWriterOutput
quiet_writer (GLogLevelFlags log_level,
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
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  /* The tests write to sockets the server may already have closed. */
  signal (SIGPIPE, SIG_IGN);
}

/* Worker threads for the server under test, from SC_TEST_THREADS (the
 * meson test registers every suite with 1 and with 4). */
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

static void
apply_options (ScServerConfig *config, const ScTestServerOptions *options)
{
  if (options == NULL)
    return;
  if (options->max_clients)
    config->max_clients = options->max_clients;
  if (options->max_payload)
    config->max_payload = options->max_payload;
  if (options->hello_timeout_s)
    config->hello_timeout_s = options->hello_timeout_s;
  if (options->idle_timeout_s)
    config->idle_timeout_s = options->idle_timeout_s;
  if (options->ping_timeout_s)
    config->ping_timeout_s = options->ping_timeout_s;
  if (options->output_cap)
    config->output_cap = options->output_cap;
  if (options->max_unacked)
    config->max_unacked = options->max_unacked;
  if (options->password)
    config->password = g_strdup (options->password);
  if (options->frame_timeout_s)
    config->frame_timeout_s = options->frame_timeout_s;
  if (options->max_pending)
    config->max_pending = options->max_pending;
  if (options->max_per_address)
    config->max_per_address = options->max_per_address;
}

void
sc_test_server_setup (ScTestServer *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->config = sc_server_config_new ();
  g_free (fixture->config->bind_address);
  fixture->config->bind_address = g_strdup ("127.0.0.1");
  fixture->config->port = 0;
  fixture->config->threads = sc_test_threads ();
  fixture->config->shutdown_grace_ms = 500;
  g_free (fixture->config->server_name);
  fixture->config->server_name = g_strdup ("sc-test-server");
  apply_options (fixture->config, data);

  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->port = sc_server_get_port (fixture->server);
  g_assert_cmpuint (fixture->port, !=, 0);
}

void
sc_test_server_teardown (ScTestServer *fixture, gconstpointer data)
{
  g_clear_pointer (&fixture->server, sc_server_free);
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

/* Polls until the server counts exactly @n_clients open connections. */
void
sc_test_server_wait_n_clients (ScTestServer *fixture,
                               guint n_clients,
                               guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint n = sc_server_get_n_clients (fixture->server);

  while (n != n_clients && g_get_monotonic_time () < deadline)
    {
      g_usleep (5000);
      n = sc_server_get_n_clients (fixture->server);
    }
  if (n != n_clients)
    g_error ("the server still has %u clients, not %u, after %u ms", n,
             n_clients, timeout_ms);
}

/* The resident set size of this process, in bytes. */
gsize
sc_test_vm_rss (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (
    g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return (gsize) g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* @length bytes of @fill.  (transfer full) */
char *
sc_test_text (gsize length, char fill)
{
  char *text = g_malloc (length + 1);

  memset (text, fill, length);
  text[length] = '\0';
  return text;
}
