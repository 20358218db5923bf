/* sc-window-actions.c: the window's actions, the seven of the lab
 * (app.quit lives on ScApplication), their enabled state, which follows
 * the connection, and the answers they bring back. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-status-text.h"
#include "sc-window-private.h"

/* Every request callback gets the window with a reference and checks
 * that it still has its client: the window may have been destroyed
 * while the request was out. */
static ScWindow *
window_if_alive (gpointer data)
{
  ScWindow *self = data;

  if (self->client == NULL)
    {
      g_object_unref (self);
      return NULL;
    }
  return self;
}

static void
log_failure (ScWindow *self, const char *what, const GError *error)
{
  g_autofree char *text = NULL;
  g_autofree char *why = sc_error_text (error);

  /* Translators: "Get time failed: not connected". */
  text = g_strdup_printf (_ ("%s failed: %s"), what, why);
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_ERROR, NULL, text);
}

/* ------------------------------------------------------------------ */
/* Connect and disconnect */

static void
connect_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScWindow *self = data;
  g_autofree char *host =
    g_strstrip (g_strdup (gtk_entry_get_text (self->host_entry)));
  g_autofree char *nickname =
    g_strstrip (g_strdup (gtk_entry_get_text (self->nick_entry)));
  guint port;

  /* A typed number reaches the adjustment only on focus-out or here:
   * Enter in the field must connect to what is shown, not to the value
   * before it was typed. */
  gtk_spin_button_update (self->port_spin);
  port = (guint) gtk_spin_button_get_value_as_int (self->port_spin);

  if (*host == '\0')
    {
      sc_window_show_info (self, GTK_MESSAGE_ERROR, FALSE,
                           _ ("Enter the host name or address of the server."));
      gtk_widget_grab_focus (GTK_WIDGET (self->host_entry));
      return;
    }
  sc_window_start_connect (self, host, (guint16) port,
                           *nickname ? nickname : NULL, FALSE);
}

static void
disconnect_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScWindow *self = data;

  sc_window_cancel_retry (self);
  sc_window_hide_info (self);
  sc_client_disconnect (self->client);
}

/* ------------------------------------------------------------------ */
/* Get time, get name, list clients */

static void
on_time (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *timezone = NULL;
  g_autoptr (GDateTime) time =
    sc_client_get_time_finish (SC_CLIENT (source), result, &timezone, &error);
  g_autoptr (ScWindow) self = window_if_alive (data);
  g_autoptr (GDateTime) local = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *local_stamp = NULL;
  g_autofree char *text = NULL;

  if (self == NULL)
    return;
  if (time == NULL)
    {
      log_failure (self, _ ("Get time"), error);
      return;
    }
  /* The same format as sockchat-cli. */
  stamp = sc_client_format_time (time);
  local = g_date_time_to_local (time);
  local_stamp = sc_client_format_time (local);
  /* Translators: the server's time, its time zone, and the same instant
   * in this computer's local time. */
  text =
    g_strdup_printf (_ ("%s (%s); here: %s"), stamp, timezone, local_stamp);
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_RESPONSE,
                 _ ("Server time:"), text);
}

static void
get_time_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScWindow *self = data;

  sc_client_get_time_async (self->client, self->cancellable, on_time,
                            g_object_ref (self));
}

static void
on_name (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name =
    sc_client_get_name_finish (SC_CLIENT (source), result, &error);
  g_autoptr (ScWindow) self = window_if_alive (data);

  if (self == NULL)
    return;
  if (name == NULL)
    log_failure (self, _ ("Get name"), error);
  else
    sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_RESPONSE,
                   _ ("Server name:"), name);
}

static void
get_name_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  ScWindow *self = data;

  sc_client_get_name_async (self->client, self->cancellable, on_name,
                            g_object_ref (self));
}

/* The list itself is in the side bar; the log says only how many. */
static void
log_client_list (ScWindow *self, GPtrArray *clients)
{
  g_autofree char *summary = g_strdup_printf (
    ngettext ("%u client connected", "%u clients connected", clients->len),
    clients->len);

  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_RESPONSE,
                 _ ("Clients:"), summary);
}

