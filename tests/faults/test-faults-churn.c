/* test-faults-churn.c: 1,000 connect/disconnect cycles against the
 * server binary (each: connect, GREETING, HELLO, close).
 *
 * Afterwards the server must hold exactly as many descriptors as before
 * (once it has reaped the last connections) and its resident memory must
 * be back near the level measured after a 100-cycle warm-up, which is
 * when allocator arenas and thread caches have reached their size.
 */
#include "config.h"

#include "sc-fault-util.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

#define WARM_UP_CYCLES 100
#define CYCLES         1000

static void
cycle (guint16 port, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScTestPeer) peer = sc_test_peer_connect (port);
      /* Nicknames are unique, and the last cycle's may not be free yet. */
      g_autofree char *nickname =
        g_strdup_printf ("churn%u", sc_test_peer_get_id (peer));

      sc_message_free (sc_test_peer_hello (peer, nickname));
    }
}

typedef struct
{
  GPid pid;
  guint n_fds; /* wanted */
  gsize rss;   /* at most this */
} Target;

static gboolean
has_n_fds (gpointer data)
{
  Target *target = data;

  return sc_fault_proc_n_fds (target->pid) == target->n_fds;
}

static gboolean
rss_within (gpointer data)
{
  Target *target = data;

  return sc_fault_proc_rss (target->pid) <= target->rss;
}

static void
test_churn (void)
{
  ScFaultServerOptions options = { 0 };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  GPid pid = sc_server_child_get_pid (server);
  guint16 port = sc_server_child_get_port (server);
  /* Under AddressSanitizer freed memory sits in quarantine (256 MiB by
   * default), so the resident size grows with every byte freed. */
  gsize rss_slack = (sc_fault_sanitized () ? 128 : 2) * 1024 * 1024;
  Target target = { pid, sc_fault_proc_n_fds (pid), 0 };
  guint fds_idle = target.n_fds;
  gsize rss_warm, rss_after;
  gint64 started;

  cycle (port, WARM_UP_CYCLES);
  sc_test_wait_until (has_n_fds, &target, 5000);
  g_assert_cmpuint (sc_fault_proc_n_fds (pid), ==, fds_idle);
  rss_warm = sc_fault_proc_rss (pid);

  started = g_get_monotonic_time ();
  cycle (port, CYCLES);
  g_test_message ("%u cycles in %.2f s", CYCLES,
                  (g_get_monotonic_time () - started) / 1e6);
  sc_test_wait_until (has_n_fds, &target, 5000);
  g_assert_cmpuint (sc_fault_proc_n_fds (pid), ==, fds_idle);
  /* Idle connections' buffers are given back on the server's one-second
   * tick: wait, up to a few ticks, for the memory to come back within the
   * bound, then check it. */
  target.rss = rss_warm + rss_slack;
  sc_test_wait_until (rss_within, &target, 5000);
  rss_after = sc_fault_proc_rss (pid);
  g_test_message ("descriptors: %u; RSS %.2f MiB after the warm-up, "
                  "%.2f MiB after %u more cycles",
                  fds_idle, rss_warm / (1024.0 * 1024),
                  rss_after / (1024.0 * 1024), CYCLES);
  g_assert_cmpuint (rss_after, <=, rss_warm + rss_slack);
  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/churn/connect-disconnect", test_churn);
  return g_test_run ();
}
