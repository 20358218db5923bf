/* sc-test-peer.c: a blocking raw-socket SockChat client for tests.
 *
 * The socket is non-blocking and every wait goes through poll() with what
 * is left of a deadline, so a server that stops answering fails the test
 * instead of hanging it.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-socket.h"
#include "sc-test-peer.h"

#define READ_CHUNK (64 * 1024)

struct _ScTestPeer
{
  int fd;
  guint16 local_port;
  ScFrameReader *reader;
  GQueue buffer; /* ScMessage*, received but not yet asked for */
  ScMessage *greeting;
  guint32 next_request_id;
  guint timeout_ms;
  gboolean auto_ack;
  gboolean auto_pong;
  gboolean closed;
  char *close_error;
};

static void G_GNUC_PRINTF (4, 5) peer_fail (
  ScTestPeer *peer, const char *file, int line, const char *format, ...)
{
  g_autoptr (GString) text = g_string_new (NULL);
  va_list args;

  g_string_append_printf (
    text, "peer %u (port %u): ", sc_test_peer_get_id (peer), peer->local_port);
  va_start (args, format);
  g_string_append_vprintf (text, format, args);
  va_end (args);
  g_string_append (text, "; buffered:");
  for (GList *l = peer->buffer.head; l != NULL; l = l->next)
    {
      ScMessage *message = l->data;

      g_string_append_printf (text, " %s",
                              sc_message_type_name (message->type));
    }
  if (peer->buffer.length == 0)
    g_string_append (text, " nothing");
  g_assertion_message ("sc-test-peer", file, line, G_STRFUNC, text->str);
}

static gint64
deadline_after (guint timeout_ms)
{
  return g_get_monotonic_time () + (gint64) timeout_ms * 1000;
}

static int
remaining_ms (gint64 deadline)
{
  gint64 left = deadline - g_get_monotonic_time ();

  return left <= 0 ? 0 : (int) ((left + 999) / 1000);
}

static gboolean
wait_for (int fd, short events, gint64 deadline)
{
  struct pollfd pfd = { fd, events, 0 };
  int n;

  do
    n = poll (&pfd, 1, remaining_ms (deadline));
  while (n < 0 && errno == EINTR);
  g_assert_cmpint (n, >=, 0);
  return n > 0;
}

/* @source (NULL: any) is the local IPv4 address to connect from: every
 * 127.x.y.z address is loopback on Linux, so tests play clients from many
 * addresses with them. */
static int
connect_socket (guint16 port, const char *source, int rcvbuf)
{
  struct sockaddr_in address = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int error = 0;
  socklen_t length = sizeof error;

  g_assert_cmpint (fd, >=, 0);
  if (source != NULL)
    {
      struct sockaddr_in local = { 0 };

      local.sin_family = AF_INET;
      g_assert_cmpint (inet_pton (AF_INET, source, &local.sin_addr), ==, 1);
      g_assert_cmpint (bind (fd, (struct sockaddr *) &local, sizeof local), ==,
                       0);
    }
  /* A receive buffer must be sized before connect() to shape the window. */
  if (rcvbuf > 0)
    g_assert_cmpint (
      setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), ==, 0);
  address.sin_family = AF_INET;
  address.sin_port = htons (port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0)
    {
      g_assert_cmpint (errno, ==, EINPROGRESS);
      if (!wait_for (fd, POLLOUT, deadline_after (SC_TEST_PEER_TIMEOUT_MS)))
        g_error ("connecting to 127.0.0.1 port %u timed out", port);
      g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &length),
                       ==, 0);
      g_assert_cmpstr (g_strerror (error), ==, g_strerror (0));
    }
  return fd;
}

/* Connects without reading anything, for tests that want to see the
 * first frame themselves.  @rcvbuf > 0 sets SO_RCVBUF first. */
ScTestPeer *
sc_test_peer_connect_raw (guint16 port, int rcvbuf)
{
  return sc_test_peer_connect_raw_from (port, NULL, rcvbuf);
}

/* The same, from the local address @source (NULL: any). */
ScTestPeer *
sc_test_peer_connect_raw_from (guint16 port, const char *source, int rcvbuf)
{
  ScTestPeer *peer = g_new0 (ScTestPeer, 1);

  peer->fd = connect_socket (port, source, rcvbuf);
  peer->local_port = sc_socket_local_port (peer->fd);
  /* Until GREETING says otherwise, accept whatever the protocol allows. */
  peer->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  g_queue_init (&peer->buffer);
  peer->timeout_ms = SC_TEST_PEER_TIMEOUT_MS;
  peer->auto_pong = TRUE;
  return peer;
}

/* Connects (from @source, when not NULL; with SO_RCVBUF @rcvbuf, when not
 * 0) and reads the GREETING, which the peer keeps. */
