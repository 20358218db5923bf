/* test-window.c: the desktop client's window, driven through its real
 * buttons and actions against an in-process server on 127.0.0.1:0: the
 * lab's seven actions, the defects of issue 13, renaming, the menu and
 * the window shortcuts.
 * Conversations, search, history and notifications are in
 * test-conversations.c; the flood and the stopped server, with their
 * timing bounds, in test-window-load.c.
 * Needs a display (Xvfb in CI); without one every test is skipped. */
#include "config.h"

#include <string.h>

#include "sc-preferences.h"
#include "sc-status-text.h"
#include "sc-accounts.h"
#include "window-harness.h"

static const char *const window_actions[] = {
  "connect", "disconnect", "get-time", "get-name", "list-clients", "send",
};

/* Only Connect is enabled when disconnected (and app.quit, always). */
static void
assert_disconnected_actions (Fixture *fixture, ScWindow *window)
{
  g_assert_true (action_enabled (window, "connect"));
  for (guint i = 1; i < G_N_ELEMENTS (window_actions); i++)
    g_assert_false (action_enabled (window, window_actions[i]));
  g_assert_true (
    g_action_group_get_action_enabled (G_ACTION_GROUP (fixture->app), "quit"));
}

/* ------------------------------------------------------------------ */
/* Tests */

static void
test_initial_state (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  GtkButton *buttons[7];

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  assert_disconnected_actions (fixture, window);
  g_assert_cmpstr (gtk_entry_get_text (window->host_entry), ==, "127.0.0.1");
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->port_spin), ==,
                   5330);
  g_assert_cmpuint (sc_message_log_get_max_lines (window->log), ==, 5000);

  /* Every button has a tooltip and an accessible name. */
  buttons[0] = window->connect_button;
  buttons[1] = window->disconnect_button;
  buttons[2] = window->time_button;
  buttons[3] = window->name_button;
  buttons[4] = window->list_button;
  buttons[5] = window->send_button;
  buttons[6] = window->quit_button;
  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    {
      AtkObject *accessible =
        gtk_widget_get_accessible (GTK_WIDGET (buttons[i]));
      g_autofree char *tooltip =
        gtk_widget_get_tooltip_text (GTK_WIDGET (buttons[i]));

      g_assert_nonnull (tooltip);
      g_assert_cmpstr (atk_object_get_name (accessible), !=, "");
      g_assert_nonnull (
        gtk_actionable_get_action_name (GTK_ACTIONABLE (buttons[i])));
    }
}

static void
test_connect (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  g_autoptr (GSettings) settings = NULL;
  g_autofree char *nickname = NULL;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, "alice");
  wait_for_log (window, "Connected to 127.0.0.1");
  g_assert_false (action_enabled (window, "connect"));
  for (guint i = 1; i < G_N_ELEMENTS (window_actions); i++)
    if (!g_str_equal (window_actions[i], "send"))
      g_assert_true (action_enabled (window, window_actions[i]));
  /* Send waits for a recipient and a text, and says so. */
  g_assert_false (action_enabled (window, "send"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->compose_hint)));
  /* The server is remembered for the next run. */
  settings = g_settings_new (APPLICATION_ID);
  g_assert_cmpuint (g_settings_get_uint (settings, "port"), ==, fixture->port);
  nickname = g_settings_get_string (settings, "nickname");
  g_assert_cmpstr (nickname, ==, "alice");
}

static void
test_time_and_name (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, NULL);
  gtk_button_clicked (window->time_button);
  wait_for_log (window, "Server time:");
  gtk_button_clicked (window->name_button);
  wait_for_log (window, "Server name:");
  wait_for_log (window, g_get_host_name ());
}

static gboolean
has_two_rows (gpointer data)
{
  return n_rows (data) == 2;
}

static void
test_list_two_clients (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  GtkTreeModel *model;
  GtkTreeIter iter;
  guint n_self = 0;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  gtk_button_clicked (a->list_button);
  wait_for_log (a, "2 clients connected");
  wait_for (has_two_rows, a, "two rows in the client list");
  wait_for (has_two_rows, b, "two rows in the second window's list");

  /* Exactly one row, our own, is marked. */
  model = GTK_TREE_MODEL (a->client_list);
  g_assert_true (gtk_tree_model_get_iter_first (model, &iter));
  do
    {
      g_autofree char *shown = NULL;
      guint id;
      gboolean is_self;
      int weight;

      gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &id,
                          SC_CLIENT_LIST_COLUMN_IS_SELF, &is_self,
                          SC_CLIENT_LIST_COLUMN_WEIGHT, &weight,
                          SC_CLIENT_LIST_COLUMN_DISPLAY, &shown, -1);
      if (is_self)
        {
          n_self++;
          g_assert_cmpuint (id, ==, sc_client_get_id (a->client));
          g_assert_cmpstr (shown, ==, "alice (you)");
          g_assert_cmpint (weight, ==, PANGO_WEIGHT_BOLD);
        }
    }
  while (gtk_tree_model_iter_next (model, &iter));
  g_assert_cmpuint (n_self, ==, 1);

  /* A leaving client disappears from the other window's list. */
  gtk_button_clicked (b->disconnect_button);
  wait_for_log (a, "left");
  g_assert_cmpuint (n_rows (a), ==, 1);
}

