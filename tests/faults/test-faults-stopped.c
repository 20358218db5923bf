/* test-faults-stopped.c: a client stopped with SIGSTOP while others send
 * to it.
 *
 * The recipient is a real sockchat-cli with its standard input a pipe
 * kept open; once it has joined it is stopped, so it neither reads nor
 * acknowledges.  The server runs with a 64 KiB output cap: senders flood
 * the stopped client until the server drops it as too slow, then every
 * message the server accepted for it must come back as exactly one
 * DELIVERY_RECEIPT with status RECIPIENT_SLOW, and the server's resident
 * memory must stay bounded while the flood lasts.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "sc-fault-util.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

#define N_SENDERS   3
#define TEXT_LENGTH 60000
/* Far more than the kernel's socket buffers and the output cap hold
 * together: a server that never drops the client fails the test. */
#define MAX_MESSAGES 4000

/* sockchat-cli connected at start, its input a pipe left open so that it
 * waits for a menu choice forever.  (transfer full) */
static GSubprocess *
cli_start (guint16 port, const char *nickname)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char *args[] = { "--host",     "127.0.0.1", "--port", port_text,
                         "--nickname", nickname,    NULL };
  g_autoptr (GError) error = NULL;
  GSubprocess *cli = sc_test_cli_spawn (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                          G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                          G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                        args, &error);

  g_assert_no_error (error);
  return cli;
}

static void
test_stopped_recipient (void)
{
  /* A message that finds less than half the cap queued is taken, and one
   * that takes the queue past the cap drops the client; one that fits
   * under it leaves the queue past half, and then messages are refused
   * (RECIPIENT_SLOW, the client stays) until the write timeout drops it. */
  const char *args[] = { "--output-cap", "65536", "--write-timeout", "2",
                         NULL };
  ScFaultServerOptions options = { .args = args };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  guint16 port = sc_server_child_get_port (server);
  GPid server_pid = sc_server_child_get_pid (server);
  g_autofree char *text = sc_test_text (TEXT_LENGTH, 's');
  g_autoptr (GSubprocess) cli = NULL;
  GPid cli_pid;
  ScTestPeer *senders[N_SENDERS];
  GHashTable *accepted[N_SENDERS];
  gsize rss_before, rss_max;
  gsize rss_bound = (sc_fault_sanitized () ? 64 : 8) * 1024 * 1024;
  guint n_accepted = 0;
  guint n_refused = 0;
  guint n_sent = 0;
  guint32 slow_id;
  gboolean dropped = FALSE;

  for (guint i = 0; i < N_SENDERS; i++)
    {
      g_autofree char *nickname = g_strdup_printf ("sender-%u", i);

      senders[i] = sc_test_peer_connect (port);
      sc_message_free (sc_test_peer_hello (senders[i], nickname));
      accepted[i] =
        g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    }
  cli = cli_start (port, "stopped");
  cli_pid =
    (GPid) g_ascii_strtoll (g_subprocess_get_identifier (cli), NULL, 10);
  sc_test_peer_set_timeout (senders[0], 10000);
  slow_id = sc_test_peer_wait_joined (senders[0], "stopped");
  sc_test_peer_set_timeout (senders[0], SC_TEST_PEER_TIMEOUT_MS);

  sc_fault_proc_stop (cli_pid);

  rss_before = rss_max = sc_fault_proc_rss (server_pid);
  while (!dropped && n_sent < MAX_MESSAGES)
    {
      ScTestPeer *sender = senders[n_sent % N_SENDERS];
      ScMessage *request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
      g_autoptr (ScMessage) reply = NULL;

      request->peer_id = slow_id;
      request->text = g_strdup (text);
      reply = sc_test_peer_request (sender, request);
      if (reply->status == SC_STATUS_OK)
        {
          g_assert_true (g_hash_table_add (
            accepted[n_sent % N_SENDERS],
            g_memdup2 (&reply->message_id, sizeof (guint64))));
          n_accepted++;
        }
      else if (reply->status == SC_STATUS_RECIPIENT_SLOW)
        {
          /* Refused while half the cap is queued: not yet dropped. */
          n_refused++;
          g_usleep (20 * 1000);
        }
      else
        {
          /* Once dropped, it is no longer a client. */
          g_assert_cmpuint (reply->status, ==, SC_STATUS_NO_SUCH_CLIENT);
          dropped = TRUE;
        }
      n_sent++;
      if (n_sent % 8 == 0)
        rss_max = MAX (rss_max, sc_fault_proc_rss (server_pid));
    }
  rss_max = MAX (rss_max, sc_fault_proc_rss (server_pid));
  g_test_message ("%u messages of %u bytes accepted (%.1f MiB) and %u "
                  "refused before the stopped client was dropped; server "
                  "RSS %.1f MiB before, at most %.1f MiB during the flood",
                  n_accepted, TEXT_LENGTH,
                  n_accepted * (double) TEXT_LENGTH / (1024 * 1024), n_refused,
                  rss_before / (1024.0 * 1024), rss_max / (1024.0 * 1024));
  g_assert_true (dropped);
  g_assert_cmpuint (n_accepted, >, 0);
  g_assert_cmpuint (rss_max - rss_before, <, rss_bound);

  /* Every sender hears that it left because it was too slow, and gets one
   * RECIPIENT_SLOW receipt per accepted message: it acknowledged none. */
  for (guint i = 0; i < N_SENDERS; i++)
    {
      g_autoptr (ScMessage) left =
        sc_test_peer_expect_about (senders[i], SC_MSG_CLIENT_LEFT, slow_id);

      g_assert_cmpuint (left->status, ==, SC_STATUS_RECIPIENT_SLOW);
      while (g_hash_table_size (accepted[i]) > 0)
        {
          g_autoptr (ScMessage) receipt =
            sc_test_peer_expect (senders[i], SC_MSG_DELIVERY_RECEIPT);

          g_assert_cmpuint (receipt->peer_id, ==, slow_id);
          g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_SLOW);
          /* Removing it makes a second receipt for it fail here. */
          g_assert_true (
            g_hash_table_remove (accepted[i], &receipt->message_id));
        }
      sc_test_peer_expect_none (senders[i], SC_MSG_DELIVERY_RECEIPT, 300);
      g_hash_table_unref (accepted[i]);
    }
  g_assert_true (sc_fault_server_wait_disconnect_log (server, slow_id, 1000));

  /* Let the client run again: it finds its connection closed. */
  g_subprocess_send_signal (cli, SIGCONT);
  g_subprocess_force_exit (cli);
  g_assert_true (g_subprocess_wait (cli, NULL, NULL));

  for (guint i = 0; i < N_SENDERS; i++)
    sc_test_peer_free (senders[i]);
  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/stopped/recipient", test_stopped_recipient);
  return g_test_run ();
}