static ScTestPeer *
connect_greeted (
  guint16 port, const char *source, int rcvbuf, const char *file, int line)
{
  ScTestPeer *peer = sc_test_peer_connect_raw_from (port, source, rcvbuf);
  ScMessage *greeting =
    sc_test_peer_try_expect (peer, SC_MSG_GREETING, peer->timeout_ms);

  if (greeting == NULL)
    peer_fail (peer, file, line, "no GREETING within %u ms", peer->timeout_ms);
  peer->greeting = greeting;
  /* A client adopts the announced limit for the rest of the connection,
   * so a server frame larger than it fails the test. */
  sc_frame_reader_set_max_payload (peer->reader, greeting->max_payload);
  return peer;
}

ScTestPeer *
sc_test_peer_connect_rcvbuf_at (guint16 port,
                                int rcvbuf,
                                const char *file,
                                int line)
{
  return connect_greeted (port, NULL, rcvbuf, file, line);
}

ScTestPeer *
sc_test_peer_connect_from_at (guint16 port,
                              const char *source,
                              const char *file,
                              int line)
{
  return connect_greeted (port, source, 0, file, line);
}

ScTestPeer *
sc_test_peer_connect_at (guint16 port, const char *file, int line)
{
  return connect_greeted (port, NULL, 0, file, line);
}

void
sc_test_peer_free (ScTestPeer *peer)
{
  if (peer == NULL)
    return;
  if (peer->fd >= 0)
    close (peer->fd);
  g_queue_clear_full (&peer->buffer, (GDestroyNotify) sc_message_free);
  g_clear_pointer (&peer->greeting, sc_message_free);
  g_clear_pointer (&peer->reader, sc_frame_reader_free);
  g_free (peer->close_error);
  g_free (peer);
}

void
sc_test_peer_set_timeout (ScTestPeer *peer, guint timeout_ms)
{
  peer->timeout_ms = timeout_ms;
}

/* With auto-ack on, every MESSAGE is acknowledged as soon as it is read
 * from the socket (it is still handed out as usual). */
void
sc_test_peer_set_auto_ack (ScTestPeer *peer, gboolean auto_ack)
{
  peer->auto_ack = auto_ack;
}

/* On by default: SERVER_PING is answered with PONG and never handed out. */
void
sc_test_peer_set_auto_pong (ScTestPeer *peer, gboolean auto_pong)
{
  peer->auto_pong = auto_pong;
}

const ScMessage *
sc_test_peer_get_greeting (ScTestPeer *peer)
{
  return peer->greeting;
}

guint32
sc_test_peer_get_id (ScTestPeer *peer)
{
  return peer->greeting ? peer->greeting->client_id : 0;
}

int
sc_test_peer_get_fd (ScTestPeer *peer)
{
  return peer->fd;
}

guint16
sc_test_peer_get_local_port (ScTestPeer *peer)
{
  return peer->local_port;
}

guint32
sc_test_peer_next_request_id (ScTestPeer *peer)
{
  if (++peer->next_request_id == 0)
    peer->next_request_id = 1;
  return peer->next_request_id;
}

guint
sc_test_peer_n_buffered (ScTestPeer *peer)
{
  return peer->buffer.length;
}

void
sc_test_peer_clear_buffer (ScTestPeer *peer)
{
  g_queue_clear_full (&peer->buffer, (GDestroyNotify) sc_message_free);
  g_queue_init (&peer->buffer);
}

/* Sends every byte, waiting for room with a deadline.  A server that has
 * already closed the connection is not an error here: the test finds out
 * when it next waits for something. */
void
sc_test_peer_send_raw (ScTestPeer *peer, const void *bytes, gsize length)
{
  const guint8 *p = bytes;
  gint64 deadline = deadline_after (peer->timeout_ms);

  while (length > 0)
    {
      ssize_t n = send (peer->fd, p, length, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (!wait_for (peer->fd, POLLOUT, deadline))
            g_error ("peer %u: sending %" G_GSIZE_FORMAT
                     " more bytes timed out after %u ms",
                     sc_test_peer_get_id (peer), length, peer->timeout_ms);
          continue;
        }
      if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        return;
      g_assert_cmpint (n, >, 0);
      p += n;
      length -= (gsize) n;
    }
}

/* Sends @message, taking ownership.  A request with request id 0 gets the
 * next id.  Returns the request id used. */
guint32
sc_test_peer_send (ScTestPeer *peer, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;
  g_autoptr (GBytes) frame = NULL;
  gsize size;
  const void *data;

  if (sc_message_type_kind (owned->type) == SC_KIND_REQUEST &&
      owned->request_id == 0)
    owned->request_id = sc_test_peer_next_request_id (peer);
  frame = sc_message_encode (owned);
  data = g_bytes_get_data (frame, &size);
  sc_test_peer_send_raw (peer, data, size);
  return owned->request_id;
}

