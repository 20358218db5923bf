/* sc-client.c: the owner's side of the client core: connecting, requests
 * matched to responses by id and handed to the sender's queue,
 * indications turned into signals, and disconnecting. */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-handshake.h"
#include "sc-client-private.h"
#include "sc-enums.h"
#include "sc-known-servers.h"
#include "sc-socket.h"
#include "sc-tsan.h"

#define DEFAULT_REQUEST_TIMEOUT_MS 10000
#define DEFAULT_HEARTBEAT_S        15
#define DEFAULT_SEND_TIMEOUT_MS    (SC_CLIENT_HANDSHAKE_SEND_TIMEOUT_S * 1000)
/* Past this many unsent bytes the server is taken to have stopped
 * reading, whatever the timeout says. */
#define MAX_QUEUED_BYTES (16 * 1024 * 1024)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_RTT_US,
  PROP_NICKNAME,
  N_PROPS
};

enum
{
  SIGNAL_MESSAGE_RECEIVED,
  SIGNAL_DELIVERY_RECEIPT,
  SIGNAL_CLIENT_JOINED,
  SIGNAL_CLIENT_LEFT,
  SIGNAL_CLIENT_RENAMED,
  SIGNAL_SERVER_SHUTDOWN,
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ScClient, sc_client, G_TYPE_OBJECT)
G_DEFINE_QUARK (sc - status - error - quark, sc_status_error)

void
sc_client_pending_free (PendingRequest *pending)
{
  if (pending->timeout)
    {
      g_source_destroy (pending->timeout);
      g_source_unref (pending->timeout);
    }
  if (pending->cancel_source)
    {
      g_source_destroy (pending->cancel_source);
      g_source_unref (pending->cancel_source);
    }
  g_clear_pointer (&pending->pages, g_ptr_array_unref);
  g_clear_object (&pending->task);
  g_free (pending);
}

static void
set_state (ScClient *self, ScClientState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

/* ------------------------------------------------------------------ */
/* Tearing a connection down */

static void
fail_pending (ScClient *self, const char *why)
{
  g_autoptr (GHashTable) pending = g_steal_pointer (&self->pending);
  GHashTableIter iter;
  gpointer value;

  self->pending = g_hash_table_new_full (
    NULL, NULL, NULL, (GDestroyNotify) sc_client_pending_free);
  g_hash_table_iter_init (&iter, pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      PendingRequest *request = value;

      g_task_return_new_error (request->task, SC_ERROR, SC_ERROR_CLOSED, "%s",
                               why);
    }
}

/* The receiver has stopped (or was stopped); release the connection,
 * forget what it still had queued and fail what waited on it. */
static void
teardown (ScClient *self, ScDisconnectReason reason, const char *detail)
{
  g_autofree char *why = g_strdup_printf ("connection closed: %s", detail);

  /* Messages already shown must still be acknowledged when we are the
   * ones leaving (PROTOCOL.md 5.4); otherwise their senders would be told
   * the recipient left without reading them. */
  if (reason == SC_DISCONNECT_BY_US)
    sc_client_flush_acks (self);
  sc_client_receiver_stop (self);
  g_atomic_int_inc (&self->generation);
  sc_client_events_drop (self);
  /* Leaving by choice, the queued acknowledgements still go out, in the
   * sender's thread; otherwise the socket is shut at once. */
  sc_client_sender_close (self->sender, reason == SC_DISCONNECT_BY_US);
  g_clear_pointer (&self->last_sender, sc_client_sender_unref);
  self->last_sender = g_steal_pointer (&self->sender);
  self->fd = -1;
  self->tls = NULL; /* the sender's thread frees it */
  g_clear_pointer (&self->reader, sc_frame_reader_free);
  g_array_set_size (self->ack_ids, 0);
  if (self->heartbeat_source)
    {
      g_source_destroy (self->heartbeat_source);
      g_clear_pointer (&self->heartbeat_source, g_source_unref);
    }
  set_state (self, SC_CLIENT_STATE_DISCONNECTED);
  fail_pending (self, why);
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, reason, detail);
}

void
sc_client_handle_stopped (ScClient *self,
                          ScDisconnectReason reason,
                          const char *detail)
{
  if (self->state == SC_CLIENT_STATE_CONNECTED)
    teardown (self, reason, detail);
}

