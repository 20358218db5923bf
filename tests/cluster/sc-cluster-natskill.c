/* sc-cluster-natskill.c: scenario 5: the NATS server leading the directory
 * killed under load; one outcome per message, HELLOs during the stall
 * listed. */
#include "config.h"

#include <signal.h>

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

typedef struct
{
  GHashTable *outcomes; /* message id -> count */
  GHashTable *sent_at;  /* message id -> gint64 */
  guint delivered, failed, ok, dupes;
  gint64 killed_at;
  gint64 last_late; /* latest send time (after the kill) whose message was
                       not delivered */
  GHashTable *undelivered; /* message id set, until delivered */
} NatsKill;

static NatsKill natskill;

static void
natskill_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_MESSAGE)
    {
      natskill.delivered++;
      g_hash_table_remove (natskill.undelivered, &message->message_id);
    }
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      guint n = GPOINTER_TO_UINT (
        g_hash_table_lookup (natskill.outcomes, &message->message_id));

      if (n > 0)
        natskill.dupes++;
      if (message->status == SC_STATUS_OK)
        natskill.ok++;
      else
        natskill.failed++;
      g_hash_table_replace (natskill.outcomes,
                            g_memdup2 (&message->message_id, 8),
                            GUINT_TO_POINTER (n + 1));
    }
}

static guint natskill_goal;

static gboolean
all_outcomes (gpointer data)
{
  return natskill.ok + natskill.failed >= natskill_goal;
}

int
run_natskill (const char *pids, guint per_node)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  g_auto (GStrv) parts = g_strsplit (pids, ",", -1);
  guint total = per_node * n_ports, seen = 0, dropped = 0, late = 0;
  guint64 sent = 0;
  gboolean agreed;
  gint64 started;

  on_message = natskill_message;
  natskill.outcomes =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  natskill.undelivered =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *name = g_strdup_printf ("steady%u", i);

      g_ptr_array_add (
        all, connect_client (i % n_ports, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  listers = one_per_node (all);
  wait_lists_agree (listers, total, 10000, NULL);
  for (guint i = 0; parts[i]; i++)
    kill ((pid_t) g_ascii_strtoll (parts[i], NULL, 10), SIGKILL);
  natskill.killed_at = now_us ();
  /* Clients that say hello during the stall. */
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("late%u", node);

      g_ptr_array_add (all,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  /* Three seconds of traffic: every 20 ms each client sends one message
   * to a client of another node. */
  for (guint round = 0; now_us () - natskill.killed_at < 3 * G_USEC_PER_SEC;
       round++)
    {
      for (guint i = 0; i < total; i++)
        {
          Client *client = g_ptr_array_index (all, i);
          Client *peer = g_ptr_array_index (all, (i + 1 + round % 2) % total);
          ScMessage send;
          guint64 id;
          gint64 at = now_us ();

          if (peer->node == client->node)
            continue;
          sc_message_init (&send, SC_MSG_SEND_MESSAGE, ++client->next_request);
          send.flags = SC_FLAG_QUIET;
          send.peer_id = peer->id;
          send.text = (char *) "steady";
          id = (guint64) client->id << 32 | send.request_id;
          g_hash_table_insert (natskill.undelivered, g_memdup2 (&id, 8),
                               GSIZE_TO_POINTER ((gsize) at));
          if (at - natskill.killed_at >= G_USEC_PER_SEC)
            late++;
          queue (client, &send);
          sent++;
        }
      started = now_us ();
      while (now_us () - started < 20000)
        pump (5);
    }
  natskill_goal = (guint) sent;
  pump_until (all_outcomes, NULL, 15000);
  {
    /* Messages sent a second or more after the kill must all arrive. */
    GHashTableIter iter;
    gpointer value;
    guint lost_late = 0;

    g_hash_table_iter_init (&iter, natskill.undelivered);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      if ((gint64) GPOINTER_TO_SIZE (value) - natskill.killed_at >=
          G_USEC_PER_SEC)
        lost_late++;
    ok (natskill.ok + natskill.failed == sent && natskill.dupes == 0,
        "natskill: one NATS server killed under load: %" G_GUINT64_FORMAT
        " messages, one outcome each: %u OK receipts, %u failed, %u "
        "duplicates",
        sent, natskill.ok, natskill.failed, natskill.dupes);
    ok (lost_late == 0,
        "natskill: routing resumed within 1 s: of the %u messages sent 1 s "
        "or more after the kill, %u not delivered (%u undelivered in all)",
        late, lost_late, g_hash_table_size (natskill.undelivered));
  }
  for (guint i = 0; i < clients->len; i++)
    if (((Client *) g_ptr_array_index (clients, i))->fd < 0)
      dropped++;
  ok (dropped == 0, "natskill: no SockChat client disconnected (%u)", dropped);
  agreed = wait_lists_agree (listers, total + n_ports, 10000, &seen);
  ok (agreed,
      "natskill: clients that said hello during the stall are listed on "
      "every node: %u of %u",
      seen, total + n_ports);
  return 0;
}
