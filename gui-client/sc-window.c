/* sc-window.c: the main window.  This file holds its life cycle, what
 * the client core reports (messages, receipts, clients coming and going,
 * the connection ending), the status bar, reconnecting with backoff and
 * notifications; sc-window-actions.c holds what the user asks for. */
#include "config.h"

#include <glib/gi18n.h>

#include <string.h>

#include "sc-status-text.h"
#include "sc-window-private.h"

#define RETRY_MAX_S         30
#define NOTIFY_DELAY_MS     300
#define NOTIFY_PREVIEW      100 /* characters of the message shown */
#define NOTIFY_INTERVAL_US  (5 * G_USEC_PER_SEC)
#define INFO_RESPONSE_RETRY 1
#define SETTINGS_SCHEMA     APPLICATION_ID
#define RESOURCE_PATH       "/io/github/sockchat/SockChat/ui/sc-window.ui"

/* From the generated sockchat-resources.c (--manual-register). */
void sockchat_register_resource (void);

G_DEFINE_FINAL_TYPE (ScWindow, sc_window, GTK_TYPE_APPLICATION_WINDOW)

/* Registers the GResource (templates, CSS) once per process. */
void
sc_window_ensure_resources (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      hdy_init ();
      sockchat_register_resource ();
      g_once_init_leave (&done, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Info bar and status */

/* The bar's accessible name says what kind of message it holds, so a
 * screen reader does not announce a warning as an error. */
static void
name_info_bar (ScWindow *self, GtkMessageType type, const char *text)
{
  AtkObject *accessible =
    gtk_widget_get_accessible (GTK_WIDGET (self->info_bar));
  const char *name;

  switch (type)
    {
    case GTK_MESSAGE_ERROR: name = _ ("Error"); break;
    case GTK_MESSAGE_WARNING: name = _ ("Warning"); break;
    default: name = _ ("Information"); break;
    }
  atk_object_set_name (accessible, name);
  atk_object_set_description (accessible, text);
}

void
sc_window_show_info (ScWindow *self,
                     GtkMessageType type,
                     gboolean offer_reconnect,
                     const char *text)
{
  gtk_label_set_text (self->info_label, text);
  gtk_info_bar_set_message_type (self->info_bar, type);
  name_info_bar (self, type, text);
  gtk_widget_set_visible (GTK_WIDGET (self->reconnect_button), offer_reconnect);
  gtk_info_bar_set_revealed (self->info_bar, TRUE);
}

void
sc_window_hide_info (ScWindow *self)
{
  gtk_info_bar_set_revealed (self->info_bar, FALSE);
}

static void
set_status (ScWindow *self, const char *status, const char *subtitle)
{
  gtk_label_set_text (self->status_label, status);
  gtk_header_bar_set_subtitle (self->header_bar, subtitle);
}

static void
show_connected_status (ScWindow *self)
{
  const char *nickname = sc_client_get_nickname (self->client);
  g_autofree char *status = NULL;
  g_autofree char *subtitle = NULL;

  if (*nickname)
    /* Translators: host:port, client id, nickname. */
    status = g_strdup_printf (_ ("Connected to %s:%u as client %u (%s)"),
                              sc_client_get_host (self->client),
                              sc_client_get_port (self->client),
                              sc_client_get_id (self->client), nickname);
  else
    status = g_strdup_printf (
      _ ("Connected to %s:%u as client %u"), sc_client_get_host (self->client),
      sc_client_get_port (self->client), sc_client_get_id (self->client));
  subtitle = g_strdup_printf (
    _ ("Client %u on %s:%u"), sc_client_get_id (self->client),
    sc_client_get_host (self->client), sc_client_get_port (self->client));
  set_status (self, status, subtitle);
}

static void
on_state_changed (ScWindow *self, GParamSpec *pspec, ScClient *client)
{
  ScClientState state = sc_client_get_state (client);

  if (state == SC_CLIENT_STATE_CONNECTING)
    gtk_spinner_start (self->spinner);
  else
    gtk_spinner_stop (self->spinner);
  if (state != SC_CLIENT_STATE_CONNECTED)
    gtk_label_set_text (self->rtt_label, "");
  sc_window_actions_update (self);
}

static void
on_rtt_changed (ScWindow *self, GParamSpec *pspec, ScClient *client)
{
  gint64 rtt = sc_client_get_rtt_us (client);
  g_autofree char *text = NULL;

  if (rtt < 0)
    return;
  /* Translators: the heartbeat's round-trip time in milliseconds. */
  text = g_strdup_printf (_ ("Round trip %.2f ms"), rtt / 1000.0);
  gtk_label_set_text (self->rtt_label, text);
}

/* ------------------------------------------------------------------ */
/* Connecting and reconnecting */

void
sc_window_cancel_retry (ScWindow *self)
{
  g_clear_handle_id (&self->retry_source, g_source_remove);
  g_clear_handle_id (&self->retry_tick_source, g_source_remove);
}

/* Seconds until the next attempt, rounded up, at least 1. */
static guint
retry_seconds_left (ScWindow *self)
{
  gint64 left = self->retry_at - g_get_monotonic_time ();

  return (guint) MAX (1, (left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
}

static void
show_retry_countdown (ScWindow *self)
{
  guint left = retry_seconds_left (self);
  g_autofree char *text = NULL;
  g_autofree char *status = NULL;

  text = g_strdup_printf (
    ngettext ("%s\nReconnecting to %s:%u in %u second (attempt %u)…",
              "%s\nReconnecting to %s:%u in %u seconds (attempt %u)…", left),
    self->retry_why, self->target_host, self->target_port, left,
    self->retry_attempt);
  sc_window_show_info (self, GTK_MESSAGE_WARNING, TRUE, text);
  /* The reason is in the info bar; the status line stays short. */
  status = g_strdup_printf (
    ngettext ("Disconnected: reconnecting in %u second (attempt %u)",
              "Disconnected: reconnecting in %u seconds (attempt %u)", left),
    left, self->retry_attempt);
  set_status (self, status, _ ("Not connected"));
}

static gboolean
on_retry_tick (gpointer data)
{
  show_retry_countdown (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_retry (gpointer data)
{
  ScWindow *self = data;

  self->retry_source = 0;
  sc_window_start_connect (self, self->target_host, self->target_port,
                           self->target_nickname, TRUE);
  return G_SOURCE_REMOVE;
}

/* Waits 1 s, 2 s, 4 s … up to RETRY_MAX_S before the next attempt,
 * counting down in the info bar once a second. */
static void
schedule_retry (ScWindow *self, const char *why)
{
  guint delay = MIN (1u << MIN (self->retry_attempt, 5u), RETRY_MAX_S);

  self->retry_attempt++;
  sc_window_cancel_retry (self);
  if (why != self->retry_why)
    {
      g_free (self->retry_why);
      self->retry_why = g_strdup (why);
    }
  self->retry_at = g_get_monotonic_time () + delay * G_USEC_PER_SEC;
  self->retry_source = g_timeout_add_seconds (delay, on_retry, self);
  self->retry_tick_source = g_timeout_add (1000, on_retry_tick, self);
  show_retry_countdown (self);
}

static void
save_server (ScWindow *self)
{
  g_settings_set_string (self->settings, "host", self->target_host);
  g_settings_set_uint (self->settings, "port", self->target_port);
  g_settings_set_string (self->settings, "nickname",
                         self->target_nickname ? self->target_nickname : "");
}

static void
connect_succeeded (ScWindow *self)
{
  g_autofree char *text = NULL;
  const char *server = sc_client_get_server_name (self->client);

  self->retry_attempt = 0;
  g_clear_pointer (&self->shutdown_reason, g_free);
  sc_window_hide_info (self);
  save_server (self);
  show_connected_status (self);
  sc_window_history_set_server (self, self->target_host, self->target_port);
  text = g_strdup_printf (
    _ ("Connected to %s:%u (server “%s”) as client %u"), self->target_host,
    self->target_port, server ? server : "", sc_client_get_id (self->client));
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_SYSTEM, NULL, text);
  sc_client_list_set_self_id (self->client_list,
                              sc_client_get_id (self->client));
  sc_window_request_list (self, FALSE);
  gtk_widget_grab_focus (GTK_WIDGET (self->message_view));
}

static void
connect_failed (ScWindow *self, gboolean retrying, const GError *error)
{
  g_autofree char *text = NULL;

  /* Translators: host:port, then the error. */
  g_autofree char *why = sc_error_text (error);

  text = g_strdup_printf (_ ("Could not connect to %s:%u: %s"),
                          self->target_host, self->target_port, why);
  /* While reconnecting, the info bar says how it goes: the log already
   * has the line that says the connection was lost, and one more line
   * per attempt would bury the conversation. */
  if (retrying && !sc_tls_status_error_is_final (error))
    {
      schedule_retry (self, text);
      return;
    }
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_ERROR, NULL, text);
  sc_window_show_info (self, GTK_MESSAGE_ERROR, FALSE, text);
  set_status (self, text, _ ("Not connected"));
}

typedef struct
{
  ScWindow *self;
  gboolean retrying;
} ConnectData;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ConnectData *data = user_data;
  g_autoptr (ScWindow) self = data->self;
  gboolean retrying = data->retrying;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  g_free (data);
  ok = sc_client_connect_finish (SC_CLIENT (source), result, &error);
  /* The window is being destroyed, or the user gave up (Disconnect). */
  if (self->client == NULL ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (ok)
    connect_succeeded (self);
  else
    connect_failed (self, retrying, error);
}

void
sc_window_start_connect (ScWindow *self,
                         const char *host,
                         guint16 port,
                         const char *nickname,
                         gboolean retrying)
{
  ConnectData *data;
  g_autofree char *status = NULL;

  sc_window_cancel_retry (self);
  if (sc_client_get_state (self->client) != SC_CLIENT_STATE_DISCONNECTED)
    return;
  if (host != self->target_host)
    {
      g_free (self->target_host);
      self->target_host = g_strdup (host);
    }
  if (nickname != self->target_nickname)
    {
      g_free (self->target_nickname);
      self->target_nickname = g_strdup (nickname);
    }
  self->target_port = port;
  if (!retrying)
    {
      self->retry_attempt = 0;
      sc_window_hide_info (self);
    }
  /* Translators: host:port. */
  status = g_strdup_printf (_ ("Connecting to %s:%u…"), host, port);
  set_status (self, status, _ ("Connecting…"));
  data = g_new0 (ConnectData, 1);
  data->self = g_object_ref (self);
  data->retrying = retrying;
  sc_window_use_password (self);
  sc_client_connect_async (self->client, host, port, nickname,
                           self->cancellable, on_connected, data);
}

/* ------------------------------------------------------------------ */
/* What the core reports */

static char *
describe_sender (const ScPeer *info)
{
  if (info->nickname && *info->nickname)
    return g_strdup_printf ("#%u %s (%s:%u)", info->id, info->nickname,
                            info->address, info->port);
  return g_strdup_printf ("#%u (%s:%u)", info->id, info->address, info->port);
}

/* What notifications say about one conversation until they are sent. */
typedef struct
{
  guint count;
  char *first; /* "nickname: the first 100 characters" */
} PendingNote;

static void
pending_note_free (PendingNote *note)
{
  g_free (note->first);
  g_free (note);
}

static GApplication *
notifying_application (ScWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  /* Without a session bus there is nobody to notify. */
  if (app == NULL ||
      g_application_get_dbus_connection (G_APPLICATION (app)) == NULL)
    return NULL;
  return G_APPLICATION (app);
}

static char *
notification_id (const char *key)
{
  return g_strconcat ("conversation:", key, NULL);
}

static void
send_note (ScWindow *self,
           GApplication *app,
           const char *key,
           PendingNote *note)
{
  g_autoptr (GNotification) notification = NULL;
  g_autofree char *title = sc_client_list_key_title (self->client_list, key);
  g_autofree char *body = NULL;
  g_autofree char *id = notification_id (key);

  if (note->count > 1)
    body =
      g_strdup_printf (ngettext ("%s\n(and %u more message)",
                                 "%s\n(and %u more messages)", note->count - 1),
                       note->first, note->count - 1);
  else
    body = g_strdup (note->first);
  notification = g_notification_new (title);
  g_notification_set_body (notification, body);
  g_notification_set_default_action_and_target (
    notification, "app.open-conversation", "(us)",
    gtk_application_window_get_id (GTK_APPLICATION_WINDOW (self)), key);
  /* The same id replaces the conversation's earlier notification. */
  g_application_send_notification (app, id, notification);
}

static gboolean
on_notify_timeout (gpointer data)
{
  ScWindow *self = data;
  GApplication *app = notifying_application (self);
  GHashTableIter iter;
  const char *key;
  PendingNote *note;

  self->notify_source = 0;
  g_hash_table_iter_init (&iter, self->pending_notes);
  while (app &&
         g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &note))
    send_note (self, app, key, note);
  g_hash_table_remove_all (self->pending_notes);
  self->last_notified = g_get_monotonic_time ();
  return G_SOURCE_REMOVE;
}

/* The conversation the user is looking at now, if any: the window is
 * active and shows it. */
static gboolean
is_reading (ScWindow *self, const char *key)
{
  return gtk_window_is_active (GTK_WINDOW (self)) &&
         g_strcmp0 (sc_conversations_get_visible_key (self->conversations),
                    key) == 0;
}

/* Counts a message that came while the window was not focused: one
 * timeout turns a burst into one notification per conversation, at
 * most one round every NOTIFY_INTERVAL_US. */
static void
note_unseen (ScWindow *self,
             const char *key,
             const char *from,
             const char *text)
{
  gint64 now = g_get_monotonic_time ();
  PendingNote *note;
  gint64 wait_ms;

  if (gtk_window_is_active (GTK_WINDOW (self)) ||
      !g_settings_get_boolean (self->settings, "notify") ||
      notifying_application (self) == NULL)
    return;
  note = g_hash_table_lookup (self->pending_notes, key);
  if (note == NULL)
    {
      g_autofree char *preview = g_utf8_substring (
        text, 0, MIN (g_utf8_strlen (text, -1), NOTIFY_PREVIEW));

      note = g_new0 (PendingNote, 1);
      /* Translators: a notification's text: nickname, message start. */
      note->first = g_strdup_printf (_ ("%s: %s"), from, preview);
      g_hash_table_insert (self->pending_notes, g_strdup (key), note);
    }
  note->count++;
  if (self->notify_source != 0)
    return;
  wait_ms = (self->last_notified + NOTIFY_INTERVAL_US - now) / 1000;
  self->notify_source = g_timeout_add (
    (guint) CLAMP (wait_ms, NOTIFY_DELAY_MS, NOTIFY_INTERVAL_US / 1000),
    on_notify_timeout, self);
}

/* "SockChat", or "(3) SockChat" with three messages unread, so the
 * task bar and window switcher show that something came. */
static void
update_title (ScWindow *self)
{
  guint unread = sc_conversations_get_total_unread (self->conversations);
  g_autofree char *title = NULL;

  if (unread > 0)
    /* Translators: the window title with the number of unread messages. */
    title = g_strdup_printf (_ ("(%u) SockChat"), unread);
  else
    title = g_strdup (_ ("SockChat"));
  gtk_window_set_title (GTK_WINDOW (self), title);
  gtk_header_bar_set_title (self->header_bar, title);
}

/* The conversation @key has been read: its count and notification go. */
static void
on_unread_changed (ScWindow *self, const char *key, ScConversations *unused)
{
  GApplication *app = notifying_application (self);

  update_title (self);
  if (sc_conversations_get_unread (self->conversations, key) > 0)
    return;
  g_hash_table_remove (self->pending_notes, key);
  if (app)
    {
      g_autofree char *id = notification_id (key);

      g_application_withdraw_notification (app, id);
    }
}

static void
on_active_changed (ScWindow *self, GParamSpec *pspec, gpointer unused)
{
  if (!gtk_window_is_active (GTK_WINDOW (self)))
    return;
  sc_conversations_mark_read (
    self->conversations,
    sc_conversations_get_visible_key (self->conversations));
}

/* Adds a line to conversation @key's log and to All activity. */
void
sc_window_log (ScWindow *self,
               const char *key,
               ScLogKind kind,
               const char *who,
               const char *text)
{
  sc_message_log_append (self->log, kind, who, text);
  if (key && !g_str_equal (key, SC_CONVERSATION_KEY_ALL))
    {
      sc_message_log_append (
        sc_conversations_get_log (self->conversations, key), kind, who, text);
      sc_window_history_record (self, key, SC_HISTORY_KIND_EVENT, who, 0, text,
                                0, FALSE);
    }
}

/* Private messages go to the sender's conversation (listed first if the
 * list has not caught up with them), broadcasts to Everyone. */
static char *
conversation_of (ScWindow *self, const ScChatMessage *message)
{
  char *key;

  if (message->broadcast)
    return g_strdup (SC_CONVERSATION_KEY_EVERYONE);
  key = sc_client_list_get_key (self->client_list, message->sender->id);
  if (key == NULL)
    {
      sc_client_list_upsert (self->client_list, message->sender);
      key = sc_client_list_get_key (self->client_list, message->sender->id);
    }
  return key ? key : g_strdup_printf ("peer:#%u", message->sender->id);
}

static void
on_message_received (ScWindow *self, const ScChatMessage *message)
{
  g_autofree char *who = describe_sender (message->sender);
  g_autofree char *from = NULL;

  g_autofree char *key = conversation_of (self, message);
  g_autofree char *nickname = NULL;
  g_autofree char *short_from = NULL;

  from = g_strdup_printf (
    message->broadcast ? _ ("← %s to everyone:") : _ ("← %s:"), who);
  sc_message_log_append (self->log, SC_LOG_INCOMING, from, message->text);
  nickname = *message->sender->nickname
               ? g_strdup (message->sender->nickname)
               : g_strdup_printf ("#%u", message->sender->id);
  short_from = g_strdup_printf (_ ("← %s:"), nickname);
  sc_conversations_note_message (self->conversations, key,
                                 !is_reading (self, key));
  sc_message_log_append (sc_conversations_get_log (self->conversations, key),
                         SC_LOG_INCOMING, short_from, message->text);
  sc_window_history_record (self, key,
                            message->broadcast ? SC_HISTORY_KIND_BROADCAST_IN
                                               : SC_HISTORY_KIND_INCOMING,
                            nickname, message->sender->id, message->text, 0,
                            FALSE);
  note_unseen (self, key, nickname, message->text);
}

typedef struct
{
  guint64 message_id;
  ScStatus status;
} ReceiptData;

static void
apply_receipt (gpointer log, gpointer data)
{
  ReceiptData *receipt = data;

  /* The server's reason is English; its status code has a translation. */
  sc_message_log_receipt (log, receipt->message_id,
                          receipt->status == SC_STATUS_OK,
                          sc_status_text (receipt->status));
}

static void
abandon_pending (gpointer log, gpointer reason)
{
  sc_message_log_abandon_pending (log, reason);
}

static void
on_delivery_receipt (ScWindow *self,
                     guint64 message_id,
                     guint recipient,
                     ScStatus status,
                     const char *reason,
                     ScClient *client)
{
  ReceiptData receipt = { message_id, status };

  sc_window_history_receipt (self, message_id, status == SC_STATUS_OK);
  /* Every log that shows the message: All activity and its own. */
  sc_conversations_foreach_log (self->conversations, apply_receipt, &receipt);
}

/* Joins, leaves and renames go to Server and, when one has talked with
 * that person, to their conversation too: there it says why they can
 * no longer be written to, or that they are back. */
static void
log_presence (ScWindow *self, guint id, const char *who, const char *text)
{
  g_autofree char *key = sc_client_list_get_key (self->client_list, id);
  ScMessageLog *log =
    key ? sc_conversations_lookup_log (self->conversations, key) : NULL;

  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_SYSTEM, who, text);
  if (log)
    {
      sc_message_log_append (log, SC_LOG_SYSTEM, who, text);
      sc_window_history_record (self, key, SC_HISTORY_KIND_EVENT, who, 0, text,
                                0, FALSE);
    }
}

static void
on_client_joined (ScWindow *self, const ScPeer *info)
{
  g_autofree char *who = describe_sender (info);

  sc_client_list_upsert (self->client_list, info);
  log_presence (self, info->id, who, _ ("joined"));
}

static void
on_client_left (ScWindow *self, guint id, const char *reason)
{
  g_autofree char *who = sc_client_list_describe (self->client_list, id);
  g_autofree char *text = NULL;

  text = reason && *reason ? g_strdup_printf (_ ("left (%s)"), reason)
                           : g_strdup (_ ("left"));
  log_presence (self, id, who, text);
  sc_client_list_remove (self->client_list, id);
}

static void
on_client_renamed (ScWindow *self, guint id, const char *nickname)
{
  g_autofree char *who = sc_client_list_describe (self->client_list, id);
  g_autofree char *text = NULL;

  text = g_strdup_printf (_ ("is now called “%s”"), nickname);
  log_presence (self, id, who, text);
  sc_client_list_rename (self->client_list, id, nickname);
  if (id == sc_client_get_id (self->client))
    show_connected_status (self);
}

static void
on_server_shutdown (ScWindow *self, const char *reason)
{
  g_autofree char *text = NULL;

  g_free (self->shutdown_reason);
  self->shutdown_reason =
    g_strdup (reason && *reason ? reason : _ ("no reason"));
  text = g_strdup_printf (_ ("The server is shutting down: %s"),
                          self->shutdown_reason);
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_SYSTEM, NULL, text);
}

static void
on_disconnected (ScWindow *self, ScDisconnectReason reason, const char *detail)
{
  g_autofree char *why = NULL;

  sc_client_list_set_self_id (self->client_list, 0);
  sc_client_list_clear_people (self->client_list);
  /* Receipts of this connection will never come. */
  sc_conversations_foreach_log (
    self->conversations, abandon_pending,
    (gpointer) _ ("unconfirmed: disconnected before the receipt"));
  if (reason == SC_DISCONNECT_BY_US)
    {
      sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_SYSTEM, NULL,
                     _ ("Disconnected"));
      set_status (self, _ ("Disconnected"), _ ("Not connected"));
      return;
    }
  if (self->shutdown_reason)
    why =
      g_strdup_printf (_ ("The server shut down: %s"), self->shutdown_reason);
  else if (reason == SC_DISCONNECT_PROTOCOL_ERROR)
    why = g_strdup_printf (_ ("Protocol error: %s"), detail);
  else
    why = g_strdup_printf (_ ("Connection lost: %s"), detail);
  g_clear_pointer (&self->shutdown_reason, g_free);
  sc_window_log (self, SC_CONVERSATION_KEY_SERVER, SC_LOG_ERROR, NULL, why);
  schedule_retry (self, why);
}