static void
test_send_delivered (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  sc_window_compose_set_text (a, "hello bob, how are you?");
  gtk_button_clicked (a->send_button);
  assert_composer (a, "");
  wait_for_log (b, "hello bob, how are you?");
  wait_for_log (b, "alice");
  wait_for_log (a, "hello bob, how are you?  delivered");

  /* Enter in the entry sends too, here as a broadcast. */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (b->broadcast_check), TRUE);
  sc_window_compose_set_text (b, "hi all");
  press_enter (b);
  wait_for_log (a, "hi all");
  wait_for_log (b, "hi all  delivered");

  /* "/msg N text", the lab's "send to client N", goes to whoever has
   * that id now, and says so. */
  g_assert_cmpuint (sc_client_get_id (a->client), ==, 1);
  wait_for (client_listed, &(ClientQuery){ b, 1 }, "alice in bob's list");
  sc_window_compose_set_text (b, "/msg 1 via the command");
  g_assert_true (action_enabled (b, "send"));
  press_enter (b);
  wait_for_log (a, "via the command");
  wait_for_log (b, "→ #1 alice: via the command  delivered");

  /* A number nobody has is refused before anything is sent. */
  sc_window_compose_set_text (a, "/msg 999 anyone there?");
  press_enter (a);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (a->compose_hint)));
  g_assert_nonnull (
    strstr (gtk_label_get_text (a->compose_hint), "No client #999"));
  assert_composer (a, "/msg 999 anyone there?");
}

static void
test_disconnect (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, NULL);
  gtk_button_clicked (window->disconnect_button);
  wait_for (is_disconnected, window, "the window to disconnect");
  assert_disconnected_actions (fixture, window);
  g_assert_cmpstr (gtk_label_get_text (window->status_label), ==,
                   "Disconnected");
  wait_for_log (window, "Disconnected");
  g_assert_false (gtk_info_bar_get_revealed (window->info_bar));
  /* And it connects again. */
  connect_window (fixture, window, NULL);
}

static void
test_server_shutdown (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, NULL);
  sc_server_stop (fixture->server);
  wait_for (is_disconnected, window, "the window to notice the shutdown");
  wait_for_log (window, "The server shut down");
  assert_disconnected_actions (fixture, window);
  g_assert_true (gtk_info_bar_get_revealed (window->info_bar));
  g_assert_true (
    gtk_widget_get_visible (GTK_WIDGET (window->reconnect_button)));
  g_assert_nonnull (
    strstr (gtk_label_get_text (window->info_label), "Reconnecting"));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (window->status_label),
                                   "Disconnected: "));
  g_assert_cmpuint (window->retry_source, !=, 0);
}

static void
test_connect_refused (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  guint16 port;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  /* Nothing listens on the server's port once it is stopped. */
  port = fixture->port;
  sc_server_stop (fixture->server);
  sc_window_set_server (window, "127.0.0.1", port, NULL);
  gtk_button_clicked (window->connect_button);
  wait_for_log (window, "Could not connect to 127.0.0.1");
  g_assert_true (gtk_info_bar_get_revealed (window->info_bar));
  g_assert_nonnull (
    strstr (gtk_label_get_text (window->info_label), "Could not connect"));
  g_assert_true (is_disconnected (window));
  assert_disconnected_actions (fixture, window);
  /* A failed first attempt is the user's to repeat, not retried. */
  g_assert_cmpuint (window->retry_source, ==, 0);
}

/* A registered nickname from the window: its password goes in the
 * Password field (never saved); without it, or with a wrong one, the
 * window says why in words, and the right one connects.  Over plain TCP
 * the window sends it only when the settings allow it; the server's
 * TLS-only rule has its own tests (tests/server/test-server-tls.c). */
static void
test_registered_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScServerConfig) config = sc_server_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *accounts =
    g_build_filename (g_get_user_runtime_dir (), "accounts", NULL);
  ScWindow *window;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  g_mkdir_with_parents (g_get_user_runtime_dir (), 0700);
  g_assert_true (sc_accounts_append (accounts, "alice", "wonderland", &error));
  g_assert_no_error (error);
  g_clear_pointer (&fixture->server, sc_server_free);
  g_free (config->bind_address);
  config->bind_address = g_strdup ("127.0.0.1");
  config->port = fixture->port;
  config->allow_plaintext_password = TRUE;
  g_assert_true (sc_server_config_load_accounts (config, accounts, &error));
  g_assert_no_error (error);
  fixture->server = sc_server_new (config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);

  sc_window_set_server (window, "127.0.0.1", fixture->port, "alice");
  /* Without TLS, a password stays home unless the settings allow it. */
  gtk_entry_set_text (window->password_entry, "wonderland");
  gtk_button_clicked (window->connect_button);
  wait_for_log (window, "the password is sent over TLS only");
  g_assert_true (is_disconnected (window));
  g_settings_set_boolean (window->settings, "allow-plaintext-password", TRUE);

  gtk_entry_set_text (window->password_entry, "");
  gtk_button_clicked (window->connect_button);
  wait_for_log (window, "that nickname is registered: its password is needed");
  g_assert_true (is_disconnected (window));

  gtk_entry_set_text (window->password_entry, "mad hatter");
  gtk_button_clicked (window->connect_button);
  wait_for_log (window, "the password was not accepted");
  g_assert_true (is_disconnected (window));

  gtk_entry_set_text (window->password_entry, "wonderland");
  g_signal_emit_by_name (window->password_entry, "activate");
  wait_for (is_connected, window, "alice to connect with her password");
  g_assert_cmpstr (sc_client_get_nickname (window->client), ==, "alice");
  g_assert_false (gtk_entry_get_visibility (window->password_entry));
  g_settings_reset (window->settings, "allow-plaintext-password");
}

/* --- defects of issue 13 ------------------------------------------- */

static void
on_plain_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (sc_client_connect_finish (SC_CLIENT (source), result, &error));
  g_assert_no_error (error);
}

static gboolean
client_is_connected (gpointer data)
{
  return sc_client_get_state (data) == SC_CLIENT_STATE_CONNECTED;
}

