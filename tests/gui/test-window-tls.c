/* test-window-tls.c: the window's TLS controls (gui-client/sc-tls-status.c)
 * against an in-process server with a TLS listener and a self-signed
 * certificate made for the test.
 *
 * The TLS box turns TLS on and moves the usual port with it; a first
 * connection trusts the certificate, shows the lock and an info bar with
 * the fingerprint, and remembers it; a certificate that differs from the
 * remembered one is refused with the warning in the window's info bar.
 * Kept apart from test-window.c, as the code it tests is apart from the
 * window's. */
#include "config.h"

#include <signal.h>
#include <glib/gstdio.h>
#include <string.h>

#include "sc-application.h"
#include "sc-known-servers.h"
#include "sc-server.h"
#include "sc-test-tls.h"
#include "sc-test-util.h"
#include "sc-tls.h"
#include "sc-window-private.h"

#define WAIT_MS 10000

typedef gboolean (*Condition) (gpointer data);

static gboolean have_display;
static ScApplication *app;

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @condition holds; fails after WAIT_MS. */
static void
wait_for (Condition condition, gpointer data, const char *what)
{
  gint64 deadline =
    g_get_monotonic_time () + WAIT_MS * G_GINT64_CONSTANT (1000);
  guint tick = g_timeout_add (5, wake_up, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

static gboolean
is_connected (gpointer data)
{
  ScWindow *window = data;

  return sc_client_get_state (window->client) == SC_CLIENT_STATE_CONNECTED;
}

static gboolean
is_disconnected (gpointer data)
{
  ScWindow *window = data;

  return sc_client_get_state (window->client) == SC_CLIENT_STATE_DISCONNECTED;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (data));
}

typedef struct
{
  ScServer *server;
  ScServerConfig *config;
  char *folder;
  guint16 tls_port;
  ScWindow *window;
} Fixture;

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!have_display)
    return;
  fixture->folder = g_dir_make_tmp ("sc-gui-tls-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->config = sc_server_config_new ();
  g_free (fixture->config->bind_address);
  fixture->config->bind_address = g_strdup ("127.0.0.1");
  fixture->config->port = 0;
  fixture->config->tls_port = 0;
  fixture->config->threads = 2;
  fixture->config->shutdown_grace_ms = 200;
  sc_test_tls_make_certificate (fixture->folder, "server",
                                &fixture->config->tls_cert,
                                &fixture->config->tls_key);
  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->tls_port = sc_server_get_tls_port (fixture->server);

  fixture->window = sc_window_new (GTK_APPLICATION (app));
  g_object_add_weak_pointer (G_OBJECT (fixture->window),
                             (gpointer *) &fixture->window);
  gtk_widget_show (GTK_WIDGET (fixture->window));
  wait_for (is_mapped, fixture->window, "the window to be mapped");
}