void
sc_client_disconnect (ScClient *self)
{
  g_return_if_fail (SC_IS_CLIENT (self));

  if (self->state == SC_CLIENT_STATE_CONNECTING)
    {
      /* The handshake finishes on its own and finds it is not wanted. */
      g_atomic_int_inc (&self->generation);
      set_state (self, SC_CLIENT_STATE_DISCONNECTED);
      return;
    }
  if (self->state == SC_CLIENT_STATE_CONNECTED)
    teardown (self, SC_DISCONNECT_BY_US, "disconnected by the user");
}

/* ------------------------------------------------------------------ */
/* Sending */

/* Queues @data for the sender's thread.  Called by the owner and, for
 * pongs, by the receiver; neither ever waits on the socket. */
gboolean
sc_client_send_frame (ScClient *self,
                      const guint8 *data,
                      gsize length,
                      GError **error)
{
  if (self->sender == NULL)
    {
      g_set_error_literal (error, SC_ERROR, SC_ERROR_CLOSED, "not connected");
      return FALSE;
    }
  return sc_client_sender_push (self->sender, data, length, error);
}

static gboolean
send_message (ScClient *self, const ScMessage *message, GError **error)
{
  g_autoptr (GBytes) frame = sc_message_encode (message);
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);

  return sc_client_send_frame (self, data, size, error);
}

/* Acknowledgements of one batch of incoming messages go out together. */
void
sc_client_flush_acks (ScClient *self)
{
  g_autoptr (GByteArray) frames = NULL;
  ScMessage ack;

  if (self->ack_ids->len == 0)
    return;
  frames = g_byte_array_new ();
  if (self->ack_ids->len > 1 && self->greeting != NULL &&
      (self->greeting->flags & SC_FLAG_PROTOCOL_1_1))
    {
      /* Protocol 1.1: the whole batch in one MESSAGE_ACKS. */
      sc_message_init (&ack, SC_MSG_MESSAGE_ACKS, 0);
      ack.message_ids = self->ack_ids;
      sc_message_append_frame (&ack, frames);
    }
  else
    for (guint i = 0; i < self->ack_ids->len; i++)
      {
        sc_message_init (&ack, SC_MSG_MESSAGE_ACK, 0);
        ack.message_id = g_array_index (self->ack_ids, guint64, i);
        sc_message_append_frame (&ack, frames);
      }
  sc_client_send_frame (self, frames->data, frames->len, NULL);
  g_array_set_size (self->ack_ids, 0);
}

static gboolean
on_request_timeout (gpointer data)
{
  PendingRequest *pending = data;
  ScClient *self = g_task_get_source_object (pending->task);
  g_autoptr (GTask) task = g_object_ref (pending->task);

  g_clear_pointer (&pending->timeout, g_source_unref);
  g_hash_table_steal (self->pending, GUINT_TO_POINTER (pending->request_id));
  sc_client_pending_free (pending);
  g_task_return_new_error (task, SC_ERROR, SC_ERROR_TIMEOUT,
                           "no answer from the server within %u ms",
                           self->request_timeout_ms);
  return G_SOURCE_REMOVE;
}

static guint32
next_request_id (ScClient *self)
{
  guint32 id = self->next_request_id++;

  if (self->next_request_id == 0)
    self->next_request_id = 1;
  return id;
}

/* Sends @request under a fresh id and files @pending to wait for its
 * answer.  On failure the task is completed with the error. */
void
sc_client_submit (ScClient *self, PendingRequest *pending, ScMessage *request)
{
  g_autoptr (GError) error = NULL;

  if (self->state != SC_CLIENT_STATE_CONNECTED)
    {
      g_task_return_new_error (pending->task, SC_ERROR, SC_ERROR_CLOSED,
                               "not connected");
      sc_client_pending_free (pending);
      return;
    }
  request->request_id = pending->request_id = next_request_id (self);
  pending->sent_at = g_get_monotonic_time ();
  if (!send_message (self, request, &error))
    {
      g_task_return_error (pending->task, g_steal_pointer (&error));
      sc_client_pending_free (pending);
      return;
    }
  if (pending->timeout == NULL)
    {
      pending->timeout = g_timeout_source_new (self->request_timeout_ms);
      g_source_set_callback (pending->timeout, on_request_timeout, pending,
                             NULL);
      g_source_attach (pending->timeout, self->owner);
    }
  g_hash_table_insert (self->pending, GUINT_TO_POINTER (pending->request_id),
                       pending);
}

