/* test-faults-killed.c: clients killed with SIGKILL in the middle of a
 * frame, one while sending and one while receiving.
 *
 * Each victim is a forked child that talks to the server binary with
 * bare system calls (no allocation after fork) and tells the test
 * through a pipe where it is.  After the kill the server must stay up,
 * log the disconnect, tell the others (CLIENT_LEFT), send failed receipts
 * for the messages the victim never acknowledged, and serve a new client.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sc-fault-util.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

#define BIG_TEXT  60000
#define N_BIG     8
#define N_UNACKED 3

typedef struct
{
  pid_t pid;
  int notify_fd; /* the child writes one byte per step */
  int go_fd;     /* the test writes one byte to let it go on */
  guint16 local_port;
} Victim;

/* Everything the child sends, encoded before the fork. */
typedef struct
{
  guint16 port;
  int rcvbuf;
  GBytes *hello;
  GBytes *then; /* sent after the go byte; may be NULL */
  /* Before sending @then, read frames until this many MESSAGE frames
   * have come. */
  guint drain_messages;
} Script;

#define CHILD_DEADLINE_MS 5000

static gint64
child_now_ms (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (gint64) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Reads exactly @length bytes into @buffer (or discards them when
 * @buffer is NULL); exits the child when the stream ends or the deadline
 * passes.  Async-signal-safe. */
static void
read_exact (int fd, guint8 *buffer, gsize length, gint64 deadline_ms)
{
  guint8 sink[4096];

  while (length > 0)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      gint64 left = deadline_ms - child_now_ms ();
      gsize want = buffer != NULL ? length : MIN (length, sizeof sink);
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, (int) left) == 0)
        _exit (5);
      n = recv (fd, buffer != NULL ? buffer : sink, want, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit (5);
      if (buffer != NULL)
        buffer += n;
      length -= (gsize) n;
    }
}

/* Reads whole frames until @n_messages MESSAGE frames have come.
 * Async-signal-safe: the header is taken apart by hand. */
static void
drain_messages (int fd, guint n_messages)
{
  gint64 deadline_ms = child_now_ms () + CHILD_DEADLINE_MS;

  while (n_messages > 0)
    {
      guint8 header[SC_FRAME_HEADER_SIZE];
      guint32 length;

      read_exact (fd, header, sizeof header, deadline_ms);
      length = (guint32) header[12] << 24 | (guint32) header[13] << 16 |
               (guint32) header[14] << 8 | header[15];
      read_exact (fd, NULL, length, deadline_ms);
      if (header[3] == SC_MSG_MESSAGE)
        n_messages--;
    }
}

static void
write_all (int fd, const guint8 *data, gsize length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        _exit (3);
      data += n;
      length -= (gsize) n;
    }
}

/* The child: async-signal-safe calls only. */
G_GNUC_NORETURN static void
victim_main (const Script *script, int notify_fd, int go_fd)
{
  struct sockaddr_in address = { 0 };
  socklen_t address_length = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint8 step[1 + sizeof (int)];
  int unread = 0;
  char go;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (fd < 0)
    _exit (2);
  if (script->rcvbuf > 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &script->rcvbuf,
                sizeof script->rcvbuf);
  address.sin_family = AF_INET;
  address.sin_port = htons (script->port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &address, sizeof address) < 0)
    _exit (2);
  write_all (fd, g_bytes_get_data (script->hello, NULL),
             g_bytes_get_size (script->hello));
  /* Step 1: connected and said hello; with its local port (network byte
   * order), by which the test finds its socket in /proc/net/tcp. */
  if (getsockname (fd, (struct sockaddr *) &address, &address_length) < 0)
    _exit (2);
  step[0] = 'c';
  memcpy (step + 1, &address.sin_port, sizeof address.sin_port);
  write_all (notify_fd, step, 1 + sizeof address.sin_port);
  if (read (go_fd, &go, 1) != 1)
    _exit (4);
  /* Read everything the server sends it (the messages the test sent), so
   * that the kill ends the stream with a FIN after the half frame rather
   * than a reset for unread data. */
  drain_messages (fd, script->drain_messages);
  if (script->then != NULL)
    write_all (fd, g_bytes_get_data (script->then, NULL),
               g_bytes_get_size (script->then));
  /* Step 2: done; with how many received bytes it has not read. */
  if (ioctl (fd, SIOCINQ, &unread) < 0)
    unread = -1;
  step[0] = 's';
  memcpy (step + 1, &unread, sizeof unread);
  write_all (notify_fd, step, 1 + sizeof unread);
  for (;;)
    pause ();
}

