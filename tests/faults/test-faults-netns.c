/* test-faults-netns.c: a client whose network vanishes without a FIN or
 * a reset.
 *
 * Two network namespaces joined by a veth pair: the server binary runs in
 * one (10.77.1.1), client A in the other (10.77.1.2) and client B beside
 * the server.  Taking A's end of the link down silences A completely; the
 * server must notice through its heartbeat (SERVER_PING after
 * --idle-timeout, close after --ping-timeout) or TCP_USER_TIMEOUT, and B
 * must be told that A left.
 *
 * The namespaces are made by the test process and the checks run in a
 * g_test_trap_subprocess(), so the namespaces and whatever runs in them
 * are removed even when a check fails.  Without root, or where namespaces
 * cannot be made (containers, sandboxes), the test is skipped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-fault-util.h"
#include "sc-frame-reader.h"
#include "sc-socket.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

#define SERVER_ADDRESS "10.77.1.1"
#define CLIENT_ADDRESS "10.77.1.2"
#define IDLE_TIMEOUT_S 2
#define PING_TIMEOUT_S 2

typedef struct
{
  char *server_ns;
  char *client_ns;
  char *server_link;
  char *client_link;
} Netns;

/* The names carry the pid of the process that made them, so runs in
 * parallel do not collide; the subprocess derives them from its parent. */
static void
netns_init (Netns *netns, pid_t owner)
{
  netns->server_ns = g_strdup_printf ("scflt-s-%d", (int) owner);
  netns->client_ns = g_strdup_printf ("scflt-c-%d", (int) owner);
  netns->server_link = g_strdup_printf ("scvs%d", (int) owner);
  netns->client_link = g_strdup_printf ("scvc%d", (int) owner);
}

static void
netns_clear (Netns *netns)
{
  g_free (netns->server_ns);
  g_free (netns->client_ns);
  g_free (netns->server_link);
  g_free (netns->client_link);
}

/* Runs a command; FALSE with its output in @error when it fails. */
static gboolean
run (GError **error, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  va_list args;

  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH,
                     NULL, NULL, &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_autofree char *line = g_strjoinv (" ", (char **) argv->pdata);

      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                   "“%s” failed: %s", line, g_strstrip (err));
      return FALSE;
    }
  return TRUE;
}

static gboolean
netns_create (Netns *netns, GError **error)
{
  return run (error, "ip", "netns", "add", netns->server_ns, NULL) &&
         run (error, "ip", "netns", "add", netns->client_ns, NULL) &&
         run (error, "ip", "link", "add", netns->server_link, "netns",
              netns->server_ns, "type", "veth", "peer", "name",
              netns->client_link, "netns", netns->client_ns, NULL) &&
         run (error, "ip", "-n", netns->server_ns, "addr", "add",
              SERVER_ADDRESS "/24", "dev", netns->server_link, NULL) &&
         run (error, "ip", "-n", netns->client_ns, "addr", "add",
              CLIENT_ADDRESS "/24", "dev", netns->client_link, NULL) &&
         run (error, "ip", "-n", netns->server_ns, "link", "set", "lo", "up",
              NULL) &&
         run (error, "ip", "-n", netns->client_ns, "link", "set", "lo", "up",
              NULL) &&
         run (error, "ip", "-n", netns->server_ns, "link", "set",
              netns->server_link, "up", NULL) &&
         run (error, "ip", "-n", netns->client_ns, "link", "set",
              netns->client_link, "up", NULL);
}

/* Kills whatever still runs in @name and deletes it; deleting the
 * namespaces also deletes the veth pair. */
static void
netns_delete_one (const char *name)
{
  g_autofree char *path = g_strdup_printf ("/var/run/netns/%s", name);
  g_autofree char *pids = NULL;
  g_auto (GStrv) lines = NULL;
  const char *argv[] = { "ip", "netns", "pids", name, NULL };

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return;
  if (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                    &pids, NULL, NULL, NULL))
    {
      lines = g_strsplit (pids, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          guint64 pid;

          if (g_ascii_string_to_unsigned (lines[i], 10, 2, G_MAXINT, &pid,
                                          NULL))
            kill ((pid_t) pid, SIGKILL);
        }
    }
  if (!run (NULL, "ip", "netns", "del", name, NULL))
    g_test_message ("could not delete network namespace %s", name);
}

static void
netns_delete (Netns *netns)
{
  netns_delete_one (netns->client_ns);
  netns_delete_one (netns->server_ns);
}

