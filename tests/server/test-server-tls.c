/* test-server-tls.c: the implicit-TLS listener.
 *
 * Clients that speak TLS chat with each other and with plain clients; a
 * server with a password takes it over TLS only; and each kind of bad
 * input (garbage, a plain SockChat frame on the TLS port, a ClientHello on
 * the plain port, a handshake that never finishes, a reset in the middle
 * of one) gets its connection closed while a TLS client that comes next
 * is served as usual.  The certificate is self-signed and made for each
 * test; these peers do not check it (tests/client/test-client-tls.c
 * does).
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-socket.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"
#include "sc-tls.h"

typedef ScTestServer Fixture;

#define TIMEOUT_S 5

/* A blocking TLS client on a raw socket. */
typedef struct
{
  int fd;
  gnutls_certificate_credentials_t credentials;
  gnutls_session_t session;
  ScFrameReader *reader;
  guint32 next_request_id;
} TlsPeer;

static int
connect_to (guint16 port)
{
  g_autoptr (GError) error = NULL;
  struct timeval timeout = { TIMEOUT_S, 0 };
  int fd = sc_socket_connect ("127.0.0.1", port, TIMEOUT_S * 1000, &error);

  g_assert_no_error (error);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

static void
tls_peer_free (TlsPeer *peer)
{
  gnutls_deinit (peer->session);
  gnutls_certificate_free_credentials (peer->credentials);
  sc_frame_reader_free (peer->reader);
  close (peer->fd);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TlsPeer, tls_peer_free)

/* Starts a session on @fd; returns what the handshake returned. */
static int
tls_peer_start (TlsPeer *peer, int fd)
{
  int ret;

  peer->fd = fd;
  peer->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  peer->next_request_id = 1;
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&peer->credentials),
                   ==, 0);
  g_assert_cmpint (gnutls_init (&peer->session, GNUTLS_CLIENT), ==, 0);
  g_assert_cmpint (
    gnutls_priority_set_direct (peer->session, SC_TLS_PRIORITY, NULL), ==, 0);
  gnutls_credentials_set (peer->session, GNUTLS_CRD_CERTIFICATE,
                          peer->credentials);
  gnutls_transport_set_int (peer->session, fd);
  do
    ret = gnutls_handshake (peer->session);
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0 && ret != GNUTLS_E_AGAIN);
  return ret;
}

static TlsPeer *
tls_peer_connect (guint16 port)
{
  TlsPeer *peer = g_new0 (TlsPeer, 1);
  int ret = tls_peer_start (peer, connect_to (port));

  if (ret < 0)
    g_error ("TLS handshake failed: %s", gnutls_strerror (ret));
  g_assert_cmpint (gnutls_protocol_get_version (peer->session), ==,
                   GNUTLS_TLS1_3);
  return peer;
}

static void
tls_peer_send (TlsPeer *peer, ScMessage *message)
{
  g_autoptr (GBytes) frame = NULL;
  const guint8 *data;
  gsize size, done = 0;

  if (message->request_id == 0 &&
      sc_message_type_kind (message->type) == SC_KIND_REQUEST)
    message->request_id = peer->next_request_id++;
  frame = sc_message_encode (message);
  data = g_bytes_get_data (frame, &size);
  while (done < size)
    {
      ssize_t n = gnutls_record_send (peer->session, data + done, size - done);

      g_assert_cmpint (n, >, 0);
      done += (gsize) n;
    }
}

/* The next message, or NULL when the server closed the connection. */
static ScMessage *
tls_peer_receive (TlsPeer *peer)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      gsize room;
      guint8 *buffer;
      ssize_t n;
      ScFrameStatus status =
        sc_frame_reader_next (peer->reader, &header, &payload, &error);

      if (status == SC_FRAME_READY)
        {
          ScMessage *message = sc_message_decode (&header, payload, &error);

          g_assert_no_error (error);
          return message;
        }
      g_assert_cmpint (status, ==, SC_FRAME_INCOMPLETE);
      buffer = sc_frame_reader_reserve (peer->reader, 16384, &room);
      n = gnutls_record_recv (peer->session, buffer, room);
      if (n == GNUTLS_E_AGAIN)
        g_error ("nothing from the server within %d s", TIMEOUT_S);
      if (n <= 0)
        return NULL;
      sc_frame_reader_commit (peer->reader, (gsize) n);
    }
}

static ScMessage *
tls_peer_expect (TlsPeer *peer, ScMessageType type)
{
  for (;;)
    {
      ScMessage *message = tls_peer_receive (peer);

      if (message == NULL)
        g_error ("closed while waiting for message type 0x%02x", type);
      if (message->type == type)
        return message;
      sc_message_free (message);
    }
}

