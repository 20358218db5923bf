/* test-conversations.c: the desktop client's conversations: unread
 * counts in the title and the list, the multi-line composer, search,
 * the history kept across a restart, and notifications of messages to a
 * window in the background.  Two real windows against an in-process
 * server on 127.0.0.1:0 (window-harness.h).
 * Needs a display (Xvfb in CI); without one every test is skipped. */
#include "config.h"

#include <string.h>

#include "window-harness.h"

/* Unread messages: counted in the title while the window is not the
 * active one, cleared when it becomes active. */
static gboolean
window_active (gpointer data)
{
  return gtk_window_is_active (GTK_WINDOW (data));
}

static gboolean
title_is (gpointer data)
{
  LogQuery *query = data;

  return g_strcmp0 (gtk_window_get_title (GTK_WINDOW (query->window)),
                    query->needle) == 0;
}

static char *
conversation_text (ScWindow *window, const char *key)
{
  ScMessageLog *log = sc_conversations_get_log (window->conversations, key);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  GtkTextIter start, end;

  sc_message_log_flush (log);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static guint
row_unread (ScWindow *window, const char *key)
{
  GtkTreeIter iter;
  guint unread;

  sc_conversations_update_rows (window->conversations);
  g_assert_true (sc_client_list_find_key (window->client_list, key, &iter));
  gtk_tree_model_get (GTK_TREE_MODEL (window->client_list), &iter,
                      SC_CLIENT_LIST_COLUMN_UNREAD, &unread, -1);
  return unread;
}

static void
select_key (ScWindow *window, const char *key)
{
  GtkTreeIter iter;

  g_assert_true (sc_client_list_find_key (window->client_list, key, &iter));
  gtk_tree_selection_select_iter (
    gtk_tree_view_get_selection (window->client_view), &iter);
}

/* Alice is active but shows All activity: bob's two messages stay
 * unread in his conversation until she opens it; the divider marks
 * where they start until she leaves it; a broadcast counts in Everyone
 * while she reads bob, and each conversation holds only its own. */
static void
assert_conversations (Fixture *fixture, ScWindow *a, ScWindow *b)
{
  g_autofree char *bob_key =
    sc_client_list_get_key (a->client_list, sc_client_get_id (b->client));
  ScMessageLog *bob_log = sc_conversations_get_log (a->conversations, bob_key);
  g_autofree char *bob_text = NULL;
  g_autofree char *everyone_text = NULL;

  g_assert_cmpstr (bob_key, ==, "peer:bob");
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (a)), ==, "(2) SockChat");
  g_assert_cmpuint (row_unread (a, bob_key), ==, 2);
  g_assert_true (sc_message_log_get_has_unread_mark (bob_log));

  select_key (a, bob_key);
  g_assert_cmpstr (sc_conversations_get_visible_key (a->conversations), ==,
                   bob_key);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (a)), ==, "SockChat");
  g_assert_cmpuint (row_unread (a, bob_key), ==, 0);
  g_assert_true (sc_message_log_get_has_unread_mark (bob_log));
  g_assert_cmpuint (a->recipient->id, ==, sc_client_get_id (b->client));

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (b->broadcast_check), TRUE);
  sc_window_compose_set_text (b, "hi all");
  press_enter (b);
  wait_for_log (a, "hi all");
  g_assert_cmpuint (row_unread (a, SC_CONVERSATION_KEY_EVERYONE), ==, 1);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (a)), ==, "(1) SockChat");

  select_key (a, SC_CONVERSATION_KEY_SERVER);
  g_assert_false (sc_message_log_get_has_unread_mark (bob_log));
  bob_text = conversation_text (a, bob_key);
  everyone_text = conversation_text (a, SC_CONVERSATION_KEY_EVERYONE);
  g_assert_nonnull (strstr (bob_text, "bob: one"));
  g_assert_nonnull (strstr (bob_text, "bob: two"));
  g_assert_null (strstr (bob_text, "hi all"));
  g_assert_nonnull (strstr (everyone_text, "hi all"));
  g_assert_null (strstr (everyone_text, "two"));

  /* Everyone makes the composer broadcast, and stays so after sending. */
  select_key (a, SC_CONVERSATION_KEY_EVERYONE);
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (a)), ==, "SockChat");
  g_assert_true (
    gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (a->broadcast_check)));
  sc_window_compose_set_text (a, "hello everyone");
  press_enter (a);
  wait_for_log (b, "hello everyone");
  g_assert_true (
    gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (a->broadcast_check)));
}