/* A client core without a window, counting what it receives. */
static ScClient *
plain_client_new (guint16 port, const char *nickname, guint *n_received)
{
  ScClient *client = sc_client_new ("test");

  sc_client_set_heartbeat_interval (client, 0);
  g_signal_connect_swapped (client, "message-received",
                            G_CALLBACK (count_received), n_received);
  sc_client_connect_async (client, "127.0.0.1", port, nickname, NULL,
                           on_plain_connected, NULL);
  wait_for (client_is_connected, client, "a plain client to connect");
  return client;
}

static gboolean
hint_says_why (ScWindow *window)
{
  return gtk_widget_get_visible (GTK_WIDGET (window->compose_hint)) &&
         *gtk_label_get_text (window->compose_hint) != '\0';
}

static void
restart_server (Fixture *fixture)
{
  g_autoptr (ScServerConfig) config = sc_server_config_new ();
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&fixture->server, sc_server_free);
  g_free (config->bind_address);
  config->bind_address = g_strdup ("127.0.0.1");
  config->port = fixture->port;
  config->threads = 2;
  config->shutdown_grace_ms = 200;
  fixture->server = sc_server_new (config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
}

/* Defect 1: after a server restart, the id alice had picked belongs to
 * someone else; nothing may go to them.  A fresh window has nobody
 * picked, so a first Enter sends to nobody either. */
static void
test_recipient_is_a_person (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  g_autoptr (ScClient) mallory = NULL;
  g_autoptr (ScClient) eve = NULL;
  guint n_mallory = 0, n_eve = 0, n_bob = 0;
  guint32 bob_id;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  bob_id = sc_client_get_id (b->client);
  g_signal_connect_swapped (b->client, "message-received",
                            G_CALLBACK (count_received), &n_bob);

  /* Nobody picked: Enter sends nothing and says why. */
  g_assert_cmpstr (gtk_label_get_text (a->recipient_label), ==,
                   "To: nobody yet");
  sc_window_compose_set_text (a, "first enter");
  g_assert_false (action_enabled (a, "send"));
  press_enter (a);
  g_assert_true (hint_says_why (a));
  assert_composer (a, "first enter");

  /* Picking bob's row picks bob. */
  select_client (a, bob_id);
  g_assert_true (action_enabled (a, "send"));
  g_assert_nonnull (strstr (gtk_label_get_text (a->recipient_label), "bob"));
  press_enter (a);
  wait_for_log (b, "first enter");
  g_signal_handlers_disconnect_by_data (b->client, &n_bob);

  /* The server restarts; ids start again from 1, and bob's old id goes
   * to eve, who connects before anyone else is back. */
  gtk_button_clicked (b->disconnect_button);
  sc_server_stop (fixture->server);
  wait_for (is_disconnected, a, "alice to notice the server going");
  restart_server (fixture);
  mallory = plain_client_new (fixture->port, "mallory", &n_mallory);
  eve = plain_client_new (fixture->port, "eve", &n_eve);
  g_assert_cmpuint (sc_client_get_id (eve), ==, bob_id);
  gtk_info_bar_response (a->info_bar, 1); /* Reconnect now */
  wait_for (is_connected, a, "alice to reconnect");
  wait_for (client_listed, &(ClientQuery){ a, bob_id }, "eve in the list");

  /* Bob is gone, whoever has his old number now: Send is off, the
   * composer says so, and Enter delivers nothing to anyone. */
  g_assert_nonnull (strstr (gtk_label_get_text (a->recipient_label), "gone"));
  sc_window_compose_set_text (a, "for bob only");
  g_assert_false (action_enabled (a, "send"));
  press_enter (a);
  g_assert_true (hint_says_why (a));
  g_assert_nonnull (
    strstr (gtk_label_get_text (a->compose_hint), "no longer connected"));
  gtk_button_clicked (a->time_button);
  wait_for_log (a, "Server time:");
  g_assert_cmpuint (n_eve, ==, 0);
  g_assert_cmpuint (n_mallory, ==, 0);
  g_signal_handlers_disconnect_by_data (eve, &n_eve);
  g_signal_handlers_disconnect_by_data (mallory, &n_mallory);
}

/* Defect 2: a number typed into Port is used when Enter is pressed in
 * it, not the value from before. */
static void
test_typed_port (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  g_autofree char *typed = NULL;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  /* Nothing listens on port 1. */
  sc_window_set_server (window, "127.0.0.1", 1, "typist");
  typed = g_strdup_printf ("%u", fixture->port);
  gtk_widget_grab_focus (GTK_WIDGET (window->port_spin));
  gtk_entry_set_text (GTK_ENTRY (window->port_spin), typed);
  g_signal_emit_by_name (window->port_spin, "activate");
  wait_for (is_connected, window, "the window to connect to the typed port");
  g_assert_cmpuint (sc_client_get_port (window->client), ==, fixture->port);
}

/* Defect 6, the composer: no silent no-ops, no blank messages, no
 * Broadcast left ticked. */