static ScMessage *
tls_peer_hello (TlsPeer *peer, const char *nickname, const char *password)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autoptr (ScMessage) greeting = tls_peer_expect (peer, SC_MSG_GREETING);

  hello->name = g_strdup ("test-tls");
  hello->nickname = g_strdup (nickname);
  hello->password = g_strdup (password);
  tls_peer_send (peer, hello);
  sc_message_free (hello);
  return tls_peer_expect (peer, SC_MSG_HELLO_REPLY);
}

/* A TLS client that comes after something went wrong is served. */
static void
assert_still_served (Fixture *fixture)
{
  g_autoptr (TlsPeer) peer = tls_peer_connect (fixture->tls_port);
  g_autoptr (ScMessage) reply = tls_peer_hello (peer, "next", NULL);

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
}

/* Reads until the server closes; TRUE when it did within the timeout. */
static gboolean
raw_wait_closed (int fd)
{
  guint8 sink[4096];

  for (;;)
    {
      ssize_t n = recv (fd, sink, sizeof sink, 0);

      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return TRUE;
      if (n < 0 && errno != EINTR)
        return FALSE; /* the receive timeout */
    }
}

static const ScTestServerOptions tls_server = { .tls = TRUE };

static void
test_chat (Fixture *fixture, gconstpointer data)
{
  g_autoptr (TlsPeer) alice = tls_peer_connect (fixture->tls_port);
  g_autoptr (TlsPeer) bob = tls_peer_connect (fixture->tls_port);
  g_autoptr (ScTestPeer) carol = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) alice_hello = tls_peer_hello (alice, "alice", NULL);
  g_autoptr (ScMessage) bob_hello = tls_peer_hello (bob, "bob", NULL);
  g_autoptr (ScMessage) carol_hello = sc_test_peer_hello (carol, "carol");
  g_autoptr (ScMessage) message = NULL;
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) to_carol = NULL;
  g_autofree char *big = sc_test_text (40000, 'x');
  ScMessage *send;

  g_assert_cmpuint (alice_hello->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (bob_hello->status, ==, SC_STATUS_OK);

  /* TLS to TLS, larger than one record. */
  send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
  send->peer_id = bob_hello->client_id;
  send->text = g_strdup (big);
  tls_peer_send (alice, send);
  sc_message_free (send);
  reply = tls_peer_expect (alice, SC_MSG_SEND_MESSAGE_REPLY);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  message = tls_peer_expect (bob, SC_MSG_MESSAGE);
  g_assert_cmpstr (message->text, ==, big);
  g_assert_cmpuint (message->message_id, ==, reply->message_id);

  /* TLS to plain. */
  send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
  send->peer_id = carol_hello->client_id;
  send->text = g_strdup ("over TLS, then in clear");
  tls_peer_send (bob, send);
  sc_message_free (send);
  to_carol = sc_test_peer_expect (carol, SC_MSG_MESSAGE);
  g_assert_cmpstr (to_carol->text, ==, "over TLS, then in clear");
}

static const ScTestServerOptions tls_password = {
  .tls = TRUE,
  .password = "s3cret",
  .password_over_tls_only = TRUE,
};

static void
test_password_needs_tls (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) plain = sc_test_peer_connect (fixture->port);
  g_autoptr (TlsPeer) secure = tls_peer_connect (fixture->tls_port);
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autoptr (ScMessage) refused = NULL;
  g_autoptr (ScMessage) accepted = NULL;

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("guest");
  hello->password = g_strdup ("s3cret");
  refused = sc_test_peer_request (plain, hello);
  g_assert_cmpuint (refused->status, ==, SC_STATUS_ENCRYPTION_REQUIRED);
  g_assert_nonnull (strstr (refused->reason, "TLS"));
  sc_test_peer_expect_closed (plain);

  accepted = tls_peer_hello (secure, "guest", "s3cret");
  g_assert_cmpuint (accepted->status, ==, SC_STATUS_OK);
}

static void
test_garbage (Fixture *fixture, gconstpointer data)
{
  int fd = connect_to (fixture->tls_port);

  g_assert_cmpint (send (fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), ==,
                   18);
  g_assert_true (raw_wait_closed (fd));
  close (fd);
  assert_still_served (fixture);
}

