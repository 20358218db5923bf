/* test-server-guard.c: what one client can do to others, and what the
 * server tells others about it.
 *
 * Departures are announced with the documented reason word only.  Client
 * ids skip 0 and the ids in use when the counter wraps.  A frame must be
 * completed in time once started.  Connections that never say hello
 * cannot lock others out.
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "sc-server-private.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"
#include "sc-wire.h"

typedef ScTestServer Fixture;

static ScTestPeer *
join (Fixture *fixture, const char *nickname)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);

  sc_message_free (sc_test_peer_hello (peer, nickname));
  return peer;
}

static void
assert_get_name_works (ScTestPeer *peer)
{
  g_autoptr (ScMessage) reply =
    sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
}

static void
reset_connection (ScTestPeer *peer)
{
  struct linger linger = { 1, 0 };

  g_assert_cmpint (setsockopt (sc_test_peer_get_fd (peer), SOL_SOCKET,
                               SO_LINGER, &linger, sizeof linger),
                   ==, 0);
}

/* ------------------------------------------------------------------ */
/* Finding 10: CLIENT_LEFT carries the reason word, not the details. */

/* A client breaks the framing: it is told exactly what was wrong, the
 * others only "protocol error". */
static void
test_left_reason_protocol_error (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) bad = join (fixture, "mallory");
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  g_autoptr (ScMessage) error = NULL;
  g_autoptr (ScMessage) left = NULL;

  sc_wire_append_u16 (frame, 0x5344); /* not the magic */
  sc_wire_append_u8 (frame, SC_PROTOCOL_VERSION);
  sc_wire_append_u8 (frame, SC_MSG_GET_TIME);
  sc_wire_append_u16 (frame, 0);
  sc_wire_append_u16 (frame, 0);
  sc_wire_append_u32 (frame, 1);
  sc_wire_append_u32 (frame, 0);
  sc_test_peer_send_raw (bad, frame->data, frame->len);

  error = sc_test_peer_expect (bad, SC_MSG_PROTOCOL_ERROR);
  g_assert_cmpuint (error->status, ==, SC_STATUS_PROTOCOL_ERROR);
  g_assert_nonnull (strstr (error->reason, "magic"));
  left = sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT,
                                    sc_test_peer_get_id (bad));
  g_assert_cmpuint (left->status, ==, SC_STATUS_PROTOCOL_ERROR);
  g_assert_cmpstr (left->reason, ==, "protocol error");
  assert_get_name_works (observer);
}

/* A reset connection: the error text of the server's recv() stays in the
 * server's log. */
static void
test_left_reason_reset (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) rude = join (fixture, "rude");
  g_autoptr (ScMessage) left = NULL;
  guint32 rude_id = sc_test_peer_get_id (rude);

  reset_connection (rude);
  g_clear_pointer (&rude, sc_test_peer_free);
  left = sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT, rude_id);
  g_assert_cmpuint (left->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (left->reason, ==, "disconnected");
}

static const ScTestServerOptions fast_heartbeat = {
  .idle_timeout_s = 1,
  .ping_timeout_s = 1,
};

/* A client that does not answer the server's ping. */
static void
test_left_reason_timeout (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) silent = join (fixture, "silent");
  g_autoptr (ScMessage) left = NULL;

  sc_test_peer_set_auto_pong (silent, FALSE);
  sc_test_peer_set_timeout (observer, 8000);
  left = sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT,
                                    sc_test_peer_get_id (silent));
  g_assert_cmpuint (left->status, ==, SC_STATUS_TIMEOUT);
  g_assert_cmpstr (left->reason, ==, "timed out");
}

/* ------------------------------------------------------------------ */
/* Finding 7: ids after 2^32 connections. */

/* The counter is set near its end; the ids that follow wrap past 0 and
 * past the id of a client still connected, and everyone is served. */
