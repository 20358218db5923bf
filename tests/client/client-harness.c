/* client-harness.c: what the client tests (test-client-*.c) share: the
 * waiting helpers, the fixture that runs the server under test, Peer (a
 * client with everything it was told) and the scripted fake server.
 * See client-harness.h.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include "client-harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Waiting */

/* A second main context that a test gave one of its clients; while set,
 * it is iterated together with the default one. */
GMainContext *other_context;

/* How much slower than a plain build a call may be: the sanitizer
 * factor, times SC_TEST_SLOWDOWN when the suite runs under a tool that
 * slows everything (the valgrind test setup sets it). */
guint
call_time_slowdown (void)
{
  const char *factor = g_getenv ("SC_TEST_SLOWDOWN");
  guint64 n = factor ? g_ascii_strtoull (factor, NULL, 10) : 1;

  return SLOWDOWN * (guint) CLAMP (n, 1, 100);
}

gint64
deadline_after (guint timeout_ms)
{
  return g_get_monotonic_time () + (gint64) timeout_ms * 1000;
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_REMOVE;
}

/* Dispatches whatever is ready; when nothing was, blocks in the default
 * context until something is, or for at most a millisecond, so the
 * caller checks its deadline (and a second context) that often.  No
 * sleep: an event on the default context ends the wait at once. */
void
iterate (void)
{
  gboolean busy = g_main_context_iteration (NULL, FALSE);

  if (other_context != NULL)
    busy = g_main_context_iteration (other_context, FALSE) || busy;
  if (!busy)
    {
      GSource *tick = g_timeout_source_new (1);

      g_source_set_callback (tick, wake_up, NULL, NULL);
      g_source_attach (tick, NULL);
      g_main_context_iteration (NULL, TRUE);
      g_source_destroy (tick);
      g_source_unref (tick);
    }
}

/* Lets the loop run for @ms whatever happens, to give a signal that
 * must not come the chance to come. */
void
iterate_for (guint ms)
{
  gint64 deadline = deadline_after (ms);

  while (g_get_monotonic_time () < deadline)
    iterate ();
}

/* Runs what is already due, so that nothing a finished test started
 * (a GTask completion, say) still holds a client. */
void
drain (void)
{
  for (guint i = 0; i < 1000; i++)
    {
      gboolean busy = g_main_context_iteration (NULL, FALSE);

      if (other_context != NULL)
        busy = g_main_context_iteration (other_context, FALSE) || busy;
      if (!busy)
        return;
    }
}

void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* ------------------------------------------------------------------ */
/* Logging and the server under test */

/* Registers each "nickname:password" in a new accounts file in the
 * test's own directory, and has the server read it. */
static void
write_accounts (ScServerConfig *config, const char *const *accounts)
{
  g_autofree char *path =
    g_build_filename (g_get_user_runtime_dir (), "accounts", NULL);
  g_autoptr (GError) error = NULL;

  g_mkdir_with_parents (g_get_user_runtime_dir (), 0700);
  for (guint i = 0; accounts[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (accounts[i], ":", 2);

      g_assert_true (sc_accounts_append (path, parts[0], parts[1], &error));
      g_assert_no_error (error);
    }
  g_assert_true (sc_server_config_load_accounts (config, path, &error));
  g_assert_no_error (error);
}

void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  const ServerOptions *options = data;
  g_autoptr (GError) error = NULL;

  fixture->config = sc_server_config_new ();
  g_free (fixture->config->bind_address);
  fixture->config->bind_address = g_strdup ("127.0.0.1");
  fixture->config->port = 0;
  fixture->config->threads = sc_test_threads ();
  fixture->config->shutdown_grace_ms = 1000;
  if (options != NULL && options->max_clients > 0)
    fixture->config->max_clients = options->max_clients;
  if (options != NULL && options->max_payload > 0)
    fixture->config->max_payload = options->max_payload;

  if (options != NULL && options->accounts != NULL)
    write_accounts (fixture->config, options->accounts);
  /* The client core's tests talk plain TCP; its TLS has
   * test-client-tls.c. */
  fixture->config->allow_plaintext_password = TRUE;

  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->port = sc_server_get_port (fixture->server);
  g_assert_cmpuint (fixture->port, !=, 0);
}

void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  drain ();
  g_clear_pointer (&fixture->server, sc_server_free);
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

/* ------------------------------------------------------------------ */
/* A connected client and everything it was told */

static void
received_clear (gpointer data)
{
  Received *received = data;

  sc_peer_free (received->sender);
  g_free (received->text);
}