static void
test_composer_says_why (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  GtkToggleButton *broadcast;
  guint n_bob = 0;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  broadcast = GTK_TOGGLE_BUTTON (a->broadcast_check);

  /* Disconnected: Enter says so. */
  sc_window_compose_set_text (a, "hello?");
  press_enter (a);
  g_assert_true (hint_says_why (a));
  g_assert_nonnull (strstr (gtk_label_get_text (a->compose_hint), "Connect"));

  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  g_signal_connect_swapped (b->client, "message-received",
                            G_CALLBACK (count_received), &n_bob);
  select_client (a, sc_client_get_id (b->client));

  /* Empty and blank texts: Send is off and Enter says what is missing. */
  sc_window_compose_set_text (a, "");
  g_assert_false (action_enabled (a, "send"));
  press_enter (a);
  g_assert_true (hint_says_why (a));
  sc_window_compose_set_text (a, "   \t ");
  g_assert_false (action_enabled (a, "send"));
  press_enter (a);
  g_assert_true (hint_says_why (a));
  g_assert_nonnull (strstr (gtk_label_get_text (a->compose_hint), "Type"));

  /* A real text: the hint goes, Send comes on. */
  sc_window_compose_set_text (a, "a real one");
  g_assert_true (action_enabled (a, "send"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (a->compose_hint)));

  /* A broadcast is sent once; the box is not left ticked. */
  gtk_toggle_button_set_active (broadcast, TRUE);
  g_assert_cmpstr (gtk_label_get_text (a->recipient_label), ==, "To: everyone");
  gtk_button_clicked (a->send_button);
  g_assert_false (gtk_toggle_button_get_active (broadcast));
  wait_for_log (a, "a real one  delivered");
  g_assert_cmpuint (n_bob, ==, 1);
  g_signal_handlers_disconnect_by_data (b->client, &n_bob);
}

static gboolean
countdown_shows (gpointer data)
{
  LogQuery *query = data;

  return strstr (gtk_label_get_text (query->window->info_label),
                 query->needle) != NULL;
}

static guint
count_in_log (ScWindow *window, const char *needle)
{
  g_autofree char *text = log_text (window);
  guint n = 0;

  for (const char *p = strstr (text, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* Defect 6: the reconnect wait counts down, and failed attempts do not
 * add a red line each. */
static void
test_reconnect_countdown (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  AtkObject *bar;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, NULL);
  sc_server_stop (fixture->server);
  wait_for (is_disconnected, window, "the window to notice the shutdown");
  /* Attempt 1 waits 1 s and fails; attempt 2 waits 2 s, counted down. */
  wait_for (countdown_shows, &(LogQuery){ window, "in 2 seconds (attempt 2)" },
            "the second attempt's countdown");
  wait_for (countdown_shows, &(LogQuery){ window, "in 1 second (attempt 2)" },
            "the countdown to count");
  wait_for (countdown_shows, &(LogQuery){ window, "(attempt 3)" },
            "the third attempt");
  g_assert_cmpuint (count_in_log (window, "Could not connect"), ==, 0);
  g_assert_cmpuint (count_in_log (window, "The server shut down"), ==, 1);

  /* The bar is named for what it holds, and each of its buttons too. */
  bar = gtk_widget_get_accessible (GTK_WIDGET (window->info_bar));
  g_assert_cmpstr (atk_object_get_name (bar), ==, "Warning");
  g_assert_cmpstr (atk_object_get_name (gtk_widget_get_accessible (
                     GTK_WIDGET (window->close_info_button))),
                   ==, "Dismiss");
  gtk_button_clicked (window->close_info_button);
  g_assert_false (gtk_info_bar_get_revealed (window->info_bar));
  g_assert_cmpuint (window->retry_source, ==, 0);
  sc_window_show_info (window, GTK_MESSAGE_ERROR, FALSE, "boom");
  g_assert_cmpstr (atk_object_get_name (bar), ==, "Error");
}

/* Defect 6: List clients keeps the selected row, writes one line, and
 * typing in the list finds a name or an id. */
static void
test_list_keeps_selection (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  GtkTreeSelection *selection;
  GtkTreeModel *model;
  GtkTreeIter iter;
  GtkTreeViewSearchEqualFunc equal;
  g_autofree char *key = NULL;
  int column;
  guint id = 0;
  guint32 bob_id;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  bob_id = sc_client_get_id (b->client);
  select_client (a, bob_id);
  gtk_button_clicked (a->list_button);
  wait_for_log (a, "2 clients connected");
  selection = gtk_tree_view_get_selection (a->client_view);
  g_assert_true (gtk_tree_selection_get_selected (selection, &model, &iter));
  gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &id, -1);
  g_assert_cmpuint (id, ==, bob_id);
  g_assert_cmpuint (count_in_log (a, "alice 127.0.0.1"), ==, 0);

  /* Type-ahead, as the view is set up to do it (the search entry itself
   * needs keyboard focus, which Xvfb without a window manager does not
   * give): "ALI" finds alice's row, "#N" and "N" find ids, "ali" does
   * not find bob. */
  equal = gtk_tree_view_get_search_equal_func (a->client_view);
  column = gtk_tree_view_get_search_column (a->client_view);
  g_assert_true (gtk_tree_view_get_enable_search (a->client_view));
  g_assert_true (
    sc_client_list_find (a->client_list, sc_client_get_id (a->client), &iter));
  g_assert_false (equal (model, column, "ALI", &iter, NULL));
  g_assert_true (sc_client_list_find (a->client_list, bob_id, &iter));
  g_assert_true (equal (model, column, "ali", &iter, NULL));
  g_assert_false (equal (model, column, "bo", &iter, NULL));
  key = g_strdup_printf ("#%u", bob_id);
  g_assert_false (equal (model, column, key, &iter, NULL));
  g_assert_false (equal (model, column, key + 1, &iter, NULL));
}

/* Defect 6: a sent message still "accepted" when the connection goes
 * does not stay so. */
static void
test_abandoned_receipts (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  guint handle;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  connect_window (fixture, window, NULL);
  handle = sc_message_log_append_sent (window->log, "→ #9 ghost:", "boo");
  sc_message_log_sent_accepted (window->log, handle, 12345, 1);
  wait_for_log (window, "boo  accepted");
  gtk_button_clicked (window->disconnect_button);
  wait_for_log (window, "boo  unconfirmed: disconnected");
  g_assert_cmpuint (count_in_log (window, "accepted"), ==, 0);
}

/* Defect 6: the server's English reasons are not shown; the status code
 * picks a translatable text. */
static void
test_status_texts (void)
{
  g_autoptr (GError) refused = g_error_new_literal (
    SC_STATUS_ERROR, SC_STATUS_NO_SUCH_CLIENT, "no client with id 999");
  g_autofree char *text = sc_error_text (refused);

  g_assert_cmpstr (text, ==, sc_status_text (SC_STATUS_NO_SUCH_CLIENT));
  g_assert_cmpstr (text, !=, refused->message);
  for (guint status = SC_STATUS_OK; status <= SC_STATUS_INTERNAL; status++)
    g_assert_cmpstr (sc_status_text (status), !=,
                     sc_status_text (SC_STATUS_INTERNAL + 1));
}

/* Defect 3: the log follows new lines while at the bottom, through
 * trimming and the info bar coming and going; scrolled up, it stays
 * where the user is and offers a way down. */
static GtkAdjustment *
log_adjustment (ScWindow *window)
{
  return gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (window->log));
}

