/* sc-window-history.c: the window's side of the conversation history.
 *
 * What is said in a conversation (not in All activity, which is this
 * session's log as the lab asked for) is written to the ScHistory of
 * the server it was said on, "host:port".  A conversation's log is
 * filled from history when it is made, so opening a conversation, or
 * coming back to a server, shows what was said before.  With the
 * "history-enabled" setting off nothing is read or written; if the
 * store cannot be opened the info bar says why and the window goes on
 * without it. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-window-private.h"

typedef enum
{
  STATE_UNCONFIRMED, /* accepted; no receipt before the connection ended */
  STATE_DELIVERED,
  STATE_FAILED,
} SentState;

static void
open_history (ScWindow *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  self->history = sc_history_new (NULL, &error);
  if (self->history)
    {
      sc_history_set_limit (
        self->history, g_settings_get_uint (self->settings, "history-limit"));
      return;
    }
  /* Translators: the history store could not be opened; the reason. */
  text = g_strdup_printf (_ ("History is not kept in this window: %s"),
                          error->message);
  sc_window_show_info (self, GTK_MESSAGE_WARNING, FALSE, text);
}

static void
on_history_enabled (ScWindow *self, const char *key, GSettings *settings)
{
  gboolean enabled = g_settings_get_boolean (settings, "history-enabled");

  if (enabled && self->history == NULL)
    open_history (self);
  else if (!enabled)
    g_clear_object (&self->history);
}

static void
on_history_limit (ScWindow *self, const char *key, GSettings *settings)
{
  if (self->history)
    sc_history_set_limit (self->history,
                          g_settings_get_uint (settings, "history-limit"));
}

/* ------------------------------------------------------------------ */
/* Reading */

static const char *
state_text (int state, gboolean *failed)
{
  *failed = state == STATE_FAILED;
  switch (state)
    {
    case STATE_DELIVERED: return _ ("delivered");
    case STATE_FAILED: return _ ("not delivered");
    default: return _ ("unconfirmed");
    }
}

static void
show_entry (ScWindow *self,
            ScMessageLog *log,
            const char *key,
            const ScHistoryEntry *entry)
{
  g_autofree char *who = NULL;
  const char *state = NULL;
  gboolean failed = FALSE;
  g_autofree char *title = NULL;

  switch (entry->kind)
    {
    case SC_HISTORY_KIND_OUTGOING:
    case SC_HISTORY_KIND_BROADCAST_OUT:
      title = sc_client_list_key_title (self->client_list, key);
      who = g_strdup_printf (_ ("→ %s:"), title);
      state = state_text (entry->state, &failed);
      break;
    case SC_HISTORY_KIND_EVENT: who = g_strdup (entry->sender_nickname); break;
    default:
      who = g_strdup_printf (
        _ ("← %s:"), entry->sender_nickname ? entry->sender_nickname : "");
      break;
    }
  sc_message_log_append_at (
    log, entry->kind == SC_HISTORY_KIND_EVENT ? SC_LOG_SYSTEM : SC_LOG_INCOMING,
    who, entry->text, entry->time_us, state, failed);
}

/* A conversation's new log starts with what history has of it, as much
 * as the log shows. */
static void
on_log_created (ScWindow *self,
                const char *key,
                ScMessageLog *log,
                ScConversations *conversations)
{
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GError) error = NULL;

  if (self->history == NULL || self->history_server == NULL)
    return;
  entries = sc_history_load (self->history, self->history_server, key,
                             sc_message_log_get_max_lines (log), &error);
  if (entries == NULL)
    {
      g_warning ("history of %s on %s: %s", key, self->history_server,
                 error->message);
      return;
    }
  for (guint i = 0; i < entries->len; i++)
    show_entry (self, log, key, g_ptr_array_index (entries, i));
}

/* ------------------------------------------------------------------ */
/* Writing */

/* Connected to host:port: its conversations are other conversations
 * than the last server's, so their logs are made again from history. */
void
sc_window_history_set_server (ScWindow *self, const char *host, guint16 port)
{
  g_autofree char *server = g_strdup_printf ("%s:%u", host, port);

  if (g_strcmp0 (server, self->history_server) == 0)
    return;
  g_free (self->history_server);
  self->history_server = g_steal_pointer (&server);
  sc_conversations_forget_logs (self->conversations);
}

void
sc_window_history_record (ScWindow *self,
                          const char *key,
                          ScHistoryKind kind,
                          const char *nickname,
                          guint32 sender_id,
                          const char *text,
                          guint64 message_id,
                          gboolean failed)
{
  g_autoptr (ScHistoryEntry) entry = NULL;

  if (self->history == NULL || self->history_server == NULL ||
      g_str_equal (key, SC_CONVERSATION_KEY_ALL))
    return;
  entry = sc_history_entry_new (self->history_server, key, g_get_real_time (),
                                kind, nickname, sender_id, text, message_id,
                                failed ? STATE_FAILED : STATE_UNCONFIRMED);
  sc_history_append (self->history, entry);
}

/* A receipt for a message we sent.  A broadcast has one per recipient;
 * the last one decides what its history says. */
void
sc_window_history_receipt (ScWindow *self, guint64 message_id, gboolean ok)
{
  if (self->history && self->history_server)
    sc_history_update_state (self->history, self->history_server, message_id,
                             ok ? STATE_DELIVERED : STATE_FAILED);
}

/* Empties the logs that came from history (the Preferences button has
 * cleared the store). */
void
sc_window_history_cleared (ScWindow *self)
{
  sc_conversations_forget_logs (self->conversations);
}

void
sc_window_history_init (ScWindow *self)
{
  g_signal_connect_object (self->settings, "changed::history-enabled",
                           G_CALLBACK (on_history_enabled), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::history-limit",
                           G_CALLBACK (on_history_limit), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->conversations, "log-created",
                           G_CALLBACK (on_log_created), self,
                           G_CONNECT_SWAPPED);
  on_history_enabled (self, NULL, self->settings);
}