static void
on_message_received (ScClient *client, const ScChatMessage *message, Peer *peer)
{
  Received received = { 0 };

  received.message_id = message->id;
  received.time_ms = message->sent_ms;
  received.broadcast = message->broadcast;
  received.sender = sc_peer_copy (message->sender);
  received.text = g_strdup (message->text);
  g_array_append_val (peer->received, received);
}

static void
on_delivery_receipt (ScClient *client,
                     guint64 message_id,
                     guint recipient_id,
                     guint status,
                     const char *reason,
                     Peer *peer)
{
  Receipt receipt = { message_id, recipient_id, status };

  g_array_append_val (peer->receipts, receipt);
}

static void
on_client_joined (ScClient *client, const ScPeer *info, Peer *peer)
{
  g_ptr_array_add (peer->joined, sc_peer_copy (info));
}

static void
on_client_left (ScClient *client, guint id, const char *reason, Peer *peer)
{
  guint32 id32 = id;

  g_array_append_val (peer->left, id32);
  g_ptr_array_add (peer->left_reasons, g_strdup (reason));
}

static void
on_client_renamed (ScClient *client, guint id, const char *nickname, Peer *peer)
{
  guint32 id32 = id;

  g_array_append_val (peer->renamed, id32);
  g_ptr_array_add (peer->renamed_to, g_strdup (nickname));
}

static void
on_server_shutdown (ScClient *client, const char *reason, Peer *peer)
{
  g_assert_nonnull (reason);
  g_string_append (peer->log, "server-shutdown;");
}