/* The line at the top (@bottom FALSE) or bottom of the visible part. */
static int
visible_line (ScWindow *window, gboolean bottom)
{
  GdkRectangle rect;
  GtkTextIter iter;

  gtk_text_view_get_visible_rect (GTK_TEXT_VIEW (window->log), &rect);
  gtk_text_view_get_iter_at_location (GTK_TEXT_VIEW (window->log), &iter, 0,
                                      bottom ? rect.y + rect.height - 1
                                             : rect.y);
  return gtk_text_iter_get_line (&iter);
}

static gboolean
log_at_bottom (gpointer data)
{
  ScWindow *window = data;
  GtkAdjustment *adjustment = log_adjustment (window);
  int n_lines = (int) sc_message_log_get_n_lines (window->log);

  return sc_message_log_get_n_queued (window->log) == 0 &&
         gtk_adjustment_get_upper (adjustment) >
           gtk_adjustment_get_page_size (adjustment) &&
         gtk_adjustment_get_value (adjustment) >=
           gtk_adjustment_get_upper (adjustment) -
             gtk_adjustment_get_page_size (adjustment) - 1 &&
         visible_line (window, TRUE) >= n_lines - 1;
}

static void
append_lines (ScWindow *window, guint from, guint n)
{
  for (guint i = from; i < from + n; i++)
    {
      g_autofree char *text = g_strdup_printf ("line %u", i);

      sc_message_log_append (window->log, SC_LOG_INCOMING, "bob:", text);
    }
}

static gboolean
info_bar_settled (gpointer data)
{
  ScWindow *window = data;
  GtkWidget *revealer = gtk_widget_get_parent (
    gtk_widget_get_parent (GTK_WIDGET (window->info_label)));

  /* The bar animates its revealer; wait until it is fully in or out. */
  while (revealer && !GTK_IS_REVEALER (revealer))
    revealer = gtk_widget_get_parent (revealer);
  return revealer == NULL ||
         gtk_revealer_get_child_revealed (GTK_REVEALER (revealer)) ==
           gtk_revealer_get_reveal_child (GTK_REVEALER (revealer));
}

static char *
top_line_text (ScWindow *window)
{
  GtkTextBuffer *buffer =
    gtk_text_view_get_buffer (GTK_TEXT_VIEW (window->log));
  GtkTextIter start, end;
  g_autofree char *line = NULL;

  gtk_text_buffer_get_iter_at_line (buffer, &start,
                                    visible_line (window, FALSE));
  end = start;
  gtk_text_iter_forward_to_line_end (&end);
  line = gtk_text_iter_get_text (&start, &end);
  /* Without the time stamp, which may differ by a second. */
  return g_strdup (strstr (line, "bob:"));
}

/* N from "bob: line N". */
static int
line_number (const char *text)
{
  g_assert_nonnull (text);
  g_assert_true (g_str_has_prefix (text, "bob: line "));
  return atoi (text + strlen ("bob: line "));
}

static gboolean
jump_offered (gpointer data)
{
  ScWindow *window = data;

  return sc_message_log_get_n_queued (window->log) == 0 &&
         gtk_widget_get_visible (GTK_WIDGET (window->jump_button));
}

static void
test_log_follows (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  g_autoptr (GSettings) settings = NULL;
  GtkAdjustment *adjustment;
  g_autofree char *top_before = NULL;
  g_autofree char *top_after = NULL;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  settings = g_settings_new (APPLICATION_ID);
  g_settings_set_uint (settings, "log-lines", 100);

  /* 150 lines into a log of 100: trimmed, still at the bottom. */
  append_lines (window, 0, 150);
  wait_for (log_at_bottom, window, "the log to show its last line");
  g_assert_cmpuint (sc_message_log_get_n_lines (window->log), ==, 100);
  append_lines (window, 150, 30);
  wait_for (log_at_bottom, window, "the log to follow through trimming");

  /* The info bar appears and goes; the log stays at its end. */
  sc_window_show_info (window, GTK_MESSAGE_ERROR, FALSE,
                       "something went wrong");
  wait_for (info_bar_settled, window, "the info bar to appear");
  append_lines (window, 180, 5);
  wait_for (log_at_bottom, window, "the log to follow with the bar shown");
  sc_window_hide_info (window);
  wait_for (info_bar_settled, window, "the info bar to go");
  append_lines (window, 185, 5);
  wait_for (log_at_bottom, window, "the log to follow with the bar gone");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->jump_button)));

  /* Scrolled up to the middle: new lines (and the trimming they cause)
   * leave the view where it is, and a button offers the way down. */
  adjustment = log_adjustment (window);
  gtk_adjustment_set_value (adjustment,
                            (gtk_adjustment_get_upper (adjustment) -
                             gtk_adjustment_get_page_size (adjustment)) /
                              2);
  top_before = top_line_text (window);
  append_lines (window, 190, 10);
  wait_for (jump_offered, window, "the new-messages button");
  top_after = top_line_text (window);
  g_test_message ("top line before: %s, after: %s", top_before, top_after);
  /* The same line, give or take the one the view's anchoring rounds to
   * (it keeps the top paragraph, not the exact pixel). */
  g_assert_cmpint (ABS (line_number (top_after) - line_number (top_before)), <=,
                   1);
  g_assert_false (log_at_bottom (window));
  gtk_button_clicked (window->jump_button);
  wait_for (log_at_bottom, window, "the button to take the log down");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->jump_button)));
}