gboolean
sc_client_return_reply (ScClient *self,
                        PendingRequest *pending,
                        ScMessage *reply)
{
  g_task_return_pointer (pending->task, reply,
                         (GDestroyNotify) sc_message_free);
  return FALSE;
}

/* Cancelling a request completes it at once, in the owner's context,
 * with G_IO_ERROR_CANCELLED; its answer, if it still comes, is dropped
 * like a late one. */
static gboolean
on_request_cancelled (GCancellable *cancellable, gpointer data)
{
  PendingRequest *pending = data;
  ScClient *self = g_task_get_source_object (pending->task);
  g_autoptr (GTask) task = g_object_ref (pending->task);

  g_clear_pointer (&pending->cancel_source, g_source_unref);
  if (g_hash_table_lookup (self->pending,
                           GUINT_TO_POINTER (pending->request_id)) == pending)
    g_hash_table_steal (self->pending, GUINT_TO_POINTER (pending->request_id));
  sc_client_pending_free (pending);
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "the request was cancelled");
  return G_SOURCE_REMOVE;
}

PendingRequest *
sc_client_new_pending (ScClient *self,
                       gpointer source_tag,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data)
{
  PendingRequest *pending = g_new0 (PendingRequest, 1);

  pending->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (pending->task, source_tag);
  pending->on_reply = sc_client_return_reply;
  if (cancellable)
    {
      pending->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (pending->cancel_source,
                             G_SOURCE_FUNC (on_request_cancelled), pending,
                             NULL);
      g_source_attach (pending->cancel_source, self->owner);
    }
  return pending;
}

static void
handle_reply (ScClient *self, ScMessage *reply)
{
  PendingRequest *pending = NULL;
  gpointer key = GUINT_TO_POINTER (reply->request_id);

  if (!g_hash_table_steal_extended (self->pending, key, NULL,
                                    (gpointer *) &pending))
    {
      /* The request timed out earlier; its answer is no longer wanted. */
      sc_message_free (reply);
      return;
    }
  if (reply->status != SC_STATUS_OK)
    {
      g_task_return_new_error (pending->task, SC_STATUS_ERROR,
                               (int) reply->status, "%s", reply->reason);
      sc_message_free (reply);
      sc_client_pending_free (pending);
      return;
    }
  if (!pending->on_reply (self, pending, reply))
    sc_client_pending_free (pending);
}

/* ------------------------------------------------------------------ */
/* Incoming messages */

static void
queue_ack (ScClient *self, const ScMessage *message)
{
  /* Sent without a receipt wanted (NO_RECEIPT): nothing to acknowledge. */
  if (message->flags & SC_FLAG_NO_ACK)
    return;
  g_array_append_val (self->ack_ids, message->message_id);
}

static void
emit_message (ScClient *self, const ScMessage *message)
{
  g_autoptr (ScPeer) sender = sc_peer_new_from_info (&message->sender);
  g_autoptr (ScChatMessage) chat =
    sc_chat_message_new (message->message_id, sender, message->text,
                         message->broadcast, message->time_ms);

  g_signal_emit (self, signals[SIGNAL_MESSAGE_RECEIVED], 0, chat);
}

void
sc_client_handle_message (ScClient *self, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;

  switch (sc_message_type_kind (message->type))
    {
    case SC_KIND_RESPONSE:
      handle_reply (self, g_steal_pointer (&owned));
      return;
    case SC_KIND_INDICATION: break;
    default: return;
    }
  switch (message->type)
    {
    case SC_MSG_MESSAGE:
      /* Acknowledged once handed to the application, so the sender's
       * receipt means it really arrived.  The acknowledgement is queued
       * first, so that a handler that disconnects still has it sent; the
       * batch goes out only after the handlers have run. */
      queue_ack (self, message);
      emit_message (self, message);
      break;
    case SC_MSG_DELIVERY_RECEIPT:
      g_signal_emit (self, signals[SIGNAL_DELIVERY_RECEIPT], 0,
                     message->message_id, message->peer_id, message->status,
                     message->reason);
      break;
    case SC_MSG_DELIVERY_RECEIPTS:
      for (guint i = 0; i < message->message_ids->len; i++)
        g_signal_emit (self, signals[SIGNAL_DELIVERY_RECEIPT], 0,
                       g_array_index (message->message_ids, guint64, i),
                       message->peer_id, (guint) message->status,
                       message->reason);
      break;
    case SC_MSG_CLIENT_JOINED:
      {
        g_autoptr (ScPeer) peer = sc_peer_new_from_info (&message->sender);

        g_signal_emit (self, signals[SIGNAL_CLIENT_JOINED], 0, peer);
      }
      break;
    case SC_MSG_CLIENT_LEFT:
      g_signal_emit (self, signals[SIGNAL_CLIENT_LEFT], 0, message->client_id,
                     message->reason);
      break;
    case SC_MSG_CLIENT_RENAMED:
      g_signal_emit (self, signals[SIGNAL_CLIENT_RENAMED], 0,
                     message->client_id, message->nickname);
      break;
    case SC_MSG_SERVER_SHUTDOWN:
      g_signal_emit (self, signals[SIGNAL_SERVER_SHUTDOWN], 0, message->reason);
      break;
    default: break;
    }
}

