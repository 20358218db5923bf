/* window-harness.c: what the window tests (test-window.c,
 * test-conversations.c, test-window-load.c) share: the fixture, the
 * stand-in notification daemon, the waiting helpers, the ways to drive a
 * window and the common main().  See window-harness.h. */
#include "config.h"

#include "window-harness.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sc-test-tls.h"
#include "sc-test-util.h"

gboolean have_display;
guint n_notifications;
guint n_closed_notifications;
char *last_notification; /* "summary|body" */

/* One application for the whole run: see window-harness.h. */
ScApplication *app;

/* ------------------------------------------------------------------ */
/* A stand-in notification daemon, so GNotification has someone to talk
 * to on the test's private session bus, and so the tests can count. */

static const char notifications_xml[] =
  "<node><interface name='org.freedesktop.Notifications'>"
  "<method name='Notify'>"
  "<arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "<arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "<arg type='s' direction='in'/><arg type='as' direction='in'/>"
  "<arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "<arg type='u' direction='out'/></method>"
  "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
  "<signal name='ActionInvoked'><arg type='u'/><arg type='s'/></signal>"
  "<signal name='NotificationClosed'><arg type='u'/><arg type='u'/></signal>"
  "</interface></node>";

static void
on_notifications_call (GDBusConnection *connection,
                       const char *sender,
                       const char *path,
                       const char *interface,
                       const char *method,
                       GVariant *parameters,
                       GDBusMethodInvocation *invocation,
                       gpointer data)
{
  if (g_str_equal (method, "Notify"))
    {
      const char *summary, *body;

      g_variant_get_child (parameters, 3, "&s", &summary);
      g_variant_get_child (parameters, 4, "&s", &body);
      g_free (last_notification);
      last_notification = g_strdup_printf ("%s|%s", summary, body);
      n_notifications++;
      g_dbus_method_invocation_return_value (
        invocation, g_variant_new ("(u)", n_notifications));
      return;
    }
  if (g_str_equal (method, "CloseNotification"))
    n_closed_notifications++;
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable notifications_vtable = {
  on_notifications_call, NULL, NULL, { 0 }
};

/* GIO holds the session bus singleton weakly: keep it open here. */
GDBusConnection *bus;

static void
start_notification_daemon (void)
{
  g_autoptr (GDBusNodeInfo) info = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  if (bus == NULL)
    return; /* no session bus: the window does not notify at all */
  info = g_dbus_node_info_new_for_xml (notifications_xml, NULL);
  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications",
                                     info->interfaces[0], &notifications_vtable,
                                     NULL, NULL, NULL);
  reply = g_dbus_connection_call_sync (
    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
    "org.freedesktop.DBus", "RequestName",
    g_variant_new ("(su)", "org.freedesktop.Notifications", 0x4), NULL,
    G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------ */
/* Helpers */

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @condition holds; fails after @timeout_ms.
 * The loop blocks until something is dispatched; a 5 ms tick makes sure
 * that a condition changed by another thread (or by the clock) is seen
 * soon, without sleeping between iterations. */
void
wait_for_ms (Condition condition,
             gpointer data,
             const char *what,
             guint timeout_ms)
{
  gint64 deadline =
    g_get_monotonic_time () + timeout_ms * G_GINT64_CONSTANT (1000);
  guint tick = g_timeout_add (5, wake_up, NULL);

  while (!condition (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

void
wait_for (Condition condition, gpointer data, const char *what)
{
  wait_for_ms (condition, data, what, WAIT_MS);
}

char *
log_text (ScWindow *window)
{
  GtkTextBuffer *buffer =
    gtk_text_view_get_buffer (GTK_TEXT_VIEW (window->log));
  GtkTextIter start, end;

  sc_message_log_flush (window->log);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static gboolean
log_contains (gpointer data)
{
  LogQuery *query = data;
  g_autofree char *text = log_text (query->window);

  return strstr (text, query->needle) != NULL;
}

void
wait_for_log (ScWindow *window, const char *needle)
{
  LogQuery query = { window, needle };
  g_autofree char *what = g_strdup_printf ("“%s” in the log", needle);

  wait_for (log_contains, &query, what);
}

gboolean
is_connected (gpointer data)
{
  ScWindow *window = data;

  return sc_client_get_state (window->client) == SC_CLIENT_STATE_CONNECTED;
}

gboolean
is_disconnected (gpointer data)
{
  ScWindow *window = data;

  return sc_client_get_state (window->client) == SC_CLIENT_STATE_DISCONNECTED;
}

gboolean
client_listed (gpointer data)
{
  ClientQuery *query = data;
  GtkTreeIter iter;

  return sc_client_list_find (query->window->client_list, query->id, &iter);
}

void
count_received (guint *n_received)
{
  (*n_received)++;
}

gboolean
action_enabled (ScWindow *window, const char *name)
{
  return g_action_group_get_action_enabled (G_ACTION_GROUP (window), name);
}

void
connect_window (Fixture *fixture, ScWindow *window, const char *nickname)
{
  g_autofree char *status = NULL;

  sc_window_set_server (window, "127.0.0.1", fixture->port, nickname);
  gtk_button_clicked (window->connect_button);
  wait_for (is_connected, window, "the window to connect");
  status = g_strdup_printf ("Connected to 127.0.0.1:%u as client %u",
                            fixture->port, sc_client_get_id (window->client));
  g_assert_nonnull (strstr (gtk_label_get_text (window->status_label), status));
}

/* Selects @id's row in @window's client list, as a click would. */
void
select_client (ScWindow *window, guint32 id)
{
  GtkTreeIter iter;

  if (!sc_client_list_find (window->client_list, id, &iter))
    {
      g_autofree char *what = g_strdup_printf ("client %u in the list", id);

      wait_for (client_listed, &(ClientQuery){ window, id }, what);
      g_assert_true (sc_client_list_find (window->client_list, id, &iter));
    }
  gtk_tree_selection_select_iter (
    gtk_tree_view_get_selection (window->client_view), &iter);
}

guint
n_rows (ScWindow *window)
{
  return sc_client_list_get_n_people (window->client_list);
}

/* The log of the conversation the window shows. */
GtkWidget *
visible_log (ScWindow *window)
{
  return GTK_WIDGET (sc_conversations_get_visible_log (window->conversations));
}

/* A key press as the composer gets it from the keyboard. */
void
send_key (GtkWidget *widget, guint keyval, GdkModifierType state)
{
  GdkEvent *event = gdk_event_new (GDK_KEY_PRESS);

  event->key.window = g_object_ref (gtk_widget_get_window (widget));
  event->key.keyval = keyval;
  event->key.state = state;
  event->key.time = GDK_CURRENT_TIME;
  gdk_event_set_device (
    event, gdk_seat_get_keyboard (
             gdk_display_get_default_seat (gtk_widget_get_display (widget))));
  gtk_widget_event (widget, event);
  gdk_event_free (event);
}

void
press_enter (ScWindow *window)
{
  send_key (GTK_WIDGET (window->message_view), GDK_KEY_Return, 0);
}

void
assert_composer (ScWindow *window, const char *expected)
{
  g_autofree char *text = sc_window_compose_get_text (window);

  g_assert_cmpstr (text, ==, expected);
}

/* ------------------------------------------------------------------ */
/* Fixture */

/* Mapped, viewable and laid out: the window has its size and its
 * children are allocated. */
static gboolean
window_drawn (ScWindow *window)
{
  GtkWidget *widget = GTK_WIDGET (window);
  GdkWindow *gdk_window = gtk_widget_get_window (widget);

  return gtk_widget_get_mapped (widget) && gdk_window != NULL &&
         gdk_window_is_viewable (gdk_window) &&
         gtk_widget_get_allocated_width (GTK_WIDGET (window->log)) > 1;
}

gboolean
windows_drawn (gpointer data)
{
  Fixture *fixture = data;

  for (guint i = 0; i < G_N_ELEMENTS (fixture->windows); i++)
    if (!window_drawn (fixture->windows[i]))
      return FALSE;
  return TRUE;
}

static gboolean
windows_finalized (gpointer data)
{
  Fixture *fixture = data;

  for (guint i = 0; i < G_N_ELEMENTS (fixture->windows); i++)
    if (fixture->windows[i] != NULL)
      return FALSE;
  return TRUE;
}

/* The pointer rests outside every window, so no test depends on which
 * widget it happens to hover (and no tooltip pops up over a window that
 * a test is about to destroy). */
static void
park_pointer (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  GdkSeat *seat = gdk_display_get_default_seat (display);
  GdkScreen *screen = gdk_display_get_default_screen (display);
  GdkMonitor *monitor = gdk_display_get_monitor (display, 0);
  GdkRectangle geometry;

  gdk_monitor_get_geometry (monitor, &geometry);
  gdk_device_warp (gdk_seat_get_pointer (seat), screen,
                   geometry.x + geometry.width - 1,
                   geometry.y + geometry.height - 1);
}

const FixtureOptions FIXTURE_TLS = { .tls = TRUE };

/* A TLS listener on 127.0.0.1:0 with a self-signed certificate made in
 * a folder of the test's own. */
static void
add_tls_listener (Fixture *fixture)
{
  g_autoptr (GError) error = NULL;

  fixture->folder = g_dir_make_tmp ("sc-gui-tls-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->config->tls_port = 0;
  sc_test_tls_make_certificate (fixture->folder, "server",
                                &fixture->config->tls_cert,
                                &fixture->config->tls_key);
}

static void
remove_tls_files (Fixture *fixture)
{
  if (fixture->folder == NULL)
    return;
  g_remove (fixture->config->tls_cert);
  g_remove (fixture->config->tls_key);
  g_rmdir (fixture->folder);
  g_clear_pointer (&fixture->folder, g_free);
}

void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  const FixtureOptions *options = data;
  g_autoptr (GError) error = NULL;

  if (!have_display)
    return;
  fixture->config = sc_server_config_new ();
  g_free (fixture->config->bind_address);
  fixture->config->bind_address = g_strdup ("127.0.0.1");
  fixture->config->port = 0;
  fixture->config->threads = 2;
  fixture->config->shutdown_grace_ms = 200;
  if (options != NULL && options->tls)
    add_tls_listener (fixture);
  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->port = sc_server_get_port (fixture->server);
  if (options != NULL && options->tls)
    fixture->tls_port = sc_server_get_tls_port (fixture->server);

  fixture->app = app;
  park_pointer ();
  for (guint i = 0; i < G_N_ELEMENTS (fixture->windows); i++)
    {
      fixture->windows[i] = sc_window_new (GTK_APPLICATION (fixture->app));
      g_object_add_weak_pointer (G_OBJECT (fixture->windows[i]),
                                 (gpointer *) &fixture->windows[i]);
      gtk_widget_show (GTK_WIDGET (fixture->windows[i]));
    }
  wait_for (windows_drawn, fixture, "both windows to be mapped and drawn");
}

void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (!have_display)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (fixture->windows); i++)
    if (fixture->windows[i])
      gtk_widget_destroy (GTK_WIDGET (fixture->windows[i]));
  wait_for (windows_finalized, fixture, "both windows to be finalized");
  g_clear_pointer (&fixture->server, sc_server_free);
  remove_tls_files (fixture);
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

void
window_test_add (const char *path, WindowTestFunc test)
{
  window_test_add_full (path, test, NULL);
}

void
window_test_add_full (const char *path,
                      WindowTestFunc test,
                      const FixtureOptions *options)
{
  g_test_add (path, Fixture, options, fixture_setup, test, fixture_teardown);
}

/* G_TEST_OPTION_ISOLATE_DIRS points XDG_DATA_DIRS at an empty directory,
 * but GTK needs the MIME database to load its own icons (gdk-pixbuf
 * sniffs their type) and the icon themes for ours; without them it
 * warns, which is fatal here.  Give both back the system's copies. */
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
window_test_main (int argc, char *argv[], void (*add_tests) (void))
{
  g_auto (GStrv) system_dirs = g_strdupv ((char **) g_get_system_data_dirs ());
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  signal (SIGPIPE, SIG_IGN);
  g_log_set_writer_func (sc_test_quiet_writer, NULL, NULL);
  have_display = gtk_init_check (&argc, &argv);
  if (have_display)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *id =
        g_strdup_printf ("io.github.sockchat.SockChat.Test%u", getpid ());

      restore_system_data (system_dirs);
      start_notification_daemon ();
      app = sc_application_new (id, G_APPLICATION_NON_UNIQUE);
      g_assert_true (
        g_application_register (G_APPLICATION (app), NULL, &error));
      g_assert_no_error (error);
    }
  else
    g_printerr ("# no display (is DISPLAY set? run under xvfb-run): "
                "skipping\n");

  add_tests ();
  status = g_test_run ();
  g_clear_object (&app);
  g_clear_object (&bus);
  return status;
}