static gboolean
window_gone (gpointer data)
{
  return ((Fixture *) data)->window == NULL;
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (!have_display)
    return;
  gtk_widget_destroy (GTK_WIDGET (fixture->window));
  wait_for (window_gone, fixture, "the window to be finalized");
  g_clear_pointer (&fixture->server, sc_server_free);
  g_remove (fixture->config->tls_cert);
  g_remove (fixture->config->tls_key);
  g_rmdir (fixture->folder);
  g_free (fixture->folder);
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

static void
connect_tls (Fixture *fixture)
{
  sc_window_set_server (fixture->window, "127.0.0.1", fixture->tls_port,
                        "alice");
  gtk_button_clicked (fixture->window->connect_button);
}

static void
test_first_use_and_changed (Fixture *fixture, gconstpointer data)
{
  ScWindow *window = fixture->window;
  ScTlsStatus *tls;
  GtkToggleButton *check;
  g_autofree char *fingerprint = NULL;
  g_autofree char *path = sc_known_servers_default_path ();
  g_autofree char *remembered = NULL;
  g_autofree char *tooltip = NULL;
  const char *other = "00:11:22:33";

  if (!have_display)
    {
      g_test_skip ("no display: set DISPLAY (run under xvfb-run)");
      return;
    }
  tls = window->tls_status;
  check = sc_tls_status_get_check_button (tls);
  fingerprint = sc_tls_fingerprint_file (fixture->config->tls_cert, NULL);

  /* The box: TLS on, and the usual port follows. */
  g_assert_false (gtk_toggle_button_get_active (check));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->port_spin), ==,
                   SC_DEFAULT_PORT);
  gtk_toggle_button_set_active (check, TRUE);
  g_assert_true (sc_client_get_tls (window->client));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->port_spin), ==,
                   SC_TLS_DEFAULT_PORT);
  g_assert_false (gtk_widget_get_visible (sc_tls_status_get_lock (tls)));

  /* First use: trusted, shown, remembered. */
  connect_tls (fixture);
  wait_for (is_connected, window, "the window to connect over TLS");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (check)));
  g_assert_true (gtk_widget_get_visible (sc_tls_status_get_lock (tls)));
  tooltip = gtk_widget_get_tooltip_text (sc_tls_status_get_lock (tls));
  g_assert_nonnull (strstr (tooltip, fingerprint));
  g_assert_true (
    gtk_widget_get_visible (sc_tls_status_get_first_use_bar (tls)));
  g_assert_nonnull (
    strstr (sc_tls_status_get_first_use_text (tls), fingerprint));
  remembered =
    sc_known_servers_lookup (path, "127.0.0.1", fixture->tls_port, NULL);
  g_assert_cmpstr (remembered, ==, fingerprint);

  /* Another certificate is remembered now: refused, with the warning. */
  gtk_button_clicked (window->disconnect_button);
  wait_for (is_disconnected, window, "the window to disconnect");
  g_assert_false (gtk_widget_get_visible (sc_tls_status_get_lock (tls)));
  g_assert_true (sc_known_servers_remember (path, "127.0.0.1",
                                            fixture->tls_port, other, NULL));
  connect_tls (fixture);
  wait_for (is_disconnected, window, "the connection to be refused");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->info_bar)));
  g_assert_nonnull (
    strstr (gtk_label_get_text (window->info_label), "CHANGED"));
  g_assert_cmpuint (window->retry_source, ==, 0);
  g_assert_false (gtk_widget_get_visible (sc_tls_status_get_lock (tls)));
}

/* As test-window.c does: the isolated XDG_DATA_DIRS has neither the
 * MIME database nor the icon themes GTK needs for its own icons. */
static void
restore_system_data (char **system_dirs)
{
  g_autoptr (GPtrArray) mime_dirs = g_ptr_array_new_with_free_func (g_free);
  GtkIconTheme *theme = gtk_icon_theme_get_default ();

  for (guint i = 0; system_dirs[i]; i++)
    {
      g_autofree char *icons = g_build_filename (system_dirs[i], "icons", NULL);

      g_ptr_array_add (mime_dirs,
                       g_build_filename (system_dirs[i], "mime", NULL));
      gtk_icon_theme_append_search_path (theme, icons);
    }
  g_ptr_array_add (mime_dirs, NULL);
  g_content_type_set_mime_dirs ((const char *const *) mime_dirs->pdata);
}

int
main (int argc, char *argv[])
{
  g_auto (GStrv) system_dirs = g_strdupv ((char **) g_get_system_data_dirs ());

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_log_set_writer_func (sc_test_quiet_writer, NULL, NULL);
  have_display = gtk_init_check (&argc, &argv);
  if (have_display)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *id =
        g_strdup_printf ("io.github.sockchat.SockChat.TlsTest%u", getpid ());

      restore_system_data (system_dirs);
      app = sc_application_new (id, G_APPLICATION_NON_UNIQUE);
      g_assert_true (
        g_application_register (G_APPLICATION (app), NULL, &error));
      g_assert_no_error (error);
    }
  g_test_add ("/gui/window/tls", Fixture, NULL, fixture_setup,
              test_first_use_and_changed, fixture_teardown);
  return g_test_run ();
}