/* ------------------------------------------------------------------ */
/* Template callbacks */

static void
on_info_bar_response (GtkInfoBar *info_bar, int response, ScWindow *self)
{
  if (response == INFO_RESPONSE_RETRY)
    {
      sc_window_start_connect (self, self->target_host, self->target_port,
                               self->target_nickname, TRUE);
      return;
    }
  /* Closing the bar also stops reconnecting. */
  sc_window_cancel_retry (self);
  sc_window_hide_info (self);
  if (sc_client_get_state (self->client) == SC_CLIENT_STATE_DISCONNECTED)
    set_status (self, _ ("Disconnected"), _ ("Not connected"));
}

/* Enter in a connection field connects; in the nickname field while
 * connected, it asks the server for the new name. */
/* The password field's text for the next hello or nickname change; an
 * empty field sends none.  It is never saved, and crosses the network
 * over TLS only unless the "allow-plaintext-password" key says so. */
void
sc_window_use_password (ScWindow *self)
{
  const char *password = gtk_entry_get_text (self->password_entry);

  sc_client_set_password (self->client, *password ? password : NULL);
  sc_client_set_allow_plaintext_password (
    self->client,
    g_settings_get_boolean (self->settings, "allow-plaintext-password"));
}

static void
on_connect_field_activate (ScWindow *self, GtkWidget *field)
{
  if ((field == GTK_WIDGET (self->nick_entry) ||
       field == GTK_WIDGET (self->password_entry)) &&
      sc_client_get_state (self->client) == SC_CLIENT_STATE_CONNECTED)
    {
      sc_window_rename (self);
      return;
    }
  g_action_group_activate_action (G_ACTION_GROUP (self), "connect", NULL);
}

