/* fuzz-server.c: libFuzzer target for the path a hostile client takes.
 *
 * One in-process server runs for the whole fuzzing session.  Each input
 * is written to a fresh TCP connection to it, the connection is
 * half-closed, and everything the server answers is read until it closes
 * its side, so every input goes through accept, a worker's frame reader,
 * the request handlers, the output queue and the close path.  Every 256
 * inputs a well-behaved client checks that the server still serves.
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "sc-server.h"
#include "sc-socket.h"
#include "sc-test-util.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static ScServer *server;

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

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static guint runs;
  guint16 port = server_port ();
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