/* Alice in window @a and bob in @b, bob's window active, alice's in the
 * background.  Bob's takes the focus itself: Xvfb has no window manager
 * to ask. */
static void
connect_with_bob_active (Fixture *fixture, ScWindow *a, ScWindow *b)
{
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  gdk_window_focus (gtk_widget_get_window (GTK_WIDGET (b)), GDK_CURRENT_TIME);
  wait_for (window_active, b, "bob's window to be active");
}

static void
test_unread_title (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  g_autofree char *one = NULL;
  g_autofree char *two = NULL;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_with_bob_active (fixture, a, b);
  g_assert_false (gtk_window_is_active (GTK_WINDOW (a)));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (a)), ==, "SockChat");

  /* "/msg N" checks bob's list, which the list request fills. */
  wait_for (client_listed, &(ClientQuery){ b, sc_client_get_id (a->client) },
            "alice in bob's list");
  one = g_strdup_printf ("/msg %u one", sc_client_get_id (a->client));
  two = g_strdup_printf ("/msg %u two", sc_client_get_id (a->client));
  sc_window_compose_set_text (b, one);
  press_enter (b);
  sc_window_compose_set_text (b, two);
  press_enter (b);
  wait_for_log (a, "two");
  wait_for (title_is, &(LogQuery){ a, "(2) SockChat" },
            "two unread in the title");
  g_assert_cmpstr (gtk_header_bar_get_title (a->header_bar), ==,
                   "(2) SockChat");
  /* Bob, active, counts nothing. */
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (b)), ==, "SockChat");

  gdk_window_focus (gtk_widget_get_window (GTK_WIDGET (a)), GDK_CURRENT_TIME);
  wait_for (window_active, a, "alice's window to be active");
  assert_conversations (fixture, a, b);
}

/* --- composing and searching ---------------------------------------- */

/* Shift+Enter starts a new line, Enter sends; the message arrives as
 * one log line, its second line hanging under the text, not under the
 * time stamp. */
static void
test_composer_multiline (Fixture *fixture, gconstpointer data)
{
  ScWindow *a = fixture->windows[0];
  ScWindow *b = fixture->windows[1];
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (a->message_view);
  GtkTextBuffer *log_buffer = NULL;
  GtkTextTag *hang;
  GtkTextIter at;
  guint lines_before;

  SKIP_WITHOUT_DISPLAY ();
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  sc_window_compose_set_text (a, "line one");
  gtk_text_buffer_get_end_iter (buffer, &at);
  gtk_text_buffer_place_cursor (buffer, &at);
  send_key (GTK_WIDGET (a->message_view), GDK_KEY_Return, GDK_SHIFT_MASK);
  assert_composer (a, "line one\n");
  gtk_text_buffer_insert_at_cursor (buffer, "line two", -1);
  sc_message_log_flush (b->log);
  lines_before = sc_message_log_get_n_lines (b->log);
  press_enter (a);
  assert_composer (a, "");
  wait_for_log (b, "line one\xe2\x80\xa8line two");
  g_assert_cmpuint (sc_message_log_get_n_lines (b->log), ==, lines_before + 1);

  log_buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (b->log));
  hang = gtk_text_tag_table_lookup (gtk_text_buffer_get_tag_table (log_buffer),
                                    "hang");
  gtk_text_buffer_get_end_iter (log_buffer, &at);
  gtk_text_iter_backward_line (&at);
  g_assert_true (gtk_text_iter_has_tag (&at, hang));
  g_assert_cmpint (gtk_text_view_get_indent (GTK_TEXT_VIEW (b->log)), ==, 0);
  {
    int indent;
    GdkRectangle first, second;

    g_object_get (hang, "indent", &indent, NULL);
    g_assert_cmpint (indent, <, 0);
    /* On screen: the second line starts -indent further right. */
    gtk_text_view_get_iter_location (GTK_TEXT_VIEW (b->log), &at, &first);
    gtk_text_iter_forward_search (&at, "line two", 0, &at, NULL, NULL);
    gtk_text_view_get_iter_location (GTK_TEXT_VIEW (b->log), &at, &second);
    g_assert_cmpint (second.y, >, first.y);
    g_assert_cmpint (second.x - first.x, ==, -indent);
  }
}

static void
search_for (ScWindow *window, const char *needle)
{
  gtk_entry_set_text (GTK_ENTRY (window->search_entry), needle);
  /* GtkSearchEntry waits 150 ms before saying so; the test does not. */
  g_signal_emit_by_name (window->search_entry, "search-changed");
}

