/* sc-cluster-presence.c: scenario 3: joins, renames and leaves seen on the
 * other nodes, and how long they took. */
#include "config.h"

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

typedef struct
{
  ScMessageType type;
  guint32 subject;
  gint64 since;
  guint seen;    /* observers that have seen it */
  guint seen_by; /* their nodes, as bits */
  guint node;    /* where the subject is: its observer does not count */
  char nickname[32];
  GArray *latencies;
  guint observers;
} Expect;

static Expect expect;

static void
presence_message (Client *client, ScMessage *message)
{
  guint32 subject = message->type == SC_MSG_CLIENT_JOINED ? message->sender.id
                                                          : message->client_id;

  /* The join can come before the actor's own hello reply. */
  if (message->type == SC_MSG_CLIENT_JOINED && expect.subject == 0 &&
      g_strcmp0 (message->sender.nickname, expect.nickname) == 0)
    subject = 0;

  if (message->type != expect.type || subject != expect.subject ||
      client->acks == FALSE || client->node == expect.node ||
      (expect.seen_by & (1u << client->node)))
    return;
  expect.seen_by |= 1u << client->node;
  expect.seen++;
  {
    double ms = (now_us () - expect.since) / 1000.0;

    g_array_append_val (expect.latencies, ms);
  }
}

static gboolean
all_seen (gpointer data)
{
  return expect.seen >= expect.observers;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

int
run_presence (guint rounds)
{
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  guint timeouts = 0, seen = 0;
  gboolean agreed;
  double p50, p99, worst;

  on_message = presence_message;
  expect.latencies = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint node = 0; node < n_ports; node++)
    {
      /* Nicknames are unique across the cluster. */
      g_autofree char *name = g_strdup_printf ("observer%u", node);

      g_ptr_array_add (observers, connect_client (node, name, 0, TRUE));
    }
  /* Let the observers' own entries settle before timing anything. */
  wait_lists_agree (observers, 0, 10000, NULL);
  expect.observers = n_ports - 1;
  for (guint r = 0; r < rounds; r++)
    {
      guint node = r % n_ports;
      Client *actor;
      ScMessage rename;

      expect.node = node;
      expect.type = SC_MSG_CLIENT_JOINED;
      expect.seen = 0;
      expect.seen_by = 0;
      expect.subject = 0;
      g_snprintf (expect.nickname, sizeof expect.nickname, "actor%u", r);
      expect.since = now_us ();
      actor =
        connect_client (node, expect.nickname, SC_FLAG_NO_PRESENCE, FALSE);
      actor->acks = FALSE; /* not an observer */
      pump_until (has_id, actor, 5000);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;

      expect.subject = actor->id;
      expect.type = SC_MSG_CLIENT_RENAMED;
      expect.seen = 0;
      expect.seen_by = 0;
      sc_message_init (&rename, SC_MSG_SET_NICKNAME, ++actor->next_request);
      rename.nickname = g_strdup_printf ("renamed%u", r);
      expect.since = now_us ();
      queue (actor, &rename);
      g_free (rename.nickname);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;

      expect.type = SC_MSG_CLIENT_LEFT;
      expect.seen = 0;
      expect.seen_by = 0;
      expect.since = now_us ();
      disconnect_client (actor);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;
    }
  g_array_sort (expect.latencies, compare_doubles);
  if (expect.latencies->len == 0)
    {
      ok (FALSE, "presence: no notice seen");
      return 0;
    }
  p50 = g_array_index (expect.latencies, double, expect.latencies->len / 2);
  p99 = g_array_index (expect.latencies, double,
                       (expect.latencies->len * 99) / 100);
  worst = g_array_index (expect.latencies, double, expect.latencies->len - 1);
  ok (timeouts == 0 && p99 <= 50.0,
      "presence: %u joins, renames and leaves seen on the other nodes: "
      "%u notices, %u missing, p50 %.2f ms, p99 %.2f ms, max %.2f ms",
      rounds, expect.latencies->len, timeouts, p50, p99, worst);
  agreed = wait_lists_agree (observers, 0, 10000, &seen);
  ok (agreed, "presence: the %u nodes list the same %u clients when quiet",
      n_ports, seen);
  return 0;
}
