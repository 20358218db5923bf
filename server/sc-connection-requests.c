/* sc-connection-requests.c: what the server does with each message a
 * client sends (docs/PROTOCOL.md, "Messages"). */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "sc-connection-private.h"

static int
compare_ids (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

void
sc_connection_reply (ScConnection *connection,
                     const ScMessage *request,
                     ScStatus status,
                     const char *reason)
{
  g_autoptr (ScMessage) reply = sc_message_new_reply (request, status, reason);

  sc_connection_queue_message (connection, reply);
}

/* Tells the client why, once, and closes: the stream can no longer be
 * trusted to be framed. */
void
sc_connection_protocol_error (ScConnection *connection,
                              ScStatus status,
                              const char *reason)
{
  g_autoptr (ScMessage) notice = sc_message_new (SC_MSG_PROTOCOL_ERROR, 0);
  g_autofree char *why = g_strdup_printf ("protocol error: %s", reason);

  g_message ("client %u (%s port %u): %s", connection->info.id,
             connection->info.address, connection->info.port, why);
  notice->status = status;
  notice->reason = g_strdup (reason);
  sc_connection_queue_message (connection, notice);
  sc_connection_close (connection, SC_STATUS_PROTOCOL_ERROR, why);
}

/* The outbox of ready client @id, or NULL.  A client mostly talks to the
 * same few others, so the last one found is kept and used again while it
 * is open: ids are not reused while in use, and a client that leaves
 * closes its outbox before anything else.  This spares the registry's
 * lock, which every worker would otherwise take twice per message.
 * (transfer full) */
ScOutbox *
sc_connection_find_ready (ScConnection *connection, guint32 id)
{
  ScOutbox *found = connection->peer_cache;

  if (found != NULL && sc_outbox_get_id (found) == id &&
      sc_outbox_is_open (found))
    return sc_outbox_ref (found);
  found = sc_registry_lookup_ready (connection->server->registry, id);
  if (found != NULL)
    {
      g_clear_pointer (&connection->peer_cache, sc_outbox_unref);
      connection->peer_cache = sc_outbox_ref (found);
    }
  return found;
}

/* Tells @sender_id, wherever it lives, what became of one of its
 * messages to this client; a sender that has gone is simply skipped.  The
 * receipt is encoded when the sender has room for it (sc-outbox.c). */
void
sc_connection_owe_receipt (ScConnection *connection,
                           guint32 sender_id,
                           guint64 message_id,
                           ScStatus status)
{
  g_autoptr (ScOutbox) sender =
    sc_connection_find_ready (connection, sender_id);

  if (sender != NULL)
    sc_outbox_owe_receipt (sender, message_id, connection->info.id, status,
                           connection->worker);
  else
    sc_backplane_route_receipt (connection->server->backplane, sender_id,
                                message_id, connection->info.id, status);
}

/* Reports every message in @unacked (message id -> ScPendingAck) as not
 * delivered to this connection, with one registry lookup per sender. */
void
sc_connection_fail_unacked (ScConnection *connection,
                            GHashTable *unacked,
                            ScStatus status)
{
  g_autoptr (GHashTable) by_sender =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, unacked);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ScPendingAck *pending = value;
      gpointer sender_key = GUINT_TO_POINTER (pending->sender_id);
      GArray *ids = g_hash_table_lookup (by_sender, sender_key);

      if (ids == NULL)
        {
          ids = g_array_new (FALSE, FALSE, sizeof (guint64));
          g_hash_table_insert (by_sender, sender_key, ids);
        }
      g_array_append_val (ids, pending->message_id);
    }
  g_hash_table_iter_init (&iter, by_sender);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GArray *ids = value;
      g_autoptr (ScOutbox) sender = sc_registry_lookup_ready (
        connection->server->registry, GPOINTER_TO_UINT (key));

      /* In the order they were sent: message ids only grow. */
      g_array_sort (ids, compare_ids);
      if (sender == NULL)
        {
          for (guint i = 0; i < ids->len; i++)
            sc_backplane_route_receipt (
              connection->server->backplane, GPOINTER_TO_UINT (key),
              g_array_index (ids, guint64, i), connection->info.id, status);
          continue;
        }
      for (guint i = 0; i < ids->len; i++)
        sc_outbox_owe_receipt (sender, g_array_index (ids, guint64, i),
                               connection->info.id, status, connection->worker);
    }
}