/* Enter sends, Shift+Enter (or Ctrl+Enter) starts a new line.  Not
 * through the action: a disabled action would ignore Enter, and the
 * composer must say why nothing was sent. */
static gboolean
on_message_key_press (ScWindow *self, GdkEventKey *event, GtkTextView *view)
{
  GdkModifierType mods = event->state & gtk_accelerator_get_default_mod_mask ();

  if (event->keyval != GDK_KEY_Return && event->keyval != GDK_KEY_KP_Enter &&
      event->keyval != GDK_KEY_ISO_Enter)
    return GDK_EVENT_PROPAGATE;
  if (mods & (GDK_SHIFT_MASK | GDK_CONTROL_MASK))
    {
      gtk_text_buffer_insert_at_cursor (gtk_text_view_get_buffer (view), "\n",
                                        1);
      return GDK_EVENT_STOP;
    }
  if (mods != 0)
    return GDK_EVENT_PROPAGATE;
  sc_window_compose_send (self);
  return GDK_EVENT_STOP;
}

static void
on_message_changed (ScWindow *self, GtkTextBuffer *buffer)
{
  sc_window_compose_update (self);
}

static void
on_broadcast_toggled (ScWindow *self, GtkToggleButton *check)
{
  sc_window_compose_update (self);
}

