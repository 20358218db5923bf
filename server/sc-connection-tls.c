/* sc-connection-tls.c: the TLS side of a connection's input, run by its
 * owning worker: the handshake, driven by the same epoll events as
 * everything else, and reading records.  Writing records is the outbox's
 * (sc-outbox.c).
 *
 * A connection of the TLS listener says nothing until its handshake is
 * done: it is not registered, gets no GREETING, and waits among the
 * connections that have not said hello (so --max-pending and
 * --max-per-address bound handshakes too) with the hello deadline as its
 * handshake deadline.  GnuTLS says, when it cannot go on, whether it
 * waits to read or to write (gnutls_record_get_direction()); only that
 * event is watched.
 */
#include "config.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "sc-connection-private.h"
#include "sc-tls.h"

#define READ_CHUNK (16 * 1024)

/* Owner, right after creating the connection: it speaks TLS through
 * @session (taken), and waits for the client's ClientHello. */
void
sc_connection_start_tls (ScConnection *connection, gnutls_session_t session)
{
  g_assert (connection->tls == NULL);
  connection->tls = session;
  connection->handshaking = TRUE;
  sc_outbox_set_tls (connection->outbox, session);
  sc_outbox_tls_wait (connection->outbox, FALSE);
}

gboolean
sc_connection_is_handshaking (ScConnection *connection)
{
  return connection->handshaking;
}

static void
fail_handshake (ScConnection *connection, const char *why)
{
  g_autofree char *reason = g_strdup_printf ("TLS handshake failed: %s", why);

  /* Logged with the reason when the connection is freed. */
  sc_connection_close (connection, SC_STATUS_PROTOCOL_ERROR, reason);
}

/* Before GnuTLS reads the first bytes: what a client that does not speak
 * TLS sent is worth naming in the log.  Returns FALSE when the
 * connection was closed for it. */
static gboolean
looks_like_tls (ScConnection *connection)
{
  guint8 first[2] = { 0, 0 };
  ssize_t n;

  do
    n = recv (connection->fd, first, sizeof first, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return TRUE; /* GnuTLS finds out and says so */
  connection->got_bytes = TRUE;
  if (first[0] == SC_TLS_RECORD_HANDSHAKE)
    return TRUE;
  if (n == 2 && first[0] == 'S' && first[1] == 'C')
    fail_handshake (connection, "the client sent a plain SockChat frame to "
                                "the TLS port");
  else
    {
      g_autofree char *why = g_strdup_printf (
        "the client sent no TLS handshake (first byte 0x%02x)", first[0]);

      fail_handshake (connection, why);
    }
  return FALSE;
}

/* One step of the handshake, whenever the socket is ready for what
 * GnuTLS waited for (or reported an error or a hang-up). */
void
sc_connection_on_handshake_event (ScConnection *connection, guint32 events)
{
  int ret;

  g_assert (connection->handshaking);
  if (connection->closing)
    return;
  if (!connection->got_bytes && (events & EPOLLIN) &&
      !looks_like_tls (connection))
    return;
  do
    ret = gnutls_handshake (connection->tls);
  while (
    ret == GNUTLS_E_INTERRUPTED ||
    (ret < 0 && gnutls_error_is_fatal (ret) == 0 && ret != GNUTLS_E_AGAIN));
  if (ret == GNUTLS_E_AGAIN)
    {
      if (events & (EPOLLHUP | EPOLLERR))
        {
          fail_handshake (connection, "the connection was reset");
          return;
        }
      sc_outbox_tls_wait (connection->outbox,
                          gnutls_record_get_direction (connection->tls) == 1);
      return;
    }
  if (ret < 0)
    {
      if (ret == GNUTLS_E_PREMATURE_TERMINATION || ret == GNUTLS_E_PULL_ERROR ||
          ret == GNUTLS_E_PUSH_ERROR)
        fail_handshake (connection,
                        "the client closed or reset the connection");
      else
        fail_handshake (connection, gnutls_strerror (ret));
      return;
    }
  connection->handshaking = FALSE;
  connection->last_activity = g_get_monotonic_time ();
  sc_outbox_tls_established (connection->outbox);
  sc_connection_start (connection);
  /* A client may send its HELLO right behind its last handshake message;
   * whatever GnuTLS already holds would never be announced by epoll. */
  if (gnutls_record_check_pending (connection->tls) > 0)
    sc_connection_on_readable (connection);
}

/* From the tick: a handshake has as long as a hello. */
void
sc_connection_check_handshake_deadline (ScConnection *connection, gint64 now)
{
  const ScServerConfig *config = connection->server->config;
  g_autofree char *why = NULL;

  if (now - connection->connected_at <=
      (gint64) config->hello_timeout_s * G_USEC_PER_SEC)
    return;
  why = g_strdup_printf ("not finished within %u s", config->hello_timeout_s);
  fail_handshake (connection, why);
}

/* A TLS client came to the plain port. */
void
sc_connection_reject_client_hello (ScConnection *connection)
{
  const char *reason = "sent a TLS ClientHello to the plain port";
  guint16 tls_port = sc_server_get_tls_port (connection->server);

  if (tls_port != 0)
    g_message ("client %u (%s port %u) %s: TLS is on port %u",
               connection->info.id, connection->info.address,
               connection->info.port, reason, tls_port);
  else
    g_message ("client %u (%s port %u) %s: this server has no TLS listener",
               connection->info.id, connection->info.address,
               connection->info.port, reason);
  sc_connection_close (connection, SC_STATUS_PROTOCOL_ERROR, reason);
}

/* Reads records into the frame reader until GnuTLS holds nothing more.
 * A record may be bigger than the room offered: GnuTLS then keeps the
 * rest, which epoll would never announce, so it is read now.  Returns
 * FALSE when nothing came (or the connection was closed). */
gboolean
sc_connection_read_tls (ScConnection *connection)
{
  gboolean got = FALSE;

  for (;;)
    {
      gsize room;
      guint8 *buffer =
        sc_frame_reader_reserve (connection->reader, READ_CHUNK, &room);
      ssize_t n = gnutls_record_recv (connection->tls, buffer, room);

      if (n > 0)
        {
          sc_frame_reader_commit (connection->reader, (gsize) n);
          connection->last_activity = g_get_monotonic_time ();
          got = TRUE;
          if (gnutls_record_check_pending (connection->tls) == 0)
            return TRUE;
          continue;
        }
      if (n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n == GNUTLS_E_AGAIN)
        return got;
      if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
        {
          /* The client ended its side (with close_notify, or just by
           * closing the socket): answer what it sent, then close. */
          connection->peer_eof = TRUE;
          sc_outbox_set_input (connection->outbox, FALSE);
          return TRUE;
        }
      {
        g_autofree char *reason =
          g_strdup_printf ("connection lost (TLS: %s)", gnutls_strerror (n));

        sc_connection_close (connection, SC_STATUS_OK, reason);
        return FALSE;
      }
    }
}