/* Presence (joined, renamed, left) for every ready client but @from. */
void
sc_connection_notify_everyone (ScConnection *from, const ScMessage *message)
{
  g_autoptr (GBytes) frame = sc_message_encode (message);
  g_autoptr (ScRegistrySnapshot) snapshot =
    sc_registry_snapshot (from->server->registry);

  for (guint i = 0; i < snapshot->len; i++)
    {
      ScRegistrySnapshotEntry *entry = &snapshot->entries[i];

      if (entry->id != from->info.id && entry->wants_presence)
        sc_outbox_send_frame (entry->outbox, frame, from->worker);
    }
}

static void
handle_get_time (ScConnection *connection, const ScMessage *request)
{
  g_autoptr (ScMessage) reply =
    sc_message_new_reply (request, SC_STATUS_OK, NULL);
  g_autoptr (GDateTime) now =
    g_date_time_new_now (connection->server->local_zone);
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  g_autofree char *offset = g_date_time_format (now, "%:z");
  int millis = g_date_time_get_microsecond (now) / 1000;

  reply->time_ms = g_date_time_to_unix (now) * 1000 + millis;
  reply->iso_time = g_strdup_printf ("%s.%03d%s", seconds, millis, offset);
  reply->timezone = g_strdup (g_date_time_get_timezone_abbreviation (now));
  sc_connection_queue_message (connection, reply);
}

static void
handle_get_name (ScConnection *connection, const ScMessage *request)
{
  g_autoptr (ScMessage) reply =
    sc_message_new_reply (request, SC_STATUS_OK, NULL);

  /* The name the GREETING announced: the configured one, the host name
   * by default. */
  reply->name = g_strdup (connection->server->config->server_name);
  sc_connection_queue_message (connection, reply);
}

/* Refills the client's fan-out budget: fanout_rate units a second, at
 * most one second's worth saved up. */
static void
refill_fanout (ScConnection *connection, gint64 now)
{
  double rate = connection->server->config->fanout_rate;

  if (connection->fanout_refilled_at == 0)
    connection->fanout_tokens = rate;
  else
    connection->fanout_tokens = MIN (
      rate, connection->fanout_tokens +
              rate * (now - connection->fanout_refilled_at) / G_USEC_PER_SEC);
  connection->fanout_refilled_at = now;
}

/* Requests whose cost grows with the number of clients (a broadcast
 * reaches all of them, a list page copies many) spend from a per-client
 * budget, so that no client can take more than its share of the server.
 * A request is refused while the budget is spent; one that is allowed may
 * cost more than what is left, and the debt is paid back over time, so
 * even a broadcast to more clients than the rate goes out, just not
 * often.  Returns FALSE after replying RATE_LIMITED. */
static gboolean
allow_fanout (ScConnection *connection, const ScMessage *request)
{
  g_autofree char *why = NULL;
  double rate = connection->server->config->fanout_rate;
  guint wait_ms;

  refill_fanout (connection, g_get_monotonic_time ());
  if (connection->fanout_tokens > 0)
    return TRUE;
  wait_ms = (guint) (1000.0 * (1.0 - connection->fanout_tokens) / rate) + 1;
  why = g_strdup_printf ("too many broadcasts or list requests: "
                         "try again in %u ms",
                         wait_ms);
  sc_connection_reply (connection, request, SC_STATUS_RATE_LIMITED, why);
  sc_connection_throttle (connection, wait_ms);
  return FALSE;
}

static void
spend_fanout (ScConnection *connection, guint cost)
{
  connection->fanout_tokens -= cost;
}