static void
on_disconnected (ScClient *client, guint reason, const char *detail, Peer *peer)
{
  /* The client is already down when it says so. */
  g_assert_cmpint (sc_client_get_state (client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  g_string_append (peer->log, "disconnected;");
  peer->n_disconnected++;
  peer->disconnect_reason = reason;
  g_free (peer->disconnect_detail);
  peer->disconnect_detail = g_strdup (detail);
}

/* A client owned by @context (NULL: the default context), with every
 * signal recorded, not yet connected. */
Peer *
peer_new_in (GMainContext *context)
{
  Peer *peer = g_new0 (Peer, 1);

  if (context != NULL)
    {
      peer->context = g_main_context_ref (context);
      g_main_context_push_thread_default (context);
    }
  peer->client = sc_client_new ("test-client");
  if (context != NULL)
    g_main_context_pop_thread_default (context);

  peer->received = g_array_new (FALSE, TRUE, sizeof (Received));
  g_array_set_clear_func (peer->received, received_clear);
  peer->receipts = g_array_new (FALSE, TRUE, sizeof (Receipt));
  peer->joined = g_ptr_array_new_with_free_func ((GDestroyNotify) sc_peer_free);
  peer->left = g_array_new (FALSE, TRUE, sizeof (guint32));
  peer->left_reasons = g_ptr_array_new_with_free_func (g_free);
  peer->renamed = g_array_new (FALSE, TRUE, sizeof (guint32));
  peer->renamed_to = g_ptr_array_new_with_free_func (g_free);
  peer->log = g_string_new (NULL);

  g_signal_connect (peer->client, "message-received",
                    G_CALLBACK (on_message_received), peer);
  g_signal_connect (peer->client, "delivery-receipt",
                    G_CALLBACK (on_delivery_receipt), peer);
  g_signal_connect (peer->client, "client-joined",
                    G_CALLBACK (on_client_joined), peer);
  g_signal_connect (peer->client, "client-left", G_CALLBACK (on_client_left),
                    peer);
  g_signal_connect (peer->client, "client-renamed",
                    G_CALLBACK (on_client_renamed), peer);
  g_signal_connect (peer->client, "server-shutdown",
                    G_CALLBACK (on_server_shutdown), peer);
  g_signal_connect (peer->client, "disconnected", G_CALLBACK (on_disconnected),
                    peer);
  return peer;
}

/* Connects @peer and returns the error, or NULL. */
GError *
peer_try_connect (Peer *peer,
                  const char *host,
                  guint16 port,
                  const char *nickname)
{
  g_autoptr (GAsyncResult) result = NULL;
  GError *error = NULL;

  if (peer->context != NULL)
    {
      g_assert_true (other_context == peer->context);
      g_main_context_push_thread_default (peer->context);
    }
  sc_client_connect_async (peer->client, host, port, nickname, NULL,
                           store_result, &result);
  if (peer->context != NULL)
    g_main_context_pop_thread_default (peer->context);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_CONNECTING);
  wait_until_ms (result != NULL, CONNECT_TIMEOUT_MS);
  if (sc_client_connect_finish (peer->client, result, &error))
    {
      g_assert_no_error (error);
      g_assert_cmpint (sc_client_get_state (peer->client), ==,
                       SC_CLIENT_STATE_CONNECTED);
      return NULL;
    }
  g_assert_nonnull (error);
  return error;
}

void
peer_connect (Peer *peer, guint16 port, const char *nickname)
{
  g_autoptr (GError) error =
    peer_try_connect (peer, "127.0.0.1", port, nickname);

  g_assert_no_error (error);
  g_assert_cmpuint (sc_client_get_id (peer->client), !=, 0);
}

Peer *
peer_new_connected (guint16 port, const char *nickname)
{
  Peer *peer = peer_new_in (NULL);

  peer_connect (peer, port, nickname);
  return peer;
}

guint32
peer_id (Peer *peer)
{
  return sc_client_get_id (peer->client);
}

/* The client's TCP source port, which the server reports to others. */
guint16
peer_local_port (Peer *peer)
{
  g_assert_cmpint (peer->client->fd, >=, 0);
  return sc_socket_local_port (peer->client->fd);
}

/* Drops the client and checks that nothing else still holds it: no
 * source, no task, no reference cycle. */
void
peer_free (Peer *peer)
{
  ScClient *client = peer->client;

  /* A test may have dropped the client itself already. */
  if (client != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
      g_object_unref (peer->client);
      peer->client = NULL;
      /* A GTask thread that has delivered its result may drop its
       * reference to the client a little later (much later under
       * valgrind); the client must be gone by the deadline. */
      wait_until (client == NULL);
    }

  g_clear_pointer (&peer->context, g_main_context_unref);
  g_array_unref (peer->received);
  g_array_unref (peer->receipts);
  g_ptr_array_unref (peer->joined);
  g_array_unref (peer->left);
  g_ptr_array_unref (peer->left_reasons);
  g_array_unref (peer->renamed);
  g_ptr_array_unref (peer->renamed_to);
  g_string_free (peer->log, TRUE);
  g_free (peer->disconnect_detail);
  g_free (peer);
}

Received *
peer_received (Peer *peer, guint i)
{
  g_assert_cmpuint (i, <, peer->received->len);
  return &g_array_index (peer->received, Received, i);
}

Receipt *
peer_receipt (Peer *peer, guint i)
{
  g_assert_cmpuint (i, <, peer->receipts->len);
  return &g_array_index (peer->receipts, Receipt, i);
}

/* A request and its answer: every request sent before it on the same
 * connection has been answered, and every indication the server queued
 * for this client before the ping has been delivered. */
void
peer_sync (Peer *peer)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  sc_client_ping_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  g_assert_cmpint (sc_client_ping_finish (peer->client, result, &error), >, 0);
  g_assert_no_error (error);
}

guint64
peer_send (Peer *peer, guint32 recipient_id, const char *text)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  guint64 message_id;

  sc_client_send_message_async (peer->client, recipient_id, text, NULL,
                                store_result, &result);
  wait_until (result != NULL);
  message_id = sc_client_send_message_finish (peer->client, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (message_id, !=, 0);
  return message_id;
}

gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* ------------------------------------------------------------------ */
/* A fake server: a raw listening socket that greets, accepts the HELLO
 * and then does only what the test tells it to. */

void
fake_send (FakeServer *fake, const ScMessage *message)
{
  g_autoptr (GBytes) frame = sc_message_encode (message);
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);

  g_assert_true (sc_socket_send_all (fake->fd, data, size, &error));
  g_assert_no_error (error);
}

static gboolean
poll_in (int fd, gint64 deadline)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  gint64 left = deadline - g_get_monotonic_time ();
  int n;

  do
    n = poll (&pfd, 1, left <= 0 ? 0 : (int) ((left + 999) / 1000));
  while (n < 0 && errno == EINTR);
  g_assert_cmpint (n, >=, 0);
  return n > 0;
}

