/* test-server-doc.c: rules of docs/PROTOCOL.md that an implementation
 * written from the document alone found unclear or contradicted by the
 * server, checked against the server over real sockets: each test names
 * the section whose rule it checks.
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

static const ScTestServerOptions small_payload = { .max_payload = 1024 };
static const ScTestServerOptions plain = { 0 };
static const ScTestServerOptions heartbeat = { .idle_timeout_s = 1,
                                               .ping_timeout_s = 1 };

static ScTestPeer *
join (Fixture *fixture, const char *nickname)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);

  sc_message_free (sc_test_peer_hello (peer, nickname));
  return peer;
}

static gsize
entry_size (const ScClientInfo *info)
{
  return 4 + 2 + 8 + 2 + strlen (info->nickname) + 2 + strlen (info->address);
}

/* 5.3: a page holds as many entries as fit in max_payload with the
 * reply's 13 bytes of other fields; with 59-byte entries and a 1024-byte
 * limit that is 17. */
static void
test_list_page_full (Fixture *fixture, gconstpointer data)
{
  enum
  {
    N = 20
  };
  ScTestPeer *peers[N];
  g_autoptr (ScMessage) page = NULL;
  g_autoptr (GBytes) encoded = NULL;
  gsize used = 13;

  for (guint i = 0; i < N; i++)
    {
      /* 32 bytes, the longest nickname. */
      g_autofree char *nickname =
        g_strdup_printf ("client-%02u-abcdefghijklmnopqrstuv", i);

      g_assert_cmpuint (strlen (nickname), ==, 32);
      peers[i] = join (fixture, nickname);
    }
  page =
    sc_test_peer_request (peers[0], sc_message_new (SC_MSG_LIST_CLIENTS, 0));
  g_assert_cmpuint (page->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (page->count, ==, N);
  g_assert_true (page->more);
  for (guint i = 0; i < page->clients->len; i++)
    used += entry_size (g_ptr_array_index (page->clients, i));
  encoded = sc_message_encode (page);
  g_assert_cmpuint (g_bytes_get_size (encoded) - 16, ==, used);
  g_assert_cmpuint (used, <=, 1024);
  /* The next entry would not have fit. */
  g_assert_cmpuint (used + 59, >, 1024);
  g_assert_cmpuint (page->clients->len, ==, 17);
  for (guint i = 0; i < N; i++)
    sc_test_peer_free (peers[i]);
}

/* 2 and 5.1: a server announcing a max_payload below the pre-HELLO limit
 * holds HELLO to it too. */
static void
test_hello_within_max_payload (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) error = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 1);

  g_assert_cmpuint (sc_test_peer_get_greeting (peer)->max_payload, ==, 1024);
  hello->name = g_strnfill (2000, 'p');
  hello->nickname = g_strdup ("big");
  sc_test_peer_send (peer, hello);
  error = sc_test_peer_expect (peer, SC_MSG_PROTOCOL_ERROR);
  g_assert_cmpuint (error->status, ==, SC_STATUS_TOO_LARGE);
  sc_test_peer_expect_closed (peer);
}

/* 4.2: the program string is at most 255 bytes; a longer one is refused
 * and the client may say hello again. */
static void
test_program_length (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) ok = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  hello->name = g_strnfill (256, 'p');
  hello->nickname = g_strdup ("long");
  reply = sc_test_peer_request (peer, hello);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_BAD_REQUEST);
  ok = sc_test_peer_hello (peer, "long");
}

/* 5.2: GET_NAME answers the name the GREETING announced (the configured
 * one; the test server's is "sc-test-server"). */
static void
test_get_name_is_greeting_name (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = join (fixture, "asker");
  g_autoptr (ScMessage) reply =
    sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));

  g_assert_cmpstr (sc_test_peer_get_greeting (peer)->name, ==,
                   "sc-test-server");
  g_assert_cmpstr (reply->name, ==, "sc-test-server");
}

/* 5.4: one sender's messages to one recipient arrive in the order they
 * were sent. */
