/* test-client-acks.c: how ScClient acknowledges what it is handed, seen
 * from a fake server on a raw socket.
 *
 * With a protocol 1.1 server (GREETING flag PROTOCOL_1_1), the messages
 * of one burst are acknowledged in one MESSAGE_ACKS, in order; with a 1.0
 * server, one MESSAGE_ACK each; a MESSAGE sent without a receipt wanted
 * (NO_ACK) is not acknowledged at all (docs/PROTOCOL.md 4.8b, 5.4).
 */
#include "config.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client.h"
#include "sc-frame-reader.h"
#include "sc-message.h"
#include "sc-test-util.h"

#define N_MESSAGES 5

typedef struct
{
  int listen_fd;
  guint16 port;
  int fd;
  ScFrameReader *reader;
} FakeServer;

static void
fake_listen (FakeServer *fake)
{
  struct sockaddr_in address = { .sin_family = AF_INET };
  socklen_t length = sizeof address;

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fake->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_no_errno (
    bind (fake->listen_fd, (struct sockaddr *) &address, sizeof address));
  g_assert_no_errno (listen (fake->listen_fd, 1));
  g_assert_no_errno (
    getsockname (fake->listen_fd, (struct sockaddr *) &address, &length));
  fake->port = ntohs (address.sin_port);
  fake->reader = sc_frame_reader_new (1 << 20);
}

static void
fake_send (FakeServer *fake, const ScMessage *message)
{
  g_autoptr (GByteArray) frame = g_byte_array_new ();

  sc_message_append_frame (message, frame);
  g_assert_cmpint (send (fake->fd, frame->data, frame->len, MSG_NOSIGNAL), ==,
                   (gssize) frame->len);
}

/* The next frame from the client, waiting at most 5 s.  (transfer full) */
static ScMessage *
fake_receive (FakeServer *fake, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  for (;;)
    {
      ScFrameHeader header;
      const guint8 *payload;
      guint8 buffer[4096];
      ssize_t n;
      struct timeval tv = { 0, 10000 };

      if (sc_frame_reader_next (fake->reader, &header, &payload, NULL) ==
          SC_FRAME_READY)
        return sc_message_decode (&header, payload, NULL);
      if (g_get_monotonic_time () > deadline)
        return NULL;
      setsockopt (fake->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      n = recv (fake->fd, buffer, sizeof buffer, 0);
      if (n > 0)
        sc_frame_reader_feed (fake->reader, buffer, (gsize) n);
      else if (n == 0)
        return NULL;
    }
}

typedef struct
{
  ScClient *client;
  gboolean done;
  guint received;
} Connecting;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Connecting *connecting = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (sc_client_connect_finish (SC_CLIENT (source), result, &error));
  g_assert_no_error (error);
  connecting->done = TRUE;
}

static void
on_message (ScClient *client, ScChatMessage *message, gpointer data)
{
  ((Connecting *) data)->received++;
}

static gboolean
connected (gpointer data)
{
  return ((Connecting *) data)->done;
}

static gboolean
received_all (gpointer data)
{
  return ((Connecting *) data)->received >= N_MESSAGES;
}