/* ------------------------------------------------------------------ */
/* Connecting */

static gboolean
on_heartbeat (gpointer data)
{
  ScClient *self = data;

  sc_client_ping_async (self, NULL, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static void
adopt_connection (ScClient *self, Handshake *hs)
{
  self->fd = g_steal_fd (&hs->fd);
  self->tls = g_steal_pointer (&hs->tls);
  self->sender = sc_client_sender_new_tls (
    self->fd, self->tls, self->send_timeout_ms, MAX_QUEUED_BYTES);
  self->tls_trust = hs->trust;
  self->reader = g_steal_pointer (&hs->reader);
  g_clear_pointer (&self->greeting, sc_message_free);
  self->greeting = g_steal_pointer (&hs->greeting);
  self->id = hs->hello_reply->client_id;
  g_free (self->nickname);
  self->nickname = g_strdup (hs->hello_reply->nickname);
  g_free (self->host);
  self->host = g_strdup (hs->host);
  self->port = hs->port;
  self->next_request_id = 2;

  set_state (self, SC_CLIENT_STATE_CONNECTED);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NICKNAME]);
  sc_client_receiver_start (self, hs->early);
  if (self->heartbeat_interval_s > 0)
    {
      self->heartbeat_source =
        g_timeout_source_new_seconds (self->heartbeat_interval_s);
      g_source_set_callback (self->heartbeat_source, on_heartbeat, self, NULL);
      g_source_attach (self->heartbeat_source, self->owner);
    }
}

/* The caller's side of one connect: its task, until it is returned,
 * and its cancellable watched in the owner's context. */
typedef struct
{
  ScClient *client; /* a reference: see on_handshake_done() */
  GTask *outer;     /* NULL once returned */
  GSource *cancel_source;
  guint generation;
} Connecting;

static void
connecting_free (Connecting *connecting)
{
  if (connecting->cancel_source)
    {
      g_source_destroy (connecting->cancel_source);
      g_source_unref (connecting->cancel_source);
    }
  g_clear_object (&connecting->outer);
  g_clear_object (&connecting->client);
  g_free (connecting);
}

/* Cancelling a connect returns at once; the handshake thread, bounded
 * by its timeouts, finishes on its own and finds it is not wanted, as
 * after sc_client_disconnect(). */
static gboolean
on_connect_cancelled (GCancellable *cancellable, gpointer data)
{
  Connecting *connecting = data;
  g_autoptr (GTask) outer = g_steal_pointer (&connecting->outer);
  ScClient *self = g_task_get_source_object (outer);

  if (self->state == SC_CLIENT_STATE_CONNECTING &&
      connecting->generation == (guint) g_atomic_int_get (&self->generation))
    {
      g_atomic_int_inc (&self->generation);
      set_state (self, SC_CLIENT_STATE_DISCONNECTED);
    }
  g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "connecting was cancelled");
  return G_SOURCE_REMOVE;
}

static void
finish_handshake (ScClient *self, GTask *outer, GTask *inner, Handshake *hs);

/* The handshake thread's task has no source object, so that thread never
 * holds the client: the client's last reference is always dropped on
 * the owner's side.  The handshake data may still be freed in that
 * thread, once this is done with it. */
static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Connecting *connecting = data;
  g_autoptr (ScClient) self = g_object_ref (connecting->client);
  g_autoptr (GTask) outer = g_steal_pointer (&connecting->outer);
  Handshake *hs = g_task_get_task_data (G_TASK (result));

  connecting_free (connecting);
  SC_HAPPENS_AFTER (hs);
  finish_handshake (self, outer, G_TASK (result), hs);
  SC_HAPPENS_BEFORE (hs);
}