/* ------------------------------------------------------------------ */
/* Narrow windows: the leaflet shows the list or the messages */

static void
on_clients_toggled (ScWindow *self, GtkToggleButton *toggle)
{
  hdy_leaflet_set_visible_child (
    self->leaflet,
    gtk_toggle_button_get_active (toggle) ? self->sidebar : self->content);
}

/* Folding shows the messages (the list is one toggle away); a swipe
 * back to the list sets the toggle; unfolding clears it. */
static void
on_leaflet_folded (ScWindow *self, GParamSpec *pspec, HdyLeaflet *leaflet)
{
  gboolean folded = hdy_leaflet_get_folded (leaflet);

  gtk_widget_set_visible (GTK_WIDGET (self->clients_toggle), folded);
  gtk_toggle_button_set_active (self->clients_toggle, FALSE);
  hdy_leaflet_set_visible_child (leaflet, self->content);
}

static void
on_leaflet_child (ScWindow *self, GParamSpec *pspec, HdyLeaflet *leaflet)
{
  if (hdy_leaflet_get_folded (leaflet))
    gtk_toggle_button_set_active (self->clients_toggle,
                                  hdy_leaflet_get_visible_child (leaflet) ==
                                    self->sidebar);
}

/* The Everyone conversation always broadcasts: its tick shows that and
 * cannot be taken off there. */