/* Defect 5: every colour in the log reads at 4.5:1 or better on the
 * background actually drawn, in Adwaita and in Adwaita-dark. */
static void
rendered_background (ScWindow *window, GdkRGBA *color)
{
  GtkWidget *log = GTK_WIDGET (window->log);
  int width = gtk_widget_get_allocated_width (log);
  int height = gtk_widget_get_allocated_height (log);
  cairo_surface_t *surface =
    cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create (surface);
  const guint8 *pixel;

  gtk_widget_draw (log, cr);
  cairo_surface_flush (surface);
  /* The log is empty: its middle is background.  ARGB32 is B, G, R, A
   * in memory on a little-endian machine, premultiplied (opaque here). */
  pixel = cairo_image_surface_get_data (surface) +
          (height / 2) * cairo_image_surface_get_stride (surface) +
          (width / 2) * 4;
  color->blue = pixel[0] / 255.0;
  color->green = pixel[1] / 255.0;
  color->red = pixel[2] / 255.0;
  color->alpha = 1;
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

typedef struct
{
  ScWindow *window;
  gboolean dark;
} ThemeQuery;

static gboolean
theme_applied (gpointer data)
{
  ThemeQuery *query = data;
  GdkRGBA background;

  rendered_background (query->window, &background);
  return (sc_message_log_luminance (&background) < 0.2) == query->dark;
}

static void
check_contrast (ScWindow *window, gboolean dark)
{
  GdkRGBA background;
  double lowest = G_MAXDOUBLE;

  g_object_set (gtk_settings_get_default (), "gtk-theme-name", "Adwaita",
                "gtk-application-prefer-dark-theme", dark, NULL);
  wait_for (theme_applied, &(ThemeQuery){ window, dark },
            dark ? "Adwaita-dark to apply" : "Adwaita to apply");
  rendered_background (window, &background);
  for (guint i = 0; i < sc_message_log_get_n_tags (window->log); i++)
    {
      GtkTextTag *tag = sc_message_log_get_tag (window->log, i);
      g_autofree char *name = NULL;
      GdkRGBA *color = NULL;
      double contrast;

      g_object_get (tag, "name", &name, "foreground-rgba", &color, NULL);
      contrast = sc_message_log_contrast (color, &background);
      lowest = MIN (lowest, contrast);
      if (contrast < 4.5)
        g_error (
          "%s: tag %s has %.2f:1 on #%02x%02x%02x", dark ? "dark" : "light",
          name, contrast, (guint) (background.red * 255),
          (guint) (background.green * 255), (guint) (background.blue * 255));
      gdk_rgba_free (color);
    }
  g_test_message ("%s theme: background #%02x%02x%02x, lowest contrast "
                  "%.2f:1",
                  dark ? "dark" : "light", (guint) (background.red * 255),
                  (guint) (background.green * 255),
                  (guint) (background.blue * 255), lowest);
}

static void
test_dark_contrast (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  check_contrast (window, FALSE);
  check_contrast (window, TRUE);
  check_contrast (window, FALSE);
}

/* Defect 4: the window goes down to 360 px wide and stays usable there:
 * the leaflet shows the messages or the client list, every action stays
 * on screen, and widening brings both columns back at useful sizes. */
typedef struct
{
  ScWindow *window;
  int width;
} WidthQuery;

static gboolean
window_is_width (gpointer data)
{
  WidthQuery *query = data;
  int width;

  /* The size asked for, without the client-side decoration's shadow. */
  gtk_window_get_size (GTK_WINDOW (query->window), &width, NULL);
  return width == query->width &&
         hdy_leaflet_get_folded (query->window->leaflet) ==
           (query->width < 600) &&
         !hdy_leaflet_get_child_transition_running (query->window->leaflet);
}

static void
resize_to (ScWindow *window, int width)
{
  g_autofree char *what = g_strdup_printf ("the window to be %d px", width);

  gtk_window_resize (GTK_WINDOW (window), width, 640);
  wait_for (window_is_width, &(WidthQuery){ window, width }, what);
}

typedef struct
{
  ScWindow *window;
  GtkWidget *widget;
  int min_width;
} ShownQuery;

/* Drawn, inside the window horizontally, and at least min_width wide. */
static gboolean
is_on_screen (gpointer data)
{
  ShownQuery *query = data;
  GtkAllocation allocation;
  int x, y;

  if (!gtk_widget_is_drawable (query->widget))
    return FALSE;
  gtk_widget_get_allocation (query->widget, &allocation);
  return gtk_widget_translate_coordinates (
           query->widget, GTK_WIDGET (query->window), 0, 0, &x, &y) &&
         x >= 0 &&
         x + allocation.width <=
           gtk_widget_get_allocated_width (GTK_WIDGET (query->window)) &&
         allocation.width >= query->min_width;
}

/* Waits for it, as the leaflet animates between its children. */
static void
assert_on_screen (ScWindow *window, GtkWidget *widget, int min_width)
{
  g_autofree char *what =
    g_strdup_printf ("a %s at least %d px wide on screen",
                     G_OBJECT_TYPE_NAME (widget), min_width);

  wait_for (is_on_screen, &(ShownQuery){ window, widget, min_width }, what);
}

static void
test_narrow (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  GtkWidget *buttons[7];
  int minimum;

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  buttons[0] = GTK_WIDGET (window->connect_button);
  buttons[1] = GTK_WIDGET (window->disconnect_button);
  buttons[2] = GTK_WIDGET (window->time_button);
  buttons[3] = GTK_WIDGET (window->name_button);
  buttons[4] = GTK_WIDGET (window->list_button);
  buttons[5] = GTK_WIDGET (window->send_button);
  buttons[6] = GTK_WIDGET (window->quit_button);
  connect_window (fixture, window, "narrow");

  /* Long lines laid out at the wide size first: the log's text view
   * then asks for their width, which its scrolled window must not pass
   * on (it did, intermittently, with hscrollbar-policy "never"). */
  for (guint i = 0; i < 5; i++)
    sc_message_log_append (window->log, SC_LOG_SYSTEM, NULL,
                           "a long line of many words that the log lays out "
                           "across the whole width of a wide window first");
  sc_message_log_flush (window->log);
  wait_for (window_is_width, &(WidthQuery){ window, 1000 },
            "the window to be 1000 px");
  gtk_widget_get_preferred_width (GTK_WIDGET (window), &minimum, NULL);
  g_test_message ("minimum width %d px", minimum);
  g_assert_cmpint (minimum, <=, 360);

  resize_to (window, 360);
  g_assert_true (hdy_leaflet_get_folded (window->leaflet));
  assert_on_screen (window, GTK_WIDGET (window->log), 280);
  assert_on_screen (window, GTK_WIDGET (window->message_view), 150);
  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    assert_on_screen (window, buttons[i], 1);
  g_assert_true (gtk_widget_is_drawable (GTK_WIDGET (window->clients_toggle)));

  /* The list is one tap away, and picking someone comes back. */
  gtk_toggle_button_set_active (window->clients_toggle, TRUE);
  assert_on_screen (window, GTK_WIDGET (window->client_view), 280);
  select_client (window, sc_client_get_id (window->client));
  g_assert_false (gtk_toggle_button_get_active (window->clients_toggle));
  assert_on_screen (window, visible_log (window), 280);

  /* Wide again: both columns, neither squeezed. */
  resize_to (window, 1000);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->clients_toggle)));
  assert_on_screen (window, GTK_WIDGET (window->client_view), 200);
  assert_on_screen (window, visible_log (window), 500);
}