/* Work that allocates in proportion to the request (a list page, a
 * message for others) is refused while the server is over its memory
 * budget.  Returns FALSE after replying SERVER_BUSY. */
static gboolean
allow_memory (ScConnection *connection, const ScMessage *request)
{
  if (!sc_server_memory_exceeded (connection->server))
    return TRUE;
  sc_connection_reply (connection, request, SC_STATUS_SERVER_BUSY,
                       "the server is at its memory limit; try again later");
  return FALSE;
}

/* A LIST_CLIENTS_REPLY's bytes besides its entries: status u16, an empty
 * reason (u16 length), count u32, more u8 and the entries' count u32. */
#define LIST_REPLY_OVERHEAD (2 + 2 + 4 + 1 + 4)

/* --hide-addresses for the entries of other nodes too: everyone's but
 * the asker's own address and port are blank. */
static void
hide_others_addresses (GPtrArray *clients, guint32 self_id)
{
  for (guint i = 0; i < clients->len; i++)
    {
      ScClientInfo *info = g_ptr_array_index (clients, i);

      if (info->id == self_id)
        continue;
      g_free (info->address);
      info->address = g_strdup ("");
      info->port = 0;
    }
}

static void
handle_list (ScConnection *connection, const ScMessage *request)
{
  ScServer *server = connection->server;
  g_autoptr (ScMessage) reply = NULL;
  gboolean more = FALSE;

  if (!allow_memory (connection, request) ||
      !allow_fanout (connection, request))
    return;
  reply = sc_message_new_reply (request, SC_STATUS_OK, NULL);

  /* The page fills the payload but for the reply's own fields; in a
   * cluster, clients of other nodes continue it in id order. */
  reply->clients = sc_registry_list_page (
    server->registry, request->peer_id,
    server->config->max_payload - LIST_REPLY_OVERHEAD, connection->info.id,
    server->config->hide_addresses, &more);
  reply->clients = sc_backplane_merge_list (
    server->backplane, reply->clients, &more, request->peer_id,
    server->config->max_payload - LIST_REPLY_OVERHEAD);
  if (server->config->hide_addresses)
    hide_others_addresses (reply->clients, connection->info.id);
  reply->count = sc_registry_count_ready (server->registry) +
                 sc_backplane_count_remote (server->backplane);
  reply->more = more;
  spend_fanout (connection, reply->clients->len + 1);
  sc_connection_queue_message (connection, reply);
}

/* Checks a text to forward; replies and returns FALSE when it is not. */
static gboolean
check_text (ScConnection *connection, const ScMessage *request)
{
  /* A string field holds at most 65535 bytes, whatever the payload. */
  gsize limit = MIN (connection->server->config->max_payload - SC_TEXT_RESERVE,
                     G_MAXUINT16);

  if (request->text[0] == '\0')
    {
      sc_connection_reply (connection, request, SC_STATUS_BAD_REQUEST,
                           "the message is empty");
      return FALSE;
    }
  if (strlen (request->text) > limit)
    {
      g_autofree char *why = g_strdup_printf (
        "the message is longer than %" G_GSIZE_FORMAT " bytes", limit);
      sc_connection_reply (connection, request, SC_STATUS_TOO_LARGE, why);
      return FALSE;
    }
  return TRUE;
}

/* The sender's identity comes from the server's own record.  The fields
 * are borrowed, not copied: this runs for every message relayed. */
static GBytes *
forwarded_frame (ScConnection *connection,
                 const ScMessage *request,
                 guint64 message_id,
                 gboolean broadcast)
{
  ScMessage message;

  sc_message_init (&message, SC_MSG_MESSAGE, 0);
  if (request->flags & SC_FLAG_NO_RECEIPT)
    message.flags = SC_FLAG_NO_ACK;
  message.message_id = message_id;
  message.time_ms = g_get_real_time () / 1000;
  message.broadcast = broadcast;
  message.sender = connection->info;
  if (connection->server->config->hide_addresses)
    {
      message.sender.address = (char *) "";
      message.sender.port = 0;
    }
  message.text = request->text;
  return sc_message_encode (&message);
}

