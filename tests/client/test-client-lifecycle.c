/* test-client-lifecycle.c: the client core under floods and
 * across its lifecycle: disconnecting or dropping a client with events
 * queued, handlers that disconnect or drop the client, a ten-thousand
 * message flood, and cancelled requests and connects.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include "client-harness.h"

/* ------------------------------------------------------------------ */
/* Floods */

typedef struct
{
  Peer *sender;
  guint n_replies;
  guint n_failed;
  GHashTable *message_ids; /* accepted, not yet receipted */
} Flood;

static void
on_flood_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  Flood *flood = data;
  g_autoptr (GError) error = NULL;
  guint64 message_id =
    sc_client_send_message_finish (SC_CLIENT (source), result, &error);

  flood->n_replies++;
  if (error != NULL)
    {
      g_test_message ("message %u refused: %s", flood->n_replies,
                      error->message);
      flood->n_failed++;
      return;
    }
  g_assert_cmpuint (message_id, !=, 0);
  g_assert_true (g_hash_table_add (flood->message_ids,
                                   g_memdup2 (&message_id, sizeof message_id)));
}

static void
flood_init (Flood *flood, Peer *sender)
{
  flood->sender = sender;
  flood->n_replies = 0;
  flood->n_failed = 0;
  flood->message_ids =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

static void
flood_clear (Flood *flood)
{
  g_clear_pointer (&flood->message_ids, g_hash_table_unref);
}

/* Sends @n numbered messages to @recipient_id, at most @window of them
 * awaiting their reply at any time, and waits for every reply. */
static void
flood_send (Flood *flood, guint32 recipient_id, guint n, guint window)
{
  gint64 deadline = deadline_after (WAIT_TIMEOUT_MS * 3);
  guint sent = 0;

  while (flood->n_replies < n)
    {
      while (sent < n && sent - flood->n_replies < window)
        {
          g_autofree char *text = g_strdup_printf ("message %05u", sent);

          sc_client_send_message_async (flood->sender->client, recipient_id,
                                        text, NULL, on_flood_sent, flood);
          sent++;
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("flood: %u of %u messages answered", flood->n_replies, n);
      iterate ();
    }
  g_assert_cmpuint (flood->n_failed, ==, 0);
}

/* Waits, without running the recipient's context, until its receiver
 * thread has queued @n events. */
static void
wait_queued (Peer *peer, guint n)
{
  gint64 deadline = deadline_after (WAIT_TIMEOUT_MS);

  while ((guint) g_async_queue_length (peer->client->events) < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("only %d of %u events queued",
                 g_async_queue_length (peer->client->events), n);
      iterate ();
    }
}

/* The sender's receipts for a recipient that left before reading: one
 * per message, each RECIPIENT_LEFT. */
static void
check_left_receipts (Peer *sender, Flood *flood, guint n)
{
  wait_until (sender->receipts->len >= n);
  for (guint i = 0; i < sender->receipts->len; i++)
    {
      Receipt *receipt = peer_receipt (sender, i);

      g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_LEFT);
      g_assert_true (
        g_hash_table_remove (flood->message_ids, &receipt->message_id));
    }
  g_assert_cmpuint (g_hash_table_size (flood->message_ids), ==, 0);
}

static void
test_disconnect_queued (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_in (context);
  Flood flood;
  const guint n = 2000;

  other_context = context;
  peer_connect (bob, fixture->port, "bob");
  /* From here on bob's context is not run: what arrives for him waits in
   * his queue. */
  other_context = NULL;

  flood_init (&flood, alice);
  flood_send (&flood, peer_id (bob), n, 500);
  wait_queued (bob, n);
  g_assert_cmpuint (bob->received->len, ==, 0);

  sc_client_disconnect (bob->client);
  g_assert_cmpuint (bob->n_disconnected, ==, 1);
  g_assert_cmpuint (bob->disconnect_reason, ==, SC_DISCONNECT_BY_US);
  g_assert_cmpint (sc_client_get_state (bob->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);

  /* Nothing of the old connection is delivered afterwards. */
  other_context = context;
  iterate_for (200);
  g_assert_cmpuint (bob->received->len, ==, 0);
  g_assert_cmpuint (bob->n_disconnected, ==, 1);
  check_left_receipts (alice, &flood, n);

  /* Nor to the next connection of the same client. */
  peer_connect (bob, fixture->port, "bob");
  peer_sync (bob);
  iterate_for (100);
  g_assert_cmpuint (bob->received->len, ==, 0);

  flood_clear (&flood);
  g_clear_pointer (&bob, peer_free);
  other_context = NULL;
}

static void
test_dispose_queued (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  Peer *bob = peer_new_in (context);
  Flood flood;
  const guint n = 2000;

  other_context = context;
  peer_connect (bob, fixture->port, "bob");
  other_context = NULL;

  flood_init (&flood, alice);
  flood_send (&flood, peer_id (bob), n, 500);
  wait_queued (bob, n);
  g_assert_cmpuint (bob->received->len, ==, 0);

  /* Dropping the last reference with events queued stops the receiver
   * and frees them; the client is gone at once. */
  other_context = context;
  peer_free (bob);
  iterate_for (100);
  other_context = NULL;
  check_left_receipts (alice, &flood, n);
  flood_clear (&flood);
}

/* A handler that disconnects in the middle of a batch: the rest of the
 * batch is not delivered. */
static void
disconnect_on_tenth (ScClient *client, const ScChatMessage *message, Peer *peer)
{
  if (peer->received->len == 10)
    sc_client_disconnect (client);
}

static void
test_disconnect_in_handler (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_in (context);
  Flood flood;
  const guint n = 100;
  guint n_ok = 0;

  other_context = context;
  peer_connect (bob, fixture->port, "bob");
  other_context = NULL;
  g_signal_connect_after (bob->client, "message-received",
                          G_CALLBACK (disconnect_on_tenth), bob);

  flood_init (&flood, alice);
  flood_send (&flood, peer_id (bob), n, n);
  wait_queued (bob, n);

  other_context = context;
  wait_until (bob->n_disconnected == 1);
  iterate_for (100);
  g_assert_cmpuint (bob->received->len, ==, 10);
  g_assert_cmpuint (bob->n_disconnected, ==, 1);
  g_assert_cmpuint (bob->disconnect_reason, ==, SC_DISCONNECT_BY_US);

  /* Every message gets one receipt: OK for the ten shown, which were
   * acknowledged before the connection went, RECIPIENT_LEFT for the
   * rest. */
  wait_until (alice->receipts->len == n);
  for (guint i = 0; i < n; i++)
    {
      Receipt *receipt = peer_receipt (alice, i);

      if (receipt->status == SC_STATUS_OK)
        n_ok++;
      else
        g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_LEFT);
      g_assert_true (
        g_hash_table_remove (flood.message_ids, &receipt->message_id));
    }
  g_assert_cmpuint (n_ok, ==, 10);

  flood_clear (&flood);
  g_clear_pointer (&bob, peer_free);
  other_context = NULL;
}

/* A handler that drops the last reference in the middle of a batch, as a
 * window closing on a message would: no crash, no further signal, and the
 * client is freed once the dispatch is over. */
static void
unref_on_tenth (ScClient *client, const ScChatMessage *message, Peer *peer)
{
  if (peer->received->len == 10)
    {
      g_signal_handlers_disconnect_by_data (client, peer);
      g_clear_object (&peer->client);
    }
}

static void
test_unref_in_handler (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_in (context);
  ScClient *watch;
  Flood flood;
  const guint n = 100;
  guint n_ok = 0;

  other_context = context;
  peer_connect (bob, fixture->port, "bob");
  other_context = NULL;
  g_signal_connect_after (bob->client, "message-received",
                          G_CALLBACK (unref_on_tenth), bob);

  flood_init (&flood, alice);
  flood_send (&flood, peer_id (bob), n, n);
  wait_queued (bob, n);

  watch = bob->client;
  g_object_add_weak_pointer (G_OBJECT (watch), (gpointer *) &watch);
  other_context = context;
  wait_until (watch == NULL);
  iterate_for (100);
  g_assert_null (bob->client);
  g_assert_cmpuint (bob->received->len, ==, 10);

  /* One receipt per message.  How many say OK is not asserted: the
   * client finishes the batch it was dispatching (and acknowledges it)
   * after its owner let go of it; see the test's report. */
  wait_until (alice->receipts->len == n);
  for (guint i = 0; i < n; i++)
    {
      Receipt *receipt = peer_receipt (alice, i);

      if (receipt->status == SC_STATUS_OK)
        n_ok++;
      else
        g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_LEFT);
    }
  g_assert_cmpuint (n_ok, >=, 10);
  g_test_message ("%u of %u receipted OK, 10 shown", n_ok, n);
  flood_clear (&flood);
  g_clear_pointer (&bob, peer_free);
  other_context = NULL;
}