static void
set_everyone_selected (ScWindow *self, gboolean selected)
{
  GtkToggleButton *check = GTK_TOGGLE_BUTTON (self->broadcast_check);

  if (self->everyone_selected == selected)
    return;
  self->everyone_selected = selected;
  gtk_toggle_button_set_active (check, selected);
  gtk_widget_set_sensitive (GTK_WIDGET (check), !selected);
}

/* Picking a row opens its conversation.  A client's row also picks that
 * person as the recipient, with their connection time; Everyone makes
 * the composer broadcast; Server and All activity leave it as it was.
 * In a folded window it also goes to the messages, where one writes. */
static void
on_client_selection_changed (GtkTreeSelection *selection, ScWindow *self)
{
  GtkTreeModel *model;
  GtkTreeIter iter;
  guint id;
  ScConversationKind kind;
  g_autofree char *key = NULL;

  if (!gtk_tree_selection_get_selected (selection, &model, &iter))
    return;
  gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &id,
                      SC_CLIENT_LIST_COLUMN_KIND, &kind,
                      SC_CLIENT_LIST_COLUMN_KEY, &key, -1);
  set_everyone_selected (self, kind == SC_CONVERSATION_EVERYONE);
  if (kind == SC_CONVERSATION_PERSON)
    {
      g_autoptr (ScPeer) peer = sc_client_list_lookup (self->client_list, id);

      if (peer)
        sc_window_set_recipient (self, peer);
    }
  else
    sc_window_compose_update (self);
  sc_window_show_conversation (self, key);
  if (hdy_leaflet_get_folded (self->leaflet))
    gtk_toggle_button_set_active (self->clients_toggle, FALSE);
}

