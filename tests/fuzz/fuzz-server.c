/* fuzz-server.c: libFuzzer target for the path a hostile client takes.
 *
 * One in-process server runs for the whole fuzzing session.  Each input
 * is written to a fresh TCP connection to it, the connection is
 * half-closed, and everything the server answers is read until it closes
 * its side, so every input goes through accept, a worker's frame reader,
 * the request handlers, the output queue and the close path.  Every 256
 * inputs a well-behaved client checks that the server still serves.
 *
 * With SC_FUZZ_TLS=1 the server also has a TLS listener (a self-signed
 * certificate made at start) and each input goes to it inside a TLS
 * session, ended with close_notify: the same frame paths, reached
 * through the handshake, the record reads and the outbox's record
 * writes.  The bytes of the TLS layer itself are not mutated: they are
 * GnuTLS's, which GnuTLS fuzzes itself (OSS-Fuzz); what is ours is how
 * the server drives it, which this exercises.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-server.h"
#include "sc-socket.h"
#include "sc-test-tls.h"
#include "sc-test-util.h"
#include "sc-tls.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static ScServer *server;
static gboolean use_tls;

static guint16
server_port (void)
{
  if (server == NULL)
    {
      /* Thousands of connections a second would log thousands of lines;
       * only warnings and errors are worth seeing while fuzzing. */
      g_log_set_writer_func (sc_test_quiet_writer, NULL, NULL);
      ScServerConfig *config = sc_server_config_new ();

      g_free (config->bind_address);
      config->bind_address = g_strdup ("127.0.0.1");
      config->port = 0;
      config->threads = 2;
      config->hello_timeout_s = 2;
      use_tls = g_strcmp0 (g_getenv ("SC_FUZZ_TLS"), "1") == 0;
      if (use_tls)
        {
          /* Left behind in /tmp: the target runs until it is killed. */
          g_autofree char *folder = g_dir_make_tmp ("sc-fuzz-tls-XXXXXX", NULL);

          if (folder == NULL)
            g_error ("no temporary folder for the certificate");
          sc_test_tls_make_certificate (folder, "server", &config->tls_cert,
                                        &config->tls_key);
          config->tls_port = 0;
        }
      server = sc_server_new (config);
      sc_server_config_free (config);
      if (!sc_server_start (server, NULL))
        g_error ("the fuzzing server did not start");
    }
  return sc_server_get_port (server);
}

static void
check_alive (guint16 port)
{
  /* A GET_NAME before hello must still be answered (NOT_READY). */
  static const guint8 get_name[] = { 0x53, 0x43, 1, 0x03, 0, 0, 0, 0,
                                     0,    0,    0, 1,    0, 0, 0, 0 };
  guint8 reply[64];
  int fd = sc_socket_connect ("127.0.0.1", port, 2000, NULL);
  struct timeval timeout = { 5, 0 };
  gsize got = 0;

  if (fd < 0)
    g_error ("the server stopped accepting connections");
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sc_socket_send_all (fd, get_name, sizeof get_name, NULL);
  /* The greeting, then the reply: at least 32 bytes must come back. */
  while (got < 32)
    {
      ssize_t n = recv (fd, reply, sizeof reply, 0);

      if (n <= 0)
        g_error ("the server stopped answering");
      got += (gsize) n;
    }
  close (fd);
}

/* The input inside a TLS session to the TLS listener; then what the
 * server answers is read until it ends the session (two seconds at most,
 * the socket's receive timeout). */
static void
send_over_tls (const guint8 *data, size_t size)
{
  static gnutls_certificate_credentials_t credentials;
  gnutls_session_t session;
  struct timeval timeout = { 2, 0 };
  guint8 sink[16384];
  gsize done = 0;
  ssize_t n;
  int fd, ret;

  fd = sc_socket_connect ("127.0.0.1", sc_server_get_tls_port (server), 2000,
                          NULL);
  if (fd < 0)
    g_error ("cannot connect to the fuzzing server's TLS port");
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (credentials == NULL)
    gnutls_certificate_allocate_credentials (&credentials);
  gnutls_init (&session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
  gnutls_priority_set_direct (session, SC_TLS_PRIORITY, NULL);
  gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE, credentials);
  gnutls_transport_set_int (session, fd);
  do
    ret = gnutls_handshake (session);
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0 && ret != GNUTLS_E_AGAIN);
  if (ret < 0)
    g_error ("TLS handshake with the fuzzing server failed: %s",
             gnutls_strerror (ret));
  while (done < size)
    {
      n = gnutls_record_send (session, data + done, MIN (size - done, 16384));
      if (n < 0 && n != GNUTLS_E_INTERRUPTED)
        break; /* the server closed on a bad input */
      done += n > 0 ? (gsize) n : 0;
    }
  gnutls_bye (session, GNUTLS_SHUT_WR);
  do
    n = gnutls_record_recv (session, sink, sizeof sink);
  while (n > 0 || n == GNUTLS_E_INTERRUPTED);
  gnutls_deinit (session);
  close (fd);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static guint runs;
  guint16 port = server_port ();

  if (use_tls)
    {
      send_over_tls (data, size);
      if (++runs % 256 == 0)
        check_alive (port);
      return 0;
    }
  int fd = sc_socket_connect ("127.0.0.1", port, 2000, NULL);

  if (fd < 0)
    g_error ("cannot connect to the fuzzing server");
  sc_socket_send_all (fd, data, size, NULL);
  shutdown (fd, SHUT_WR);
  /* For at most two seconds: a slow input is not worth more. */
  sc_test_drain_until_closed (fd, 2000);
  close (fd);
  if (++runs % 256 == 0)
    check_alive (port);
  return 0;
}