/* A message's id: the sender's client id in the high 32 bits, the
 * request id in the low 32.  The sender can compute it without a reply
 * (QUIET), ids are unique as long as client ids are and no client reuses
 * a request id while its message is in flight, and no counter is shared
 * between workers. */
static guint64
message_id_for (ScConnection *connection, const ScMessage *request)
{
  return ((guint64) connection->info.id << 32) | request->request_id;
}

/* A forwarded message that @recipient did not take: its sender is owed a
 * receipt saying why (unless it wants none). */
static void
report_refusal (ScConnection *connection,
                const ScMessage *request,
                ScOutbox *recipient,
                guint64 message_id,
                ScStatus status)
{
  if (status != SC_STATUS_OK && !(request->flags & SC_FLAG_NO_RECEIPT))
    sc_outbox_owe_receipt (connection->outbox, message_id,
                           sc_outbox_get_id (recipient), status,
                           connection->worker);
}

/* Hands a forwarded message to its recipient. */
static void
deliver_to (ScConnection *connection,
            const ScMessage *request,
            ScOutbox *recipient,
            guint64 message_id,
            GBytes *frame)
{
  gboolean receipt = !(request->flags & SC_FLAG_NO_RECEIPT);
  ScStatus status =
    sc_outbox_deliver (recipient, frame, message_id, connection->info.id,
                       receipt, connection->worker);

  report_refusal (connection, request, recipient, message_id, status);
}

/* The same for a message whose room was reserved (sc_outbox_reserve()). */
static void
deliver_reserved (ScConnection *connection,
                  const ScMessage *request,
                  ScOutbox *recipient,
                  guint64 message_id,
                  GBytes *frame)
{
  gboolean receipt = !(request->flags & SC_FLAG_NO_RECEIPT);
  ScStatus status = sc_outbox_deliver_reserved (recipient, frame, message_id,
                                                connection->info.id, receipt,
                                                connection->worker);

  report_refusal (connection, request, recipient, message_id, status);
}

static const char *
refusal_reason (ScStatus refusal)
{
  switch (refusal)
    {
    case SC_STATUS_RECIPIENT_SLOW:
      return "the recipient is not keeping up: too much is waiting for it to "
             "read or acknowledge";
    case SC_STATUS_BAD_REQUEST:
      return "a message with this request id is still waiting for the "
             "recipient's acknowledgement";
    default: return NULL;
    }
}

/* A message to a client of another node (sc-backplane.h): accepted
 * like a local one, and its receipt comes back through the backplane or,
 * when it cannot be sent, at once. */
static void
send_remote (ScConnection *connection, const ScMessage *request)
{
  guint64 message_id = message_id_for (connection, request);
  gboolean receipt = !(request->flags & SC_FLAG_NO_RECEIPT);
  g_autoptr (GBytes) frame = NULL;
  ScMessage reply;
  ScStatus status;

  if (!(request->flags & SC_FLAG_QUIET))
    {
      sc_message_init (&reply, SC_MSG_SEND_MESSAGE_REPLY, request->request_id);
      reply.reason = (char *) "";
      reply.message_id = message_id;
      sc_connection_queue_message (connection, &reply);
    }
  frame = forwarded_frame (connection, request, message_id, FALSE);
  status = sc_backplane_route_message (connection->server->backplane,
                                       connection->info.id, request->peer_id,
                                       message_id, frame, receipt);
  if (status != SC_STATUS_OK && receipt)
    sc_outbox_owe_receipt (connection->outbox, message_id, request->peer_id,
                           status, connection->worker);
}

