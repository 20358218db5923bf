/* sc-window-compose.c: the composer.  Who a message goes to, whether it
 * can be sent and, when it cannot, why (always said, never a silent
 * no-op), "/msg ID text" as the lab's "send to client N", and sending.
 *
 * The recipient is a person picked in the client list, kept as the
 * whole ScPeer: id and connection time together.  A client id is
 * given to someone else after a server restart, so a bare number would
 * silently change meaning; the recipient is valid only while the list
 * has a row with the same id and the same connection time. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-status-text.h"
#include "sc-window-private.h"

/* ------------------------------------------------------------------ */
/* The recipient */

static char *
describe_peer (const ScPeer *peer)
{
  if (*peer->nickname)
    return g_strdup_printf ("%s (#%u)", peer->nickname, peer->id);
  return g_strdup_printf ("#%u", peer->id);
}

/* The very person we picked, as the list has them now (their nickname
 * may have changed), or NULL when they are gone.  (transfer full) */
static ScPeer *
recipient_now (ScWindow *self)
{
  g_autoptr (ScPeer) current = NULL;

  if (self->recipient == NULL)
    return NULL;
  current = sc_client_list_lookup (self->client_list, self->recipient->id);
  if (current == NULL || !sc_peer_same_person (current, self->recipient))
    return NULL;
  return g_steal_pointer (&current);
}

void
sc_window_set_recipient (ScWindow *self, const ScPeer *peer)
{
  g_clear_pointer (&self->recipient, sc_peer_free);
  if (peer)
    self->recipient = sc_peer_copy (peer);
  sc_window_compose_update (self);
}

static gboolean
is_blank (const char *text)
{
  for (; *text; text = g_utf8_next_char (text))
    if (!g_unichar_isspace (g_utf8_get_char (text)))
      return FALSE;
  return TRUE;
}

/* Parses "/msg ID text"; returns FALSE when @text is not that command. */
static gboolean
parse_msg_command (const char *text, guint32 *id, const char **body)
{
  const char *p;
  char *end;
  guint64 value;

  if (!g_str_has_prefix (text, "/msg "))
    return FALSE;
  p = text + strlen ("/msg ");
  while (*p == ' ')
    p++;
  if (*p == '#')
    p++;
  value = g_ascii_strtoull (p, &end, 10);
  if (end == p || value == 0 || value > G_MAXUINT32 || *end != ' ')
    return FALSE;
  *id = (guint32) value;
  *body = end + 1;
  return TRUE;
}

/* Why sending is not possible now, ignoring the text; NULL when it is.
 * (transfer full) */
static char *
target_problem (ScWindow *self)
{
  g_autoptr (ScPeer) current = NULL;
  g_autofree char *who = NULL;

  if (sc_client_get_state (self->client) != SC_CLIENT_STATE_CONNECTED)
    return g_strdup (_ ("Connect to a server to send messages."));
  if (self->everyone_selected ||
      gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->broadcast_check)))
    return NULL;
  if (self->recipient == NULL)
    return g_strdup (_ ("Choose who to send to: select a client or "
                        "Everyone in the list, tick Broadcast, or type "
                        "/msg ID text."));
  current = recipient_now (self);
  if (current)
    return NULL;
  who = describe_peer (self->recipient);
  /* Translators: a person the user had picked, e.g. "bob (#4)". */
  return g_strdup_printf (_ ("%s is no longer connected; choose someone "
                             "in the list."),
                          who);
}

static void
show_hint (ScWindow *self, const char *text)
{
  gtk_label_set_text (self->compose_hint, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->compose_hint), text != NULL);
}

static void
update_recipient_label (ScWindow *self)
{
  g_autofree char *who = NULL;
  g_autofree char *text = NULL;

  if (self->everyone_selected ||
      gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->broadcast_check)))
    text = g_strdup (_ ("To: everyone"));
  else if (self->recipient == NULL)
    text = g_strdup (_ ("To: nobody yet"));
  else
    {
      g_autoptr (ScPeer) current = recipient_now (self);
      gboolean here = current != NULL;

      who = describe_peer (here ? current : self->recipient);
      /* Translators: the recipient, e.g. "To: bob (#4)". */
      text = here ? g_strdup_printf (_ ("To: %s"), who)
                  : g_strdup_printf (_ ("To: %s (gone)"), who);
    }
  gtk_label_set_text (self->recipient_label, text);
}

/* Recomputes the recipient line, the hint and whether Send is enabled;
 * called whenever the connection, the list, the text or the choice of
 * recipient changes. */
void
sc_window_compose_update (ScWindow *self)
{
  g_autofree char *text = sc_window_compose_get_text (self);
  g_autofree char *problem = NULL;
  GAction *send = g_action_map_lookup_action (G_ACTION_MAP (self), "send");
  guint32 id;
  const char *body;

  if (send == NULL)
    return; /* still being built */
  if (parse_msg_command (text, &id, &body) &&
      sc_client_get_state (self->client) == SC_CLIENT_STATE_CONNECTED)
    problem = NULL;
  else
    problem = target_problem (self);
  update_recipient_label (self);
  show_hint (self, problem);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (send),
                               problem == NULL && !is_blank (text));
}

/* ------------------------------------------------------------------ */
/* Sending */

/* A sent message is shown twice: in All activity and in its own
 * conversation; both lines follow its acceptance. */