/* Changing the nickname while connected: Enter in the field asks the
 * server; the other window sees the new name; a refused name is said
 * and the field goes back. */
static gboolean
nickname_is (gpointer data)
{
  LogQuery *query = data;

  return g_strcmp0 (sc_client_get_nickname (query->window->client),
                    query->needle) == 0;
}

static void
test_rename_connected (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  g_autofree char *bob_sees = NULL;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (a->nick_entry)));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (a->host_entry)));
  /* Bob names alice by the nickname in his list: it must have her first
   * (his list comes from a LIST_CLIENTS that may still be on its way). */
  wait_for (client_listed, &(ClientQuery){ b, sc_client_get_id (a->client) },
            "alice in bob's list");

  gtk_entry_set_text (a->nick_entry, "alicia");
  g_signal_emit_by_name (a->nick_entry, "activate");
  wait_for (nickname_is, &(LogQuery){ a, "alicia" }, "the new nickname");
  g_assert_true (is_connected (a));
  wait_for_log (a, "You are now called “alicia”");
  bob_sees = g_strdup_printf ("#%u alice is now called “alicia”",
                              sc_client_get_id (a->client));
  wait_for_log (b, bob_sees);

  /* Over 32 bytes: refused, said in the log, the field restored. */
  gtk_entry_set_text (a->nick_entry,
                      "a-nickname-that-is-far-too-long-to-accept");
  g_signal_emit_by_name (a->nick_entry, "activate");
  wait_for_log (a, "Change nickname failed: ");
  g_assert_cmpstr (gtk_entry_get_text (a->nick_entry), ==, "alicia");
  g_assert_cmpstr (sc_client_get_nickname (a->client), ==, "alicia");
}

/* GNOME conventions: the primary menu, Ctrl+N and Ctrl+W, the
 * shortcuts window, About and Preferences (bound to GSettings, a typed
 * number committed when the dialog closes). */
static gboolean
menu_has_action (GMenuModel *model, const char *action)
{
  for (int i = 0; i < g_menu_model_get_n_items (model); i++)
    {
      g_autofree char *name = NULL;
      GMenuModel *section =
        g_menu_model_get_item_link (model, i, G_MENU_LINK_SECTION);

      if (section && menu_has_action (section, action))
        {
          g_object_unref (section);
          return TRUE;
        }
      g_clear_object (&section);
      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_ACTION,
                                           "s", &name) &&
          g_str_equal (name, action))
        return TRUE;
    }
  return FALSE;
}

static GtkWidget *
find_toplevel (GType type)
{
  g_autoptr (GList) toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type) &&
        gtk_widget_get_visible (l->data))
      return l->data;
  return NULL;
}

static gboolean
shortcuts_hidden (gpointer data)
{
  return find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW) == NULL;
}

static gboolean
app_has_windows (gpointer data)
{
  return g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))) ==
         GPOINTER_TO_UINT (data);
}