static int
line_of (ScMessageLog *log, const char *needle)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  GtkTextIter start, match;

  gtk_text_buffer_get_start_iter (buffer, &start);
  g_assert_true (
    gtk_text_iter_forward_search (&start, needle, 0, &match, NULL, NULL));
  return gtk_text_iter_get_line (&match);
}

/* Ctrl+F searches the conversation shown, case aside, newest match
 * first; Enter goes to older matches, Shift+Enter back; closing the
 * bar takes the highlights away. */
static void
test_search (Fixture *fixture, gconstpointer data)
{
  ScWindow *window = fixture->windows[0];
  ScMessageLog *log = window->log;
  const char *lines[] = { "apple pie", "banana", "APPLE tart", "grape",
                          "50% off_today" };

  SKIP_WITHOUT_DISPLAY ();
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    sc_message_log_append (log, SC_LOG_INCOMING, "bob:", lines[i]);
  sc_message_log_flush (log);
  g_action_group_activate_action (G_ACTION_GROUP (window), "search", NULL);
  g_assert_true (gtk_search_bar_get_search_mode (window->search_bar));

  search_for (window, "apple");
  g_assert_cmpstr (gtk_label_get_text (window->search_label), ==, "2 matches");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==,
                   line_of (log, "APPLE tart"));
  g_signal_emit_by_name (window->search_entry, "activate");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==,
                   line_of (log, "apple pie"));
  g_signal_emit_by_name (window->search_entry, "next-match");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==,
                   line_of (log, "APPLE tart"));

  /* No wildcards: "%" and "_" are only themselves. */
  search_for (window, "% off_");
  g_assert_cmpstr (gtk_label_get_text (window->search_label), ==, "1 match");
  search_for (window, "cherry");
  g_assert_cmpstr (gtk_label_get_text (window->search_label), ==, "No matches");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, -1);

  search_for (window, "grape");
  g_action_group_activate_action (G_ACTION_GROUP (window), "search", NULL);
  g_assert_false (gtk_search_bar_get_search_mode (window->search_bar));
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, -1);
  g_assert_cmpstr (gtk_label_get_text (window->search_label), ==, "");
}

/* --- notifications ---------------------------------------------------- */

static void send_to (ScWindow *from, ScWindow *to, const char *text);

static gboolean
notified (gpointer data)
{
  return n_notifications > GPOINTER_TO_UINT (data);
}

static gboolean
notification_closed (gpointer data)
{
  return n_closed_notifications > GPOINTER_TO_UINT (data);
}

/* Lets GIO take in the daemon's answer to Notify (the id it must give
 * to withdraw it): a round trip through the bus puts that answer ahead
 * of ours, then the main loop hands it over.  A user's click comes
 * long after it anyway. */
static void
settle_bus (void)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
    "org.freedesktop.DBus", "GetId", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1,
    NULL, NULL);

  g_assert_nonnull (reply);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* A message to a window in the background: one notification named
 * after the conversation, "nickname: text"; clicking it opens that
 * conversation, and reading it withdraws the notification. */
static void
test_notification (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  guint sent_before, closed_before;
  GVariant *target;

  SKIP_WITHOUT_DISPLAY ();
  if (bus == NULL)
    {
      g_test_skip ("no session bus");
      return;
    }
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_with_bob_active (fixture, a, b);
  sent_before = n_notifications;
  send_to (b, a,
           "are you there? this is a long message, longer than the "
           "hundred characters a notification shows of it, so it is "
           "cut short");
  wait_for (notified, GUINT_TO_POINTER (sent_before), "a notification");
  g_assert_true (
    g_str_has_prefix (last_notification, "bob|bob: are you there? this is"));
  g_assert_cmpuint (g_utf8_strlen (strchr (last_notification, '|') + 1, -1), ==,
                    strlen ("bob: ") + 100);
  settle_bus ();

  closed_before = n_closed_notifications;
  target = g_variant_new (
    "(us)", gtk_application_window_get_id (GTK_APPLICATION_WINDOW (a)),
    "peer:bob");
  g_action_group_activate_action (G_ACTION_GROUP (fixture->app),
                                  "open-conversation", target);
  g_assert_cmpstr (sc_conversations_get_visible_key (a->conversations), ==,
                   "peer:bob");
  g_assert_cmpuint (sc_conversations_get_unread (a->conversations, "peer:bob"),
                    ==, 0);
  wait_for (notification_closed, GUINT_TO_POINTER (closed_before),
            "the notification to be withdrawn");
}

