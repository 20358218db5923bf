/* test-client-faults.c: the client core against a server that
 * stops answering, dies, shuts down, sends garbage, pings, speaks early
 * or stops reading; mostly the scripted fake server.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include "client-harness.h"

/* ------------------------------------------------------------------ */
/* A server that stops answering, dies or shuts down */

static void
test_request_timeout (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) request = NULL;
  g_autoptr (ScMessage) late = NULL;
  g_autoptr (ScMessage) second = NULL;
  g_autoptr (ScMessage) answer = NULL;
  g_autoptr (GDateTime) time_reply = NULL;
  g_autofree char *name = NULL;
  gint64 started;

  g_assert_cmpstr (sc_client_get_server_name (peer->client), ==, "fake-server");
  sc_client_set_request_timeout (peer->client, 300);
  started = g_get_monotonic_time ();
  sc_client_get_time_async (peer->client, NULL, store_result, &result);
  request = fake_read (fake);
  g_assert_cmpint (request->type, ==, SC_MSG_GET_TIME);
  wait_until (result != NULL);
  time_reply = sc_client_get_time_finish (peer->client, result, NULL, &error);
  g_assert_error (error, SC_ERROR, SC_ERROR_TIMEOUT);
  g_assert_null (time_reply);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 250 * 1000);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);

  /* The answer comes after all; it is not taken for the next request's. */
  late = sc_message_new_reply (request, SC_STATUS_OK, NULL);
  late->time_ms = now_ms ();
  late->iso_time = g_strdup ("1970-01-01T00:00:00.000Z");
  late->timezone = g_strdup ("UTC");
  fake_send (fake, late);

  g_clear_object (&result);
  g_clear_error (&error);
  sc_client_get_name_async (peer->client, NULL, store_result, &result);
  second = fake_read (fake);
  g_assert_cmpint (second->type, ==, SC_MSG_GET_NAME);
  g_assert_cmpuint (second->request_id, !=, request->request_id);
  answer = sc_message_new_reply (second, SC_STATUS_OK, NULL);
  answer->name = g_strdup ("fake-host");
  fake_send (fake, answer);
  wait_until (result != NULL);
  name = sc_client_get_name_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "fake-host");
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);
}

static void
test_server_killed (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  g_autoptr (GAsyncResult) time_result = NULL;
  g_autoptr (GAsyncResult) list_result = NULL;
  g_autoptr (GAsyncResult) late_result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) first = NULL;
  g_autoptr (ScMessage) second = NULL;
  g_autoptr (GDateTime) time_reply = NULL;
  g_autoptr (GPtrArray) clients = NULL;

  sc_client_get_time_async (peer->client, NULL, store_result, &time_result);
  sc_client_list_clients_async (peer->client, NULL, store_result, &list_result);
  first = fake_read (fake);
  second = fake_read (fake);
  g_assert_cmpint (first->type, ==, SC_MSG_GET_TIME);
  g_assert_cmpint (second->type, ==, SC_MSG_LIST_CLIENTS);
  fake_server_kill (fake);

  wait_until (time_result != NULL && list_result != NULL &&
              peer->n_disconnected > 0);
  time_reply =
    sc_client_get_time_finish (peer->client, time_result, NULL, &error);
  g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  g_assert_null (time_reply);
  g_clear_error (&error);
  clients = sc_client_list_clients_finish (peer->client, list_result, &error);
  g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  g_assert_null (clients);
  g_clear_error (&error);

  g_assert_cmpuint (peer->n_disconnected, ==, 1);
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_CONNECTION_LOST);
  g_assert_cmpstr (peer->log->str, ==, "disconnected;");
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);

  /* Later requests fail at once. */
  sc_client_ping_async (peer->client, NULL, store_result, &late_result);
  wait_until (late_result != NULL);
  g_assert_cmpint (sc_client_ping_finish (peer->client, late_result, &error),
                   ==, -1);
  g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  iterate_for (50);
  g_assert_cmpuint (peer->n_disconnected, ==, 1);
}

static void
test_server_stopped (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_connected (fixture->port, "survivor");
  g_autoptr (GAsyncResult) before = NULL;
  g_autoptr (GAsyncResult) after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDateTime) reply = NULL;

  peer_sync (peer);
  /* Sent just before the stop: answered or failed, but never left
   * hanging. */
  sc_client_get_time_async (peer->client, NULL, store_result, &before);
  sc_server_stop (fixture->server);

  wait_until (before != NULL && peer->n_disconnected > 0);
  reply = sc_client_get_time_finish (peer->client, before, NULL, &error);
  if (reply == NULL)
    g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_cmpstr (peer->log->str, ==, "server-shutdown;disconnected;");
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_BY_SERVER);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (sc_client_get_id (peer->client), ==, 0);

  sc_client_get_time_async (peer->client, NULL, store_result, &after);
  wait_until (after != NULL);
  g_clear_pointer (&reply, g_date_time_unref);
  reply = sc_client_get_time_finish (peer->client, after, NULL, &error);
  g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  g_assert_null (reply);
  iterate_for (50);
  g_assert_cmpuint (peer->n_disconnected, ==, 1);
}

