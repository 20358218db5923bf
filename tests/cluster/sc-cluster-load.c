/* sc-cluster-load.c: the client side of tests/cluster/run.sh.  Many
 * clients on the nodes of a SockChat cluster, driven from one thread
 * with poll() (sc-cluster-client.c); each mode, in a file of its own
 * (sc-cluster-MODE.c), checks one scenario of docs/CLUSTER.md and
 * prints TAP lines (the plan is run.sh's).
 *
 *   traffic  clients on every node send to clients on the others, then
 *            broadcast: exactly once, in order, one receipt each
 *   ids      many short connections: the ids, one a line, to --out
 *   presence joins, renames and leaves seen on the other nodes: latency
 *   lists    every node lists the same clients (waits up to 10 s)
 *   rejoin   after NATS came back: the lists agree, and still once
 *            JetStream serves the directory, each client told once
 *   kill     clients of the victim node hold unacknowledged messages,
 *            the node is killed: CLIENT_LEFT elsewhere, one failed
 *            receipt per message
 *   unreachable  every NATS server is killed: messages to other nodes
 *            get UNREACHABLE at once, same-node ones go on
 *   natskill the NATS server leading the directory is killed under load
 *   idle     many silent clients, held while run.sh counts the
 *            backplane's messages
 */
#include "config.h"

#include <signal.h>

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

int
main (int argc, char **argv)
{
  g_autofree char *port_list = NULL, *mode = NULL, *out = NULL,
                  *forbidden = NULL, *nats_pids = NULL, *stop = NULL;
  int per_node = 100, messages = 100, broadcasts = 10, connects = 1000,
      rounds = 30, want = 0, victim = 3, pid = 0, victims = 20, wait_ms = 10000,
      hold_s = 30;
  GOptionEntry entries[] = {
    { "ports", 0, 0, G_OPTION_ARG_STRING, &port_list, "node ports", "P,P,P" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "what to check", "MODE" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &per_node, "clients per node", "N" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &messages, "per client", "N" },
    { "broadcasts", 0, 0, G_OPTION_ARG_INT, &broadcasts, "broadcasts", "N" },
    { "connects", 0, 0, G_OPTION_ARG_INT, &connects, "connections", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "presence rounds", "N" },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_ms, "for the lists", "MS" },
    { "want", 0, 0, G_OPTION_ARG_INT, &want, "clients listed", "N" },
    { "hold", 0, 0, G_OPTION_ARG_INT, &hold_s, "idle clients' time", "S" },
    { "victim", 0, 0, G_OPTION_ARG_INT, &victim, "node to kill", "N" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &pid, "its process", "PID" },
    { "victims", 0, 0, G_OPTION_ARG_INT, &victims, "its clients", "N" },
    { "nats-pids", 0, 0, G_OPTION_ARG_STRING, &nats_pids,
      "NATS servers to kill", "PID,PID" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "output file", "FILE" },
    { "stop", 0, 0, G_OPTION_ARG_FILENAME, &stop,
      "idle, rejoin: ends when it exists", "FILE" },
    { "forbidden", 0, 0, G_OPTION_ARG_FILENAME, &forbidden,
      "ids that must not be listed", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;

  signal (SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !port_list ||
      !mode)
    {
      g_printerr ("sc-cluster-load: %s\n",
                  error ? error->message : "--ports and --mode are needed");
      return 2;
    }
  parts = g_strsplit (port_list, ",", G_N_ELEMENTS (ports));
  for (n_ports = 0; parts[n_ports]; n_ports++)
    ports[n_ports] = (guint16) g_ascii_strtoull (parts[n_ports], NULL, 10);
  clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);

  if (g_str_equal (mode, "traffic"))
    run_traffic ((guint) per_node, (guint) messages, (guint) broadcasts);
  else if (g_str_equal (mode, "ids"))
    run_ids ((guint) connects, out);
  else if (g_str_equal (mode, "presence"))
    run_presence ((guint) rounds);
  else if (g_str_equal (mode, "lists"))
    run_lists ((guint) want, forbidden, wait_ms);
  else if (g_str_equal (mode, "rejoin"))
    run_rejoin ((guint) want, wait_ms, stop);
  else if (g_str_equal (mode, "natskill") && nats_pids)
    run_natskill (nats_pids, (guint) per_node);
  else if (g_str_equal (mode, "unreachable") && nats_pids)
    run_unreachable (nats_pids);
  else if (g_str_equal (mode, "idle"))
    run_idle ((guint) per_node, out, stop, (guint) hold_s);
  else if (g_str_equal (mode, "kill"))
    run_kill ((guint) victim - 1, (GPid) pid, (guint) victims, out);
  else
    g_error ("unknown mode %s", mode);
  g_ptr_array_unref (clients);
  return n_failed == 0 ? 0 : 1;
}