static void
finish_handshake (ScClient *self, GTask *outer, GTask *inner, Handshake *hs)
{
  GError *error = NULL;

  if (outer == NULL)
    return; /* cancelled, and already returned */
  if (hs->generation == (guint) g_atomic_int_get (&self->generation))
    {
      g_free (self->tls_fingerprint);
      self->tls_fingerprint = g_strdup (hs->fingerprint);
      self->tls_trust = SC_TLS_TRUST_NONE;
    }
  if (!g_task_propagate_boolean (inner, &error))
    {
      if (hs->generation == (guint) g_atomic_int_get (&self->generation))
        set_state (self, SC_CLIENT_STATE_DISCONNECTED);
      g_task_return_error (outer, error);
      return;
    }
  if (hs->generation != (guint) g_atomic_int_get (&self->generation) ||
      self->state != SC_CLIENT_STATE_CONNECTING)
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "connecting was abandoned");
      return;
    }
  adopt_connection (self, hs);
  g_task_return_boolean (outer, TRUE);
}

void
sc_client_connect_async (ScClient *self,
                         const char *host,
                         guint16 port,
                         const char *nickname,
                         GCancellable *cancellable,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_autoptr (GTask) outer = NULL;
  g_autoptr (GTask) inner = NULL;
  Connecting *connecting;
  Handshake *hs;

  g_return_if_fail (SC_IS_CLIENT (self));
  g_return_if_fail (host != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, sc_client_connect_async);
  if (self->state != SC_CLIENT_STATE_DISCONNECTED)
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "already connected or connecting");
      return;
    }
  hs = g_new0 (Handshake, 1);
  hs->host = g_strdup (host);
  hs->port = port;
  hs->nickname = g_strdup (nickname);
  hs->program = g_strdup (self->program_name);
  hs->password = g_strdup (self->password);
  hs->fd = -1;
  hs->use_tls = self->use_tls;
  hs->trust_new = self->trust_new;
  hs->allow_plaintext_password = self->allow_plaintext_password;
  /* An answer to one question: it does not carry over to other servers
   * or later connections. */
  hs->accepted_fingerprint = g_steal_pointer (&self->accepted_fingerprint);
  hs->known_servers_path = self->known_servers_path
                             ? g_strdup (self->known_servers_path)
                             : sc_known_servers_default_path ();
  hs->generation = (guint) g_atomic_int_get (&self->generation);
  hs->previous = g_steal_pointer (&self->last_sender);
  set_state (self, SC_CLIENT_STATE_CONNECTING);

  connecting = g_new0 (Connecting, 1);
  connecting->generation = hs->generation;
  if (cancellable)
    {
      connecting->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (connecting->cancel_source,
                             G_SOURCE_FUNC (on_connect_cancelled), connecting,
                             NULL);
      g_source_attach (connecting->cancel_source, self->owner);
    }
  connecting->outer = g_steal_pointer (&outer);
  /* The handshake thread itself is not cancelled: a cancel returns the
   * caller's task above, and the thread ends within its timeouts. */
  connecting->client = g_object_ref (self);
  inner = g_task_new (NULL, NULL, on_handshake_done, connecting);
  g_task_set_task_data (inner, hs, (GDestroyNotify) sc_client_handshake_free);
  SC_HAPPENS_BEFORE (hs);
  g_task_run_in_thread (inner, sc_client_handshake_thread);
}

gboolean
sc_client_connect_finish (ScClient *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Used by the request handlers in sc-client-requests.c. */
void
sc_client_take_nickname (ScClient *self, char *nickname)
{
  g_free (self->nickname);
  self->nickname = nickname;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NICKNAME]);
}

void
sc_client_set_rtt (ScClient *self, gint64 rtt_us)
{
  self->rtt_us = rtt_us;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RTT_US]);
}

/* ------------------------------------------------------------------ */
/* Accessors and GObject boilerplate */

ScClientState
sc_client_get_state (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), SC_CLIENT_STATE_DISCONNECTED);
  return self->state;
}

guint32
sc_client_get_id (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->state == SC_CLIENT_STATE_CONNECTED ? self->id : 0;
}

const char *
sc_client_get_nickname (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), NULL);
  return self->nickname ? self->nickname : "";
}

const char *
sc_client_get_server_name (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), NULL);
  return self->greeting ? self->greeting->name : NULL;
}

