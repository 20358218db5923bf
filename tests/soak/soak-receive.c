/* soak-receive.c: what a soak client does with each frame it receives,
 * and the checks and counts of every reply, message and receipt. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soak-conn.h"
#include "soak-private.h"

/* ------------------------------------------------------------------ */
/* What a client receives */

/* When a client of @kind that joins now leaves, or 0 for the random
 * leaves of tick().  No-ack clients leave soon: senders wait for them to
 * leave for their receipts.  A paced client stays long: a slow reader
 * fills the kernel's socket buffers (megabytes on loopback) before its
 * queue in the server grows; but not for the whole run, since a leaving
 * sender waits for its receipts (LEAVE_TIMEOUT_US). */
static gint64
life_span (Soak *soak, ClientKind kind)
{
  gint64 now = g_get_monotonic_time ();

  if (kind == KIND_NO_ACK)
    return now + g_rand_int_range (soak->rand, NO_ACK_LIFE_MIN_MS,
                                   NO_ACK_LIFE_MAX_MS) *
                   (gint64) 1000;
  if (is_paced_kind (kind))
    return now +
           g_rand_int_range (soak->rand, PACED_LIFE_MIN_MS, PACED_LIFE_MAX_MS) *
             (gint64) 1000;
  return 0;
}

static void
on_reply (Soak *soak, Client *client, ScMessage *reply)
{
  gpointer key = GUINT_TO_POINTER (reply->request_id);
  Record *record;

  if (!g_hash_table_contains (client->pending, key))
    {
      soak_fail (soak, "client %u: a %s for request %u it never sent",
                 client->id, sc_message_type_name (reply->type),
                 reply->request_id);
      return;
    }
  record = g_hash_table_lookup (client->pending, key);
  g_hash_table_remove (client->pending, key);

  switch ((int) reply->type)
    {
    case SC_MSG_HELLO_REPLY:
      /* Too many password attempts under way, or the memory limit
       * reached: the server closes the connection, and the slot is
       * connected again later. */
      if (reply->status == SC_STATUS_SERVER_FULL ||
          reply->status == SC_STATUS_SERVER_BUSY)
        {
          soak->kinds[client->kind].hello_refused++;
          soak->kinds[client->kind].refused[reply->status]++;
          client_closed (soak, client);
          return;
        }
      if (reply->status != SC_STATUS_OK || reply->client_id != client->id)
        {
          soak_fail (soak, "client %u: HELLO failed: %s", client->id,
                     reply->reason);
          return;
        }
      client->state = CLIENT_READY;
      g_hash_table_insert (soak->ready, GUINT_TO_POINTER (client->id), client);
      client->leave_at = life_span (soak, client->kind);
      /* A newcomer that joins while everyone drains leaves at once. */
      if (!soak->acting)
        begin_leave (soak, client);
      break;
    case SC_MSG_LIST_CLIENTS_REPLY:
      /* Lists are fair-use requests (docs/PROTOCOL.md 5.7). */
      if (reply->status == SC_STATUS_RATE_LIMITED ||
          reply->status == SC_STATUS_SERVER_BUSY)
        {
          soak->kinds[client->kind].refused[reply->status]++;
          break;
        }
      if (reply->status != SC_STATUS_OK || reply->clients == NULL ||
          reply->count == 0)
        soak_fail (soak, "client %u: LIST_CLIENTS failed: %s", client->id,
                   reply->reason);
      for (guint i = 1; reply->clients && i < reply->clients->len; i++)
        {
          ScClientInfo *before = g_ptr_array_index (reply->clients, i - 1);
          ScClientInfo *info = g_ptr_array_index (reply->clients, i);

          if (info->id <= before->id)
            soak_fail (soak, "client %u: LIST_CLIENTS out of order",
                       client->id);
        }
      break;
    case SC_MSG_SEND_MESSAGE_REPLY:
    case SC_MSG_BROADCAST_REPLY:
      if (reply->status == SC_STATUS_OK)
        {
          record->state = RECORD_ACCEPTED;
          record->message_id = reply->message_id;
          record->expected_receipts =
            reply->type == SC_MSG_BROADCAST_REPLY ? reply->count : 1;
          client->owed_receipts += record->expected_receipts;
          if (!g_hash_table_insert (soak->by_message, &record->message_id,
                                    record))
            soak_fail (soak, "message id %" G_GUINT64_FORMAT " given twice",
                       reply->message_id);
          soak->n_accepted++;
          soak->kinds[client->kind].accepted++;
        }
      /* The recipient had gone, was just leaving, or could not keep up
       * (docs/PROTOCOL.md 5.4), the server was at its memory limit, or
       * the sender broadcast too much (5.7): refused, delivered to
       * nobody. */
      else if (reply->status == SC_STATUS_NO_SUCH_CLIENT ||
               reply->status == SC_STATUS_RECIPIENT_LEFT ||
               reply->status == SC_STATUS_RECIPIENT_SLOW ||
               reply->status == SC_STATUS_SERVER_BUSY ||
               reply->status == SC_STATUS_RATE_LIMITED)
        {
          record->state = RECORD_REFUSED;
          soak->n_refused++;
          soak->kinds[client->kind].refused[reply->status]++;
        }
      else
        soak_fail (soak,
                   "client %u: unexpected status %u for T%" G_GUINT64_FORMAT
                   ": %s",
                   client->id, reply->status, record->token, reply->reason);
      break;
    default:
      soak_fail (soak, "client %u: unexpected %s", client->id,
                 sc_message_type_name (reply->type));
    }
}

