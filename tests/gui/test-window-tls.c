/* test-window-tls.c: the window's TLS controls (gui-client/sc-tls-status.c)
 * against an in-process server with a TLS listener and a self-signed
 * certificate made for the test.
 *
 * The TLS box turns TLS on and moves the usual port with it; a first
 * connection trusts the certificate, shows the lock and an info bar with
 * the fingerprint, and remembers it; a certificate that differs from the
 * remembered one is refused with the warning in the window's info bar.
 * Kept apart from test-window.c, as the code it tests is apart from the
 * window's; the fixture is the other window tests' (window-harness.h)
 * with FIXTURE_TLS. */
#include "config.h"

#include <string.h>

#include "sc-known-servers.h"
#include "sc-tls.h"
#include "window-harness.h"

static void
connect_tls (Fixture *fixture)
{
  sc_window_set_server (fixture->windows[0], "127.0.0.1", fixture->tls_port,
                        "alice");
  gtk_button_clicked (fixture->windows[0]->connect_button);
}

static void
test_first_use_and_changed (Fixture *fixture, gconstpointer data)
{
  ScWindow *window = fixture->windows[0];
  ScTlsStatus *tls;
  GtkToggleButton *check;
  g_autofree char *fingerprint = NULL;
  g_autofree char *path = sc_known_servers_default_path ();
  g_autofree char *remembered = NULL;
  g_autofree char *tooltip = NULL;
  const char *other = "00:11:22:33";

  SKIP_WITHOUT_DISPLAY ();
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

static void
add_tests (void)
{
  window_test_add_full ("/gui/window/tls", test_first_use_and_changed,
                        &FIXTURE_TLS);
}

int
main (int argc, char *argv[])
{
  return window_test_main (argc, argv, add_tests);
}