const char *
sc_client_get_host (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), NULL);
  return self->host;
}

guint16
sc_client_get_port (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->port;
}

/* What the server said in its greeting on the last connection; 0
 * before the first. */
guint
sc_client_get_protocol_version (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->greeting ? self->greeting->version : 0;
}

guint
sc_client_get_max_clients (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->greeting ? self->greeting->max_clients : 0;
}

/* The largest payload the server takes, in bytes. */
guint
sc_client_get_max_payload (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->greeting ? self->greeting->max_payload : 0;
}

/* After how many seconds of silence the server pings. */
guint
sc_client_get_server_heartbeat (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), 0);
  return self->greeting ? self->greeting->heartbeat_s : 0;
}

gint64
sc_client_get_rtt_us (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), -1);
  return self->rtt_us;
}

void
sc_client_set_request_timeout (ScClient *self, guint timeout_ms)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  g_return_if_fail (timeout_ms > 0);
  self->request_timeout_ms = timeout_ms;
}

/* How long the socket may take no data before the connection is given
 * up as stalled.  Takes effect at the next connection. */
void
sc_client_set_send_timeout (ScClient *self, guint timeout_ms)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  g_return_if_fail (timeout_ms > 0);
  self->send_timeout_ms = timeout_ms;
}

/* 0 turns the client's own pings off.  Takes effect at the next
 * connection. */
void
sc_client_set_heartbeat_interval (ScClient *self, guint interval_s)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  self->heartbeat_interval_s = interval_s;
}

/* The password sent in HELLO and with nickname changes: the server's
 * (started with a password file), or a registered nickname's, which
 * stands for the server's too; NULL sends none. */
void
sc_client_set_password (ScClient *self, const char *password)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  g_free (self->password);
  self->password = g_strdup (password);
}

/* Connect over TLS from the next connection on (the server's TLS port,
 * 5331 by default). */
void
sc_client_set_tls (ScClient *self, gboolean tls)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  self->use_tls = tls;
}

gboolean
sc_client_get_tls (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), FALSE);
  return self->use_tls;
}

/* Lets the password (sc_client_set_password()) be sent on a connection
 * without TLS, for a server started with --allow-plaintext-password.
 * Without it, connecting with a password fails before anything is sent
 * (SC_ERROR_PLAINTEXT_PASSWORD), and nickname changes go without it. */
void
sc_client_set_allow_plaintext_password (ScClient *self, gboolean allow)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  self->allow_plaintext_password = allow;
}

/* A server certificate seen for the first time (not signed by a trusted
 * authority, and not remembered for its host and port) is trusted and
 * remembered without asking; sc_client_get_tls_trust() then says
 * SC_TLS_TRUST_FIRST_USE, and the program should show the fingerprint.
 * Without it such a connection fails with
 * SC_ERROR_TLS_UNKNOWN_CERTIFICATE.  A certificate that differs from the
 * remembered one is refused either way (SC_ERROR_TLS_CERTIFICATE_CHANGED). */
void
sc_client_set_trust_new (ScClient *self, gboolean trust_new)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  self->trust_new = trust_new;
}

/* The user has accepted this certificate (shown to them after a refusal
 * with SC_ERROR_TLS_UNKNOWN_CERTIFICATE): the next connection, and only
 * that one, trusts and remembers it if the server still shows the same
 * one; if it shows another, that connection fails with
 * SC_ERROR_TLS_CERTIFICATE_CHANGED (the certificate changed between the
 * question and the answer: not a new question to ask). */
void
sc_client_set_accepted_fingerprint (ScClient *self, const char *fingerprint)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  g_free (self->accepted_fingerprint);
  self->accepted_fingerprint = g_strdup (fingerprint);
}

/* Where certificates trusted on first use are remembered; NULL: the
 * default, $XDG_CONFIG_HOME/sockchat/known-servers. */
void
sc_client_set_known_servers_path (ScClient *self, const char *path)
{
  g_return_if_fail (SC_IS_CLIENT (self));
  g_free (self->known_servers_path);
  self->known_servers_path = g_strdup (path);
}

/* The SHA-256 fingerprint of the certificate the server showed in the
 * last TLS handshake, including one that was refused; NULL before any. */
const char *
sc_client_get_tls_fingerprint (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), NULL);
  return self->tls_fingerprint;
}