/* --- history ------------------------------------------------------ */

static gboolean
window_gone (gpointer data)
{
  return *(ScWindow **) data == NULL;
}

/* Replaces fixture window @index with a new one, as a restarted client. */
static ScWindow *
restart_window (Fixture *fixture, guint index)
{
  ScWindow *window;

  gtk_widget_destroy (GTK_WIDGET (fixture->windows[index]));
  wait_for (window_gone, &fixture->windows[index], "the old window to go");
  window = sc_window_new (GTK_APPLICATION (fixture->app));
  fixture->windows[index] = window;
  g_object_add_weak_pointer (G_OBJECT (window),
                             (gpointer *) &fixture->windows[index]);
  gtk_widget_show (GTK_WIDGET (window));
  wait_for (windows_drawn, fixture, "the new window to be mapped and drawn");
  return window;
}

/* What the store has of @conversation on the fixture's server. */
static GPtrArray *
stored (Fixture *fixture, const char *conversation)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (NULL, &error);
  g_autofree char *server = g_strdup_printf ("127.0.0.1:%u", fixture->port);
  GPtrArray *entries;

  g_assert_no_error (error);
  entries = sc_history_load (history, server, conversation, 1000, &error);
  g_assert_no_error (error);
  return entries;
}

static gboolean
entries_contain (GPtrArray *entries, const char *text)
{
  for (guint i = 0; i < entries->len; i++)
    {
      ScHistoryEntry *entry = g_ptr_array_index (entries, i);

      if (g_str_equal (entry->text, text))
        return TRUE;
    }
  return FALSE;
}

static void
send_to (ScWindow *from, ScWindow *to, const char *text)
{
  g_autofree char *command =
    g_strdup_printf ("/msg %u %s", sc_client_get_id (to->client), text);

  wait_for (client_listed,
            &(ClientQuery){ from, sc_client_get_id (to->client) },
            "the recipient in the list");
  sc_window_compose_set_text (from, command);
  press_enter (from);
  wait_for_log (to, text);
}

/* A conversation comes back after the client restarts, with what was
 * said both ways and how it ended; with history off nothing more is
 * kept; Clear History empties the store and the open conversations. */
static void
test_history (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  g_autofree char *text = NULL;
  g_autoptr (GPtrArray) before_off = NULL;
  g_autoptr (GPtrArray) after_off = NULL;
  g_autoptr (GPtrArray) after_clear = NULL;
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  send_to (b, a, "remember me");
  send_to (a, b, "I will");
  wait_for_log (a, "delivered");

  a = restart_window (fixture, 0);
  connect_window (fixture, a, "alice");
  select_client (a, sc_client_get_id (b->client));
  text = conversation_text (a, "peer:bob");
  g_assert_nonnull (strstr (text, "← bob: remember me"));
  g_assert_nonnull (strstr (text, "→ bob: I will  delivered"));
  g_assert_true (strstr (text, "remember me") < strstr (text, "I will"));

  g_settings_set_boolean (settings, "history-enabled", FALSE);
  g_assert_null (a->history);
  send_to (b, a, "not kept");
  before_off = stored (fixture, "peer:bob");
  g_assert_true (entries_contain (before_off, "remember me"));
  g_assert_false (entries_contain (before_off, "not kept"));
  g_settings_set_boolean (settings, "history-enabled", TRUE);
  g_assert_nonnull (a->history);
  send_to (b, a, "kept again");
  sc_history_flush (a->history);
  after_off = stored (fixture, "peer:bob");
  g_assert_true (entries_contain (after_off, "kept again"));

  g_action_group_activate_action (G_ACTION_GROUP (fixture->app),
                                  "clear-history", NULL);
  after_clear = stored (fixture, "peer:bob");
  g_assert_cmpuint (after_clear->len, ==, 0);
  g_assert_null (sc_conversations_lookup_log (a->conversations, "peer:bob"));
}

/* --- searching history ------------------------------------------ */

/* Says each label it sees once, so that a wait that times out shows
 * what the label said instead. */
static gboolean
label_is (gpointer data)
{
  static char *last_seen;
  LogQuery *query = data;
  const char *text = gtk_label_get_text (query->window->search_label);

  if (g_strcmp0 (text, last_seen) != 0)
    {
      g_test_message ("search label: '%s'", text);
      g_free (last_seen);
      last_seen = g_strdup (text);
    }
  return g_strcmp0 (text, query->needle) == 0;
}