static gboolean
keep_going (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the default main context, blocking, until @condition holds, at
 * most 5 s.  The client's own sources wake it (a finished connect, the
 * receiver's hand-over); a 100 ms timer bounds each wait so the deadline
 * is checked. */
static void
iterate_until (GSourceFunc condition, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint guard = g_timeout_add (100, keep_going, NULL);

  while (!condition (data))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (guard);
}

/* Connects an ScClient to the fake server, whose GREETING has @flags. */
static ScClient *
connect_client (FakeServer *fake, guint16 flags, Connecting *connecting)
{
  ScClient *client = sc_client_new ("test-client-acks");
  g_autoptr (ScMessage) greeting = sc_message_new (SC_MSG_GREETING, 0);
  g_autoptr (ScMessage) hello = NULL;
  g_autoptr (ScMessage) reply = NULL;

  connecting->client = client;
  g_signal_connect (client, "message-received", G_CALLBACK (on_message),
                    connecting);
  sc_client_connect_async (client, "127.0.0.1", fake->port, "tester", NULL,
                           on_connected, connecting);
  fake->fd = accept4 (fake->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (fake->fd, >=, 0);
  greeting->flags = flags;
  greeting->client_id = 2;
  greeting->max_payload = 65536;
  greeting->max_clients = 10;
  greeting->heartbeat_s = 60;
  greeting->name = g_strdup ("fake");
  fake_send (fake, greeting);
  hello = fake_receive (fake, 5000);
  g_assert_nonnull (hello);
  g_assert_cmpuint (hello->type, ==, SC_MSG_HELLO);
  reply = sc_message_new_reply (hello, SC_STATUS_OK, NULL);
  reply->client_id = 2;
  reply->nickname = g_strdup ("tester");
  fake_send (fake, reply);
  iterate_until (connected, connecting);
  return client;
}

/* N_MESSAGES messages in one write, ids 1<<32 | first+1..first+N,
 * flags @flags. */
static void
send_burst (FakeServer *fake, guint16 flags, guint first)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  for (guint i = 1; i <= N_MESSAGES; i++)
    {
      ScMessage message;
      ScClientInfo sender = { 1, 4000, 0, (char *) "alice",
                              (char *) "127.0.0.1" };

      sc_message_init (&message, SC_MSG_MESSAGE, 0);
      message.flags = flags;
      message.message_id = ((guint64) 1 << 32) | (first + i);
      message.sender = sender;
      message.text = (char *) "hello";
      sc_message_append_frame (&message, frames);
    }
  g_assert_cmpint (send (fake->fd, frames->data, frames->len, MSG_NOSIGNAL), ==,
                   (gssize) frames->len);
}

static void
fake_close (FakeServer *fake, ScClient *client)
{
  sc_client_disconnect (client);
  g_object_unref (client);
  close (fake->fd);
  close (fake->listen_fd);
  sc_frame_reader_free (fake->reader);
}

/* Reads the acknowledgements of one burst (ids first+1..first+N): every
 * id comes back once, in order, however the burst was split between
 * dispatches.  Returns how many frames carried them. */
static guint
receive_acks (FakeServer *fake, guint first)
{
  guint acked = first, frames = 0;

  while (acked < first + N_MESSAGES)
    {
      g_autoptr (ScMessage) ack = fake_receive (fake, 5000);

      g_assert_nonnull (ack);
      frames++;
      if (ack->type == SC_MSG_MESSAGE_ACK)
        g_assert_cmpuint (ack->message_id, ==, ((guint64) 1 << 32) | ++acked);
      else
        {
          g_assert_cmpuint (ack->type, ==, SC_MSG_MESSAGE_ACKS);
          g_assert_cmpuint (ack->message_ids->len, >, 1);
          for (guint i = 0; i < ack->message_ids->len; i++)
            g_assert_cmpuint (g_array_index (ack->message_ids, guint64, i), ==,
                              ((guint64) 1 << 32) | ++acked);
        }
    }
  return frames;
}

static void
test_batched (void)
{
  FakeServer fake = { 0 };
  Connecting connecting = { 0 };
  ScClient *client;
  guint frames = N_MESSAGES;

  fake_listen (&fake);
  client = connect_client (&fake, SC_FLAG_PROTOCOL_1_1, &connecting);
  /* A burst that came in one write goes back, at least in part, as one
   * frame (with one MESSAGE_ACK per message it would be 5).  On a busy
   * machine the owner may dispatch between every message of a burst,
   * so a few bursts are tried: batching must show in one of them. */
  for (guint burst = 0; burst < 5 && frames >= N_MESSAGES; burst++)
    {
      connecting.received = 0;
      send_burst (&fake, 0, burst * N_MESSAGES);
      iterate_until (received_all, &connecting);
      frames = receive_acks (&fake, burst * N_MESSAGES);
    }
  g_assert_cmpuint (frames, <, N_MESSAGES);
  fake_close (&fake, client);
}

static void
test_protocol_1_0 (void)
{
  FakeServer fake = { 0 };
  Connecting connecting = { 0 };
  ScClient *client;

  fake_listen (&fake);
  client = connect_client (&fake, 0, &connecting);
  send_burst (&fake, 0, 0);
  iterate_until (received_all, &connecting);
  for (guint i = 1; i <= N_MESSAGES; i++)
    {
      g_autoptr (ScMessage) ack = fake_receive (&fake, 5000);

      g_assert_nonnull (ack);
      g_assert_cmpuint (ack->type, ==, SC_MSG_MESSAGE_ACK);
      g_assert_cmpuint (ack->message_id, ==, ((guint64) 1 << 32) | i);
    }
  fake_close (&fake, client);
}

static void
test_no_ack (void)
{
  FakeServer fake = { 0 };
  Connecting connecting = { 0 };
  ScClient *client;
  g_autoptr (ScMessage) nothing = NULL;

  fake_listen (&fake);
  client = connect_client (&fake, SC_FLAG_PROTOCOL_1_1, &connecting);
  send_burst (&fake, SC_FLAG_NO_ACK, 0);
  iterate_until (received_all, &connecting);
  nothing = fake_receive (&fake, 300);
  g_assert_null (nothing);
  fake_close (&fake, client);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);
  g_test_add_func ("/client/acks/batched", test_batched);
  g_test_add_func ("/client/acks/protocol-1.0", test_protocol_1_0);
  g_test_add_func ("/client/acks/no-ack", test_no_ack);
  return g_test_run ();
}