/* ------------------------------------------------------------------ */
/* Sockets made inside a namespace.  setns(CLONE_NEWNET) changes the
 * namespace of the calling thread only, and a socket stays in the
 * namespace it was made in, so a short-lived thread makes each one. */

typedef struct
{
  const char *ns;
  guint16 port;
  ScTestPeer *peer; /* beside the server: a test peer on 127.0.0.1 */
  int fd;           /* across the link: a raw socket to the server */
} InNs;

static void
enter_netns (const char *name)
{
  g_autofree char *path = g_strdup_printf ("/var/run/netns/%s", name);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (setns (fd, CLONE_NEWNET), ==, 0);
  close (fd);
}

static gpointer
connect_beside_server (gpointer data)
{
  InNs *in = data;

  enter_netns (in->ns);
  in->peer = sc_test_peer_connect (in->port);
  return NULL;
}

static gpointer
connect_across_link (gpointer data)
{
  InNs *in = data;
  struct sockaddr_in address = { 0 };
  struct timeval timeout = { 5, 0 };

  enter_netns (in->ns);
  in->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (in->fd, >=, 0);
  /* Blocking, with a deadline on every call. */
  g_assert_cmpint (
    setsockopt (in->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout), ==,
    0);
  g_assert_cmpint (
    setsockopt (in->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), ==,
    0);
  address.sin_family = AF_INET;
  address.sin_port = htons (in->port);
  g_assert_cmpint (inet_pton (AF_INET, SERVER_ADDRESS, &address.sin_addr), ==,
                   1);
  if (connect (in->fd, (struct sockaddr *) &address, sizeof address) < 0)
    g_error ("connecting to %s port %u from %s: %s", SERVER_ADDRESS, in->port,
             in->ns, g_strerror (errno));
  return NULL;
}

static void
run_in_netns (GThreadFunc func, InNs *in)
{
  g_thread_join (g_thread_new ("sc-netns", func, in));
}

/* The next message on a blocking raw socket.  (transfer full) */
static ScMessage *
raw_receive (int fd, ScFrameReader *reader)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      ScFrameStatus status =
        sc_frame_reader_next (reader, &header, &payload, &error);
      gsize room;
      guint8 *buffer;
      ssize_t n;

      g_assert_no_error (error);
      if (status == SC_FRAME_READY)
        {
          ScMessage *message = sc_message_decode (&header, payload, &error);

          g_assert_no_error (error);
          return message;
        }
      buffer = sc_frame_reader_reserve (reader, 4096, &room);
      n = recv (fd, buffer, room, 0);
      if (n <= 0)
        g_error ("raw client: %s",
                 n == 0 ? "end of stream" : g_strerror (errno));
      sc_frame_reader_commit (reader, (gsize) n);
    }
}

static void
raw_send (int fd, const ScMessage *message)
{
  g_autoptr (GBytes) frame = sc_message_encode (message);
  g_autoptr (GError) error = NULL;
  gsize size;
  const void *data = g_bytes_get_data (frame, &size);

  g_assert_true (sc_socket_send_all (fd, data, size, &error));
  g_assert_no_error (error);
}

/* GREETING, HELLO, HELLO_REPLY on a raw socket; returns the client id. */
static guint32
raw_hello (int fd, const char *nickname)
{
  g_autoptr (ScFrameReader) reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  g_autoptr (ScMessage) greeting = raw_receive (fd, reader);
  g_autoptr (ScMessage) hello = sc_message_new (SC_MSG_HELLO, 1);
  g_autoptr (ScMessage) reply = NULL;

  g_assert_cmpuint (greeting->type, ==, SC_MSG_GREETING);
  g_assert_cmpuint (greeting->heartbeat_s, ==, IDLE_TIMEOUT_S);
  hello->version = SC_PROTOCOL_VERSION;
  hello->name = g_strdup ("test-faults-netns");
  hello->nickname = g_strdup (nickname);
  raw_send (fd, hello);
  reply = raw_receive (fd, reader);
  g_assert_cmpuint (reply->type, ==, SC_MSG_HELLO_REPLY);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->client_id, ==, greeting->client_id);
  return greeting->client_id;
}

/* ------------------------------------------------------------------ */