/* For the diagnostics of a missing receipt: who got @message and did not
 * acknowledge it, and why. */
static void
record_unacked (Soak *soak, Client *client, ScMessage *message)
{
  guint64 token;
  Record *record;

  if (client->state != CLIENT_CLOSING && client->kind != KIND_NO_ACK)
    return;
  if (!g_str_has_prefix (message->text, "soak T"))
    return;
  token = g_ascii_strtoull (message->text + strlen ("soak T"), NULL, 10);
  record = g_hash_table_lookup (soak->records, &token);
  if (record == NULL)
    return;
  record->unacked_by = client->id;
  record->unacked_why =
    client->state == CLIENT_CLOSING ? "got it while closing" : "is no-ack";
}

static void
on_message (Soak *soak, Client *client, ScMessage *message)
{
  guint64 token;
  Record *record;
  guint times;
  const char *p;

  soak->kinds[client->kind].deliveries++;
  record_unacked (soak, client, message);
  if (client->state != CLIENT_CLOSING && client->kind != KIND_NO_ACK)
    {
      ScMessage *ack = sc_message_new (SC_MSG_MESSAGE_ACK, 0);

      ack->message_id = message->message_id;
      client_queue (client, ack);
    }
  soak->n_deliveries++;
  if (!g_str_has_prefix (message->text, "soak T"))
    {
      soak_fail (soak, "client %u: a text that is not ours", client->id);
      return;
    }
  token = g_ascii_strtoull (message->text + strlen ("soak T"), NULL, 10);
  record = g_hash_table_lookup (soak->records, &token);
  if (record == NULL)
    {
      soak_fail (soak, "client %u: unknown token in “%.40s”", client->id,
                 message->text);
      return;
    }
  if (record->recipient != 0 && record->recipient != client->id)
    soak_fail (soak, "client %u got T%" G_GUINT64_FORMAT ", which was for %u",
               client->id, token, record->recipient);
  if (record->recipient == 0 &&
      (!message->broadcast || record->sender == client->id))
    soak_fail (soak, "client %u got broadcast T%" G_GUINT64_FORMAT " wrongly",
               client->id, token);
  if (record->recipient != 0 && message->broadcast)
    soak_fail (soak, "T%" G_GUINT64_FORMAT " arrived as a broadcast", token);
  if (message->sender.id != record->sender)
    soak_fail (soak, "T%" G_GUINT64_FORMAT " claims sender %u, not %u", token,
               message->sender.id, record->sender);
  p = strstr (message->text, " from ");
  if (p == NULL || g_ascii_strtoull (p + 6, NULL, 10) != record->sender)
    soak_fail (soak, "T%" G_GUINT64_FORMAT ": text damaged", token);
  if (record->state == RECORD_ACCEPTED &&
      record->message_id != message->message_id)
    soak_fail (soak, "T%" G_GUINT64_FORMAT " arrived under another message id",
               token);
  times = GPOINTER_TO_UINT (
    g_hash_table_lookup (record->delivered, GUINT_TO_POINTER (client->id)));
  if (times > 0)
    soak_fail (soak, "T%" G_GUINT64_FORMAT " delivered twice to %u", token,
               client->id);
  g_hash_table_insert (record->delivered, GUINT_TO_POINTER (client->id),
                       GUINT_TO_POINTER (times + 1));
}

static gboolean
is_probe (Soak *soak, guint32 id)
{
  return soak->probe != NULL && soak_probe_get_id (soak->probe) == id;
}