static void
test_id_wrap (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) first = join (fixture, "first");
  ScTestPeer *later[3];
  const guint32 expected[] = { G_MAXUINT32 - 1, G_MAXUINT32, 2 };
  ScMessage *send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
  g_autoptr (ScMessage) sent = NULL;
  g_autoptr (ScMessage) message = NULL;

  g_assert_cmpuint (sc_test_peer_get_id (first), ==, 1);
  sc_server_set_next_client_id (fixture->server, G_MAXUINT32 - 1);
  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    {
      g_autoptr (ScMessage) joined = NULL;
      g_autofree char *name = g_strdup_printf ("later%u", i);

      later[i] = join (fixture, name);
      g_assert_cmpuint (sc_test_peer_get_id (later[i]), ==, expected[i]);
      joined =
        sc_test_peer_expect_about (first, SC_MSG_CLIENT_JOINED, expected[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    assert_get_name_works (later[i]);
  assert_get_name_works (first);

  /* Id 2 names the new client, not anyone else. */
  send->peer_id = 2;
  send->text = g_strdup ("after the wrap");
  sent = sc_test_peer_request (first, send);
  g_assert_cmpuint (sent->status, ==, SC_STATUS_OK);
  message = sc_test_peer_expect_about (later[2], SC_MSG_MESSAGE, 1);
  g_assert_cmpstr (message->text, ==, "after the wrap");
  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    sc_test_peer_free (later[i]);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  assert_get_name_works (first);
}

/* ------------------------------------------------------------------ */
/* Finding 8: a frame trickled byte by byte. */

static const ScTestServerOptions short_frame = { .frame_timeout_s = 1 };

static GBytes *
encode_send (guint32 recipient, gsize length)
{
  g_autoptr (ScMessage) send = sc_message_new (SC_MSG_SEND_MESSAGE, 7);

  send->peer_id = recipient;
  send->text = sc_test_text (length, 'x');
  return sc_message_encode (send);
}

/* Whole frames slower than the deadline are fine: it runs from a frame's
 * first byte to its last.  One trickled a byte every 100 ms is closed
 * about a second after it started. */
static void
test_slow_frame (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) slow = join (fixture, "slow");
  g_autoptr (GBytes) frame = encode_send (sc_test_peer_get_id (observer), 1000);
  g_autoptr (ScMessage) error = NULL;
  g_autoptr (ScMessage) left = NULL;
  gsize size;
  const guint8 *bytes = g_bytes_get_data (frame, &size);
  gint64 start;
  guint sent = 0;

  /* 25 pings, 100 ms apart: 2.5 s of traffic, each frame whole. */
  for (guint i = 0; i < 25; i++)
    {
      ScMessage *ping = sc_message_new (SC_MSG_PING, 0);
      g_autoptr (ScMessage) reply = NULL;

      ping->token = i + 1;
      reply = sc_test_peer_request (slow, ping);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      /* The pace of this client, not a wait for the server. */
      sc_test_peer_expect_none (slow, SC_MSG_PROTOCOL_ERROR, 100);
    }

  /* Now one byte every 100 ms; the answer is waited for in between. */
  start = g_get_monotonic_time ();
  while (error == NULL && sent < size &&
         g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC)
    {
      sc_test_peer_send_raw (slow, bytes + sent++, 1);
      error = sc_test_peer_try_expect (slow, SC_MSG_PROTOCOL_ERROR, 100);
    }
  g_assert_nonnull (error);
  g_test_message ("closed %" G_GINT64_FORMAT " ms after the frame started, "
                  "%u of its %" G_GSIZE_FORMAT " bytes sent",
                  (g_get_monotonic_time () - start) / 1000, sent, size);
  g_assert_cmpuint (error->status, ==, SC_STATUS_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=,
                   900 * G_TIME_SPAN_MILLISECOND);
  sc_test_peer_expect_closed (slow);
  left = sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT,
                                    sc_test_peer_get_id (slow));
  sc_test_peer_expect_none (observer, SC_MSG_MESSAGE, 50);
  assert_get_name_works (observer);
}

