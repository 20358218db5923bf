/* soak-conn.c: a raw client socket for the soak's agents. */
#include "config.h"

#include "soak-conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A non-blocking TCP socket to 127.0.0.1:@port, bound first to @source
 * (an address in 127.0.0.0/8, or NULL for the kernel's choice), so that
 * the server sees the connection come from that address.  Aborts on
 * failure: the soak cannot go on without sockets. */
int
soak_connect_from (guint16 port, const char *source)
{
  struct sockaddr_in address = { 0 };
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  /* Requests go out at once, not behind Nagle's algorithm. */
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  address.sin_family = AF_INET;
  if (source != NULL)
    {
      if (inet_pton (AF_INET, source, &address.sin_addr) != 1)
        g_error ("bad source address %s", source);
      if (bind (fd, (struct sockaddr *) &address, sizeof address) < 0)
        g_error ("bind %s: %s", source, g_strerror (errno));
    }
  address.sin_port = htons (port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0 &&
      errno != EINPROGRESS)
    g_error ("connect: %s", g_strerror (errno));
  return fd;
}

void
soak_conn_open (SoakConn *conn, guint16 port, const char *source)
{
  g_assert (conn->reader == NULL);
  conn->fd = soak_connect_from (port, source);
  conn->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  conn->out = g_byte_array_new ();
  conn->out_head = 0;
}

void
soak_conn_close (SoakConn *conn)
{
  if (conn->fd >= 0)
    close (conn->fd);
  conn->fd = -1;
  g_clear_pointer (&conn->reader, sc_frame_reader_free);
  g_clear_pointer (&conn->out, g_byte_array_unref);
  conn->out_head = 0;
}

/* Takes @message. */
void
soak_conn_queue (SoakConn *conn, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;

  sc_message_append_frame (owned, conn->out);
}

gboolean
soak_conn_wants_write (const SoakConn *conn)
{
  return conn->fd >= 0 && conn->out_head < conn->out->len;
}

/* Writes what the socket takes; FALSE when the connection is broken. */
gboolean
soak_conn_flush (SoakConn *conn)
{
  while (conn->out_head < conn->out->len)
    {
      ssize_t n =
        send (conn->fd, conn->out->data + conn->out_head,
              conn->out->len - conn->out_head, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n < 0)
        return FALSE;
      conn->out_head += (gsize) n;
    }
  g_byte_array_set_size (conn->out, 0);
  conn->out_head = 0;
  return TRUE;
}

/* One recv(); every whole frame it completes is appended to @messages.
 * Returns 1 when the connection is still open, 0 at the end of the stream
 * and -1 on an error (a socket error or a frame that does not decode). */
int
soak_conn_read (SoakConn *conn, GPtrArray *messages)
{
  gsize room;
  guint8 *buffer = sc_frame_reader_reserve (conn->reader, 65536, &room);
  ssize_t n = recv (conn->fd, buffer, room, MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 1;
  if (n <= 0)
    return n == 0 ? 0 : -1;
  sc_frame_reader_commit (conn->reader, (gsize) n);
  for (;;)
    {
      ScFrameHeader header;
      const guint8 *payload;
      ScMessage *message = NULL;
      ScFrameStatus status =
        sc_frame_reader_next (conn->reader, &header, &payload, NULL);

      if (status == SC_FRAME_INCOMPLETE)
        return 1;
      if (status == SC_FRAME_READY)
        message = sc_message_decode (&header, payload, NULL);
      if (message == NULL)
        return -1;
      g_ptr_array_add (messages, message);
    }
}