static void
handle_send (ScConnection *connection, const ScMessage *request)
{
  ScMessage reply;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (ScOutbox) recipient = NULL;
  ScStatus refusal;
  guint64 message_id;

  if (!check_text (connection, request))
    return;
  if (request->peer_id == 0)
    {
      sc_connection_reply (connection, request, SC_STATUS_BAD_REQUEST,
                           "client ids start at 1");
      return;
    }
  recipient = sc_connection_find_ready (connection, request->peer_id);
  if (recipient == NULL &&
      sc_backplane_has_client (connection->server->backplane, request->peer_id))
    {
      send_remote (connection, request);
      return;
    }
  if (recipient == NULL)
    {
      g_autofree char *why =
        g_strdup_printf ("there is no client %u", request->peer_id);
      sc_connection_reply (connection, request, SC_STATUS_NO_SUCH_CLIENT, why);
      return;
    }
  /* Room is reserved before the reply, which must reach the sender before
   * any receipt for the message can: once told it was accepted, the
   * message is queued unless the recipient leaves meanwhile (a failed
   * receipt then says so). */
  message_id = message_id_for (connection, request);
  frame = forwarded_frame (connection, request, message_id, FALSE);
  refusal = sc_outbox_reserve (recipient, message_id, g_bytes_get_size (frame));
  if (refusal != SC_STATUS_OK)
    {
      sc_connection_reply (connection, request, refusal,
                           refusal_reason (refusal));
      return;
    }
  if (!(request->flags & SC_FLAG_QUIET))
    {
      sc_message_init (&reply, SC_MSG_SEND_MESSAGE_REPLY, request->request_id);
      reply.reason = (char *) "";
      reply.message_id = message_id;
      sc_connection_queue_message (connection, &reply);
    }
  deliver_reserved (connection, request, recipient, message_id, frame);
  sc_connection_note_peer (connection, request->peer_id);
}

static void
handle_broadcast (ScConnection *connection, const ScMessage *request)
{
  ScServer *server = connection->server;
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (ScRegistrySnapshot) snapshot = NULL;
  g_autoptr (GArray) remote = NULL;
  guint n_targets;

  if (!check_text (connection, request) ||
      !allow_memory (connection, request) ||
      !allow_fanout (connection, request))
    return;
  snapshot = sc_registry_snapshot (server->registry);
  n_targets = sc_registry_snapshot_count_except (snapshot, connection->info.id);
  remote = sc_backplane_remote_ids (server->backplane);
  n_targets += remote ? remote->len : 0;
  /* A broadcast is always answered: the reply says how many receipts to
   * expect. */
  reply = sc_message_new_reply (request, SC_STATUS_OK, NULL);
  reply->message_id = message_id_for (connection, request);
  reply->count = n_targets;
  sc_connection_queue_message (connection, reply);
  spend_fanout (connection, n_targets + 1);

  frame = forwarded_frame (connection, request, reply->message_id, TRUE);
  for (guint i = 0; i < snapshot->len; i++)
    if (snapshot->entries[i].id != connection->info.id)
      deliver_to (connection, request, snapshot->entries[i].outbox,
                  reply->message_id, frame);
  for (guint i = 0; remote && i < remote->len; i++)
    {
      guint32 id = g_array_index (remote, guint32, i);
      ScStatus status = sc_backplane_route_message (
        server->backplane, connection->info.id, id, reply->message_id, frame,
        !(request->flags & SC_FLAG_NO_RECEIPT));

      if (status != SC_STATUS_OK && !(request->flags & SC_FLAG_NO_RECEIPT))
        sc_outbox_owe_receipt (connection->outbox, reply->message_id, id,
                               status, connection->worker);
    }
}

static void
handle_ping (ScConnection *connection, const ScMessage *request)
{
  g_autoptr (ScMessage) reply =
    sc_message_new_reply (request, SC_STATUS_OK, NULL);

  reply->token = request->token;
  sc_connection_queue_message (connection, reply);
}

static void
acknowledge (ScConnection *connection, guint64 message_id)
{
  guint32 sender_id;

  /* A repeated or unknown acknowledgement changes nothing. */
  if (!sc_outbox_take_pending_ack (connection->outbox, message_id, &sender_id))
    {
      g_debug ("client %u acknowledged unknown message %" G_GUINT64_FORMAT,
               connection->info.id, message_id);
      return;
    }
  sc_connection_owe_receipt (connection, sender_id, message_id, SC_STATUS_OK);
  sc_connection_note_peer (connection, sender_id);
}