static void
wait_step (Victim *victim, char expected, guint8 *extra, gsize n_extra)
{
  struct pollfd pfd = { victim->notify_fd, POLLIN, 0 };
  guint8 step[1 + sizeof (int)];
  ssize_t n;

  g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
  n = read (victim->notify_fd, step, 1 + n_extra);
  g_assert_cmpint (n, ==, (gssize) (1 + n_extra));
  g_assert_cmpint (step[0], ==, expected);
  if (n_extra > 0)
    memcpy (extra, step + 1, n_extra);
}

static Victim *
victim_start (const Script *script)
{
  Victim *victim = g_new0 (Victim, 1);
  int notify[2];
  int go[2];

  g_assert_cmpint (pipe (notify), ==, 0);
  g_assert_cmpint (pipe (go), ==, 0);
  victim->pid = fork ();
  g_assert_cmpint (victim->pid, >=, 0);
  if (victim->pid == 0)
    {
      close (notify[0]);
      close (go[1]);
      victim_main (script, notify[1], go[0]);
    }
  close (notify[1]);
  close (go[0]);
  victim->notify_fd = notify[0];
  victim->go_fd = go[1];
  wait_step (victim, 'c', (guint8 *) &victim->local_port,
             sizeof victim->local_port);
  victim->local_port = g_ntohs (victim->local_port);
  return victim;
}

/* Lets the child go on; returns how many bytes it had received and not
 * read when it was done. */
static int
victim_go (Victim *victim)
{
  int unread = 0;

  g_assert_cmpint (write (victim->go_fd, "g", 1), ==, 1);
  wait_step (victim, 's', (guint8 *) &unread, sizeof unread);
  return unread;
}