/* Ten thousand messages: all delivered once, in order, all receipted,
 * handed over in batches through one source. */
static void
test_flood (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (Peer) alice = peer_new_connected (fixture->port, "alice");
  g_autoptr (Peer) bob = peer_new_in (context);
  g_autoptr (GSource) probe_before = g_idle_source_new ();
  g_autoptr (GSource) probe_after = g_idle_source_new ();
  const guint n = 10000, window = 1000;
  gint64 deadline = deadline_after (FLOOD_TIMEOUT_MS);
  guint id_before, id_after, sent = 0, max_batch = 0;
  guint64 previous_id = 0;
  Flood flood;

  other_context = context;
  /* No heartbeat pings: they would attach a timeout per ping. */
  sc_client_set_heartbeat_interval (bob->client, 0);
  peer_connect (bob, fixture->port, "bob");
  flood_init (&flood, alice);

  /* Source ids count up per context: the id a new source gets tells how
   * many were attached to bob's context in between. */
  id_before = g_source_attach (probe_before, context);
  g_source_destroy (probe_before);

  while (flood.n_replies < n || bob->received->len < n ||
         alice->receipts->len < n)
    {
      guint before;
      gboolean busy;

      while (sent < n && sent - flood.n_replies < window)
        {
          g_autofree char *text = g_strdup_printf ("message %05u", sent);

          sc_client_send_message_async (alice->client, peer_id (bob), text,
                                        NULL, on_flood_sent, &flood);
          sent++;
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("flood: %u replies, %u received, %u receipts of %u",
                 flood.n_replies, bob->received->len, alice->receipts->len, n);

      busy = g_main_context_iteration (NULL, FALSE);
      before = bob->received->len;
      busy = g_main_context_iteration (context, FALSE) || busy;
      max_batch = MAX (max_batch, bob->received->len - before);
      if (!busy)
        iterate ();
    }
  g_assert_cmpuint (flood.n_failed, ==, 0);

  id_after = g_source_attach (probe_after, context);
  g_source_destroy (probe_after);
  g_test_message ("largest batch %u; sources attached to the recipient's "
                  "context during the flood: %u",
                  max_batch, id_after - id_before - 1);
  /* Not one idle per message: one per burst, which stays attached while
   * the queue has anything in it. */
  g_assert_cmpuint (id_after - id_before - 1, <, n / 10);
  g_assert_cmpuint (max_batch, >, 1);

  /* Every message once, in the order sent. */
  g_assert_cmpuint (bob->received->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      Received *received = peer_received (bob, i);
      g_autofree char *expected = g_strdup_printf ("message %05u", i);

      g_assert_cmpstr (received->text, ==, expected);
      g_assert_cmpuint (received->message_id, >, previous_id);
      g_assert_cmpuint (received->sender->id, ==, peer_id (alice));
      previous_id = received->message_id;
    }

  /* One OK receipt for each accepted message, none twice. */
  g_assert_cmpuint (alice->receipts->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      Receipt *receipt = peer_receipt (alice, i);

      g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
      g_assert_cmpuint (receipt->recipient_id, ==, peer_id (bob));
      g_assert_true (
        g_hash_table_remove (flood.message_ids, &receipt->message_id));
    }
  g_assert_cmpuint (g_hash_table_size (flood.message_ids), ==, 0);

  peer_sync (alice);
  peer_sync (bob);
  g_assert_cmpuint (bob->received->len, ==, n);
  g_assert_cmpuint (alice->receipts->len, ==, n);

  flood_clear (&flood);
  g_clear_pointer (&bob, peer_free);
  other_context = NULL;
}
/* GCancellable: a cancelled request completes at once with
 * G_IO_ERROR_CANCELLED, and its late answer is dropped; a cancelled
 * connect returns at once and leaves the client free to connect. */
static void
test_cancel_request (void)
{
  g_autoptr (FakeServer) fake = fake_server_new (FALSE);
  g_autoptr (Peer) peer = peer_new_for_fake (fake);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) name_result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) request = NULL;
  g_autoptr (ScMessage) late = NULL;
  g_autoptr (ScMessage) second = NULL;
  g_autoptr (ScMessage) answer = NULL;
  g_autoptr (GDateTime) time = NULL;
  g_autofree char *name = NULL;

  sc_client_get_time_async (peer->client, cancellable, store_result, &result);
  request = fake_read (fake);
  g_cancellable_cancel (cancellable);
  wait_until (result != NULL);
  time = sc_client_get_time_finish (peer->client, result, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (time);
  g_clear_error (&error);

  /* The answer comes anyway: dropped, the next request is unaffected. */
  late = sc_message_new_reply (request, SC_STATUS_OK, NULL);
  late->time_ms = now_ms ();
  late->iso_time = g_strdup ("1970-01-01T00:00:00.000Z");
  late->timezone = g_strdup ("UTC");
  fake_send (fake, late);
  sc_client_get_name_async (peer->client, NULL, store_result, &name_result);
  second = fake_read (fake);
  answer = sc_message_new_reply (second, SC_STATUS_OK, NULL);
  answer->name = g_strdup ("fake-host");
  fake_send (fake, answer);
  wait_until (name_result != NULL);
  name = sc_client_get_name_finish (peer->client, name_result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "fake-host");
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTED);

  /* Cancelled before it is even sent: the same. */
  g_clear_object (&result);
  sc_client_get_time_async (peer->client, cancellable, store_result, &result);
  wait_until (result != NULL);
  g_assert_null (
    sc_client_get_time_finish (peer->client, result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_cancel_connect (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Peer) peer = peer_new_in (NULL);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL;
  gint64 cancelled_at;
  /* A listening socket that never accepts: the kernel completes the TCP
   * handshake, and no greeting ever comes. */
  int silent = sc_socket_listen ("127.0.0.1", 0, 4, &error);

  g_assert_no_error (error);
  sc_client_connect_async (peer->client, "127.0.0.1",
                           sc_socket_local_port (silent), "patient",
                           cancellable, store_result, &result);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTING);
  iterate_for (50);
  cancelled_at = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  wait_until (result != NULL);
  g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <,
                   1000 * 1000 * call_time_slowdown ());
  g_assert_false (sc_client_connect_finish (peer->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);

  /* Free to connect elsewhere at once. */
  peer_connect (peer, fixture->port, "patient");
  g_assert_cmpuint (peer_id (peer), !=, 0);
  close (silent);
}