/* ------------------------------------------------------------------ */
/* Finding 4: connections that never say hello. */

#define FLOOD_PER_ADDRESS 4
#define FLOOD_PENDING     16

static const ScTestServerOptions small_gate = {
  .max_clients = 20,
  .max_pending = FLOOD_PENDING,
  .max_per_address = FLOOD_PER_ADDRESS,
};

/* 80 silent connections from one address, then 80 from eight others,
 * all kept open by the flooder; a new client joins after every 10.
 * Connections that never say hello take no client slot; the oldest of
 * them are closed (with SERVER_FULL) to keep within the bounds, the
 * newest stay; every innocent client gets in. */
/* The server has closed what the pending limits made it close. */
static gboolean
flood_settled (gpointer data)
{
  Fixture *fixture = data;

  return sc_pending_table_get_count (fixture->server->pending) <=
           FLOOD_PENDING &&
         sc_server_get_n_clients (fixture->server) <= 1 + FLOOD_PENDING;
}

static void
test_pre_hello_flood (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) flood =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_test_peer_free);
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScMessage) first_error = NULL;
  g_autoptr (ScMessage) last_greeting = NULL;
  guint joined = 0, pending;

  for (guint i = 0; i < 160; i++)
    {
      g_autofree char *address = i < 80
                                   ? g_strdup ("127.0.4.1")
                                   : g_strdup_printf ("127.0.4.%u", 2 + i % 8);

      g_ptr_array_add (
        flood, sc_test_peer_connect_raw_from (fixture->port, address, 0));
      if (i % 10 == 9)
        {
          g_autoptr (ScTestPeer) innocent =
            sc_test_peer_connect_from (fixture->port, "127.0.5.1");

          sc_message_free (sc_test_peer_hello (innocent, "innocent"));
          assert_get_name_works (innocent);
          joined++;
        }
    }
  g_assert_cmpuint (joined, ==, 16);

  /* The very first silent connection was greeted, then turned away. */
  first_error = sc_test_peer_try_expect (g_ptr_array_index (flood, 0),
                                         SC_MSG_PROTOCOL_ERROR, 5000);
  g_assert_nonnull (first_error);
  g_assert_cmpuint (first_error->status, ==, SC_STATUS_SERVER_FULL);
  g_assert_cmpstr (first_error->reason, !=, "");
  g_assert_true (sc_test_peer_wait_closed (g_ptr_array_index (flood, 0), 5000));
  /* The newest is still there, greeted. */
  last_greeting = sc_test_peer_try_expect (
    g_ptr_array_index (flood, flood->len - 1), SC_MSG_GREETING, 5000);
  g_assert_nonnull (last_greeting);

  /* At most the bound wait, once the server has caught up with the
   * flood: all 160 accepted, 1 observer, 16 innocents gone. */
  g_assert_true (sc_test_wait_until (flood_settled, fixture, 5000));
  pending = sc_pending_table_get_count (fixture->server->pending);
  g_test_message ("160 silent connections from 9 addresses: %u still "
                  "waiting for hello, %u innocent clients joined",
                  pending, joined);
  assert_get_name_works (observer);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

#define ADD(path, options, func)                                  \
  g_test_add (path, Fixture, options, sc_test_server_setup, func, \
              sc_test_server_teardown)

  ADD ("/server/guard/left-reason/protocol-error", NULL,
       test_left_reason_protocol_error);
  ADD ("/server/guard/left-reason/reset", NULL, test_left_reason_reset);
  ADD ("/server/guard/left-reason/timeout", &fast_heartbeat,
       test_left_reason_timeout);
  ADD ("/server/guard/id-wrap", NULL, test_id_wrap);
  ADD ("/server/guard/slow-frame", &short_frame, test_slow_frame);
  ADD ("/server/guard/pre-hello-flood", &small_gate, test_pre_hello_flood);
#undef ADD

  return g_test_run ();
}