static void
test_fifo_per_sender (Fixture *fixture, gconstpointer data)
{
  enum
  {
    N = 300
  };
  g_autoptr (ScTestPeer) sender = join (fixture, "sender");
  g_autoptr (ScTestPeer) recipient = join (fixture, "recipient");
  guint64 previous = 0;

  sc_test_peer_set_auto_ack (recipient, TRUE);
  for (guint i = 0; i < N; i++)
    {
      ScMessage *send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

      send->flags = SC_FLAG_NO_RECEIPT;
      send->peer_id = sc_test_peer_get_id (recipient);
      send->text = g_strdup_printf ("%u", i);
      sc_test_peer_send (sender, send);
    }
  for (guint i = 0; i < N; i++)
    {
      g_autoptr (ScMessage) message =
        sc_test_peer_expect (recipient, SC_MSG_MESSAGE);
      g_autofree char *expected = g_strdup_printf ("%u", i);

      g_assert_cmpstr (message->text, ==, expected);
      g_assert_cmpuint (message->message_id, >, previous);
      previous = message->message_id;
    }
}

/* 8: a connection closed in the middle of a frame is not a protocol
 * error: the partial frame is dropped and others see an ordinary
 * departure (status 0). */
static void
test_close_mid_frame (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) watcher = join (fixture, "watcher");
  g_autoptr (ScTestPeer) leaver = join (fixture, "leaver");
  guint32 leaver_id = sc_test_peer_get_id (leaver);
  g_autoptr (ScMessage) left = NULL;
  static const guint8 half_header[] = { 0x53, 0x43, 0x01, 0x02, 0x00, 0x00 };

  sc_test_peer_send_raw (leaver, half_header, sizeof half_header);
  g_clear_pointer (&leaver, sc_test_peer_free);
  left = sc_test_peer_expect_about (watcher, SC_MSG_CLIENT_LEFT, leaver_id);
  g_assert_cmpuint (left->status, ==, SC_STATUS_OK);
}

/* 5.6: any frame restarts the silence timer, but once a SERVER_PING is
 * out only its PONG answers it: a client that keeps sending requests and
 * never answers is closed, without a PROTOCOL_ERROR.  (test-server.c's
 * /server/heartbeat checks the others' CLIENT_LEFT status 12.) */
static void
test_only_pong_answers_ping (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) busy = join (fixture, "busy");
  g_autoptr (ScMessage) ping = NULL;
  gint64 deadline;

  sc_test_peer_set_auto_pong (busy, FALSE);
  sc_test_peer_set_timeout (busy, 10000);
  ping = sc_test_peer_expect (busy, SC_MSG_SERVER_PING);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline &&
         !sc_test_peer_wait_closed (busy, 100))
    sc_test_peer_send (busy, sc_message_new (SC_MSG_GET_TIME, 0));
  g_assert_true (sc_test_peer_wait_closed (busy, 0));
  /* What it got before the close: replies and pings, no PROTOCOL_ERROR. */
  sc_test_peer_expect_none (busy, SC_MSG_PROTOCOL_ERROR, 0);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

#define ADD(path, options, func)                                   \
  g_test_add (path, Fixture, &options, sc_test_server_setup, func, \
              sc_test_server_teardown)
  ADD ("/server/doc/list-page-full", small_payload, test_list_page_full);
  ADD ("/server/doc/hello-within-max-payload", small_payload,
       test_hello_within_max_payload);
  ADD ("/server/doc/program-length", plain, test_program_length);
  ADD ("/server/doc/get-name-is-greeting-name", plain,
       test_get_name_is_greeting_name);
  ADD ("/server/doc/fifo-per-sender", plain, test_fifo_per_sender);
  ADD ("/server/doc/close-mid-frame", plain, test_close_mid_frame);
  ADD ("/server/doc/only-pong-answers-ping", heartbeat,
       test_only_pong_answers_ping);
#undef ADD
  return g_test_run ();
}