/* How the current connection's certificate is trusted. */
ScTlsTrust
sc_client_get_tls_trust (ScClient *self)
{
  g_return_val_if_fail (SC_IS_CLIENT (self), SC_TLS_TRUST_NONE);
  return self->state == SC_CLIENT_STATE_CONNECTED ? self->tls_trust
                                                  : SC_TLS_TRUST_NONE;
}

ScClient *
sc_client_new (const char *program_name)
{
  ScClient *self = g_object_new (SC_TYPE_CLIENT, NULL);

  self->program_name = g_strdup (program_name ? program_name : "sockchat");
  return self;
}

static void
sc_client_dispose (GObject *object)
{
  ScClient *self = SC_CLIENT (object);

  if (self->state == SC_CLIENT_STATE_CONNECTED)
    teardown (self, SC_DISCONNECT_BY_US, "the client was closed");
  self->state = SC_CLIENT_STATE_DISCONNECTED;
  g_clear_pointer (&self->last_sender, sc_client_sender_unref);
  sc_client_events_clear (self);
  G_OBJECT_CLASS (sc_client_parent_class)->dispose (object);
}

static void
sc_client_finalize (GObject *object)
{
  ScClient *self = SC_CLIENT (object);

  g_hash_table_unref (self->pending);
  g_array_unref (self->ack_ids);
  g_main_context_unref (self->owner);
  sc_message_free (self->greeting);
  g_free (self->program_name);
  g_free (self->host);
  g_free (self->nickname);
  g_free (self->password);
  g_free (self->accepted_fingerprint);
  g_free (self->known_servers_path);
  g_free (self->tls_fingerprint);
  G_OBJECT_CLASS (sc_client_parent_class)->finalize (object);
}

static void
sc_client_get_property (GObject *object,
                        guint prop_id,
                        GValue *value,
                        GParamSpec *pspec)
{
  ScClient *self = SC_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_RTT_US: g_value_set_int64 (value, self->rtt_us); break;
    case PROP_NICKNAME: g_value_set_string (value, self->nickname); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
install_signals (GObjectClass *object_class)
{
  GType type = G_TYPE_FROM_CLASS (object_class);

  /* Boxed arguments are passed as they are (static scope): a handler
   * that keeps one copies it. */
  signals[SIGNAL_MESSAGE_RECEIVED] = g_signal_new (
    "message-received", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 1, SC_TYPE_CHAT_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_DELIVERY_RECEIPT] = g_signal_new (
    "delivery-receipt", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
    G_TYPE_NONE, 4, G_TYPE_UINT64, G_TYPE_UINT, SC_TYPE_STATUS, G_TYPE_STRING);
  signals[SIGNAL_CLIENT_JOINED] =
    g_signal_new ("client-joined", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, SC_TYPE_PEER | G_SIGNAL_TYPE_STATIC_SCOPE);
  signals[SIGNAL_CLIENT_LEFT] =
    g_signal_new ("client-left", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  signals[SIGNAL_CLIENT_RENAMED] =
    g_signal_new ("client-renamed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  signals[SIGNAL_SERVER_SHUTDOWN] =
    g_signal_new ("server-shutdown", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, SC_TYPE_DISCONNECT_REASON, G_TYPE_STRING);
}

static void
sc_client_class_init (ScClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_client_dispose;
  object_class->finalize = sc_client_finalize;
  object_class->get_property = sc_client_get_property;

  properties[PROP_STATE] = g_param_spec_enum (
    "state", NULL, NULL, SC_TYPE_CLIENT_STATE, SC_CLIENT_STATE_DISCONNECTED,
    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RTT_US] = g_param_spec_int64 (
    "rtt-us", NULL, NULL, -1, G_MAXINT64, -1,
    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_NICKNAME] = g_param_spec_string (
    "nickname", NULL, NULL, NULL,
    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  install_signals (object_class);
}

static void
sc_client_init (ScClient *self)
{
  self->owner = g_main_context_ref_thread_default ();
  self->fd = -1;
  self->rtt_us = -1;
  self->request_timeout_ms = DEFAULT_REQUEST_TIMEOUT_MS;
  self->heartbeat_interval_s = DEFAULT_HEARTBEAT_S;
  self->next_request_id = 2;
  self->send_timeout_ms = DEFAULT_SEND_TIMEOUT_MS;
  self->pending = g_hash_table_new_full (
    NULL, NULL, NULL, (GDestroyNotify) sc_client_pending_free);
  self->ack_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  sc_client_events_init (self);
}
