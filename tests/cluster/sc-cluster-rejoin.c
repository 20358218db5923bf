/* sc-cluster-rejoin.c: scenario 6, the lists after every NATS server came
 * back.  Observers (one a node, wanting presence) then listers say hello
 * while JetStream still elects its leaders; the lists must agree (through
 * the nodes' rosters), and stay so once JetStream serves the directory
 * again (until @stop_path exists), each client told to every other node
 * once: the rosters and the directory later telling the same clients make
 * no second CLIENT_JOINED, and no CLIENT_LEFT or CLIENT_RENAMED. */
#include "config.h"

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

typedef struct
{
  GHashTable *ids;     /* the driver's clients: id -> Client */
  GHashTable *notices; /* "observer id:type:subject id" -> count */
} Rejoin;

static Rejoin rejoin;

static void
rejoin_message (Client *client, ScMessage *message)
{
  guint32 subject;
  char key[64];

  if (message->type == SC_MSG_CLIENT_JOINED)
    subject = message->sender.id;
  else if (message->type == SC_MSG_CLIENT_LEFT ||
           message->type == SC_MSG_CLIENT_RENAMED)
    subject = message->client_id;
  else
    return;
  g_snprintf (key, sizeof key, "%u:%d:%u", client->id, (int) message->type,
              subject);
  g_hash_table_insert (
    rejoin.notices, g_strdup (key),
    GUINT_TO_POINTER (
      GPOINTER_TO_UINT (g_hash_table_lookup (rejoin.notices, key)) + 1));
}

static guint
rejoin_count (Client *observer, ScMessageType type, Client *subject)
{
  char key[64];

  g_snprintf (key, sizeof key, "%u:%d:%u", observer->id, (int) type,
              subject->id);
  return GPOINTER_TO_UINT (g_hash_table_lookup (rejoin.notices, key));
}

/* Every observer: one CLIENT_JOINED for every lister of another node, at
 * most one for every other observer of another node, and no LEFT or
 * RENAMED for any of the driver's clients. */
static void
check_rejoin_notices (GPtrArray *observers, GPtrArray *listers)
{
  guint missing = 0, repeated = 0, left = 0, renamed = 0, joined = 0;

  for (guint i = 0; i < observers->len; i++)
    {
      Client *observer = g_ptr_array_index (observers, i);

      for (guint j = 0; j < clients->len; j++)
        {
          Client *subject = g_ptr_array_index (clients, j);
          guint n = rejoin_count (observer, SC_MSG_CLIENT_JOINED, subject);
          gboolean lister = g_ptr_array_find (listers, subject, NULL);

          if (!g_hash_table_contains (rejoin.ids,
                                      GUINT_TO_POINTER (subject->id)))
            continue;
          left += rejoin_count (observer, SC_MSG_CLIENT_LEFT, subject);
          renamed += rejoin_count (observer, SC_MSG_CLIENT_RENAMED, subject);
          if (subject->node == observer->node)
            continue;
          joined += n;
          if (n > 1)
            repeated++;
          if (lister && n == 0)
            missing++;
        }
    }
  ok (missing == 0 && repeated == 0 && left == 0 && renamed == 0,
      "rejoin: every observer told once of each client of another node: "
      "%u CLIENT_JOINED, %u missing, %u repeated, %u CLIENT_LEFT, %u "
      "CLIENT_RENAMED",
      joined, missing, repeated, left, renamed);
}

/* @held: clients of another driver, held through the outage, that the
 * lists hold too. */
int
run_rejoin (guint held, int wait_ms, const char *stop_path)
{
  gint64 started = now_us (), until;
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = g_ptr_array_new ();
  guint seen = 0, want = 2 * n_ports + held;
  gboolean agreed;

  rejoin.ids = g_hash_table_new (NULL, NULL);
  rejoin.notices =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  on_message = rejoin_message;
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("observer%u", node);

      g_ptr_array_add (observers, connect_client (node, name, 0, TRUE));
    }
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("lister%u", node);

      g_ptr_array_add (listers,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  for (guint i = 0; i < clients->len; i++)
    g_hash_table_add (rejoin.ids,
                      GUINT_TO_POINTER (((Client *) clients->pdata[i])->id));
  agreed = wait_lists_agree (listers, want, (guint) wait_ms, &seen);
  ok (agreed,
      "lists: the %u nodes list the same clients: %u (want %u) after %.1f s "
      "(bound %.0f s)",
      n_ports, seen, want, (now_us () - started) / 1e6, wait_ms / 1000.0);
  for (until = now_us () + 60 * G_USEC_PER_SEC;
       now_us () < until &&
       !(stop_path && g_file_test (stop_path, G_FILE_TEST_EXISTS));)
    pump (100);
  agreed = wait_lists_agree (listers, want, 10000, &seen);
  ok (agreed,
      "rejoin: once JetStream served the directory again the %u nodes list "
      "the same clients: %u (want %u)",
      n_ports, seen, want);
  check_rejoin_notices (observers, listers);
  return 0;
}
