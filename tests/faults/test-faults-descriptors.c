/* test-faults-descriptors.c: the server out of file descriptors.
 *
 * The server binary runs with RLIMIT_NOFILE 64 and 100 clients connect.
 * The kernel completes every handshake (the listen backlog is larger), but
 * the server can accept only as many as it has descriptors for: the rest
 * must get nothing, the server must back off instead of spinning on a
 * listening socket it cannot serve (its CPU time is measured), and once
 * clients leave it must resume serving the ones that waited.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-fault-util.h"
#include "sc-frame-reader.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

#define MAX_FILES 64
#define N_CLIENTS 100

typedef struct
{
  int fd;
  ScFrameReader *reader;
  gboolean greeted;
  gboolean closed;
  guint32 id;
} Conn;

static void
conn_open (Conn *conn, guint16 port)
{
  struct sockaddr_in address = { 0 };

  conn->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  g_assert_cmpint (conn->fd, >=, 0);
  address.sin_family = AF_INET;
  address.sin_port = htons (port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (conn->fd, (struct sockaddr *) &address, sizeof address) < 0)
    g_assert_cmpint (errno, ==, EINPROGRESS);
  conn->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
}

static void
conn_close (Conn *conn)
{
  if (conn->fd >= 0)
    close (conn->fd);
  conn->fd = -1;
  g_clear_pointer (&conn->reader, sc_frame_reader_free);
}

static void
conn_read (Conn *conn)
{
  g_autoptr (GError) error = NULL;
  ScFrameHeader header;
  const guint8 *payload;
  gsize room;
  guint8 *buffer = sc_frame_reader_reserve (conn->reader, 4096, &room);
  ssize_t n = recv (conn->fd, buffer, room, MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      conn->closed = TRUE;
      return;
    }
  sc_frame_reader_commit (conn->reader, (gsize) n);
  if (!conn->greeted && sc_frame_reader_next (conn->reader, &header, &payload,
                                              &error) == SC_FRAME_READY)
    {
      g_autoptr (ScMessage) greeting =
        sc_message_decode (&header, payload, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (greeting->type, ==, SC_MSG_GREETING);
      conn->greeted = TRUE;
      conn->id = greeting->client_id;
    }
  g_assert_no_error (error);
}

static guint
count_greeted (Conn *conns, guint n_conns)
{
  guint n = 0;

  for (guint i = 0; i < n_conns; i++)
    n += conns[i].fd >= 0 && conns[i].greeted;
  return n;
}

/* Reads whatever arrives for @wait_ms, or until @n_greeted clients have
 * been greeted when that is non-zero. */
static void
pump (Conn *conns, guint n_conns, guint wait_ms, guint n_greeted)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) wait_ms * 1000;
  g_autofree struct pollfd *pfds = g_new0 (struct pollfd, n_conns);

  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      int n;

      for (guint i = 0; i < n_conns; i++)
        {
          pfds[i].fd = conns[i].fd >= 0 && !conns[i].closed ? conns[i].fd : -1;
          pfds[i].events = POLLIN;
        }
      if (left <= 0 ||
          (n_greeted > 0 && count_greeted (conns, n_conns) >= n_greeted))
        return;
      n = poll (pfds, n_conns, (int) (left / 1000) + 1);
      g_assert_true (n >= 0 || errno == EINTR);
      for (guint i = 0; i < n_conns && n > 0; i++)
        if (pfds[i].revents != 0)
          conn_read (&conns[i]);
    }
}

static void
test_descriptor_exhaustion (void)
{
  const char *args[] = { "--hello-timeout", "120", NULL };
  ScFaultServerOptions options = { .args = args, .max_files = MAX_FILES };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  GPid pid = sc_server_child_get_pid (server);
  guint16 port = sc_server_child_get_port (server);
  Conn conns[N_CLIENTS] = { { 0 } };
  guint n_served, n_waiting, n_closed = 0, n_resumed;
  guint64 ticks_before, ticks;
  gint64 measured_from, measured_us, resumed_us;
  long ticks_per_s = sysconf (_SC_CLK_TCK);
  g_autoptr (ScTestPeer) newcomer = NULL;
  g_autoptr (ScMessage) greeting = NULL;

  for (guint i = 0; i < N_CLIENTS; i++)
    conn_open (&conns[i], port);
  /* Everyone the server can take is greeted at once. */
  pump (conns, N_CLIENTS, 2000, 0);
  n_served = count_greeted (conns, N_CLIENTS);
  for (guint i = 0; i < N_CLIENTS; i++)
    n_closed += conns[i].closed;
  n_waiting = N_CLIENTS - n_served - n_closed;
  g_test_message ("%u of %u clients served with at most %u descriptors, "
                  "%u waiting, %u closed",
                  n_served, N_CLIENTS, MAX_FILES, n_waiting, n_closed);
  g_assert_cmpuint (n_served, >, 0);
  g_assert_cmpuint (n_served, <, MAX_FILES);
  g_assert_cmpuint (n_served + n_closed, <, N_CLIENTS);
  g_assert_cmpuint (sc_fault_proc_n_fds (pid), <=, MAX_FILES);
  g_assert_true (
    sc_server_child_wait_log (server, "cannot accept connections", 1000));

  /* While clients wait that it cannot accept, the server backs off (10 ms
   * doubling to 1 s) instead of being woken by the listener in a loop. */
  ticks_before = sc_fault_proc_cpu_ticks (pid);
  measured_from = g_get_monotonic_time ();
  pump (conns, N_CLIENTS, 2000, 0);
  ticks = sc_fault_proc_cpu_ticks (pid) - ticks_before;
  measured_us = g_get_monotonic_time () - measured_from;
  g_test_message ("server CPU while out of descriptors: %" G_GUINT64_FORMAT
                  " ticks in %.2f s (%ld ticks/s)",
                  ticks, measured_us / 1e6, ticks_per_s);
  /* Less than 20% of one core. */
  g_assert_cmpfloat ((double) ticks / ticks_per_s, <, 0.2 * measured_us / 1e6);
  g_assert_cmpuint (count_greeted (conns, N_CLIENTS), ==, n_served);
  g_assert_true (sc_server_child_is_running (server));

  /* 30 served clients leave: within the longest back-off the server
   * accepts again and greets waiting clients. */
  for (guint i = 0, n = 0; i < N_CLIENTS && n < 30; i++)
    if (conns[i].greeted && conns[i].fd >= 0)
      {
        conn_close (&conns[i]);
        n++;
      }
  measured_from = g_get_monotonic_time ();
  pump (conns, N_CLIENTS, 3000, n_served - 30 + 1);
  resumed_us = g_get_monotonic_time () - measured_from;
  n_resumed = count_greeted (conns, N_CLIENTS) - (n_served - 30);
  g_test_message ("%u waiting clients greeted %.2f s after 30 left", n_resumed,
                  resumed_us / 1e6);
  g_assert_cmpuint (n_resumed, >, 0);
  g_assert_cmpint (resumed_us, <, 3 * G_USEC_PER_SEC);

  /* Everyone leaves; a new client is served at once. */
  for (guint i = 0; i < N_CLIENTS; i++)
    conn_close (&conns[i]);
  newcomer = sc_test_peer_connect_raw (port, 0);
  greeting = sc_test_peer_try_expect (newcomer, SC_MSG_GREETING, 3000);
  g_assert_nonnull (greeting);
  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/descriptors/exhaustion",
                   test_descriptor_exhaustion);
  return g_test_run ();
}