static void
on_list (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) clients =
    sc_client_list_clients_finish (SC_CLIENT (source), result, &error);
  ScWindow *self = window_if_alive (g_object_get_data (data, "window"));
  gboolean show_in_log = GPOINTER_TO_INT (g_object_get_data (data, "show"));

  g_object_unref (data);
  if (self == NULL)
    return;
  if (clients == NULL)
    log_failure (self, _ ("List clients"), error);
  else
    {
      sc_client_list_replace (self->client_list, clients);
      if (show_in_log)
        log_client_list (self, clients);
    }
  g_object_unref (self);
}

/* Refreshes the client list; @show_in_log also writes it to the log. */
void
sc_window_request_list (ScWindow *self, gboolean show_in_log)
{
  /* A throwaway object carries both values and the window reference. */
  GObject *data = g_object_new (G_TYPE_OBJECT, NULL);

  g_object_set_data (data, "window", g_object_ref (self));
  g_object_set_data (data, "show", GINT_TO_POINTER (show_in_log));
  sc_client_list_clients_async (self->client, self->cancellable, on_list, data);
}

static void
list_clients_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  sc_window_request_list (data, TRUE);
}

static void
send_activated (GSimpleAction *action, GVariant *param, gpointer user_data)
{
  sc_window_compose_send (user_data);
}

/* ------------------------------------------------------------------ */
/* Changing the nickname while connected */

static void
on_renamed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *nickname =
    sc_client_set_nickname_finish (SC_CLIENT (source), result, &error);
  g_autoptr (ScWindow) self = window_if_alive (data);
  g_autofree char *text = NULL;

  if (self == NULL)
    return;
  if (nickname == NULL)
    {
      log_failure (self, _ ("Change nickname"), error);
      gtk_entry_set_text (self->nick_entry,
                          sc_client_get_nickname (self->client));
      return;
    }
  gtk_entry_set_text (self->nick_entry, nickname);
  g_settings_set_string (self->settings, "nickname", nickname);
  g_free (self->target_nickname);
  self->target_nickname = g_strdup (nickname);
  text = g_strdup_printf (_ ("You are now called “%s”"), nickname);
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_SYSTEM, NULL, text);
}

/* Asks the server for the nickname in the field. */
void
sc_window_rename (ScWindow *self)
{
  g_autofree char *nickname =
    g_strstrip (g_strdup (gtk_entry_get_text (self->nick_entry)));

  if (g_strcmp0 (nickname, sc_client_get_nickname (self->client)) == 0)
    return;
  if (*nickname == '\0')
    {
      sc_window_show_info (self, GTK_MESSAGE_WARNING, FALSE,
                           _ ("Type the new nickname, then press Enter."));
      return;
    }
  sc_window_use_password (self);
  sc_client_set_nickname_async (self->client, nickname, self->cancellable,
                                on_renamed, g_object_ref (self));
}

/* ------------------------------------------------------------------ */
/* Enabled state */

static void
close_activated (GSimpleAction *action, GVariant *param, gpointer data)
{
  gtk_window_close (data);
}

/* Ctrl+F: search in the conversation shown, or stop searching. */
static void
search_activated (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  ScWindow *self = data;
  gboolean searching = gtk_search_bar_get_search_mode (self->search_bar);

  gtk_search_bar_set_search_mode (self->search_bar, !searching);
  if (!searching)
    gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static const GActionEntry win_entries[] = {
  { "search", search_activated, NULL, NULL, NULL },
  { "close", close_activated, NULL, NULL, NULL },

  { "connect", connect_activated, NULL, NULL, NULL },
  { "disconnect", disconnect_activated, NULL, NULL, NULL },
  { "get-time", get_time_activated, NULL, NULL, NULL },
  { "get-name", get_name_activated, NULL, NULL, NULL },
  { "list-clients", list_clients_activated, NULL, NULL, NULL },
  { "send", send_activated, NULL, NULL, NULL },
};

void
sc_window_actions_install (ScWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_entries,
                                   G_N_ELEMENTS (win_entries), self);
}

