/* sc-client-requests.c: ScClient's requests.  Each is sent under a fresh
 * request id and completes its GTask when the response with that id comes
 * back (sc-client.c files and matches them). */
#include "config.h"

#include "sc-client-private.h"

static void
simple_request (ScClient *self,
                ScMessage *request,
                gpointer source_tag,
                GCancellable *cancellable,
                GAsyncReadyCallback callback,
                gpointer user_data)
{
  g_autoptr (ScMessage) owned = request;

  g_return_if_fail (SC_IS_CLIENT (self));
  sc_client_submit (
    self,
    sc_client_new_pending (self, source_tag, cancellable, callback, user_data),
    owned);
}

static ScMessage *
finish_reply (ScClient *self,
              GAsyncResult *result,
              gpointer source_tag,
              GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag,
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
sc_client_get_time_async (ScClient *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  simple_request (self, sc_message_new (SC_MSG_GET_TIME, 0),
                  sc_client_get_time_async, cancellable, callback, user_data);
}

/* The server's time with the server's UTC offset, to the millisecond;
 * @timezone (optional) receives the name of its time zone.
 * (transfer full) */
GDateTime *
sc_client_get_time_finish (ScClient *self,
                           GAsyncResult *result,
                           char **timezone,
                           GError **error)
{
  g_autoptr (ScMessage) reply =
    finish_reply (self, result, sc_client_get_time_async, error);
  g_autoptr (GDateTime) utc = NULL;
  g_autoptr (GDateTime) stated = NULL;
  gint64 seconds, millis;

  if (reply == NULL)
    return NULL;
  seconds = reply->time_ms / 1000;
  millis = reply->time_ms % 1000;
  if (millis < 0)
    {
      seconds--;
      millis += 1000;
    }
  utc = g_date_time_new_from_unix_utc (seconds);
  if (utc == NULL)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "the server's time is out of range");
      return NULL;
    }
  if (timezone)
    *timezone = g_strdup (reply->timezone);
  /* The ISO 8601 text carries the server's offset from UTC; time_ms is
   * the instant. */
  stated = g_date_time_new_from_iso8601 (reply->iso_time, NULL);
  if (stated)
    {
      g_autoptr (GTimeZone) zone = g_time_zone_new_offset (
        (gint32) (g_date_time_get_utc_offset (stated) / G_USEC_PER_SEC));
      g_autoptr (GDateTime) shifted = g_date_time_to_timezone (utc, zone);

      return g_date_time_add (shifted, millis * 1000);
    }
  return g_date_time_add (utc, millis * 1000);
}

/* The one format both clients show a server time in:
 * "2026-11-30 16:40:05.123 UTC+08:00". */
char *
sc_client_format_time (GDateTime *time)
{
  g_autofree char *stamp = NULL;
  g_autofree char *offset = NULL;

  g_return_val_if_fail (time != NULL, NULL);
  stamp = g_date_time_format (time, "%Y-%m-%d %H:%M:%S");
  offset = g_date_time_format (time, "%:z");
  return g_strdup_printf ("%s.%03d UTC%s", stamp,
                          g_date_time_get_microsecond (time) / 1000, offset);
}

void
sc_client_get_name_async (ScClient *self,
                          GCancellable *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  simple_request (self, sc_message_new (SC_MSG_GET_NAME, 0),
                  sc_client_get_name_async, cancellable, callback, user_data);
}

char *
sc_client_get_name_finish (ScClient *self, GAsyncResult *result, GError **error)
{
  g_autoptr (ScMessage) reply =
    finish_reply (self, result, sc_client_get_name_async, error);

  return reply ? g_steal_pointer (&reply->name) : NULL;
}

/* Collects list pages until the server says there are no more. */
static gboolean
on_list_page (ScClient *self, PendingRequest *pending, ScMessage *reply)
{
  g_autoptr (ScMessage) owned = reply;
  guint32 last = 0;

  for (guint i = 0; i < reply->clients->len; i++)
    {
      ScClientInfo *info = g_ptr_array_index (reply->clients, i);

      last = info->id;
      g_ptr_array_add (pending->pages, sc_peer_new_from_info (info));
    }
  if (reply->more && reply->clients->len > 0)
    {
      g_autoptr (ScMessage) next = sc_message_new (SC_MSG_LIST_CLIENTS, 0);

      next->peer_id = last;
      sc_client_submit (self, pending, next);
      return TRUE;
    }
  g_task_return_pointer (pending->task, g_steal_pointer (&pending->pages),
                         (GDestroyNotify) g_ptr_array_unref);
  return FALSE;
}

void
sc_client_list_clients_async (ScClient *self,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  PendingRequest *pending;
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_LIST_CLIENTS, 0);

  g_return_if_fail (SC_IS_CLIENT (self));
  pending = sc_client_new_pending (self, sc_client_list_clients_async,
                                   cancellable, callback, user_data);
  pending->on_reply = on_list_page;
  pending->pages =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_peer_free);
  sc_client_submit (self, pending, request);
}