static void
test_plain_frame_on_tls_port (Fixture *fixture, gconstpointer data)
{
  int fd = connect_to (fixture->tls_port);
  g_autoptr (ScMessage) hello = sc_message_new (SC_MSG_HELLO, 1);
  g_autoptr (GBytes) frame = NULL;
  gsize size;
  const void *bytes;

  hello->name = g_strdup ("plain");
  hello->nickname = g_strdup ("lost");
  frame = sc_message_encode (hello);
  bytes = g_bytes_get_data (frame, &size);
  g_assert_cmpint (send (fd, bytes, size, MSG_NOSIGNAL), ==, (ssize_t) size);
  g_assert_true (raw_wait_closed (fd));
  close (fd);
  assert_still_served (fixture);
}

static void
test_client_hello_on_plain_port (Fixture *fixture, gconstpointer data)
{
  g_autoptr (TlsPeer) lost = g_new0 (TlsPeer, 1);
  g_autoptr (ScTestPeer) plain = NULL;

  /* The plain port greets in clear, which the TLS client takes for a
   * broken record; the server closes on the ClientHello in any case. */
  g_assert_cmpint (tls_peer_start (lost, connect_to (fixture->port)), <, 0);
  g_assert_true (raw_wait_closed (lost->fd));
  sc_test_server_wait_n_clients (fixture, 0, 5000);
  plain = sc_test_peer_connect (fixture->port);
  g_clear_pointer (&plain, sc_test_peer_free);
  assert_still_served (fixture);
}

static const ScTestServerOptions tls_quick = {
  .tls = TRUE,
  .hello_timeout_s = 1,
  .max_pending = 2,
};

static void
test_handshake_deadline (Fixture *fixture, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();
  int fd = connect_to (fixture->tls_port);
  /* A partial ClientHello record: the handshake starts and stalls. */
  static const guint8 partial[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
  gint64 elapsed_ms;

  g_assert_cmpint (send (fd, partial, sizeof partial, MSG_NOSIGNAL), ==,
                   sizeof partial);
  g_assert_true (raw_wait_closed (fd));
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpint (elapsed_ms, >=, 900);
  g_assert_cmpint (elapsed_ms, <, 4000);
  close (fd);
  assert_still_served (fixture);
}

/* Handshakes count among the connections waiting for their hello: past
 * max_pending, the oldest is closed. */
static void
test_handshakes_are_pending (Fixture *fixture, gconstpointer data)
{
  int first = connect_to (fixture->tls_port);
  int second, third;

  sc_test_server_wait_n_clients (fixture, 1, 5000);
  second = connect_to (fixture->tls_port);
  sc_test_server_wait_n_clients (fixture, 2, 5000);
  third = connect_to (fixture->tls_port);
  /* The first is closed long before its one-second deadline would. */
  g_assert_true (raw_wait_closed (first));
  close (first);
  close (second);
  close (third);
  assert_still_served (fixture);
}

static void
test_reset_mid_handshake (Fixture *fixture, gconstpointer data)
{
  int fd = connect_to (fixture->tls_port);
  static const guint8 partial[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
  struct linger linger = { 1, 0 };

  g_assert_cmpint (send (fd, partial, sizeof partial, MSG_NOSIGNAL), ==,
                   sizeof partial);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  close (fd);
  sc_test_server_wait_n_clients (fixture, 0, 5000);
  assert_still_served (fixture);
}

static const ScTestServerOptions tls_only = {
  .tls = TRUE,
  .no_plaintext = TRUE,
};

static void
test_no_plaintext (Fixture *fixture, gconstpointer data)
{
  g_assert_cmpuint (fixture->port, ==, 0);
  assert_still_served (fixture);
}

#define add(path, options, func)                                  \
  g_test_add (path, Fixture, options, sc_test_server_setup, func, \
              sc_test_server_teardown)

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  add ("/server/tls/chat", &tls_server, test_chat);
  add ("/server/tls/password-needs-tls", &tls_password,
       test_password_needs_tls);
  add ("/server/tls/bad/garbage", &tls_server, test_garbage);
  add ("/server/tls/bad/plain-frame", &tls_server,
       test_plain_frame_on_tls_port);
  add ("/server/tls/bad/client-hello-on-plain-port", &tls_server,
       test_client_hello_on_plain_port);
  add ("/server/tls/bad/handshake-deadline", &tls_quick,
       test_handshake_deadline);
  add ("/server/tls/bad/handshakes-are-pending", &tls_quick,
       test_handshakes_are_pending);
  add ("/server/tls/bad/reset-mid-handshake", &tls_server,
       test_reset_mid_handshake);
  add ("/server/tls/no-plaintext", &tls_only, test_no_plaintext);
  return g_test_run ();
}