static void
assert_accel (const char *action, const char *accel)
{
  g_auto (GStrv) accels =
    gtk_application_get_accels_for_action (GTK_APPLICATION (app), action);

  g_assert_nonnull (accels[0]);
  g_assert_cmpstr (accels[0], ==, accel);
}

static void
test_menu_and_windows (Fixture *fixture, gconstpointer data)
{
  ScWindow *window;
  GMenuModel *menu;
  GList *windows;
  guint n_windows;
  GtkWidget *dialog;
  ScPreferences *preferences;
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);

  SKIP_WITHOUT_DISPLAY ();
  window = fixture->windows[0];
  menu = gtk_menu_button_get_menu_model (window->menu_button);
  g_assert_nonnull (menu);
  g_assert_true (menu_has_action (menu, "app.preferences"));
  g_assert_true (menu_has_action (menu, "app.shortcuts"));
  g_assert_true (menu_has_action (menu, "app.about"));
  g_assert_true (menu_has_action (menu, "app.quit"));
  assert_accel ("app.new-window", "<Primary>n");
  assert_accel ("win.close", "<Primary>w");
  assert_accel ("win.connect", "<Primary>o");
  assert_accel ("app.shortcuts", "<Primary>question");

  /* Ctrl+N opens a window, Ctrl+W closes it. */
  n_windows =
    g_list_length (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_action_group_activate_action (G_ACTION_GROUP (app), "new-window", NULL);
  windows = gtk_application_get_windows (GTK_APPLICATION (app));
  g_assert_cmpuint (g_list_length (windows), ==, n_windows + 1);
  g_assert_true (SC_IS_WINDOW (windows->data));
  /* The shortcuts window over it, closed (Escape hides it), then the
   * window destroyed: a theme change afterwards finds nothing dangling
   * (a destroyed GTK 3 shortcuts window crashed here). */
  gtk_window_present (GTK_WINDOW (windows->data));
  g_action_group_activate_action (G_ACTION_GROUP (app), "shortcuts", NULL);
  dialog = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_nonnull (dialog);
  gtk_window_close (GTK_WINDOW (dialog));
  wait_for (shortcuts_hidden, NULL, "the shortcuts window to hide");
  gtk_widget_destroy (GTK_WIDGET (windows->data));
  g_assert_cmpuint (
    g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))), ==,
    n_windows);
  /* And Ctrl+W closes a window. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "new-window", NULL);
  windows = gtk_application_get_windows (GTK_APPLICATION (app));
  g_action_group_activate_action (G_ACTION_GROUP (windows->data), "close",
                                  NULL);
  wait_for (app_has_windows, GUINT_TO_POINTER (n_windows),
            "the new window to close");
  check_contrast (window, TRUE);
  check_contrast (window, FALSE);

  /* About. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  dialog = find_toplevel (GTK_TYPE_ABOUT_DIALOG);
  g_assert_nonnull (dialog);
  g_assert_cmpstr (gtk_about_dialog_get_version (GTK_ABOUT_DIALOG (dialog)), ==,
                   PACKAGE_VERSION);
  gtk_widget_destroy (dialog);

  /* Preferences: a typed number counts when the dialog closes. */
  gtk_window_present (GTK_WINDOW (window));
  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  preferences = SC_PREFERENCES (find_toplevel (SC_TYPE_PREFERENCES));
  g_assert_nonnull (preferences);
  gtk_entry_set_text (
    GTK_ENTRY (sc_preferences_get_log_lines_spin (preferences)), "300");
  gtk_switch_set_active (sc_preferences_get_notify_switch (preferences), FALSE);
  g_assert_false (g_settings_get_boolean (settings, "notify"));
  gtk_dialog_response (GTK_DIALOG (preferences), GTK_RESPONSE_DELETE_EVENT);
  g_assert_cmpuint (g_settings_get_uint (settings, "log-lines"), ==, 300);
  g_assert_cmpuint (sc_message_log_get_max_lines (window->log), ==, 300);
  g_assert_null (find_toplevel (SC_TYPE_PREFERENCES));
  g_settings_reset (settings, "notify");
}

static void
add_tests (void)
{
  window_test_add ("/gui/window/initial-state", test_initial_state);
  window_test_add ("/gui/window/connect", test_connect);
  window_test_add ("/gui/window/time-and-name", test_time_and_name);
  window_test_add ("/gui/window/list-two-clients", test_list_two_clients);
  window_test_add ("/gui/window/send-delivered", test_send_delivered);
  window_test_add ("/gui/window/disconnect", test_disconnect);
  window_test_add ("/gui/window/server-shutdown", test_server_shutdown);
  window_test_add ("/gui/window/connect-refused", test_connect_refused);
  window_test_add ("/gui/window/registered-nickname", test_registered_nickname);
  window_test_add ("/gui/window/recipient-is-a-person",
                   test_recipient_is_a_person);
  window_test_add ("/gui/window/typed-port", test_typed_port);
  window_test_add ("/gui/window/composer-says-why", test_composer_says_why);
  window_test_add ("/gui/window/reconnect-countdown", test_reconnect_countdown);
  window_test_add ("/gui/window/list-keeps-selection",
                   test_list_keeps_selection);
  window_test_add ("/gui/window/abandoned-receipts", test_abandoned_receipts);
  g_test_add_func ("/gui/status-texts", test_status_texts);
  window_test_add ("/gui/window/log-follows", test_log_follows);
  window_test_add ("/gui/window/dark-contrast", test_dark_contrast);
  window_test_add ("/gui/window/narrow", test_narrow);
  window_test_add ("/gui/window/rename-connected", test_rename_connected);
  window_test_add ("/gui/window/menu-and-windows", test_menu_and_windows);
}

int
main (int argc, char *argv[])
{
  return window_test_main (argc, argv, add_tests);
}