static void
set_enabled (ScWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

/* Disconnected: only Connect (and app.quit).  Connecting: Disconnect
 * gives up.  Connected: everything but Connect. */
void
sc_window_actions_update (ScWindow *self)
{
  ScClientState state = sc_client_get_state (self->client);
  gboolean connected = state == SC_CLIENT_STATE_CONNECTED;
  gboolean idle = state == SC_CLIENT_STATE_DISCONNECTED;

  set_enabled (self, "connect", idle);
  set_enabled (self, "disconnect", !idle);
  set_enabled (self, "get-time", connected);
  set_enabled (self, "get-name", connected);
  set_enabled (self, "list-clients", connected);
  sc_window_compose_update (self);
  gtk_widget_set_sensitive (GTK_WIDGET (self->host_entry), idle);
  gtk_widget_set_sensitive (GTK_WIDGET (self->port_spin), idle);
  /* The nickname can change while connected (Enter asks the server). */
  gtk_widget_set_sensitive (GTK_WIDGET (self->nick_entry), idle || connected);
}

/* ------------------------------------------------------------------ */
/* Demo script (test-only, for data/screenshots/take.sh)
 *
 * SOCKCHAT_DEMO_SCRIPT names a file of lines "DELAY_MS ACTION [ARGS]",
 * run one after the other, each DELAY_MS after the previous one.
 * ACTION is a window action name (connect, get-time, …), or
 * "send ID TEXT", "broadcast TEXT", "type TEXT" or "resize WIDTH HEIGHT". */

static gboolean run_next_step (gpointer data);

static void
schedule_next_step (ScWindow *self)
{
  const char *line = g_queue_peek_head (&self->demo_steps);

  if (line)
    self->demo_source = g_timeout_add (
      (guint) g_ascii_strtoull (line, NULL, 10), run_next_step, self);
}

static void
run_step (ScWindow *self, const char *action, const char *rest)
{
  GtkToggleButton *broadcast = GTK_TOGGLE_BUTTON (self->broadcast_check);

  if (g_str_equal (action, "send") && rest)
    {
      g_auto (GStrv) words = g_strsplit (rest, " ", 2);

      g_autofree char *command =
        g_strdup_printf ("/msg %s %s", words[0], words[1] ? words[1] : "");

      gtk_toggle_button_set_active (broadcast, FALSE);
      sc_window_compose_set_text (self, command);
    }
  else if (g_str_equal (action, "broadcast") && rest)
    {
      gtk_toggle_button_set_active (broadcast, TRUE);
      sc_window_compose_set_text (self, rest);
      action = "send";
    }
  else if (g_str_equal (action, "type") && rest)
    {
      sc_window_compose_set_text (self, rest);
      return;
    }
  else if (g_str_equal (action, "open") && rest)
    {
      guint64 id;
      g_autofree char *key = NULL;

      /* A client id, or a conversation key such as "everyone". */
      if (g_ascii_string_to_unsigned (rest, 10, 1, G_MAXUINT32, &id, NULL))
        key = sc_client_list_get_key (self->client_list, (guint32) id);
      sc_window_open_conversation (self, key ? key : rest);
      return;
    }
  else if (g_str_equal (action, "resize") && rest)
    {
      g_auto (GStrv) size = g_strsplit (rest, " ", 2);

      if (size[0] && size[1])
        gtk_window_resize (GTK_WINDOW (self),
                           (int) g_ascii_strtoll (size[0], NULL, 10),
                           (int) g_ascii_strtoll (size[1], NULL, 10));
      return;
    }
  if (g_action_group_has_action (G_ACTION_GROUP (self), action))
    g_action_group_activate_action (G_ACTION_GROUP (self), action, NULL);
}

static gboolean
run_next_step (gpointer data)
{
  ScWindow *self = data;
  g_autofree char *line = g_queue_pop_head (&self->demo_steps);
  g_auto (GStrv) words = g_strsplit (line, " ", 3);

  self->demo_source = 0;
  if (words[0] && words[1])
    run_step (self, words[1], words[2]);
  schedule_next_step (self);
  return G_SOURCE_REMOVE;
}

void
sc_window_run_demo_script (ScWindow *self, const char *path)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (SC_IS_WINDOW (self));
  if (!g_file_get_contents (path, &contents, NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (*lines[i] && *lines[i] != '#')
      g_queue_push_tail (&self->demo_steps, g_strdup (lines[i]));
  schedule_next_step (self);
}

void
sc_window_demo_clear (ScWindow *self)
{
  g_clear_handle_id (&self->demo_source, g_source_remove);
  g_queue_clear_full (&self->demo_steps, g_free);
}