static void
check_vanished_client (void)
{
  Netns netns;
  g_autofree char *idle = g_strdup_printf ("%d", IDLE_TIMEOUT_S);
  g_autofree char *ping = g_strdup_printf ("%d", PING_TIMEOUT_S);
  g_autoptr (ScServerChild) server = NULL;
  g_autoptr (ScTestPeer) b = NULL;
  g_autoptr (ScMessage) joined = NULL;
  g_autoptr (ScMessage) left = NULL;
  g_autoptr (ScMessage) pong = NULL;
  g_autoptr (GError) error = NULL;
  InNs in_a = { 0 };
  InNs in_b = { 0 };
  guint bound_ms = (IDLE_TIMEOUT_S + PING_TIMEOUT_S + 3) * 1000;
  guint32 a_id;
  gint64 cut_at;
  gint64 elapsed_ms;

  netns_init (&netns, getppid ());
  {
    const char *prefix[] = { "ip", "netns", "exec", netns.server_ns, NULL };
    const char *args[] = { "--idle-timeout", idle, "--ping-timeout", ping,
                           NULL };
    ScFaultServerOptions options = { .prefix = prefix,
                                     .args = args,
                                     .bind = "0.0.0.0" };

    server = sc_fault_server_start (&options);
  }

  in_b.ns = netns.server_ns;
  in_b.port = sc_server_child_get_port (server);
  run_in_netns (connect_beside_server, &in_b);
  b = g_steal_pointer (&in_b.peer);
  sc_message_free (sc_test_peer_hello (b, "bob"));

  in_a.ns = netns.client_ns;
  in_a.port = in_b.port;
  run_in_netns (connect_across_link, &in_a);
  a_id = raw_hello (in_a.fd, "alice");
  joined = sc_test_peer_expect_about (b, SC_MSG_CLIENT_JOINED, a_id);
  g_assert_cmpstr (joined->sender.address, ==, CLIENT_ADDRESS);

  /* Pull the cable: A's end goes down, nothing more leaves or reaches A,
   * and A's socket stays open, so no FIN and no reset is ever sent. */
  g_assert_true (run (&error, "ip", "-n", netns.client_ns, "link", "set",
                      netns.client_link, "down", NULL));
  g_assert_no_error (error);
  cut_at = g_get_monotonic_time ();

  /* B answers its own SERVER_PINGs while it waits. */
  sc_test_peer_set_timeout (b, bound_ms);
  left = sc_test_peer_expect_about (b, SC_MSG_CLIENT_LEFT, a_id);
  elapsed_ms = (g_get_monotonic_time () - cut_at) / 1000;
  /* The subprocess's stdout is captured; stderr reaches the log. */
  g_printerr ("# A was declared gone %" G_GINT64_FORMAT
              " ms after the cut: status %u, \"%s\"\n",
              elapsed_ms, left->status, left->reason);
  g_assert_cmpint (elapsed_ms, <, bound_ms);
  /* The heartbeat (TIMEOUT) or TCP_USER_TIMEOUT (a lost connection).
   * Others get the reason word only; the details are in the log. */
  if (left->status != SC_STATUS_TIMEOUT)
    {
      g_assert_cmpuint (left->status, ==, SC_STATUS_OK);
      g_assert_cmpstr (left->reason, ==, "disconnected");
      g_assert_true (
        sc_server_child_wait_log (server, "connection lost", 1000));
    }
  else
    g_assert_cmpstr (left->reason, ==, "timed out");
  g_assert_true (sc_fault_server_wait_disconnect_log (server, a_id, 1000));

  /* B, silent just as long, was pinged and answered, so it is still
   * served. */
  {
    ScMessage *request = sc_message_new (SC_MSG_PING, 0);

    request->token = 77;
    pong = sc_test_peer_request (b, request);
    g_assert_cmpuint (pong->status, ==, SC_STATUS_OK);
    g_assert_cmpuint (pong->token, ==, 77);
  }

  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
  close (in_a.fd);
  netns_clear (&netns);
}

static void
test_vanished_client (void)
{
  g_autoptr (GError) error = NULL;
  Netns netns;

  if (g_test_subprocess ())
    {
      check_vanished_client ();
      return;
    }
  if (geteuid () != 0)
    {
      g_test_skip ("network namespaces need root");
      return;
    }
  netns_init (&netns, getpid ());
  if (!netns_create (&netns, &error))
    {
      g_autofree char *why = g_strdup_printf (
        "cannot make network namespaces here: %s", error->message);

      netns_delete (&netns);
      netns_clear (&netns);
      g_test_skip (why);
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_INHERIT_STDERR);
  netns_delete (&netns);
  netns_clear (&netns);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/network/vanished-client", test_vanished_client);
  return g_test_run ();
}
