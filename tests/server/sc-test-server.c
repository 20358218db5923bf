/* sc-test-server.c: the in-process server fixture. */
#include "config.h"

#include <glib/gstdio.h>

#include <stdlib.h>
#include <string.h>

#include "sc-server-private.h"
#include "sc-test-server.h"
#include "sc-test-tls.h"

/* Registers each "nickname:password" of @accounts in a new accounts file
 * in the test's own temporary directory, and loads it. */
static void
write_accounts (ScServerConfig *config, const char *const *accounts)
{
  g_autofree char *path =
    g_build_filename (g_get_user_runtime_dir (), "accounts", NULL);
  g_autoptr (GError) error = NULL;

  g_mkdir_with_parents (g_get_user_runtime_dir (), 0700);
  g_unlink (path);
  for (guint i = 0; accounts[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (accounts[i], ":", 2);

      g_assert_true (sc_accounts_append (path, parts[0], parts[1], &error));
      g_assert_no_error (error);
    }
  g_assert_true (sc_server_config_load_accounts (config, path, &error));
  g_assert_no_error (error);
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
  if (options->max_memory)
    config->max_memory = options->max_memory;
  if (options->write_timeout_s)
    config->write_timeout_s = options->write_timeout_s;
  if (options->fanout_rate)
    config->fanout_rate = options->fanout_rate;
  if (options->frame_timeout_s)
    config->frame_timeout_s = options->frame_timeout_s;
  if (options->max_pending)
    config->max_pending = options->max_pending;
  if (options->max_per_address)
    config->max_per_address = options->max_per_address;
  if (options->threads)
    config->threads = options->threads;
  config->accounts_only = options->accounts_only;
  config->hide_addresses = options->hide_addresses;
  if (options->accounts != NULL)
    write_accounts (config, options->accounts);
  config->allow_plaintext_password = !options->password_over_tls_only;
  config->no_plaintext = options->no_plaintext;
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
  fixture->config->allow_plaintext_password = TRUE;
  apply_options (fixture->config, data);
  if (data != NULL && ((const ScTestServerOptions *) data)->tls)
    {
      g_autoptr (GError) dir_error = NULL;

      fixture->tls_folder = g_dir_make_tmp ("sc-test-tls-XXXXXX", &dir_error);
      g_assert_no_error (dir_error);
      sc_test_tls_make_certificate (fixture->tls_folder, "server",
                                    &fixture->config->tls_cert,
                                    &fixture->config->tls_key);
      fixture->config->tls_port = 0;
    }

  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->port = sc_server_get_port (fixture->server);
  fixture->tls_port = sc_server_get_tls_port (fixture->server);
  g_assert_true (fixture->port != 0 || fixture->config->no_plaintext);
}

void
sc_test_server_teardown (ScTestServer *fixture, gconstpointer data)
{
  g_clear_pointer (&fixture->server, sc_server_free);
  if (fixture->tls_folder != NULL)
    {
      g_remove (fixture->config->tls_cert);
      g_remove (fixture->config->tls_key);
      g_rmdir (fixture->tls_folder);
      g_clear_pointer (&fixture->tls_folder, g_free);
    }
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

typedef struct
{
  ScServer *server;
  guint n_clients;
} NClients;

static gboolean
has_n_clients (gpointer data)
{
  NClients *wanted = data;

  return sc_server_get_n_clients (wanted->server) == wanted->n_clients;
}

/* Waits until the server counts exactly @n_clients open connections. */
void
sc_test_server_wait_n_clients (ScTestServer *fixture,
                               guint n_clients,
                               guint timeout_ms)
{
  NClients wanted = { fixture->server, n_clients };

  if (!sc_test_wait_until (has_n_clients, &wanted, timeout_ms))
    g_error ("the server still has %u clients, not %u, after %u ms",
             sc_server_get_n_clients (fixture->server), n_clients, timeout_ms);
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

/* Bytes the in-process server holds for its clients (its memory budget's
 * count, docs/RELIABILITY.md). */
gsize
sc_test_server_memory_held (ScTestServer *fixture)
{
  return sc_server_get_memory_held (fixture->server);
}

typedef struct
{
  ScTestServer *fixture;
  gsize bytes;
} MemoryTarget;

static gboolean
memory_below (gpointer data)
{
  MemoryTarget *target = data;

  return sc_server_get_memory_held (target->fixture->server) < target->bytes;
}

/* Waits until the server holds less than @bytes for its clients: its
 * workers release a connection's memory when they reap it. */
void
sc_test_server_wait_memory_below (ScTestServer *fixture,
                                  gsize bytes,
                                  guint timeout_ms)
{
  MemoryTarget target = { fixture, bytes };

  if (!sc_test_wait_until (memory_below, &target, timeout_ms))
    g_error ("the server still holds %" G_GSIZE_FORMAT " bytes after %u ms",
             sc_server_get_memory_held (fixture->server), timeout_ms);
}

int
sc_test_compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}
