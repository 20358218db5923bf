/* test-faults-ids.c: a client id freed while messages to it are in
 * flight, and a new client connecting at that moment.
 *
 * A sends a steady stream of messages to B's id from a thread while B
 * reads (and acknowledges) some of them, disconnects, and C connects at
 * once.  Ids are never reused: C's id differs from B's, C receives
 * nothing, and every message the server accepted for B ends in exactly
 * one receipt: delivered for each one B acknowledged, RECIPIENT_LEFT for
 * the others.  Runs against the in-process server with one worker and
 * with four (SC_TEST_THREADS).
 */
#include "config.h"

#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "sc-test-peer.h"
#include "sc-test-server.h"

#define MAX_MESSAGES 8000
#define B_READS      200
/* B starts reading once A is this far ahead. */
#define B_AHEAD 1000

typedef struct
{
  ScTestPeer *a;
  guint32 b_id;
  gint stop;   /* atomic: set once C has joined */
  gint n_sent; /* atomic */
} Sender;

static gpointer
sender_thread (gpointer data)
{
  Sender *sender = data;
  guint extra = 0;

  /* Paced, so that A's unread replies stay far below the output cap. */
  while (g_atomic_int_get (&sender->n_sent) < MAX_MESSAGES && extra < 1000)
    {
      for (guint i = 0; i < 20; i++)
        {
          ScMessage *request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

          request->peer_id = sender->b_id;
          request->text =
            g_strdup_printf ("to %u #%u", sender->b_id, sender->n_sent);
          sc_test_peer_send (sender->a, request);
          g_atomic_int_inc (&sender->n_sent);
          if (g_atomic_int_get (&sender->stop))
            extra++;
        }
      /* Deliberate: the pacing above, about 40 messages a millisecond at
       * most; nothing waits on it. */
      g_usleep (500);
    }
  return NULL;
}

static gboolean
all_acknowledged (gpointer data)
{
  int unacked = 1;

  g_assert_cmpint (ioctl (GPOINTER_TO_INT (data), SIOCOUTQ, &unacked), ==, 0);
  return unacked == 0;
}

/* Ends the output of @fd and waits until the peer has acknowledged
 * every byte of it, FIN included. */
static void
wait_sent (int fd)
{
  g_assert_cmpint (shutdown (fd, SHUT_WR), ==, 0);
  g_assert_true (
    sc_test_wait_until (all_acknowledged, GINT_TO_POINTER (fd), 5000));
}

static gboolean
b_ahead (gpointer data)
{
  Sender *sender = data;

  return g_atomic_int_get (&sender->n_sent) >= B_AHEAD;
}

static void
test_id_freed (ScTestServer *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) c = NULL;
  g_autoptr (GHashTable) accepted =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  Sender sender = { 0 };
  GThread *thread;
  guint b_read = 0, n_replies = 0, n_refused = 0, n_ok = 0, n_left = 0;
  guint32 b_id;
  int one = 1;

  sc_message_free (sc_test_peer_hello (a, "a"));
  sc_message_free (sc_test_peer_hello (b, "b"));
  b_id = sc_test_peer_get_id (b);
  sc_test_peer_set_auto_ack (b, TRUE);
  /* Each acknowledgement leaves at once instead of waiting behind
   * Nagle's algorithm for the server's delayed ACK. */
  g_assert_cmpint (setsockopt (sc_test_peer_get_fd (b), IPPROTO_TCP,
                               TCP_NODELAY, &one, sizeof one),
                   ==, 0);

  sender.a = a;
  sender.b_id = b_id;
  thread = g_thread_new ("sc-sender", sender_thread, &sender);

  /* B reads and acknowledges some, then leaves with the rest in flight,
   * and C arrives at once. */
  g_assert_true (sc_test_wait_until (b_ahead, &sender, 5000));
  while (b_read < B_READS)
    {
      g_autoptr (ScMessage) message = sc_test_peer_expect (b, SC_MSG_MESSAGE);
      g_autofree char *expected = g_strdup_printf ("to %u #", b_id);

      g_assert_true (g_str_has_prefix (message->text, expected));
      b_read++;
    }
  /* A close() with unread data resets the connection, and a reset
   * discards whatever is still in the send queue: make sure B's
   * acknowledgements reached the server first. */
  wait_sent (sc_test_peer_get_fd (b));
  g_clear_pointer (&b, sc_test_peer_free);
  c = sc_test_peer_connect (fixture->port);
  sc_message_free (sc_test_peer_hello (c, "c"));
  g_atomic_int_set (&sender.stop, 1);
  g_thread_join (thread);
  g_test_message ("A sent %u messages to B (%u), B read %u, C is %u",
                  (guint) sender.n_sent, b_id, b_read, sc_test_peer_get_id (c));
  g_assert_cmpuint (sc_test_peer_get_id (c), !=, b_id);
  g_assert_cmpuint (sc_test_peer_get_id (c), >, b_id);

  /* Every request is answered: accepted while B was there, refused
   * after; and every accepted one gets exactly one receipt. */
  sc_test_peer_set_timeout (a, 10000);
  while (n_replies < (guint) sender.n_sent || g_hash_table_size (accepted) > 0)
    {
      g_autoptr (ScMessage) message = sc_test_peer_receive (a, 10000);

      g_assert_nonnull (message);
      switch ((int) message->type)
        {
        case SC_MSG_SEND_MESSAGE_REPLY:
          n_replies++;
          if (message->status == SC_STATUS_OK)
            g_assert_true (g_hash_table_add (
              accepted, g_memdup2 (&message->message_id, sizeof (guint64))));
          else
            {
              g_assert_cmpuint (message->status, ==, SC_STATUS_NO_SUCH_CLIENT);
              n_refused++;
            }
          break;
        case SC_MSG_DELIVERY_RECEIPT:
          g_assert_cmpuint (message->peer_id, ==, b_id);
          /* A receipt only ever follows its reply (same worker queue). */
          g_assert_true (g_hash_table_remove (accepted, &message->message_id));
          if (message->status == SC_STATUS_OK)
            n_ok++;
          else
            {
              g_assert_cmpuint (message->status, ==, SC_STATUS_RECIPIENT_LEFT);
              n_left++;
            }
          break;
        case SC_MSG_CLIENT_LEFT:
          g_assert_cmpuint (message->client_id, ==, b_id);
          g_test_message ("B left: %s", message->reason);
          break;
        case SC_MSG_CLIENT_JOINED:
          g_assert_true (message->sender.id == b_id ||
                         message->sender.id == sc_test_peer_get_id (c));
          break;
        default:
          g_error ("A got an unexpected %s",
                   sc_message_type_name (message->type));
        }
    }
  g_test_message ("%u accepted (%u delivered, %u recipient left), %u "
                  "refused",
                  n_ok + n_left, n_ok, n_left, n_refused);
  /* Each acknowledgement B sent before closing was served before its end
   * of stream. */
  g_assert_cmpuint (n_ok, ==, b_read);
  g_assert_cmpuint (n_replies, ==, (guint) sender.n_sent);
  /* Messages to B were still on their way when it left. */
  g_assert_cmpuint (n_left + n_refused, >, 0);
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 300);
  /* Nothing addressed to B reaches C. */
  sc_test_peer_expect_none (c, SC_MSG_MESSAGE, 300);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add ("/faults/ids/freed-while-sending", ScTestServer, NULL,
              sc_test_server_setup, test_id_freed, sc_test_server_teardown);
  return g_test_run ();
}