static void
handle_ack (ScConnection *connection, const ScMessage *ack)
{
  if (ack->type == SC_MSG_MESSAGE_ACK)
    acknowledge (connection, ack->message_id);
  else
    for (guint i = 0; i < ack->message_ids->len; i++)
      acknowledge (connection, g_array_index (ack->message_ids, guint64, i));
}

/* Before a closing connection's unacknowledged messages are reported as
 * lost, whatever the client still sent is read, and its acknowledgements
 * count: a client whose socket broke may well have acknowledged them
 * first.  Nothing else it sent is served any more. */
void
sc_connection_serve_final_acks (ScConnection *connection)
{
  for (int i = 0; i < 16; i++)
    {
      gsize room;
      guint8 *buffer =
        sc_frame_reader_reserve (connection->reader, 16384, &room);
      ssize_t n = recv (connection->fd, buffer, room, MSG_DONTWAIT);

      if (n <= 0)
        break;
      sc_frame_reader_commit (connection->reader, (gsize) n);
    }
  for (;;)
    {
      g_autoptr (ScMessage) message = NULL;
      ScFrameHeader header;
      const guint8 *payload;

      if (sc_frame_reader_next (connection->reader, &header, &payload, NULL) !=
          SC_FRAME_READY)
        return;
      message = sc_message_decode (&header, payload, NULL);
      if (message && connection->ready &&
          (message->type == SC_MSG_MESSAGE_ACK ||
           message->type == SC_MSG_MESSAGE_ACKS))
        handle_ack (connection, message);
    }
}

static void
handle_pong (ScConnection *connection, const ScMessage *pong)
{
  if (pong->token == connection->ping_token)
    connection->ping_token = 0;
}

static gboolean
allowed_before_hello (const ScMessage *message)
{
  return message->type == SC_MSG_HELLO || message->type == SC_MSG_PONG;
}

void
sc_connection_handle_message (ScConnection *connection, ScMessage *message)
{
  ScMessageKind kind = sc_message_type_kind (message->type);

  /* Formatting a debug line costs more than serving most requests, so it
   * is only done when debug output is on (G_MESSAGES_DEBUG). */
  if (G_UNLIKELY (connection->server->log_requests))
    g_debug ("client %u: %s (request %u)", connection->info.id,
             sc_message_type_name (message->type), message->request_id);

  if (kind != SC_KIND_REQUEST && kind != SC_KIND_NOTICE)
    {
      g_autofree char *why = g_strdup_printf (
        "clients may not send %s", sc_message_type_name (message->type));
      sc_connection_protocol_error (connection, SC_STATUS_PROTOCOL_ERROR, why);
      return;
    }
  if (!connection->ready && !allowed_before_hello (message))
    {
      /* Notices need no answer, and there is nothing to acknowledge yet. */
      if (kind == SC_KIND_REQUEST)
        sc_connection_reply (connection, message, SC_STATUS_NOT_READY,
                             "say hello first");
      return;
    }
  switch (message->type)
    {
    case SC_MSG_HELLO: sc_connection_handle_hello (connection, message); break;
    case SC_MSG_GET_TIME: handle_get_time (connection, message); break;
    case SC_MSG_GET_NAME: handle_get_name (connection, message); break;
    case SC_MSG_LIST_CLIENTS: handle_list (connection, message); break;
    case SC_MSG_SEND_MESSAGE: handle_send (connection, message); break;
    case SC_MSG_BROADCAST: handle_broadcast (connection, message); break;
    case SC_MSG_SET_NICKNAME:
      sc_connection_handle_set_nickname (connection, message);
      break;
    case SC_MSG_PING: handle_ping (connection, message); break;
    case SC_MSG_MESSAGE_ACK:
    case SC_MSG_MESSAGE_ACKS: handle_ack (connection, message); break;
    case SC_MSG_PONG: handle_pong (connection, message); break;
    default: g_assert_not_reached ();
    }
}