static void
victim_kill (Victim *victim)
{
  int status = 0;

  g_assert_cmpint (kill (victim->pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (victim->pid, &status, 0), ==, victim->pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  victim->pid = 0;
}

static void
victim_free (Victim *victim)
{
  if (victim->pid > 0)
    {
      kill (victim->pid, SIGKILL);
      waitpid (victim->pid, NULL, 0);
    }
  close (victim->notify_fd);
  close (victim->go_fd);
  g_free (victim);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Victim, victim_free)

static GBytes *
hello_frame (const char *nickname)
{
  g_autoptr (ScMessage) hello = sc_message_new (SC_MSG_HELLO, 1);

  hello->version = SC_PROTOCOL_VERSION;
  hello->name = g_strdup ("test-faults-victim");
  hello->nickname = g_strdup (nickname);
  return sc_message_encode (hello);
}

/* Sends @count messages of @length bytes to @recipient; returns the
 * accepted message ids.  (transfer full) */
static GHashTable *
send_to (ScTestPeer *sender, guint32 recipient, guint count, gsize length)
{
  GHashTable *ids =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autofree char *text = sc_test_text (length, 'k');

  for (guint i = 0; i < count; i++)
    {
      ScMessage *request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
      g_autoptr (ScMessage) reply = NULL;

      request->peer_id = recipient;
      request->text = g_strdup (text);
      reply = sc_test_peer_request (sender, request);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      g_hash_table_add (ids, g_memdup2 (&reply->message_id, sizeof (guint64)));
    }
  return ids;
}

/* What must follow the death of @victim_id: CLIENT_LEFT to @other, one
 * failed receipt per message in @unacked, the log line, and service. */
static void
check_aftermath (ScServerChild *server,
                 ScTestPeer *other,
                 guint32 victim_id,
                 GHashTable *unacked)
{
  g_autoptr (ScMessage) left =
    sc_test_peer_expect_about (other, SC_MSG_CLIENT_LEFT, victim_id);
  g_autoptr (ScTestPeer) newcomer = NULL;
  g_autoptr (ScMessage) pong = NULL;
  ScMessage *ping;

  g_test_message ("CLIENT_LEFT %u: status %u, “%s”", victim_id, left->status,
                  left->reason);
  while (g_hash_table_size (unacked) > 0)
    {
      g_autoptr (ScMessage) receipt =
        sc_test_peer_expect (other, SC_MSG_DELIVERY_RECEIPT);

      g_assert_cmpuint (receipt->peer_id, ==, victim_id);
      g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_LEFT);
      g_assert_true (g_hash_table_remove (unacked, &receipt->message_id));
    }
  sc_test_peer_expect_none (other, SC_MSG_DELIVERY_RECEIPT, 200);
  g_assert_true (sc_fault_server_wait_disconnect_log (server, victim_id, 2000));
  g_assert_true (sc_server_child_is_running (server));

  newcomer = sc_test_peer_connect (sc_server_child_get_port (server));
  g_assert_cmpuint (sc_test_peer_get_id (newcomer), >, victim_id);
  sc_message_free (sc_test_peer_hello (newcomer, "newcomer"));
  ping = sc_message_new (SC_MSG_PING, 0);
  ping->token = 5;
  pong = sc_test_peer_request (newcomer, ping);
  g_assert_cmpuint (pong->status, ==, SC_STATUS_OK);
}

typedef struct
{
  guint16 victim_port;
  guint16 server_port;
} Connection;

/* Whether every byte the victim sent has been acknowledged by the
 * server's side and read by the server, and the victim has nothing
 * unread.  The queues are read from /proc/net/tcp. */
static gboolean
half_frame_read (gpointer data)
{
  Connection *connection = data;
  guint victim_tx, victim_rx, server_tx, server_rx;

  return sc_fault_tcp_queues (connection->victim_port, connection->server_port,
                              &victim_tx, &victim_rx) &&
         sc_fault_tcp_queues (connection->server_port, connection->victim_port,
                              &server_tx, &server_rx) &&
         victim_tx == 0 && victim_rx == 0 && server_rx == 0;
}

/* Killed with half a SEND_MESSAGE frame (the header and half the payload)
 * written: the server holds an incomplete frame when the stream ends. */
static void
test_killed_mid_send (void)
{
  ScFaultServerOptions options = { 0 };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  g_autoptr (ScTestPeer) other = NULL;
  g_autoptr (ScMessage) send = sc_message_new (SC_MSG_SEND_MESSAGE, 2);
  g_autoptr (GBytes) whole = NULL;
  g_autoptr (GHashTable) unacked = NULL;
  g_autoptr (Victim) victim = NULL;
  Script script = { 0 };
  Connection connection;
  guint32 victim_id;

  other = sc_test_peer_connect (sc_server_child_get_port (server));
  sc_message_free (sc_test_peer_hello (other, "other"));

  send->peer_id = sc_test_peer_get_id (other);
  send->text = sc_test_text (BIG_TEXT, 'h');
  whole = sc_message_encode (send);
  script.port = sc_server_child_get_port (server);
  script.hello = hello_frame ("half-sender");
  script.drain_messages = N_UNACKED;
  script.then = g_bytes_new_from_bytes (
    whole, 0, SC_FRAME_HEADER_SIZE + (g_bytes_get_size (whole) - 16) / 2);
  victim = victim_start (&script);
  victim_id = sc_test_peer_wait_joined (other, "half-sender");

  /* Messages it will never acknowledge: it reads them, nothing more. */
  unacked = send_to (other, victim_id, N_UNACKED, 100);
  victim_go (victim);
  /* The half frame has reached the server, which has read it, and the
   * victim has nothing unread, before the kill. */
  connection.victim_port = victim->local_port;
  connection.server_port = sc_server_child_get_port (server);
  g_assert_true (sc_test_wait_until (half_frame_read, &connection, 5000));
  victim_kill (victim);

  check_aftermath (server, other, victim_id, unacked);
  /* The half frame was never served. */
  sc_test_peer_expect_none (other, SC_MSG_MESSAGE, 200);
  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
  g_bytes_unref (script.hello);
  g_bytes_unref (script.then);
}

/* Killed while large messages to it are on their way: it reads nothing
 * through a small receive buffer, so they sit in its socket and the
 * server's. */
static void
test_killed_mid_receive (void)
{
  ScFaultServerOptions options = { 0 };
  g_autoptr (ScServerChild) server = sc_fault_server_start (&options);
  guint16 server_port = sc_server_child_get_port (server);
  g_autoptr (ScTestPeer) other = NULL;
  g_autoptr (GHashTable) unacked = NULL;
  g_autoptr (Victim) victim = NULL;
  Script script = { 0 };
  int victim_unread;
  guint32 victim_id;

  other = sc_test_peer_connect (server_port);
  sc_message_free (sc_test_peer_hello (other, "other"));

  script.port = server_port;
  script.rcvbuf = 4096;
  script.hello = hello_frame ("receiver");
  victim = victim_start (&script);
  victim_id = sc_test_peer_wait_joined (other, "receiver");

  unacked = send_to (other, victim_id, N_BIG, BIG_TEXT);
  /* Data in flight: the victim's socket holds bytes it has not read, and
   * far less than was sent, so the rest waits in the server. */
  victim_unread = victim_go (victim);
  g_test_message ("in flight: %d bytes unread by the victim of %u sent",
                  victim_unread, N_BIG * BIG_TEXT);
  g_assert_cmpint (victim_unread, >, 0);
  g_assert_cmpint (victim_unread, <, N_BIG * BIG_TEXT / 2);
  victim_kill (victim);

  check_aftermath (server, other, victim_id, unacked);
  g_assert_cmpint (sc_fault_server_stop (server, 10000), ==, 0);
  g_bytes_unref (script.hello);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/faults/killed/mid-send", test_killed_mid_send);
  g_test_add_func ("/faults/killed/mid-receive", test_killed_mid_receive);
  return g_test_run ();
}
