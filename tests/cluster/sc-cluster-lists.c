/* sc-cluster-lists.c: every node lists the same clients, none of a
 * killed node's (scenario 4, after its restart; scenario 6, after NATS
 * comes back). */
#include "config.h"

#include "sc-cluster-client.h"
#include "sc-cluster-modes.h"

static gboolean
answered (gpointer data)
{
  return ((Client *) data)->answered;
}

/* Nicknames are unique across the cluster: "LISTER0" on node 2 looks
 * like node 1's "lister0" and is refused. */
static void
check_name_taken_elsewhere (void)
{
  Client *copycat;

  if (n_ports < 2)
    return;
  copycat = connect_client (1, "LISTER0", SC_FLAG_NO_PRESENCE, FALSE);
  pump_until (answered, copycat, 10000);
  ok (copycat->answered && copycat->hello_status == SC_STATUS_NICKNAME_IN_USE,
      "names: a nickname held on another node is refused (status %d)",
      copycat->answered ? (int) copycat->hello_status : -1);
  disconnect_client (copycat);
}

int
run_lists (guint want, const char *forbidden_path, int wait_ms)
{
  gint64 started;
  g_autoptr (GPtrArray) listers = g_ptr_array_new ();
  g_autofree char *forbidden = NULL;
  guint seen = 0, ghosts = 0;
  gboolean agreed;

  on_message = NULL;
  /* From before the listers' hellos: scenario 6 measures from the NATS
   * servers' restart, and a hello may wait for a client id. */
  started = now_us ();
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("lister%u", node);

      g_ptr_array_add (listers,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  agreed = wait_lists_agree (listers, want, (guint) wait_ms, &seen);
  ok (agreed,
      "lists: the %u nodes list the same clients: %u (want %u) after %.1f s "
      "(bound %.0f s)",
      n_ports, seen, want, (now_us () - started) / 1e6, wait_ms / 1000.0);
  check_name_taken_elsewhere ();
  if (forbidden_path &&
      g_file_get_contents (forbidden_path, &forbidden, NULL, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (forbidden, "\n", -1);
      Client *zero = g_ptr_array_index (listers, 0);

      for (guint i = 0; lines[i]; i++)
        for (guint j = 0; lines[i][0] && j < zero->listed->len; j++)
          if (g_array_index (zero->listed, guint32, j) ==
              (guint32) g_ascii_strtoull (lines[i], NULL, 10))
            ghosts++;
      ok (ghosts == 0, "lists: no ghost of the killed node's clients (%u)",
          ghosts);
    }
  return 0;
}