static gboolean
older_match_known (gpointer data)
{
  ScWindow *window = data;

  return gtk_widget_get_sensitive (GTK_WIDGET (window->search_older_button));
}

/* The count of older matches has answered (or was not needed). */
static gboolean
count_answered (gpointer data)
{
  ScWindow *window = data;

  return window->search_cancellable == NULL;
}

/* Three times the usual wait: the count of older matches runs in a
 * thread over up to 10,000 rows, and in an AddressSanitizer build on a
 * loaded machine the label once took more than 10 s to show (alone, the
 * same test shows it in well under a second).  How long the steps take
 * is printed, not bounded, here. */
static void
wait_for_search_label (ScWindow *window, const char *text)
{
  g_autofree char *what = g_strdup_printf ("the search label '%s'", text);

  wait_for_ms (label_is, &(LogQuery){ window, text }, what, 3 * WAIT_MS);
}

typedef struct
{
  guint row;
  const char *text;
} StoredText;

/* Writes @n_rows of bob's messages to @key, "filler N" but for the rows
 * in @texts (ending with a row 0). */
static void
store_texts (Fixture *fixture,
             const char *key,
             guint n_rows,
             const StoredText *texts)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = sc_history_new (NULL, &error);
  g_autofree char *server = g_strdup_printf ("127.0.0.1:%u", fixture->port);
  gint64 start = g_get_real_time () - G_USEC_PER_SEC * n_rows;

  g_assert_no_error (error);
  for (guint row = 1; row <= n_rows; row++)
    {
      g_autofree char *text = g_strdup_printf ("filler %u", row);
      g_autoptr (ScHistoryEntry) entry = NULL;

      for (const StoredText *t = texts; t->row != 0; t++)
        if (t->row == row)
          {
            g_free (text);
            text = g_strdup (t->text);
          }
      entry =
        sc_history_entry_new (server, key, start + row * G_USEC_PER_SEC,
                              SC_HISTORY_KIND_INCOMING, "bob", 2, text, 0, 0);
      sc_history_append (history, entry);
    }
  sc_history_flush (history);
}

/* Writes @n_rows to the conversation @key on the fixture's server, as
 * an earlier session would have: the rows in @match_rows (ending with 0)
 * say "needle in the haystack", the others "filler N". */
static void
store_conversation (Fixture *fixture,
                    const char *key,
                    guint n_rows,
                    const guint *match_rows)
{
  g_autoptr (GArray) texts = g_array_new (TRUE, TRUE, sizeof (StoredText));

  for (const guint *m = match_rows; *m != 0; m++)
    {
      StoredText text = { *m, "needle in the haystack" };

      g_array_append_val (texts, text);
    }
  store_texts (fixture, key, n_rows, (const StoredText *) texts->data);
}

/* The log loads the newest 100 of 150 messages; Ctrl+F finds the match
 * in the first one, which only history holds: the label offers it, and
 * Enter past the (no) matches in view brings it into the log as the
 * current match, with what was said between it and the log's top. */
static void
test_search_history (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);
  ScWindow *a, *b;
  ScMessageLog *log;
  g_autofree char *text = NULL;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  g_settings_set_uint (settings, "log-lines", 100);
  store_conversation (fixture, "peer:bob", 150, (const guint[]){ 1, 0 });
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  g_assert_cmpstr (sc_conversations_get_visible_key (a->conversations), ==,
                   "peer:bob");
  log = sc_conversations_get_visible_log (a->conversations);
  text = conversation_text (a, "peer:bob");
  g_assert_null (strstr (text, "needle"));
  g_assert_nonnull (strstr (text, "filler 51"));
  g_assert_null (strstr (text, "filler 50"));

  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);
  search_for (a, "NEEDLE");
  wait_for_search_label (a, "No matches · 1 older in history");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (a->search_older_button)));

  g_signal_emit_by_name (a->search_entry, "activate");
  wait_for_search_label (a, "1 match");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (a->search_older_button)));
  g_assert_cmpint (sc_message_log_get_match_line (log), ==,
                   line_of (log, "needle in the haystack"));
  g_assert_cmpint (line_of (log, "needle in the haystack"), ==, 0);
  /* Rows 1 to 50 above the 100 there were: no gap. */
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 150);
  g_assert_cmpint (line_of (log, "filler 50"), ==, 49);
  g_assert_cmpint (line_of (log, "filler 51"), ==, 50);
  g_settings_reset (settings, "log-lines");
}