static void
on_jump_clicked (ScWindow *self, GtkButton *button)
{
  sc_message_log_scroll_to_end (
    sc_conversations_get_visible_log (self->conversations));
}

/* ------------------------------------------------------------------ */
/* Conversations and searching in them */

/* The jump button and the search follow the conversation shown. */
static void
on_visible_log_changed (ScWindow *self, GParamSpec *pspec, GtkStack *stack)
{
  ScMessageLog *log = sc_conversations_get_visible_log (self->conversations);

  g_clear_pointer (&self->jump_binding, g_binding_unbind);
  self->jump_binding = g_object_bind_property (
    log, "has-unseen", self->jump_button, "visible", G_BINDING_SYNC_CREATE);
  sc_window_search_refresh (self);
}

/* Shows conversation @key and, when the window is active, counts its
 * messages as read. */
void
sc_window_show_conversation (ScWindow *self, const char *key)
{
  sc_conversations_show (self->conversations, key);
  if (gtk_window_is_active (GTK_WINDOW (self)))
    sc_conversations_mark_read (self->conversations, key);
}

/* Opens conversation @key as picking its row would (from a
 * notification); a conversation without a row (its person left) is
 * still shown. */
void
sc_window_open_conversation (ScWindow *self, const char *key)
{
  GtkTreeIter iter;

  g_return_if_fail (SC_IS_WINDOW (self));
  if (sc_client_list_find_key (self->client_list, key, &iter))
    gtk_tree_selection_select_iter (
      gtk_tree_view_get_selection (self->client_view), &iter);
  else
    sc_window_show_conversation (self, key);
  sc_conversations_mark_read (self->conversations, key);
}