typedef struct
{
  ScWindow *self;
  guint all_handle;
  ScMessageLog *log; /* the conversation's log */
  guint handle;
  char *key;  /* the conversation's, for its history */
  char *text; /* likewise */
} SendData;

static void
send_data_free (SendData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->log);
  g_free (data->key);
  g_free (data->text);
  g_free (data);
}

static void
record_sent (SendData *data, gboolean broadcast, guint64 id)
{
  ScWindow *self = data->self;

  sc_window_history_record (
    self, data->key,
    broadcast ? SC_HISTORY_KIND_BROADCAST_OUT : SC_HISTORY_KIND_OUTGOING,
    sc_client_get_nickname (self->client), sc_client_get_id (self->client),
    data->text, id, id == 0);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SendData *data = user_data;
  g_autoptr (GError) error = NULL;
  ScWindow *self = data->self;
  guint n_recipients = 1;
  gboolean broadcast =
    g_async_result_is_tagged (result, sc_client_broadcast_async);
  guint64 id;

  if (broadcast)
    id = sc_client_broadcast_finish (SC_CLIENT (source), result, &n_recipients,
                                     &error);
  else
    id = sc_client_send_message_finish (SC_CLIENT (source), result, &error);
  if (self->client == NULL)
    ; /* the window was destroyed meanwhile */
  else
    record_sent (data, broadcast, id);
  if (self->client == NULL)
    ;
  else if (id == 0)
    {
      g_autofree char *why = sc_error_text (error);

      sc_message_log_sent_failed (self->log, data->all_handle, why);
      sc_message_log_sent_failed (data->log, data->handle, why);
    }
  else
    {
      sc_message_log_sent_accepted (self->log, data->all_handle, id,
                                    n_recipients);
      sc_message_log_sent_accepted (data->log, data->handle, id, n_recipients);
    }
  send_data_free (data);
}

static void
send_text (ScWindow *self, gboolean broadcast, guint32 to, const char *text)
{
  SendData *data = g_new0 (SendData, 1);
  g_autofree char *who = NULL;
  g_autofree char *key = NULL;

  if (broadcast)
    {
      who = g_strdup (_ ("→ everyone:"));
      key = g_strdup (SC_CONVERSATION_KEY_EVERYONE);
    }
  else
    {
      g_autofree char *peer = sc_client_list_describe (self->client_list, to);

      who = g_strdup_printf (_ ("→ %s:"), peer);
      key = sc_client_list_get_key (self->client_list, to);
      if (key == NULL)
        key = g_strdup_printf ("peer:#%u", to);
    }
  data->self = g_object_ref (self);
  data->key = g_strdup (key);
  data->text = g_strdup (text);
  data->all_handle = sc_message_log_append_sent (self->log, who, text);
  data->log =
    g_object_ref (sc_conversations_get_log (self->conversations, key));
  sc_conversations_note_message (self->conversations, key, FALSE);
  data->handle = sc_message_log_append_sent (data->log, who, text);
  if (broadcast)
    sc_client_broadcast_async (self->client, text, self->cancellable, on_sent,
                               data);
  else
    sc_client_send_message_async (self->client, to, text, self->cancellable,
                                  on_sent, data);
}

/* Sends "/msg ID text" to whoever has ID now, after checking that
 * someone does; returns FALSE (with the reason shown) otherwise. */
static gboolean
send_command (ScWindow *self, guint32 id, const char *body)
{
  g_autoptr (ScPeer) peer = sc_client_list_lookup (self->client_list, id);
  g_autofree char *problem = NULL;

  if (peer == NULL)
    problem = g_strdup_printf (_ ("No client #%u is connected; “List "
                                  "clients” shows who is."),
                               id);
  else if (is_blank (body))
    problem = g_strdup (_ ("Type the message after /msg ID."));
  if (problem)
    {
      show_hint (self, problem);
      return FALSE;
    }
  send_text (self, FALSE, id, body);
  return TRUE;
}

/* The send action, and Enter in the composer: sends, or says why not. */
void
sc_window_compose_send (ScWindow *self)
{
  g_autofree char *text = sc_window_compose_get_text (self);
  GtkToggleButton *broadcast = GTK_TOGGLE_BUTTON (self->broadcast_check);
  g_autofree char *problem = NULL;
  guint32 id;
  const char *body;

  if (sc_client_get_state (self->client) == SC_CLIENT_STATE_CONNECTED &&
      parse_msg_command (text, &id, &body))
    {
      if (send_command (self, id, body))
        sc_window_compose_set_text (self, "");
      return;
    }
  problem = target_problem (self);
  if (problem == NULL && is_blank (text))
    problem = g_strdup (_ ("Type a message first."));
  if (problem)
    {
      show_hint (self, problem);
      return;
    }
  send_text (
    self, self->everyone_selected || gtk_toggle_button_get_active (broadcast),
    self->recipient ? self->recipient->id : 0, text);
  sc_window_compose_set_text (self, "");
  /* A ticked Broadcast is one message to everyone, not a mode to stay
   * in; the Everyone conversation is. */
  if (!self->everyone_selected)
    gtk_toggle_button_set_active (broadcast, FALSE);
}

/* ------------------------------------------------------------------ */
/* The text */

/* (transfer full) */
char *
sc_window_compose_get_text (ScWindow *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->message_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

void
sc_window_compose_set_text (ScWindow *self, const char *text)
{
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->message_view), text,
                            -1);
}