/* A match further back than the log's limit: the log takes the match
 * and the rows after it it has room for, and says how many more there
 * are before its top; with no room left, the next older match replaces
 * the older lines. */
static void
test_search_history_gap (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);
  ScWindow *a, *b;
  ScMessageLog *log;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  g_settings_set_uint (settings, "log-lines", 100);
  store_conversation (fixture, "peer:bob", 400, (const guint[]){ 5, 10, 0 });
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  log = sc_conversations_get_visible_log (a->conversations);

  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);
  /* Enter at once, before the count has answered (its answer comes
   * through the main loop, which has not run): it is done when the count
   * answers. */
  search_for (a, "haystack");
  g_assert_cmpstr (gtk_label_get_text (a->search_label), ==, "No matches");
  g_signal_emit_by_name (a->search_entry, "activate");
  /* The entry's own "search-changed", 150 ms after the text was set,
   * comes while the count is still running on a loaded machine: it must
   * not forget the Enter. */
  g_signal_emit_by_name (a->search_entry, "search-changed");
  wait_for_search_label (a, "1 match · 1 older in history");
  /* Rows 10 to 108 (99 lines), then the line for rows 109 to 300, then
   * rows 301 to 400. */
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_cmpint (line_of (log, "filler 108"), ==, 98);
  g_assert_cmpint (line_of (log, "192 messages in between are not shown"), ==,
                   99);
  g_assert_cmpint (line_of (log, "filler 301"), ==, 100);
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 200);

  /* No room left above: Show Older replaces the older lines with rows 5
   * to 103, which hold both matches. */
  wait_for (older_match_known, a, "the count of older matches");
  gtk_button_clicked (a->search_older_button);
  wait_for_search_label (a, "2 matches");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_cmpint (line_of (log, "filler 9"), ==, 4);
  g_assert_cmpint (line_of (log, "filler 103"), ==, 98);
  g_assert_cmpint (line_of (log, "197 messages in between are not shown"), ==,
                   99);
  g_assert_cmpint (line_of (log, "filler 301"), ==, 100);
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 200);
  g_settings_reset (settings, "log-lines");
}

/* The default limits: a log of 5,000 lines over a conversation of
 * 10,000 rows whose only match is the first.  The count runs in a worker
 * thread; loading the match, on the GTK thread, is a page of 500 lines,
 * timed and printed. */
static void
test_search_history_long (Fixture *fixture, gconstpointer data)
{
  ScWindow *a, *b;
  ScMessageLog *log;
  gint64 start;
  double typed_ms, load_ms;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  store_conversation (fixture, "peer:bob", 10000, (const guint[]){ 1, 0 });
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  log = sc_conversations_get_visible_log (a->conversations);
  sc_message_log_flush (log);
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 5000);

  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);
  start = g_get_monotonic_time ();
  search_for (a, "needle");
  typed_ms = (g_get_monotonic_time () - start) / 1000.0;
  wait_for_search_label (a, "No matches · 1 older in history");
  start = g_get_monotonic_time ();
  g_signal_emit_by_name (a->search_entry, "activate");
  load_ms = (g_get_monotonic_time () - start) / 1000.0;
  wait_for_search_label (a, "1 match");
  /* A page: the match, 498 rows after it, and a line for rows 500 to
   * 5,000. */
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_cmpint (line_of (log, "filler 499"), ==, 498);
  g_assert_cmpint (line_of (log, "4501 messages in between are not shown"), ==,
                   499);
  g_assert_cmpuint (sc_message_log_get_n_lines (log), ==, 5500);
  g_test_message ("5,000 lines in the log, 10,000 rows in history: typing "
                  "the needle %.1f ms on the GTK thread; loading the match "
                  "and a page of rows after it above the log %.1f ms",
                  typed_ms, load_ms);
}

/* --- what a search finds ------------------------------------------ */

static void
count_signal (guint *n)
{
  (*n)++;
}

static gboolean
at_least_two (gpointer data)
{
  return *(guint *) data >= 2;
}

/* search_for(), then waits for GtkSearchEntry's own "search-changed",
 * 150 ms after the text changed (later on a loaded machine): it searches
 * the log again, which would make the newest match the current one
 * again after a test's Enter.  @needle must differ from the text
 * before, or the entry says nothing. */
static void
search_settled (ScWindow *window, const char *needle)
{
  guint n_emitted = 0;
  gulong handler =
    g_signal_connect_swapped (window->search_entry, "search-changed",
                              G_CALLBACK (count_signal), &n_emitted);

  search_for (window, needle);
  wait_for (at_least_two, &n_emitted, "the entry's own search-changed");
  g_signal_handler_disconnect (window->search_entry, handler);
}