/* The recipient may have left or come back; Send follows. */
static void
on_client_rows_changed (ScWindow *self)
{
  sc_window_compose_update (self);
}

/* ------------------------------------------------------------------ */
/* Public API and boilerplate */

/* Fills in the connection fields; NULL or 0 keeps what is there. */
/* sockchat --tls: the connect form's TLS box, checked (sc-tls-status.c). */
void
sc_window_set_tls (ScWindow *self, gboolean tls)
{
  sc_tls_status_set_tls (self->tls_status, tls);
}

void
sc_window_set_server (ScWindow *self,
                      const char *host,
                      guint port,
                      const char *nickname)
{
  g_return_if_fail (SC_IS_WINDOW (self));

  if (host)
    gtk_entry_set_text (self->host_entry, host);
  if (port > 0)
    gtk_spin_button_set_value (self->port_spin, port);
  if (nickname)
    gtk_entry_set_text (self->nick_entry, nickname);
}

void
sc_window_connect (ScWindow *self)
{
  g_return_if_fail (SC_IS_WINDOW (self));
  g_action_group_activate_action (G_ACTION_GROUP (self), "connect", NULL);
}

ScWindow *
sc_window_new (GtkApplication *application)
{
  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  return g_object_new (SC_TYPE_WINDOW, "application", application, NULL);
}

static void
sc_window_dispose (GObject *object)
{
  ScWindow *self = SC_WINDOW (object);
  g_autoptr (ScClient) client = g_steal_pointer (&self->client);

  g_cancellable_cancel (self->cancellable);
  sc_window_search_dispose (self);
  sc_window_cancel_retry (self);
  g_clear_handle_id (&self->notify_source, g_source_remove);
  sc_window_demo_clear (self);
  /* Callbacks still in flight see client == NULL and do nothing. */
  if (client)
    {
      g_signal_handlers_disconnect_by_data (client, self);
      sc_client_disconnect (client);
    }
  g_clear_object (&self->tls_status);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->jump_binding, g_binding_unbind);
  g_clear_object (&self->history);
  g_clear_object (&self->conversations);
  G_OBJECT_CLASS (sc_window_parent_class)->dispose (object);
}

static void
sc_window_finalize (GObject *object)
{
  ScWindow *self = SC_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_free (self->target_host);
  g_free (self->target_nickname);
  g_free (self->shutdown_reason);
  g_clear_pointer (&self->pending_notes, g_hash_table_unref);
  g_free (self->history_server);
  g_free (self->retry_why);
  g_clear_pointer (&self->recipient, sc_peer_free);
  G_OBJECT_CLASS (sc_window_parent_class)->finalize (object);
}

static void
bind_children (GtkWidgetClass *widget_class)
{
#define BIND(name) \
  gtk_widget_class_bind_template_child (widget_class, ScWindow, name)
  BIND (header_bar);
  BIND (menu_button);
  BIND (info_bar);
  BIND (info_label);
  BIND (reconnect_button);
  BIND (close_info_button);
  BIND (host_entry);
  BIND (port_spin);
  BIND (nick_entry);
  BIND (password_entry);
  BIND (connect_button);
  BIND (disconnect_button);
  BIND (time_button);
  BIND (name_button);
  BIND (list_button);
  BIND (send_button);
  BIND (quit_button);
  BIND (leaflet);
  BIND (sidebar);
  BIND (content);
  BIND (clients_toggle);
  BIND (client_view);
  BIND (client_list);
  BIND (log_stack);
  BIND (log);
  BIND (search_bar);
  BIND (search_entry);
  BIND (search_label);
  BIND (search_older_button);
  BIND (jump_button);
  BIND (recipient_label);
  BIND (broadcast_check);
  BIND (message_view);
  BIND (compose_hint);
  BIND (spinner);
  BIND (status_label);
  BIND (rtt_label);
#undef BIND
}

