/* test-client.c: the client core, ScClient, against an in-process server
 * on 127.0.0.1 and, where the server must misbehave, a scripted fake
 * server on a raw socket.
 *
 * Every wait goes through wait_until(), which iterates the main context
 * without blocking and fails the test after a deadline, so a lost reply
 * or signal shows up as a failed assertion naming what was awaited, not
 * as a hung test.  The test includes sc-client-private.h to look at the
 * client's socket (for its local port) and its hand-over queue (to know
 * that events are waiting); everything else goes through the public API.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-private.h"
#include "sc-server.h"
#include "sc-socket.h"
#include "sc-test-server.h"

/* Sanitizer builds run the suite with LSAN_OPTIONS=fast_unwind_on_malloc=0,
 * which makes every allocation many times slower; deadlines stretch to
 * match, so that they still catch a hang and not mere slowness. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOWDOWN 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOWDOWN 4
#endif
#endif
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

#define WAIT_TIMEOUT_MS (5000 * SLOWDOWN)
/* Connecting may first ask a resolver, which retries for ten seconds or
 * more before it gives up on an unreachable name server. */
#define CONNECT_TIMEOUT_MS (30000 * SLOWDOWN)
#define FLOOD_TIMEOUT_MS   (20000 * SLOWDOWN)

/* ------------------------------------------------------------------ */
/* Waiting */

/* A second main context that a test gave one of its clients; while set,
 * it is iterated together with the default one. */
static GMainContext *other_context;

static gint64
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
static void
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

#define wait_until_ms(condition, timeout_ms)                                  \
  G_STMT_START                                                                \
  {                                                                           \
    gint64 wait_deadline_ = deadline_after (timeout_ms);                      \
                                                                              \
    while (!(condition))                                                      \
      {                                                                       \
        if (g_get_monotonic_time () > wait_deadline_)                         \
          {                                                                   \
            g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, \
                                 "timed out after " #timeout_ms               \
                                 " ms waiting for " #condition);              \
            break;                                                            \
          }                                                                   \
        iterate ();                                                           \
      }                                                                       \
  }                                                                           \
  G_STMT_END

#define wait_until(condition) wait_until_ms (condition, WAIT_TIMEOUT_MS)

/* Lets the loop run for @ms whatever happens, to give a signal that
 * must not come the chance to come. */
static void
iterate_for (guint ms)
{
  gint64 deadline = deadline_after (ms);

  while (g_get_monotonic_time () < deadline)
    iterate ();
}

/* Runs what is already due, so that nothing a finished test started
 * (a GTask completion, say) still holds a client. */
static void
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

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  g_assert_null (*out);
  *out = g_object_ref (result);
}

/* ------------------------------------------------------------------ */
/* Logging and the server under test */

/* What a test wants changed from the server defaults; 0 keeps them. */
typedef struct
{
  guint max_clients;
  guint max_payload;
} ServerOptions;

typedef struct
{
  ScServerConfig *config;
  ScServer *server;
  guint16 port;
} Fixture;

static void
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

  fixture->server = sc_server_new (fixture->config);
  g_assert_true (sc_server_start (fixture->server, &error));
  g_assert_no_error (error);
  fixture->port = sc_server_get_port (fixture->server);
  g_assert_cmpuint (fixture->port, !=, 0);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  drain ();
  g_clear_pointer (&fixture->server, sc_server_free);
  g_clear_pointer (&fixture->config, sc_server_config_free);
}

/* ------------------------------------------------------------------ */
/* A connected client and everything it was told */

typedef struct
{
  guint64 message_id;
  gint64 time_ms;
  gboolean broadcast;
  ScPeer *sender;
  char *text;
} Received;

typedef struct
{
  guint64 message_id;
  guint recipient_id;
  guint status;
} Receipt;

typedef struct
{
  ScClient *client;
  GMainContext *context; /* NULL: the default one */
  GArray *received;      /* Received */
  GArray *receipts;      /* Receipt */
  GPtrArray *joined;     /* ScPeer */
  GArray *left;          /* guint32 */
  GPtrArray *left_reasons;
  GArray *renamed; /* guint32 */
  GPtrArray *renamed_to;
  GString *log; /* "server-shutdown;disconnected;" and so on */
  guint n_disconnected;
  guint disconnect_reason;
  char *disconnect_detail;
} Peer;

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
static Peer *
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
static GError *
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

static void
peer_connect (Peer *peer, guint16 port, const char *nickname)
{
  g_autoptr (GError) error =
    peer_try_connect (peer, "127.0.0.1", port, nickname);

  g_assert_no_error (error);
  g_assert_cmpuint (sc_client_get_id (peer->client), !=, 0);
}