/* Disconnect, then connect again at once with the same nickname, as the
 * terminal client's menu 2 then 1 does: the old connection is gone from
 * the server before the new one says hello, so the name is free. */
static void
test_reconnect_same_name (Fixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = peer_new_in (NULL);

  for (guint i = 0; i < 20; i++)
    {
      g_autoptr (GError) error =
        peer_try_connect (peer, "127.0.0.1", fixture->port, "alice");

      g_assert_no_error (error);
      sc_client_disconnect (peer->client);
    }
}

/* ------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  /* Also ignores SIGPIPE: a server that resets the connection must not
   * kill the test. */
  sc_test_init (&argc, &argv);

  add_server_test ("/client/message/flood", NULL, test_flood);
  g_test_add_func ("/client/cancel/request", test_cancel_request);
  add_server_test ("/client/cancel/connect", NULL, test_cancel_connect);
  add_server_test ("/client/lifecycle/disconnect-queued", NULL,
                   test_disconnect_queued);
  add_server_test ("/client/lifecycle/dispose-queued", NULL,
                   test_dispose_queued);
  add_server_test ("/client/lifecycle/disconnect-in-handler", NULL,
                   test_disconnect_in_handler);
  add_server_test ("/client/lifecycle/unref-in-handler", NULL,
                   test_unref_in_handler);
  add_server_test ("/client/lifecycle/reconnect-same-name", NULL,
                   test_reconnect_same_name);

  return g_test_run ();
}