void
sc_test_peer_ack (ScTestPeer *peer, guint64 message_id)
{
  ScMessage *ack = sc_message_new (SC_MSG_MESSAGE_ACK, 0);

  ack->message_id = message_id;
  sc_test_peer_send (peer, ack);
}

/* Takes one whole frame out of the reader, or returns NULL. */
static ScMessage *
next_buffered_frame (ScTestPeer *peer)
{
  g_autoptr (GError) error = NULL;
  ScFrameHeader header;
  const guint8 *payload = NULL;
  ScFrameStatus status;
  ScMessage *message;

  status = sc_frame_reader_next (peer->reader, &header, &payload, &error);
  if (status == SC_FRAME_INCOMPLETE)
    return NULL;
  if (status == SC_FRAME_ERROR)
    g_error ("peer %u: the server sent a bad frame: %s",
             sc_test_peer_get_id (peer), error->message);
  message = sc_message_decode (&header, payload, &error);
  if (message == NULL)
    g_error ("peer %u: the server sent a malformed %s: %s",
             sc_test_peer_get_id (peer), sc_message_type_name (header.type),
             error->message);
  return message;
}

/* One recv() into the reader; FALSE when nothing came before @deadline
 * or the connection is closed. */
static gboolean
fill (ScTestPeer *peer, gint64 deadline)
{
  gsize room;
  guint8 *buffer;
  ssize_t n;

  if (peer->closed || !wait_for (peer->fd, POLLIN, deadline))
    return FALSE;
  buffer = sc_frame_reader_reserve (peer->reader, READ_CHUNK, &room);
  do
    n = recv (peer->fd, buffer, room, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return TRUE;
  if (n <= 0)
    {
      peer->closed = TRUE;
      peer->close_error =
        g_strdup (n == 0 ? "end of stream" : g_strerror (errno));
      return FALSE;
    }
  sc_frame_reader_commit (peer->reader, (gsize) n);
  return TRUE;
}

/* Answers what the peer answers by itself; TRUE when @message is used up
 * by that (a SERVER_PING with auto-pong on). */
static gboolean
answer_automatically (ScTestPeer *peer, ScMessage *message)
{
  if (message->type == SC_MSG_MESSAGE && peer->auto_ack)
    sc_test_peer_ack (peer, message->message_id);
  if (message->type == SC_MSG_SERVER_PING && peer->auto_pong)
    {
      ScMessage *pong = sc_message_new (SC_MSG_PONG, 0);

      pong->token = message->token;
      sc_test_peer_send (peer, pong);
      return TRUE;
    }
  return FALSE;
}

/* The next message from the socket (never from the buffer), or NULL at
 * the deadline or the end of the stream. */
static ScMessage *
read_message (ScTestPeer *peer, gint64 deadline)
{
  for (;;)
    {
      ScMessage *message = next_buffered_frame (peer);

      if (message != NULL)
        {
          if (answer_automatically (peer, message))
            {
              sc_message_free (message);
              continue;
            }
          return message;
        }
      if (!fill (peer, deadline) &&
          (peer->closed || remaining_ms (deadline) == 0))
        return NULL;
    }
}

/* The next message, buffered or not, or NULL after @timeout_ms or at the
 * end of the stream.  (transfer full) */
ScMessage *
sc_test_peer_receive (ScTestPeer *peer, guint timeout_ms)
{
  if (peer->buffer.length > 0)
    return g_queue_pop_head (&peer->buffer);
  return read_message (peer, deadline_after (timeout_ms));
}

static guint32
subject_of (const ScMessage *message)
{
  switch (message->type)
    {
    case SC_MSG_CLIENT_JOINED:
    case SC_MSG_MESSAGE: return message->sender.id;
    case SC_MSG_CLIENT_LEFT:
    case SC_MSG_CLIENT_RENAMED: return message->client_id;
    case SC_MSG_DELIVERY_RECEIPT: return message->peer_id;
    default: return message->request_id; /* responses: their request */
    }
}

static gboolean
matches (const ScMessage *message, ScMessageType type, guint32 about)
{
  return message->type == type && (about == 0 || subject_of (message) == about);
}

static ScMessage *
take_buffered (ScTestPeer *peer, ScMessageType type, guint32 about)
{
  for (GList *l = peer->buffer.head; l != NULL; l = l->next)
    if (matches (l->data, type, about))
      {
        ScMessage *message = l->data;

        g_queue_delete_link (&peer->buffer, l);
        return message;
      }
  return NULL;
}

/* Waits until @deadline for a message of @type about @about (0: any; for
 * a response, @about is its request id),
 * buffering everything else.  (transfer full) */
static ScMessage *
wait_matching (ScTestPeer *peer,
               ScMessageType type,
               guint32 about,
               gint64 deadline)
{
  ScMessage *message = take_buffered (peer, type, about);

  while (message == NULL)
    {
      message = read_message (peer, deadline);
      if (message == NULL)
        return NULL;
      if (!matches (message, type, about))
        {
          g_queue_push_tail (&peer->buffer, message);
          message = NULL;
        }
    }
  return message;
}

ScMessage *
sc_test_peer_try_expect (ScTestPeer *peer, ScMessageType type, guint timeout_ms)
{
  return wait_matching (peer, type, 0, deadline_after (timeout_ms));
}

static const char *
why_not (ScTestPeer *peer)
{
  return peer->closed ? peer->close_error : "timed out";
}

ScMessage *
sc_test_peer_expect_at (ScTestPeer *peer,
                        ScMessageType type,
                        guint32 about,
                        const char *file,
                        int line)
{
  ScMessage *message =
    wait_matching (peer, type, about, deadline_after (peer->timeout_ms));

  if (message == NULL)
    peer_fail (peer, file, line, "no %s about client %u within %u ms (%s)",
               sc_message_type_name (type), about, peer->timeout_ms,
               why_not (peer));
  return message;
}

guint32
sc_test_peer_wait_joined_at (ScTestPeer *peer,
                             const char *nickname,
                             const char *file,
                             int line)
{
  for (;;)
    {
      g_autoptr (ScMessage) joined =
        sc_test_peer_expect_at (peer, SC_MSG_CLIENT_JOINED, 0, file, line);

      if (g_str_equal (joined->sender.nickname, nickname))
        return joined->sender.id;
    }
}

ScMessage *
sc_test_peer_request_at (ScTestPeer *peer,
                         ScMessage *request,
                         const char *file,
                         int line)
{
  ScMessageType reply_type = request->type | SC_MSG_REPLY_BIT;
  gint64 deadline = deadline_after (peer->timeout_ms);
  guint32 request_id = sc_test_peer_send (peer, request);
  ScMessage *reply = wait_matching (peer, reply_type, request_id, deadline);

  if (reply == NULL)
    peer_fail (peer, file, line, "no %s for request %u within %u ms (%s)",
               sc_message_type_name (reply_type), request_id, peer->timeout_ms,
               why_not (peer));
  return reply;
}

ScMessage *
sc_test_peer_hello_at (ScTestPeer *peer,
                       const char *nickname,
                       const char *file,
                       int line)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  ScMessage *reply;

  hello->name = g_strdup ("sc-test-peer");
  hello->nickname = g_strdup (nickname ? nickname : "");
  reply = sc_test_peer_request_at (peer, hello, file, line);
  if (reply->status != SC_STATUS_OK)
    peer_fail (peer, file, line, "HELLO failed with status %u: %s",
               reply->status, reply->reason);
  g_assert_cmpuint (reply->client_id, ==, sc_test_peer_get_id (peer));
  return reply;
}