static Peer *
peer_new_connected (guint16 port, const char *nickname)
{
  Peer *peer = peer_new_in (NULL);

  peer_connect (peer, port, nickname);
  return peer;
}

static guint32
peer_id (Peer *peer)
{
  return sc_client_get_id (peer->client);
}

/* The client's TCP source port, which the server reports to others. */
static guint16
peer_local_port (Peer *peer)
{
  g_assert_cmpint (peer->client->fd, >=, 0);
  return sc_socket_local_port (peer->client->fd);
}

/* Drops the client and checks that nothing else still holds it: no
 * source, no task, no reference cycle. */
static void
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

static Received *
peer_received (Peer *peer, guint i)
{
  g_assert_cmpuint (i, <, peer->received->len);
  return &g_array_index (peer->received, Received, i);
}

static Receipt *
peer_receipt (Peer *peer, guint i)
{
  g_assert_cmpuint (i, <, peer->receipts->len);
  return &g_array_index (peer->receipts, Receipt, i);
}

/* A request and its answer: every request sent before it on the same
 * connection has been answered, and every indication the server queued
 * for this client before the ping has been delivered. */
static void
peer_sync (Peer *peer)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  sc_client_ping_async (peer->client, NULL, store_result, &result);
  wait_until (result != NULL);
  g_assert_cmpint (sc_client_ping_finish (peer->client, result, &error), >, 0);
  g_assert_no_error (error);
}

static guint64
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

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* ------------------------------------------------------------------ */
/* A fake server: a raw listening socket that greets, accepts the HELLO
 * and then does only what the test tells it to. */

typedef struct
{
  int listen_fd;
  int fd;
  guint16 port;
  guint32 client_id;
  gboolean early_joined; /* a CLIENT_JOINED before the HELLO_REPLY */
  GThread *thread;
  ScFrameReader *reader;
} FakeServer;

static void
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
static ScMessage *
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

static FakeServer *
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
static void
fake_server_join (FakeServer *fake)
{
  if (fake->thread != NULL)
    g_thread_join (g_steal_pointer (&fake->thread));
  g_assert_cmpint (fake->fd, >=, 0);
}

/* Resets the connection, as a crashed server's kernel would. */
static void
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

static void
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeServer, fake_server_free)

/* A client of the fake server: no heartbeat pings to get in the way. */
static Peer *
peer_new_for_fake (FakeServer *fake)
{
  Peer *peer = peer_new_in (NULL);

  sc_client_set_heartbeat_interval (peer->client, 0);
  peer_connect (peer, fake->port, "faker");
  fake_server_join (fake);
  g_assert_cmpuint (peer_id (peer), ==, fake->client_id);
  return peer;
}

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
  g_assert_cmpint (ABS (info->connected_since_ms - now_ms ()), <=, 5000);
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
  g_assert_cmpint (longest, <, 50 * 1000 * SLOWDOWN);
  g_assert_cmpuint (peer->disconnect_reason, ==, SC_DISCONNECT_CONNECTION_LOST);
  g_assert_nonnull (strstr (peer->disconnect_detail, "stopped reading"));
  wait_until (n_failed == n_sent);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
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
                   1000 * 1000 * SLOWDOWN);
  g_assert_false (sc_client_connect_finish (peer->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);

  /* Free to connect elsewhere at once. */
  peer_connect (peer, fixture->port, "patient");
  g_assert_cmpuint (peer_id (peer), !=, 0);
  close (silent);
}

/* ------------------------------------------------------------------ */

static const ServerOptions full_server = { .max_clients = 1 };
static const ServerOptions small_pages = { .max_payload = 1024 };

#define add_server_test(path, options, func) \
  g_test_add (path, Fixture, options, fixture_setup, func, fixture_teardown)

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
  add_server_test ("/client/request/ping", NULL, test_ping);
  add_server_test ("/client/request/broadcast", NULL, test_broadcast);
  g_test_add_func ("/client/request/timeout", test_request_timeout);

  add_server_test ("/client/message/receipt", NULL, test_message_receipt);
  add_server_test ("/client/message/join-leave", NULL, test_join_leave);
  add_server_test ("/client/message/flood", NULL, test_flood);

  g_test_add_func ("/client/server/killed", test_server_killed);
  add_server_test ("/client/server/stopped", NULL, test_server_stopped);
  g_test_add_func ("/client/server/garbage", test_server_garbage);
  g_test_add_func ("/client/server/ping", test_server_ping);
  g_test_add_func ("/client/server/early-indication", test_early_indication);
  g_test_add_func ("/client/server/not-reading", test_server_not_reading);
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

  return g_test_run ();
}