/* The next message from the client, within the usual deadline. */
ScMessage *
fake_read (FakeServer *fake)
{
  gint64 deadline = deadline_after (WAIT_TIMEOUT_MS);

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      gsize room;
      guint8 *buffer;
      ssize_t n;
      ScFrameStatus status =
        sc_frame_reader_next (fake->reader, &header, &payload, &error);

      if (status == SC_FRAME_READY)
        {
          ScMessage *message = sc_message_decode (&header, payload, &error);

          g_assert_no_error (error);
          g_assert_nonnull (message);
          return message;
        }
      g_assert_no_error (error);
      g_assert_cmpint (status, ==, SC_FRAME_INCOMPLETE);
      if (!poll_in (fake->fd, deadline))
        g_error ("fake server: nothing from the client within %u ms",
                 WAIT_TIMEOUT_MS);
      buffer = sc_frame_reader_reserve (fake->reader, 4096, &room);
      do
        n = recv (fake->fd, buffer, room, 0);
      while (n < 0 && errno == EINTR);
      g_assert_cmpint (n, >, 0);
      sc_frame_reader_commit (fake->reader, (gsize) n);
    }
}

static gpointer
fake_server_thread (gpointer data)
{
  FakeServer *fake = data;
  g_autoptr (ScMessage) greeting = sc_message_new (SC_MSG_GREETING, 0);
  g_autoptr (ScMessage) hello = NULL;
  g_autoptr (ScMessage) reply = NULL;

  if (!poll_in (fake->listen_fd, deadline_after (WAIT_TIMEOUT_MS)))
    g_error ("fake server: no connection within %u ms", WAIT_TIMEOUT_MS);
  fake->fd = accept4 (fake->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (fake->fd, >=, 0);

  greeting->client_id = fake->client_id;
  greeting->max_payload = SC_MAX_PAYLOAD_DEFAULT;
  greeting->max_clients = 8;
  greeting->heartbeat_s = 60;
  greeting->name = g_strdup ("fake-server");
  fake_send (fake, greeting);

  hello = fake_read (fake);
  g_assert_cmpint (hello->type, ==, SC_MSG_HELLO);
  if (fake->early_joined)
    {
      g_autoptr (ScMessage) joined = sc_message_new (SC_MSG_CLIENT_JOINED, 0);

      joined->sender.id = 99;
      joined->sender.port = 1234;
      joined->sender.connected_since_ms = now_ms ();
      joined->sender.nickname = g_strdup ("early-bird");
      joined->sender.address = g_strdup ("127.0.0.1");
      fake_send (fake, joined);
    }
  reply = sc_message_new_reply (hello, SC_STATUS_OK, NULL);
  reply->client_id = fake->client_id;
  reply->nickname = g_strdup (hello->nickname);
  fake_send (fake, reply);
  return NULL;
}

FakeServer *
fake_server_new (gboolean early_joined)
{
  FakeServer *fake = g_new0 (FakeServer, 1);
  g_autoptr (GError) error = NULL;

  fake->listen_fd = sc_socket_listen ("127.0.0.1", 0, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fake->listen_fd, >=, 0);
  fake->port = sc_socket_local_port (fake->listen_fd);
  g_assert_cmpuint (fake->port, !=, 0);
  fake->fd = -1;
  fake->client_id = 7;
  fake->early_joined = early_joined;
  fake->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  fake->thread = g_thread_new ("fake-server", fake_server_thread, fake);
  return fake;
}

/* Waits until the handshake thread is done; from then on the test's own
 * thread is the only one using the connection. */
void
fake_server_join (FakeServer *fake)
{
  if (fake->thread != NULL)
    g_thread_join (g_steal_pointer (&fake->thread));
  g_assert_cmpint (fake->fd, >=, 0);
}

/* Resets the connection, as a crashed server's kernel would. */
void
fake_server_kill (FakeServer *fake)
{
  struct linger linger = { 1, 0 };

  fake_server_join (fake);
  g_assert_cmpint (
    setsockopt (fake->fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger), ==,
    0);
  close (fake->fd);
  fake->fd = -1;
}

void
fake_server_free (FakeServer *fake)
{
  if (fake->thread != NULL)
    g_thread_join (fake->thread);
  if (fake->fd >= 0)
    close (fake->fd);
  close (fake->listen_fd);
  sc_frame_reader_free (fake->reader);
  g_free (fake);
}

/* A client of the fake server: no heartbeat pings to get in the way. */
Peer *
peer_new_for_fake (FakeServer *fake)
{
  Peer *peer = peer_new_in (NULL);

  sc_client_set_heartbeat_interval (peer->client, 0);
  peer_connect (peer, fake->port, "faker");
  fake_server_join (fake);
  g_assert_cmpuint (peer_id (peer), ==, fake->client_id);
  return peer;
}