/* Reads until the end of the stream or @timeout_ms, buffering what comes;
 * TRUE when the server closed the connection. */
gboolean
sc_test_peer_wait_closed (ScTestPeer *peer, guint timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);

  while (!peer->closed)
    {
      ScMessage *message = read_message (peer, deadline);

      if (message == NULL)
        return peer->closed;
      g_queue_push_tail (&peer->buffer, message);
    }
  return TRUE;
}

void
sc_test_peer_expect_closed_at (ScTestPeer *peer, const char *file, int line)
{
  if (!sc_test_peer_wait_closed (peer, peer->timeout_ms))
    peer_fail (peer, file, line, "the server did not close within %u ms",
               peer->timeout_ms);
}

void
sc_test_peer_expect_none_at (ScTestPeer *peer,
                             ScMessageType type,
                             guint wait_ms,
                             const char *file,
                             int line)
{
  g_autoptr (ScMessage) message =
    wait_matching (peer, type, 0, deadline_after (wait_ms));

  if (message != NULL)
    peer_fail (peer, file, line, "unexpected %s", sc_message_type_name (type));
}

/* Sends @n SEND_MESSAGEs of @text to @recipient in one write, with fresh
 * request ids; the replies are left for the caller to read. */
void
sc_test_peer_send_batch (ScTestPeer *peer,
                         guint32 recipient,
                         const char *text,
                         guint n)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (ScMessage) request = sc_message_new (
        SC_MSG_SEND_MESSAGE, sc_test_peer_next_request_id (peer));

      request->peer_id = recipient;
      request->text = g_strdup (text);
      sc_message_append_frame (request, frames);
    }
  sc_test_peer_send_raw (peer, frames->data, frames->len);
}
