/* test-client-requests.c: the client core against an in-process
 * server: connecting, requests (time, name, client list, nickname, ping,
 * broadcast), messages and their receipts, joins and leaves.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include "client-harness.h"

/* ------------------------------------------------------------------ */
/* Connecting */

static void
on_state_notify (ScClient *client, GParamSpec *pspec, GArray *states)
{
  ScClientState state = sc_client_get_state (client);

  g_array_append_val (states, state);
}

static void
on_notify_count (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

static void
test_connect (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autoptr (GArray) states =
    g_array_new (FALSE, FALSE, sizeof (ScClientState));
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *nickname = NULL;
  guint32 first_id;
  guint n_nickname_notify = 0;

  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (sc_client_get_id (peer->client), ==, 0);
  g_assert_null (sc_client_get_server_name (peer->client));
  g_assert_cmpuint (sc_client_get_protocol_version (peer->client), ==, 0);
  g_signal_connect (peer->client, "notify::state", G_CALLBACK (on_state_notify),
                    states);
  g_signal_connect (peer->client, "notify::nickname",
                    G_CALLBACK (on_notify_count), &n_nickname_notify);

  peer_connect (peer, fixture->port, "alice");
  g_assert_cmpuint (states->len, ==, 2);
  g_assert_cmpint (g_array_index (states, ScClientState, 0), ==,
                   SC_CLIENT_STATE_CONNECTING);
  g_assert_cmpint (g_array_index (states, ScClientState, 1), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (n_nickname_notify, >=, 1);

  first_id = peer_id (peer);
  g_assert_cmpuint (first_id, !=, 0);
  g_assert_cmpstr (sc_client_get_nickname (peer->client), ==, "alice");
  g_object_get (peer->client, "nickname", &nickname, NULL);
  g_assert_cmpstr (nickname, ==, "alice");
  g_assert_cmpstr (sc_client_get_host (peer->client), ==, "127.0.0.1");
  g_assert_cmpuint (sc_client_get_port (peer->client), ==, fixture->port);
  g_assert_cmpstr (sc_client_get_server_name (peer->client), ==,
                   fixture->config->server_name);

  /* What the greeting said, through the accessors. */
  g_assert_cmpuint (sc_client_get_protocol_version (peer->client), ==,
                    SC_PROTOCOL_VERSION);
  g_assert_cmpuint (sc_client_get_max_payload (peer->client), ==,
                    fixture->config->max_payload);
  g_assert_cmpuint (sc_client_get_max_clients (peer->client), ==,
                    fixture->config->max_clients);
  g_assert_cmpuint (sc_client_get_server_heartbeat (peer->client), ==,
                    fixture->config->idle_timeout_s);

  /* A second connect while connected is refused, and changes nothing. */
  sc_client_connect_async (peer->client, "127.0.0.1", fixture->port, "bob",
                           NULL, store_result, &result);
  wait_until (result != NULL);
  g_assert_false (sc_client_connect_finish (peer->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (peer_id (peer), ==, first_id);

  /* Disconnecting is immediate and reported once, as our own doing. */
  sc_client_disconnect (peer->client);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (states->len, ==, 3);
  g_assert_cmpint (g_array_index (states, ScClientState, 2), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 1);
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_BY_US);
  g_assert_cmpuint (sc_client_get_id (peer->client), ==, 0);
  sc_client_disconnect (peer->client);
  g_assert_cmpuint (peer->n_disconnected, ==, 1);

  /* The same object connects again, under a new id: ids are never
   * reused. */
  peer_connect (peer, fixture->port, "alice");
  g_assert_cmpuint (peer_id (peer), !=, 0);
  g_assert_cmpuint (peer_id (peer), !=, first_id);
  peer_sync (peer);
  g_signal_handlers_disconnect_by_data (peer->client, states);
  g_signal_handlers_disconnect_by_data (peer->client, &n_nickname_notify);
}

/* Disconnecting during the handshake abandons it; connecting again at
 * once is not disturbed by the abandoned attempt finishing later. */
static void
test_connect_abandoned (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) again = NULL;
  g_autoptr (GError) error = NULL;

  sc_client_connect_async (peer->client, "127.0.0.1", fixture->port, "quitter",
                           NULL, store_result, &result);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTING);
  sc_client_disconnect (peer->client);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  wait_until (result != NULL);
  g_assert_false (sc_client_connect_finish (peer->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);
  wait_until (sc_server_get_n_clients (fixture->server) == 0);

  /* Abandon, and connect again before the first attempt is over. */
  sc_client_connect_async (peer->client, "127.0.0.1", fixture->port, "quitter",
                           NULL, store_result, &result);
  sc_client_disconnect (peer->client);
  sc_client_connect_async (peer->client, "127.0.0.1", fixture->port, "again",
                           NULL, store_result, &again);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTING);
  wait_until (result != NULL && again != NULL);
  g_assert_false (sc_client_connect_finish (peer->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_true (sc_client_connect_finish (peer->client, again, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpstr (sc_client_get_nickname (peer->client), ==, "again");
  peer_sync (peer);
  wait_until (sc_server_get_n_clients (fixture->server) == 1);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);
}

static void
test_connect_refused (void)
{
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autoptr (GArray) states =
    g_array_new (FALSE, FALSE, sizeof (ScClientState));
  g_autoptr (GError) error = NULL;
  struct sockaddr_in address = { 0 };
  socklen_t length = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint16 port;

  /* A port that was just free and has nobody listening on it. */
  g_assert_cmpint (fd, >=, 0);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==,
                   0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &address, &length), ==,
                   0);
  port = ntohs (address.sin_port);
  close (fd);

  g_signal_connect (peer->client, "notify::state", G_CALLBACK (on_state_notify),
                    states);
  error = peer_try_connect (peer, "127.0.0.1", port, "nobody");
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (states->len, ==, 2);
  g_assert_cmpint (g_array_index (states, ScClientState, 0), ==,
                   SC_CLIENT_STATE_CONNECTING);
  g_assert_cmpint (g_array_index (states, ScClientState, 1), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);
  g_signal_handlers_disconnect_by_data (peer->client, states);
}

static void
test_connect_unknown_host (void)
{
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autoptr (GError) error = NULL;

  error = peer_try_connect (peer, "no-such-host.invalid", 5330, "nobody");
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (peer->n_disconnected, ==, 0);
}

static void
test_connect_server_full (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) first = peer_new_connected (fixture->port, "first");
  g_autoptr (Peer) second = peer_new_in (NULL);
  g_autoptr (GError) error = NULL;

  error = peer_try_connect (second, "127.0.0.1", fixture->port, "second");
  g_assert_error (error, SC_STATUS_ERROR, SC_STATUS_SERVER_FULL);
  g_assert_nonnull (strstr (error->message, "full"));
  g_assert_cmpint (sc_client_get_state (second->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (second->n_disconnected, ==, 0);

  /* The first client did not notice anything. */
  peer_sync (first);
  g_assert_cmpint (sc_client_get_state (first->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
  g_assert_cmpuint (first->joined->len, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Requests */

static void
test_get_time (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_connected (fixture->port, "clock");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDateTime) time = NULL;
  g_autoptr (GDateTime) local = g_date_time_new_now_local ();
  g_autofree char *timezone = NULL;
  g_autofree char *shown = NULL;
  gint64 time_ms;

  sc_client_get_time_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  time = sc_client_get_time_finish (peer->client, result, &timezone, &error);
  g_assert_no_error (error);
  g_assert_nonnull (time);
  time_ms = g_date_time_to_unix (time) * 1000 +
            g_date_time_get_microsecond (time) / 1000;
  g_assert_cmpint (ABS (time_ms - now_ms ()), <=, 5000);
  /* In the server's offset (here the same machine's). */
  g_assert_cmpint (g_date_time_get_utc_offset (time), ==,
                   g_date_time_get_utc_offset (local));
  g_assert_nonnull (timezone);
  g_assert_cmpuint (strlen (timezone), >, 0);
  /* The one format both clients show it in. */
  shown = sc_client_format_time (time);
  g_assert_true (g_regex_match_simple (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} "
    "UTC[-+][0-9]{2}:[0-9]{2}$",
    shown, 0, 0));
}

static void
test_get_name (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_connected (fixture->port, "namer");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;

  sc_client_get_name_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  name = sc_client_get_name_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, g_get_host_name ());
}

static void
check_info (const ScPeer *info, Peer *peer, const char *nickname)
{
  g_assert_cmpuint (info->id, ==, peer_id (peer));
  g_assert_cmpstr (info->nickname, ==, nickname);
  g_assert_cmpstr (info->address, ==, "127.0.0.1");
  g_assert_cmpuint (info->port, ==, peer_local_port (peer));
  /* Connected during this test; under valgrind a test takes seconds. */
  g_assert_cmpint (ABS (info->connected_since_ms - now_ms ()), <=, 60000);
}

static GPtrArray *
list_clients (Peer *peer)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *clients;

  sc_client_list_clients_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  clients = sc_client_list_clients_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (clients);
  return clients;
}

static void
test_list_clients (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_connected (fixture->port, "bob");
  g_autoptr (GPtrArray) from_alice = list_clients (alice);
  g_autoptr (GPtrArray) from_bob = list_clients (bob);

  /* Both see both, the asker included, in id order. */
  g_assert_cmpuint (peer_id (alice), <, peer_id (bob));
  g_assert_cmpuint (from_alice->len, ==, 2);
  check_info (g_ptr_array_index (from_alice, 0), alice, "alice");
  check_info (g_ptr_array_index (from_alice, 1), bob, "bob");
  g_assert_cmpuint (from_bob->len, ==, 2);
  check_info (g_ptr_array_index (from_bob, 0), alice, "alice");
  check_info (g_ptr_array_index (from_bob, 1), bob, "bob");
}

/* Forty clients with long nicknames do not fit in one 1 KiB page. */
static void
test_list_pagination (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) peers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  g_autoptr (GPtrArray) first = NULL;
  g_autoptr (GPtrArray) last = NULL;
  g_autoptr (GHashTable) ids = g_hash_table_new (NULL, NULL);
  const guint n_peers = 40;

  g_assert_cmpuint (fixture->config->max_payload, ==, 1024);
  for (guint i = 0; i < n_peers; i++)
    {
      g_autofree char *nickname =
        g_strdup_printf ("pager-%02u-abcdefghijklmnopqrstu", i);
      Peer *peer = peer_new_connected (fixture->port, nickname);

      g_assert_cmpuint (strlen (nickname), <=, SC_NICKNAME_MAX);
      g_ptr_array_add (peers, peer);
      g_hash_table_add (ids, GUINT_TO_POINTER (peer_id (peer)));
    }
  g_assert_cmpuint (g_hash_table_size (ids), ==, n_peers);
  /* Each entry takes about 65 bytes, so a page holds fewer than 16. */
  g_assert_cmpuint (n_peers * (18 + 30 + 9), >, 2 * 1024);

  first = list_clients (g_ptr_array_index (peers, 0));
  last = list_clients (g_ptr_array_index (peers, n_peers - 1));
  for (guint round = 0; round < 2; round++)
    {
      GPtrArray *clients = round == 0 ? first : last;
      g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

      g_assert_cmpuint (clients->len, ==, n_peers);
      for (guint i = 0; i < clients->len; i++)
        {
          const ScPeer *info = g_ptr_array_index (clients, i);
          Peer *peer = g_ptr_array_index (peers, i);
          g_autofree char *nickname =
            g_strdup_printf ("pager-%02u-abcdefghijklmnopqrstu", i);

          /* Peers connected one after the other, so their ids ascend in
           * the order they were made. */
          if (i > 0)
            g_assert_cmpuint (
              info->id, >,
              ((const ScPeer *) g_ptr_array_index (clients, i - 1))->id);
          g_assert_true (
            g_hash_table_contains (ids, GUINT_TO_POINTER (info->id)));
          g_assert_true (g_hash_table_add (seen, GUINT_TO_POINTER (info->id)));
          check_info (info, peer, nickname);
        }
    }
}

static void
test_set_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_connected (fixture->port, "bob");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *accepted = NULL;
  g_autofree char *property = NULL;
  guint n_notify = 0;

  g_signal_connect (alice->client, "notify::nickname",
                    G_CALLBACK (on_notify_count), &n_notify);
  sc_client_set_nickname_async (alice->client, "carol", NULL, store_result,
                                &result);
  wait_until (result != NULL);
  accepted = sc_client_set_nickname_finish (alice->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (accepted, ==, "carol");
  g_assert_cmpstr (sc_client_get_nickname (alice->client), ==, "carol");
  g_object_get (alice->client, "nickname", &property, NULL);
  g_assert_cmpstr (property, ==, "carol");
  g_assert_cmpuint (n_notify, ==, 1);

  /* The other client hears of it; the renamed one does not. */
  wait_until (bob->renamed->len == 1);
  g_assert_cmpuint (g_array_index (bob->renamed, guint32, 0), ==,
                    peer_id (alice));
  g_assert_cmpstr (g_ptr_array_index (bob->renamed_to, 0), ==, "carol");
  peer_sync (alice);
  g_assert_cmpuint (alice->renamed->len, ==, 0);

  /* A nickname over 32 bytes is refused and nothing changes. */
  g_clear_object (&result);
  g_clear_pointer (&accepted, g_free);
  sc_client_set_nickname_async (alice->client,
                                "a-nickname-that-is-far-too-long-to-accept",
                                NULL, store_result, &result);
  wait_until (result != NULL);
  accepted = sc_client_set_nickname_finish (alice->client, result, &error);
  g_assert_error (error, SC_STATUS_ERROR, SC_STATUS_INVALID_NICKNAME);
  g_assert_null (accepted);
  g_assert_cmpstr (sc_client_get_nickname (alice->client), ==, "carol");
  g_assert_cmpuint (n_notify, ==, 1);
  peer_sync (bob);
  g_assert_cmpuint (bob->renamed->len, ==, 1);
  g_signal_handlers_disconnect_by_data (alice->client, &n_notify);
}

/* A registered nickname: refused without its password (status 18 in
 * the error), taken with it, in the hello or by a rename. */
static void
test_registered_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) stranger = peer_new_in (NULL);
  g_autoptr (Peer) owner = peer_new_in (NULL);
  g_autoptr (GError) refused = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *accepted = NULL;

  refused = peer_try_connect (stranger, "127.0.0.1", fixture->port, "alice");
  g_assert_error (refused, SC_STATUS_ERROR, SC_STATUS_NICKNAME_REGISTERED);

  sc_client_set_password (owner->client, "wonderland");
  /* The test's server takes passwords over plain TCP. */
  sc_client_set_allow_plaintext_password (owner->client, TRUE);
  peer_connect (owner, fixture->port, "guest");
  sc_client_set_nickname_async (owner->client, "alice", NULL, store_result,
                                &result);
  wait_until (result != NULL);
  accepted = sc_client_set_nickname_finish (owner->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (accepted, ==, "alice");
}

/* A password is not sent over plain TCP unless allowed: the connection
 * fails before the hello, with its own error, and is closed. */
static void
test_password_over_tls_only (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) careful = peer_new_in (NULL);
  g_autoptr (GError) refused = NULL;

  sc_client_set_password (careful->client, "wonderland");
  refused = peer_try_connect (careful, "127.0.0.1", fixture->port, "alice");
  g_assert_error (refused, SC_ERROR, SC_ERROR_PLAINTEXT_PASSWORD);
  g_assert_cmpint (sc_client_get_state (careful->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  wait_until (sc_server_get_n_clients (fixture->server) == 0);
}

static void
test_ping (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_connected (fixture->port, "pinger");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gint64 rtt, property = 0;
  guint n_notify = 0;

  g_assert_cmpint (sc_client_get_rtt_us (peer->client), ==, -1);
  g_signal_connect (peer->client, "notify::rtt-us",
                    G_CALLBACK (on_notify_count), &n_notify);
  sc_client_ping_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  rtt = sc_client_ping_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (rtt, >, 0);
  g_assert_cmpint (rtt, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpint (sc_client_get_rtt_us (peer->client), ==, rtt);
  g_object_get (peer->client, "rtt-us", &property, NULL);
  g_assert_cmpint (property, ==, rtt);
  g_assert_cmpuint (n_notify, ==, 1);
  g_signal_handlers_disconnect_by_data (peer->client, &n_notify);
}

static void
test_broadcast (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_connected (fixture->port, "bob");
  g_autoptr (Peer) carol = peer_new_connected (fixture->port, "carol");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  Peer *others[] = { bob, carol };
  guint64 message_id;
  guint n_recipients = 0;
  gboolean receipt_from_bob = FALSE, receipt_from_carol = FALSE;

  sc_client_broadcast_async (alice->client, "Hello, everyone!", NULL,
                             store_result, &result);
  wait_until (result != NULL);
  message_id =
    sc_client_broadcast_finish (alice->client, result, &n_recipients, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (message_id, !=, 0);
  g_assert_cmpuint (n_recipients, ==, 2);

  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      Received *received;

      wait_until (others[i]->received->len == 1);
      received = peer_received (others[i], 0);
      g_assert_cmpuint (received->message_id, ==, message_id);
      g_assert_true (received->broadcast);
      g_assert_cmpstr (received->text, ==, "Hello, everyone!");
      check_info (received->sender, alice, "alice");
    }

  /* One receipt per recipient, and no copy for the sender. */
  wait_until (alice->receipts->len == 2);
  for (guint i = 0; i < 2; i++)
    {
      Receipt *receipt = peer_receipt (alice, i);

      g_assert_cmpuint (receipt->message_id, ==, message_id);
      g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
      if (receipt->recipient_id == peer_id (bob))
        receipt_from_bob = TRUE;
      else if (receipt->recipient_id == peer_id (carol))
        receipt_from_carol = TRUE;
    }
  g_assert_true (receipt_from_bob);
  g_assert_true (receipt_from_carol);
  peer_sync (alice);
  g_assert_cmpuint (alice->received->len, ==, 0);
  g_assert_cmpuint (alice->receipts->len, ==, 2);

  /* Invalid texts are refused locally, without a request. */
  g_clear_object (&result);
  g_clear_error (&error);
  sc_client_broadcast_async (alice->client, "", NULL, store_result, &result);
  wait_until (result != NULL);
  g_assert_cmpuint (
    sc_client_broadcast_finish (alice->client, result, &n_recipients, &error),
    ==, 0);
  g_assert_error (error, SC_ERROR, SC_ERROR_INVALID);
}

/* ------------------------------------------------------------------ */
/* Messages, receipts, joins and leaves */

static void
test_message_receipt (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_connected (fixture->port, "bob");
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  Received *received;
  Receipt *receipt;
  guint64 message_id;

  message_id = peer_send (alice, peer_id (bob), "Hello, Bob!");

  wait_until (bob->received->len == 1);
  received = peer_received (bob, 0);
  g_assert_cmpuint (received->message_id, ==, message_id);
  g_assert_false (received->broadcast);
  g_assert_cmpstr (received->text, ==, "Hello, Bob!");
  g_assert_cmpint (ABS (received->time_ms - now_ms ()), <=, 5000);
  g_assert_cmpuint (received->sender->id, ==, peer_id (alice));
  g_assert_cmpstr (received->sender->nickname, ==, "alice");
  g_assert_cmpstr (received->sender->address, ==, "127.0.0.1");
  g_assert_cmpuint (received->sender->port, ==, peer_local_port (alice));

  wait_until (alice->receipts->len == 1);
  receipt = peer_receipt (alice, 0);
  g_assert_cmpuint (receipt->message_id, ==, message_id);
  g_assert_cmpuint (receipt->recipient_id, ==, peer_id (bob));
  g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);

  /* Nothing comes back the other way. */
  peer_sync (bob);
  peer_sync (alice);
  g_assert_cmpuint (alice->received->len, ==, 0);
  g_assert_cmpuint (bob->receipts->len, ==, 0);
  g_assert_cmpuint (alice->receipts->len, ==, 1);

  /* A message to nobody fails with the server's status. */
  sc_client_send_message_async (alice->client, 999999, "anyone?", NULL,
                                store_result, &result);
  wait_until (result != NULL);
  g_assert_cmpuint (
    sc_client_send_message_finish (alice->client, result, &error), ==, 0);
  g_assert_error (error, SC_STATUS_ERROR, SC_STATUS_NO_SUCH_CLIENT);
  g_assert_cmpint (sc_client_get_state (alice->client), ==,
                   SC_CLIENT_STATE_CONNECTED);
}

static void
test_join_leave (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_connected (fixture->port, "bob");
  const ScPeer *info;
  guint32 bob_id = peer_id (bob);

  wait_until (alice->joined->len == 1);
  info = g_ptr_array_index (alice->joined, 0);
  check_info (info, bob, "bob");

  /* Nobody is told of their own arrival, nor of those before them. */
  peer_sync (bob);
  g_assert_cmpuint (bob->joined->len, ==, 0);

  sc_client_disconnect (bob->client);
  g_assert_cmpuint (bob->n_disconnected, ==, 1);
  g_assert_cmpuint (bob->disconnect_reason, ==, SC_DISCONNECT_BY_US);
  wait_until (alice->left->len == 1);
  g_assert_cmpuint (g_array_index (alice->left, guint32, 0), ==, bob_id);
  g_assert_nonnull (g_ptr_array_index (alice->left_reasons, 0));

  peer_sync (alice);
  g_assert_cmpuint (alice->joined->len, ==, 1);
  g_assert_cmpuint (alice->left->len, ==, 1);
  g_assert_cmpuint (alice->n_disconnected, ==, 0);
}

/* ------------------------------------------------------------------ */

static const ServerOptions full_server = { .max_clients = 1 };
static const ServerOptions small_pages = { .max_payload = 1024 };
static const char *const accounts[] = { "alice:wonderland", NULL };
static const ServerOptions with_accounts = { .accounts = accounts };

int
main (int argc, char **argv)
{
  /* Also ignores SIGPIPE: a server that resets the connection must not
   * kill the test. */
  sc_test_init (&argc, &argv);

  add_server_test ("/client/connect/ok", NULL, test_connect);
  add_server_test ("/client/connect/abandoned", NULL, test_connect_abandoned);
  g_test_add_func ("/client/connect/refused", test_connect_refused);
  g_test_add_func ("/client/connect/unknown-host", test_connect_unknown_host);
  add_server_test ("/client/connect/server-full", &full_server,
                   test_connect_server_full);
  add_server_test ("/client/request/get-time", NULL, test_get_time);
  add_server_test ("/client/request/get-name", NULL, test_get_name);
  add_server_test ("/client/request/list-clients", NULL, test_list_clients);
  add_server_test ("/client/request/list-pagination", &small_pages,
                   test_list_pagination);
  add_server_test ("/client/request/set-nickname", NULL, test_set_nickname);
  add_server_test ("/client/request/registered-nickname", &with_accounts,
                   test_registered_nickname);
  add_server_test ("/client/request/password-over-tls-only", &with_accounts,
                   test_password_over_tls_only);
  add_server_test ("/client/request/ping", NULL, test_ping);
  add_server_test ("/client/request/broadcast", NULL, test_broadcast);
  add_server_test ("/client/message/receipt", NULL, test_message_receipt);
  add_server_test ("/client/message/join-leave", NULL, test_join_leave);

  return g_test_run ();
}