static void
on_receipt (Soak *soak, Client *client, ScMessage *receipt)
{
  Record *record = g_hash_table_lookup (soak->by_message, &receipt->message_id);
  gpointer key = GUINT_TO_POINTER (receipt->peer_id);

  if (record == NULL || record->sender != client->id)
    {
      soak_fail (soak,
                 "client %u: receipt for message %" G_GUINT64_FORMAT
                 " it did not send",
                 client->id, receipt->message_id);
      return;
    }
  if (g_hash_table_contains (record->receipts, key))
    soak_fail (soak, "T%" G_GUINT64_FORMAT ": a second receipt from %u",
               record->token, receipt->peer_id);
  if (record->recipient != 0 && record->recipient != receipt->peer_id)
    soak_fail (soak, "T%" G_GUINT64_FORMAT ": receipt from %u, sent to %u",
               record->token, receipt->peer_id, record->recipient);
  g_hash_table_insert (record->receipts, key,
                       GUINT_TO_POINTER (receipt->status + 1));
  if (receipt->status == SC_STATUS_OK)
    {
      soak->n_receipts_ok++;
      /* The innocent client keeps its own books. */
      if (!g_hash_table_contains (record->delivered, key) &&
          !is_probe (soak, receipt->peer_id))
        soak_fail (soak,
                   "T%" G_GUINT64_FORMAT ": delivered receipt from %u, "
                   "which never got it",
                   record->token, receipt->peer_id);
    }
  else if (receipt->status == SC_STATUS_RECIPIENT_LEFT ||
           receipt->status == SC_STATUS_RECIPIENT_SLOW ||
           receipt->status == SC_STATUS_SERVER_BUSY)
    soak->n_receipts_failed++;
  else
    soak_fail (soak, "T%" G_GUINT64_FORMAT ": receipt status %u", record->token,
               receipt->status);
  if (receipt->status < N_STATUSES)
    soak->kinds[client->kind].receipts[receipt->status]++;
  if (client->owed_receipts == 0)
    soak_fail (soak, "client %u: more receipts than announced", client->id);
  else
    client->owed_receipts--;
}

void
on_frame (Soak *soak, Client *client, ScMessage *message)
{
  switch ((int) message->type)
    {
    case SC_MSG_GREETING:
      if (client->said_hello)
        {
          soak_fail (soak, "a second GREETING");
          break;
        }
      /* Greetings of concurrent connections come in any order, but an
       * id is never given twice. */
      if (g_hash_table_contains (soak->seen_ids,
                                 GUINT_TO_POINTER (message->client_id)))
        soak_fail (soak, "client id %u given twice", message->client_id);
      g_hash_table_insert (soak->seen_ids,
                           GUINT_TO_POINTER (message->client_id),
                           GUINT_TO_POINTER (client->kind + 1));
      client->id = message->client_id;
      client->said_hello = TRUE;
      sc_frame_reader_set_max_payload (client->reader, message->max_payload);
      {
        ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
        g_autofree char *nickname = g_strdup_printf ("soak%u", client->id);

        hello->version = SC_PROTOCOL_VERSION;
        hello->name = g_strdup ("sockchat-soak");
        hello->nickname = g_strdup (nickname);
        hello->password = g_strdup (soak->password);
        queue_request (client, hello, NULL);
      }
      break;
    case SC_MSG_MESSAGE: on_message (soak, client, message); break;
    case SC_MSG_DELIVERY_RECEIPT: on_receipt (soak, client, message); break;
    case SC_MSG_SERVER_PING:
      if (client->state != CLIENT_CLOSING)
        {
          ScMessage *pong = sc_message_new (SC_MSG_PONG, 0);

          pong->token = message->token;
          client_queue (client, pong);
        }
      break;
    case SC_MSG_CLIENT_JOINED:
    case SC_MSG_CLIENT_LEFT:
    case SC_MSG_CLIENT_RENAMED: break;
    case SC_MSG_PROTOCOL_ERROR:
      /* Dropped as too slow (docs/PROTOCOL.md 5.7): an outcome for the
       * slow kinds, and for anyone at the memory limit. */
      if (message->status == SC_STATUS_RECIPIENT_SLOW && client->id != 0)
        {
          client->dropped = TRUE;
          g_hash_table_add (soak->dropped_ids, GUINT_TO_POINTER (client->id));
          g_hash_table_remove (soak->ready, GUINT_TO_POINTER (client->id));
          break;
        }
      G_GNUC_FALLTHROUGH;
    case SC_MSG_SERVER_SHUTDOWN:
      soak_fail (soak, "client %u: %s: %s", client->id,
                 sc_message_type_name (message->type), message->reason);
      break;
    default:
      if (sc_message_type_kind (message->type) == SC_KIND_RESPONSE)
        on_reply (soak, client, message);
      else
        soak_fail (soak, "client %u: unexpected %s", client->id,
                   sc_message_type_name (message->type));
    }
}