/* Returns every connected client, as ScPeer, in id order.
 * (transfer full) (element-type ScPeer) */
GPtrArray *
sc_client_list_clients_finish (ScClient *self,
                               GAsyncResult *result,
                               GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
check_text (GTask *task, const char *text)
{
  if (text != NULL && *text != '\0' && g_utf8_validate (text, -1, NULL))
    return TRUE;
  g_task_return_new_error (task, SC_ERROR, SC_ERROR_INVALID,
                           "the message is empty or not valid UTF-8");
  return FALSE;
}

void
sc_client_send_message_async (ScClient *self,
                              guint32 recipient_id,
                              const char *text,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  PendingRequest *pending;
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

  g_return_if_fail (SC_IS_CLIENT (self));
  pending = sc_client_new_pending (self, sc_client_send_message_async,
                                   cancellable, callback, user_data);
  if (!check_text (pending->task, text))
    {
      sc_client_pending_free (pending);
      return;
    }
  request->peer_id = recipient_id;
  request->text = g_strdup (text);
  sc_client_submit (self, pending, request);
}

/* Returns the server's id for the accepted message; its delivery receipt
 * arrives later through ::delivery-receipt.  0 on error. */
guint64
sc_client_send_message_finish (ScClient *self,
                               GAsyncResult *result,
                               GError **error)
{
  g_autoptr (ScMessage) reply =
    finish_reply (self, result, sc_client_send_message_async, error);

  return reply ? reply->message_id : 0;
}

void
sc_client_broadcast_async (ScClient *self,
                           const char *text,
                           GCancellable *cancellable,
                           GAsyncReadyCallback callback,
                           gpointer user_data)
{
  PendingRequest *pending;
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_BROADCAST, 0);

  g_return_if_fail (SC_IS_CLIENT (self));
  pending = sc_client_new_pending (self, sc_client_broadcast_async, cancellable,
                                   callback, user_data);
  if (!check_text (pending->task, text))
    {
      sc_client_pending_free (pending);
      return;
    }
  request->text = g_strdup (text);
  sc_client_submit (self, pending, request);
}

guint64
sc_client_broadcast_finish (ScClient *self,
                            GAsyncResult *result,
                            guint *n_recipients,
                            GError **error)
{
  g_autoptr (ScMessage) reply =
    finish_reply (self, result, sc_client_broadcast_async, error);

  if (n_recipients)
    *n_recipients = reply ? reply->count : 0;
  return reply ? reply->message_id : 0;
}

static gboolean
on_nickname_set (ScClient *self, PendingRequest *pending, ScMessage *reply)
{
  sc_client_take_nickname (self, g_strdup (reply->nickname));
  return sc_client_return_reply (self, pending, reply);
}

void
sc_client_set_nickname_async (ScClient *self,
                              const char *nickname,
                              GCancellable *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer user_data)
{
  PendingRequest *pending;
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_SET_NICKNAME, 0);

  g_return_if_fail (SC_IS_CLIENT (self));
  g_return_if_fail (nickname != NULL);
  pending = sc_client_new_pending (self, sc_client_set_nickname_async,
                                   cancellable, callback, user_data);
  pending->on_reply = on_nickname_set;
  request->nickname = g_strdup (nickname);
  /* A registered nickname is taken with its password (protocol 1.2);
   * servers ignore one they do not need.  Never in clear unless allowed
   * (sc_client_set_allow_plaintext_password()). */
  if (self->tls != NULL || self->allow_plaintext_password)
    request->password = g_strdup (self->password);
  sc_client_submit (self, pending, request);
}

char *
sc_client_set_nickname_finish (ScClient *self,
                               GAsyncResult *result,
                               GError **error)
{
  g_autoptr (ScMessage) reply =
    finish_reply (self, result, sc_client_set_nickname_async, error);

  return reply ? g_steal_pointer (&reply->nickname) : NULL;
}

static gboolean
on_pong (ScClient *self, PendingRequest *pending, ScMessage *reply)
{
  g_autoptr (ScMessage) owned = reply;

  sc_client_set_rtt (self, g_get_monotonic_time () - pending->sent_at);
  g_task_return_int (pending->task, self->rtt_us);
  return FALSE;
}

void
sc_client_ping_async (ScClient *self,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  PendingRequest *pending;
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_PING, 0);

  g_return_if_fail (SC_IS_CLIENT (self));
  pending = sc_client_new_pending (self, sc_client_ping_async, cancellable,
                                   callback, user_data);
  pending->on_reply = on_pong;
  request->token = (guint64) g_get_monotonic_time ();
  sc_client_submit (self, pending, request);
}

/* Returns the round-trip time in microseconds, or -1 on error. */
gint64
sc_client_ping_finish (ScClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  return g_task_propagate_int (G_TASK (result), error);
}