static void
sc_window_class_init (ScWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = sc_window_dispose;
  object_class->finalize = sc_window_finalize;

  sc_window_ensure_resources ();
  g_type_ensure (SC_TYPE_CLIENT_LIST);
  g_type_ensure (SC_TYPE_MESSAGE_LOG);
  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PATH);
  bind_children (widget_class);
  gtk_widget_class_bind_template_callback (widget_class, on_info_bar_response);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_connect_field_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_message_key_press);
  sc_window_search_class_init (widget_class);
  gtk_widget_class_bind_template_callback (widget_class, on_broadcast_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_jump_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_clients_toggled);
  gtk_widget_class_bind_template_callback (widget_class,
                                           on_client_selection_changed);
}

static void
connect_client_signals (ScWindow *self)
{
  g_signal_connect_swapped (self->client, "notify::state",
                            G_CALLBACK (on_state_changed), self);
  g_signal_connect_swapped (self->client, "notify::rtt-us",
                            G_CALLBACK (on_rtt_changed), self);
  g_signal_connect_swapped (self->client, "message-received",
                            G_CALLBACK (on_message_received), self);
  g_signal_connect_swapped (self->client, "delivery-receipt",
                            G_CALLBACK (on_delivery_receipt), self);
  g_signal_connect_swapped (self->client, "client-joined",
                            G_CALLBACK (on_client_joined), self);
  g_signal_connect_swapped (self->client, "client-left",
                            G_CALLBACK (on_client_left), self);
  g_signal_connect_swapped (self->client, "client-renamed",
                            G_CALLBACK (on_client_renamed), self);
  g_signal_connect_swapped (self->client, "server-shutdown",
                            G_CALLBACK (on_server_shutdown), self);
  g_signal_connect_swapped (self->client, "disconnected",
                            G_CALLBACK (on_disconnected), self);
}

static void
sc_window_init (ScWindow *self)
{
  g_autofree char *host = NULL;
  g_autofree char *nickname = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();
  g_queue_init (&self->demo_steps);
  self->settings = g_settings_new (SETTINGS_SCHEMA);
  g_settings_bind (self->settings, "log-lines", self->log, "max-lines",
                   G_SETTINGS_BIND_GET);
  host = g_settings_get_string (self->settings, "host");
  nickname = g_settings_get_string (self->settings, "nickname");
  sc_window_set_server (self, host,
                        g_settings_get_uint (self->settings, "port"), nickname);

  self->client = sc_client_new ("sockchat");
  connect_client_signals (self);
  self->tls_status = sc_tls_status_new (self->client, self->settings);
  sc_tls_status_attach (self->tls_status, self->port_spin,
                        GTK_WIDGET (self->status_label),
                        GTK_WIDGET (self->info_bar));
  g_signal_connect (self, "notify::is-active", G_CALLBACK (on_active_changed),
                    NULL);
  g_signal_connect_object (self->leaflet, "notify::folded",
                           G_CALLBACK (on_leaflet_folded), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->leaflet, "notify::visible-child",
                           G_CALLBACK (on_leaflet_child), self,
                           G_CONNECT_SWAPPED);
  self->conversations =
    sc_conversations_new (self->log_stack, self->log, self->client_list);
  g_signal_connect_object (self->conversations, "unread-changed",
                           G_CALLBACK (on_unread_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->log_stack, "notify::visible-child",
                           G_CALLBACK (on_visible_log_changed), self,
                           G_CONNECT_SWAPPED);
  on_visible_log_changed (self, NULL, self->log_stack);
  sc_window_history_init (self);
  self->pending_notes = g_hash_table_new_full (
    g_str_hash, g_str_equal, g_free, (GDestroyNotify) pending_note_free);
  g_signal_connect_object (gtk_text_view_get_buffer (self->message_view),
                           "changed", G_CALLBACK (on_message_changed), self,
                           G_CONNECT_SWAPPED);
  sc_window_search_init (self);
  g_signal_connect_object (self->client_list, "row-deleted",
                           G_CALLBACK (on_client_rows_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->client_list, "row-changed",
                           G_CALLBACK (on_client_rows_changed), self,
                           G_CONNECT_SWAPPED);
  gtk_tree_view_set_search_column (self->client_view,
                                   SC_CLIENT_LIST_COLUMN_NICKNAME);
  gtk_tree_view_set_search_equal_func (self->client_view,
                                       sc_client_list_search_equal, NULL, NULL);
  sc_window_actions_install (self);
  sc_window_actions_update (self);
}