/* History turned off while the bar offers older matches: the offer goes
 * (there is nothing to load them from), and the matches in view stay. */
static void
test_search_history_turned_off (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);
  ScWindow *a, *b;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  g_settings_set_uint (settings, "log-lines", 100);
  store_conversation (fixture, "peer:bob", 150, (const guint[]){ 1, 140, 0 });
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);
  search_settled (a, "needle");
  wait_for_search_label (a, "1 match · 1 older in history");

  g_settings_set_boolean (settings, "history-enabled", FALSE);
  wait_for_search_label (a, "1 match");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (a->search_older_button)));
  g_settings_reset (settings, "history-enabled");
  g_settings_reset (settings, "log-lines");
}

/* The highlighted ranges in @log, each checked to be @needle (case
 * aside) inside a message's text. */
static guint
n_highlights (ScMessageLog *log, const char *needle)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (log));
  GtkTextTag *match =
    gtk_text_tag_table_lookup (gtk_text_buffer_get_tag_table (buffer), "match");
  GtkTextIter at, end;
  guint n = 0;

  gtk_text_buffer_get_start_iter (buffer, &at);
  while (gtk_text_iter_starts_tag (&at, match) ||
         gtk_text_iter_forward_to_tag_toggle (&at, match))
    {
      g_autofree char *text = NULL;
      g_autofree char *folded = NULL;
      g_autofree char *folded_needle = g_utf8_casefold (needle, -1);

      if (!gtk_text_iter_starts_tag (&at, match))
        continue;
      end = at;
      gtk_text_iter_forward_to_tag_toggle (&end, match);
      text = gtk_text_iter_get_text (&at, &end);
      folded = g_utf8_casefold (text, -1);
      g_assert_cmpstr (folded, ==, folded_needle);
      n++;
      at = end;
    }
  return n;
}

/* Search finds what people wrote, not the names and times the log puts
 * before it: history only has the text, so the view must match the
 * same, or a name would count in view and never older.  Every
 * occurrence counts on both sides. */
static void
test_search_text_only (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);
  ScWindow *a, *b;
  ScMessageLog *log;

  SKIP_WITHOUT_DISPLAY ();
  a = fixture->windows[0];
  b = fixture->windows[1];
  g_settings_set_uint (settings, "log-lines", 100);
  store_texts (fixture, "peer:bob", 150,
               (const StoredText[]){ { 10, "ask Bob, bob knows" },
                                     { 120, "bob said so" },
                                     { 0, NULL } });
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  select_client (a, sc_client_get_id (b->client));
  log = sc_conversations_get_visible_log (a->conversations);
  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);

  /* Every line in view says "← bob:"; one message says bob. */
  search_settled (a, "bob");
  wait_for_search_label (a, "1 match · 2 older in history");
  g_assert_cmpuint (n_highlights (log, "bob"), ==, 1);
  g_assert_cmpint (sc_message_log_get_match_line (log), ==,
                   line_of (log, "bob said so"));

  /* The older match holds bob twice: both come into view. */
  g_signal_emit_by_name (a->search_entry, "activate");
  wait_for_ms (count_answered, a, "the count from the new top", 3 * WAIT_MS);
  g_assert_cmpstr (gtk_label_get_text (a->search_label), ==, "3 matches");
  g_assert_cmpuint (n_highlights (log, "bob"), ==, 3);
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_cmpint (line_of (log, "ask Bob, bob knows"), ==, 0);

  /* Names, arrows and times are not searched, in view or in history. */
  search_for (a, "←");
  wait_for_search_label (a, "No matches");
  search_for (a, "[");
  wait_for_search_label (a, "No matches");
  g_assert_cmpuint (n_highlights (log, "["), ==, 0);
  g_settings_reset (settings, "log-lines");
}

/* --- matches in lines the log let go ------------------------------- */

static gboolean
received_at_least (gpointer data)
{
  guint *counts = data;

  return counts[0] >= counts[1];
}

/* Bob sends alice @n messages, "needle N" for the numbers in @needles
 * (ending with 0) and "filler N" for the others, a few at a time. */