/* Indications that come between GREETING and HELLO_REPLY are delivered
 * once connected, not lost. */
static void
test_early_indication (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (TRUE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  const ScPeer *info;

  wait_until (peer->joined->len == 1);
  info = g_ptr_array_index (peer->joined, 0);
  g_assert_cmpuint (info->id, ==, 99);
  g_assert_cmpstr (info->nickname, ==, "early-bird");
  g_assert_cmpuint (info->port, ==, 1234);
}

/* The receiver thread answers the server's ping by itself, even while the
 * owner's main loop is not running. */
static void
test_server_ping (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  g_autoptr (ScMessage) ping = sc_message_new (SC_MSG_SERVER_PING, 0);
  g_autoptr (ScMessage) pong = NULL;

  ping->token = G_GUINT64_CONSTANT (0x1122334455667788);
  fake_send (fake, ping);
  pong = fake_read (fake);
  g_assert_cmpint (pong->type, ==, SC_MSG_PONG);
  g_assert_cmpuint (pong->request_id, ==, 0);
  g_assert_cmpuint (pong->token, ==, ping->token);
  iterate_for (20);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
}

/* Bytes that are not a frame end the connection as a protocol error. */
static void
test_server_garbage (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) request = NULL;
  g_autoptr (GDateTime) reply = NULL;
  static const char garbage[32] = "HTTP/1.1 400 Bad Request\r\n\r\n";

  sc_client_get_time_async (peer->client, NULL, store_result, &result);
  request = fake_read (fake);
  g_assert_true (
    sc_socket_send_all (fake->fd, garbage, sizeof garbage, &error));
  g_assert_no_error (error);

  wait_until (result != NULL && peer->n_disconnected > 0);
  reply = sc_client_get_time_finish (peer->client, result, NULL, &error);
  g_assert_error (error, SC_ERROR, SC_ERROR_CLOSED);
  g_assert_null (reply);
  g_assert_cmpuint (peer->n_disconnected, ==, 1);
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_PROTOCOL_ERROR);
  g_assert_nonnull (peer->disconnect_detail);
  g_assert_cmpuint (strlen (peer->disconnect_detail), >, 0);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
}

/* A server that stops reading: every send returns at once (the frames
 * only join the sender's queue), and within the send timeout the
 * connection ends with a reason that says so, failing what waited. */
static void
count_failed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (sc_client_send_message_finish (SC_CLIENT (source), result, &error) == 0)
    (*(guint *) data)++;
}

static void
test_server_not_reading (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autofree char *text = NULL;
  gint64 longest = 0, started;
  guint n_sent = 0, n_failed = 0;

  sc_client_set_heartbeat_interval (peer->client, 0);
  sc_client_set_send_timeout (peer->client, 500);
  peer_connect (peer, fake->port, "stuck");
  fake_server_join (fake);

  /* 32 KiB a message, 12 MiB in all: more than the two kernel buffers
   * hold, less than the client's queue cap, so the timeout decides. */
  text = g_strnfill (32 * 1024, 'x');
  started = g_get_monotonic_time ();
  while (n_sent < 384 && peer->n_disconnected == 0)
    {
      gint64 before = g_get_monotonic_time ();

      sc_client_send_message_async (peer->client, 1, text, NULL, count_failed,
                                    &n_failed);
      longest = MAX (longest, g_get_monotonic_time () - before);
      n_sent++;
      iterate ();
    }
  wait_until (peer->n_disconnected == 1);
  g_test_message ("%u sends, the longest took %" G_GINT64_FORMAT
                  " us; disconnected after %.2f s: %s",
                  n_sent, longest, (g_get_monotonic_time () - started) / 1e6,
                  peer->disconnect_detail);
  g_assert_cmpint (longest, <, 50 * 1000 * call_time_slowdown ());
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_CONNECTION_LOST);
  g_assert_nonnull (strstr (peer->disconnect_detail, "stopped reading"));
  wait_until (n_failed == n_sent);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
}

/* ------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  /* Also ignores SIGPIPE: a server that resets the connection must not
   * kill the test. */
  sc_test_init (&argc, &argv);

  g_test_add_func ("/client/request/timeout", test_request_timeout);
  g_test_add_func ("/client/server/killed", test_server_killed);
  add_server_test ("/client/server/stopped", NULL, test_server_stopped);
  g_test_add_func ("/client/server/garbage", test_server_garbage);
  g_test_add_func ("/client/server/ping", test_server_ping);
  g_test_add_func ("/client/server/early-indication", test_early_indication);
  g_test_add_func ("/client/server/not-reading", test_server_not_reading);

  return g_test_run ();
}
