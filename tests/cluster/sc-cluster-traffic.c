/* sc-cluster-traffic.c: scenario 1: clients on every node send to clients
 * on the others, then broadcast: each message delivered exactly once, in
 * order per sender and recipient, one receipt per recipient. */
#include "config.h"

#include <string.h>

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

typedef struct
{
  GHashTable *next_seq;   /* (sender << 32 | recipient) -> next seq + 1 */
  GHashTable *receipts;   /* "message_id:recipient" -> count */
  GHashTable *bcast_seen; /* "message_id:recipient" -> count */
  GHashTable *unique;     /* "sender#seq" set */
  guint delivered, duplicates, out_of_order, receipts_ok, receipts_failed,
    receipt_dupes, bcast_delivered, bcast_dupes;
  guint64 bcast_expected;
  guint bcast_replies;
} Traffic;

static Traffic traffic;

static void
traffic_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_MESSAGE && !message->broadcast)
    {
      guint64 key = (guint64) message->sender.id << 32 | client->id;
      guint seq =
        (guint) g_ascii_strtoull (strchr (message->text, '#') + 1, NULL, 10);
      guint expected =
        GPOINTER_TO_UINT (g_hash_table_lookup (traffic.next_seq, &key));
      guint64 *stored = g_memdup2 (&key, sizeof key);

      g_autofree char *unique =
        g_strdup_printf ("%u#%u", message->sender.id, seq);

      /* Each sender numbers its messages; to one recipient they must
       * come in increasing order, each once. */
      if (!g_hash_table_add (traffic.unique, g_steal_pointer (&unique)))
        traffic.duplicates++;
      else if (seq + 1 <= expected)
        traffic.out_of_order++;
      traffic.delivered++;
      g_hash_table_replace (traffic.next_seq, stored,
                            GUINT_TO_POINTER (MAX (expected, seq + 1)));
    }
  else if (message->type == SC_MSG_MESSAGE && message->broadcast)
    {
      g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%u",
                                              message->message_id, client->id);
      guint n =
        GPOINTER_TO_UINT (g_hash_table_lookup (traffic.bcast_seen, key));

      if (n > 0)
        traffic.bcast_dupes++;
      traffic.bcast_delivered++;
      g_hash_table_replace (traffic.bcast_seen, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      g_autofree char *key = g_strdup_printf (
        "%" G_GUINT64_FORMAT ":%u", message->message_id, message->peer_id);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (traffic.receipts, key));

      if (n > 0)
        traffic.receipt_dupes++;
      if (message->status == SC_STATUS_OK)
        traffic.receipts_ok++;
      else
        traffic.receipts_failed++;
      g_hash_table_replace (traffic.receipts, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
  else if (message->type == SC_MSG_BROADCAST_REPLY)
    {
      traffic.bcast_replies++;
      traffic.bcast_expected += message->count;
    }
}

static guint traffic_goal;

static gboolean
traffic_done (gpointer data)
{
  return traffic.receipts_ok + traffic.receipts_failed >= traffic_goal &&
         traffic.bcast_replies == GPOINTER_TO_UINT (data);
}

int
run_traffic (guint per_node, guint messages, guint broadcasts)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  guint total = per_node * n_ports, seen = 0;
  gboolean agreed;
  guint64 sent = 0;
  gint64 started;

  traffic.next_seq =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  traffic.receipts =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  traffic.unique =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  traffic.bcast_seen =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  on_message = traffic_message;
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *name = g_strdup_printf ("t%u", i);

      g_ptr_array_add (
        all, connect_client (i % n_ports, name, SC_FLAG_NO_PRESENCE, FALSE));
    }
  for (guint i = 0; i < total; i++)
    if (!pump_until (has_id, g_ptr_array_index (all, i), 10000))
      g_error ("a client got no hello reply");
  listers = one_per_node (all);
  agreed = wait_lists_agree (listers, total, 15000, &seen);
  ok (agreed, "traffic: every node lists the %u clients (last saw %u)", total,
      seen);

  started = now_us ();
  /* Each client sends @messages messages, round robin over the clients
   * of the other nodes, a few per poll round. */
  for (guint round = 0; round < messages; round += 10)
    {
      for (guint i = 0; i < total; i++)
        {
          Client *client = g_ptr_array_index (all, i);

          for (guint j = round; j < MIN (messages, round + 10); j++)
            {
              guint other_node =
                (client->node + 1 + j % (n_ports - 1)) % n_ports;
              guint index = ((i / n_ports) + j) % per_node;
              Client *peer =
                g_ptr_array_index (all, index * n_ports + other_node);
              g_autofree char *text = g_strdup_printf ("m%u#%u", i, j);
              ScMessage send;

              sc_message_init (&send, SC_MSG_SEND_MESSAGE,
                               ++client->next_request);
              send.flags = SC_FLAG_QUIET;
              send.peer_id = peer->id;
              send.text = text;
              queue (client, &send);
              sent++;
            }
        }
      pump (0);
    }
  traffic_goal = (guint) sent;
  if (!pump_until (traffic_done, GUINT_TO_POINTER (0), 60000))
    g_printerr ("# traffic: timed out waiting for receipts\n");
  {
    double seconds = (now_us () - started) / 1e6;

    ok (traffic.delivered == sent && traffic.duplicates == 0,
        "traffic: %" G_GUINT64_FORMAT " cross-node messages, %u delivered, "
        "%u duplicates (%.1f s, %.0f/s)",
        sent, traffic.delivered, traffic.duplicates, seconds, sent / seconds);
  }
  ok (traffic.out_of_order == 0, "traffic: %u out of order per sender",
      traffic.out_of_order);
  ok (traffic.receipts_ok == sent && traffic.receipt_dupes == 0 &&
        traffic.receipts_failed == 0,
      "traffic: one receipt per message: %u OK, %u failed, %u duplicates",
      traffic.receipts_ok, traffic.receipts_failed, traffic.receipt_dupes);

  for (guint b = 0; b < broadcasts; b++)
    {
      Client *client = g_ptr_array_index (all, b % total);
      ScMessage broadcast;

      sc_message_init (&broadcast, SC_MSG_BROADCAST, ++client->next_request);
      broadcast.text = (char *) "to everyone";
      queue (client, &broadcast);
    }
  traffic_goal = (guint) sent + (guint) (broadcasts * (total - 1));
  pump_until (traffic_done, GUINT_TO_POINTER (broadcasts), 30000);
  ok (traffic.bcast_expected == (guint64) broadcasts * (total - 1) &&
        traffic.bcast_delivered == traffic.bcast_expected &&
        traffic.bcast_dupes == 0,
      "traffic: %u broadcasts: recipients %" G_GUINT64_FORMAT
      " (want %u), delivered %u, duplicates %u",
      broadcasts, traffic.bcast_expected, broadcasts * (total - 1),
      traffic.bcast_delivered, traffic.bcast_dupes);
  ok (traffic.receipts_ok + traffic.receipts_failed ==
          sent + traffic.bcast_expected &&
        traffic.receipt_dupes == 0,
      "traffic: broadcast receipts equal recipients: %u receipts in all for "
      "%" G_GUINT64_FORMAT " messages and broadcast recipients",
      traffic.receipts_ok + traffic.receipts_failed,
      sent + traffic.bcast_expected);
  return 0;
}