static void
send_numbered (ScWindow *from, ScWindow *to, guint n, const guint *needles)
{
  guint counts[2] = { 0, 0 };
  gulong handler = g_signal_connect_swapped (
    to->client, "message-received", G_CALLBACK (count_received), &counts[0]);

  wait_for (client_listed,
            &(ClientQuery){ from, sc_client_get_id (to->client) },
            "the recipient in the list");
  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *text = NULL;
      gboolean needle = FALSE;

      for (const guint *m = needles; *m != 0; m++)
        needle = needle || *m == i;
      text = g_strdup_printf (needle ? "needle %u" : "filler %u", i);
      sc_client_send_message_async (from->client, sc_client_get_id (to->client),
                                    text, NULL, NULL, NULL);
      if (i % 10 == 0 || i == n)
        {
          counts[1] = i;
          wait_for (received_at_least, counts, "the messages to arrive");
        }
    }
  g_signal_handler_disconnect (to->client, handler);
}

/* The log holds 100 lines; 150 messages come in this session, so the
 * first 50 leave it while the conversation runs (trimmed from the
 * buffer when it is shown, dropped from the queue when it is not).
 * Their matches are in history only: the count must see them, and
 * Enter must bring them back, the newest first. */
static void
search_trimmed (Fixture *fixture, gboolean shown)
{
  g_autoptr (GSettings) settings = g_settings_new (APPLICATION_ID);
  ScWindow *a, *b;
  ScMessageLog *log;
  g_autofree char *text = NULL;

  a = fixture->windows[0];
  b = fixture->windows[1];
  g_settings_set_uint (settings, "log-lines", 100);
  connect_window (fixture, a, "alice");
  connect_window (fixture, b, "bob");
  if (shown)
    select_client (a, sc_client_get_id (b->client));
  send_numbered (b, a, 150, (const guint[]){ 3, 7, 140, 0 });
  if (!shown)
    select_client (a, sc_client_get_id (b->client));
  log = sc_conversations_get_visible_log (a->conversations);
  g_assert_true (log ==
                 sc_conversations_get_log (a->conversations, "peer:bob"));
  sc_message_log_flush (log);
  g_assert_cmpint (line_of (log, "filler 51"), <=, 1);
  text = conversation_text (a, "peer:bob");
  g_assert_null (strstr (text, "filler 50\n"));

  g_action_group_activate_action (G_ACTION_GROUP (a), "search", NULL);
  search_settled (a, "needle");
  wait_for_search_label (a, "1 match · 2 older in history");
  g_signal_emit_by_name (a->search_entry, "activate");
  wait_for_search_label (a, "2 matches · 1 older in history");
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_assert_cmpint (line_of (log, "needle 7"), ==, 0);
  g_assert_cmpint (line_of (log, "filler 50"), ==, 43);
  g_signal_emit_by_name (a->search_entry, "activate");
  wait_for_ms (count_answered, a, "the count from the new top", 3 * WAIT_MS);
  g_assert_cmpstr (gtk_label_get_text (a->search_label), ==, "3 matches");
  g_assert_cmpint (line_of (log, "needle 3"), ==, 0);
  g_assert_cmpint (sc_message_log_get_match_line (log), ==, 0);
  g_settings_reset (settings, "log-lines");
}

static void
test_search_trimmed_shown (Fixture *fixture, gconstpointer data)
{
  SKIP_WITHOUT_DISPLAY ();
  search_trimmed (fixture, TRUE);
}

static void
test_search_trimmed_hidden (Fixture *fixture, gconstpointer data)
{
  SKIP_WITHOUT_DISPLAY ();
  search_trimmed (fixture, FALSE);
}

static void
add_tests (void)
{
  window_test_add ("/gui/window/conversations-unread", test_unread_title);
  window_test_add ("/gui/window/composer-multiline", test_composer_multiline);
  window_test_add ("/gui/window/search", test_search);
  window_test_add ("/gui/window/history", test_history);
  window_test_add ("/gui/window/search-history", test_search_history);
  window_test_add ("/gui/window/search-history-turned-off",
                   test_search_history_turned_off);
  window_test_add ("/gui/window/search-history-gap", test_search_history_gap);
  window_test_add ("/gui/window/search-history-long", test_search_history_long);
  window_test_add ("/gui/window/search-text-only", test_search_text_only);
  window_test_add ("/gui/window/search-history-trimmed-shown",
                   test_search_trimmed_shown);
  window_test_add ("/gui/window/search-history-trimmed-hidden",
                   test_search_trimmed_hidden);
  window_test_add ("/gui/window/notification", test_notification);
}

int
main (int argc, char *argv[])
{
  return window_test_main (argc, argv, add_tests);
}
