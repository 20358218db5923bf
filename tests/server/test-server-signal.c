/* test-server-signal.c: the real sockchat-server binary as a child: its
 * command line, its exit statuses and its shutdown on SIGTERM/SIGINT.
 *
 * The binary comes from SC_SERVER_BINARY (set by meson).  Every wait on
 * the child has a deadline; a child that outlives one is killed and the
 * test fails.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef struct
{
  GPid pid;
  int out_fd;
  int err_fd;
  GString *out;
  GString *err;
  gboolean exited;
  int wait_status;
} Child;

static void
child_free (Child *child)
{
  if (!child->exited)
    {
      kill (child->pid, SIGKILL);
      waitpid (child->pid, NULL, 0);
    }
  if (child->out_fd >= 0)
    close (child->out_fd);
  if (child->err_fd >= 0)
    close (child->err_fd);
  g_string_free (child->out, TRUE);
  g_string_free (child->err, TRUE);
  g_free (child);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Child, child_free)

static Child *
child_spawn (const char *const *args)
{
  const char *binary = g_getenv ("SC_SERVER_BINARY");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  Child *child = g_new0 (Child, 1);

  g_assert_nonnull (binary);
  g_ptr_array_add (argv, (gpointer) binary);
  for (gsize i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  child->out = g_string_new (NULL);
  child->err = g_string_new (NULL);
  g_assert_true (g_spawn_async_with_pipes (
    NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
    &child->pid, NULL, &child->out_fd, &child->err_fd, &error));
  g_assert_no_error (error);
  return child;
}

/* Appends what one descriptor has to @buffer; closes it at its end. */
static void
drain_fd (int *fd, GString *buffer)
{
  char chunk[4096];
  ssize_t n;

  do
    n = read (*fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    g_string_append_len (buffer, chunk, n);
  else
    {
      close (*fd);
      *fd = -1;
    }
}

/* Waits up to @wait_ms for output, then reaps the child if it exited. */
static void
child_pump (Child *child, int wait_ms)
{
  struct pollfd pfds[2] = { { child->out_fd, POLLIN, 0 },
                            { child->err_fd, POLLIN, 0 } };

  if (poll (pfds, 2, wait_ms) > 0)
    {
      if (pfds[0].revents != 0 && child->out_fd >= 0)
        drain_fd (&child->out_fd, child->out);
      if (pfds[1].revents != 0 && child->err_fd >= 0)
        drain_fd (&child->err_fd, child->err);
    }
  if (!child->exited &&
      waitpid (child->pid, &child->wait_status, WNOHANG) == child->pid)
    child->exited = TRUE;
}

static gboolean
child_finished (Child *child)
{
  return child->exited && child->out_fd < 0 && child->err_fd < 0;
}

/* Waits for the child to exit and close its output; returns its exit
 * status, failing the test if it is killed by a signal or is too slow. */
static int
child_wait_exit (Child *child, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!child_finished (child) && g_get_monotonic_time () < deadline)
    child_pump (child, 20);
  if (!child_finished (child))
    g_error ("sockchat-server did not exit within %u ms; stderr: %s",
             timeout_ms, child->err->str);
  if (!WIFEXITED (child->wait_status))
    g_error ("sockchat-server died with wait status 0x%x; stderr: %s",
             child->wait_status, child->err->str);
  return WEXITSTATUS (child->wait_status);
}

/* Reads the "listening on port N" line the server prints at start. */
static guint16
child_read_port (Child *child)
{
  static const char prefix[] = "sockchat-server: listening on port ";
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  g_autofree char *digits = NULL;
  guint64 port = 0;
  const char *line;

  while (strchr (child->out->str, '\n') == NULL && !child->exited &&
         g_get_monotonic_time () < deadline)
    child_pump (child, 20);
  line = strstr (child->out->str, prefix);
  if (line == NULL || strchr (line, '\n') == NULL)
    g_error ("no port announcement; stdout: “%s”, stderr: “%s”",
             child->out->str, child->err->str);
  line += strlen (prefix);
  digits = g_strndup (line, strcspn (line, "\n"));
  g_assert_true (
    g_ascii_string_to_unsigned (digits, 10, 1, 65535, &port, NULL));
  return (guint16) port;
}

static char *
threads_arg (void)
{
  return g_strdup_printf ("%u", sc_test_threads ());
}

static Child *
start_server (void)
{
  g_autofree char *threads = threads_arg ();
  const char *args[] = { "--port",    "0",     "--bind", "127.0.0.1",
                         "--threads", threads, NULL };

  return child_spawn (args);
}

/* ------------------------------------------------------------------ */

static void
check_stop_on_signal (int signal_number)
{
  g_autoptr (Child) child = start_server ();
  guint16 port = child_read_port (child);
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (port);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (port);
  g_autoptr (ScMessage) notice_a = NULL;
  g_autoptr (ScMessage) notice_b = NULL;
  gint64 start;

  sc_message_free (sc_test_peer_hello (a, "alice"));
  sc_message_free (sc_test_peer_hello (b, "bob"));
  start = g_get_monotonic_time ();
  g_assert_cmpint (kill (child->pid, signal_number), ==, 0);

  notice_a = sc_test_peer_expect (a, SC_MSG_SERVER_SHUTDOWN);
  notice_b = sc_test_peer_expect (b, SC_MSG_SERVER_SHUTDOWN);
  g_assert_cmpstr (notice_a->reason, !=, "");
  sc_test_peer_expect_closed (a);
  sc_test_peer_expect_closed (b);
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static void
test_sigterm (void)
{
  check_stop_on_signal (SIGTERM);
}

static void
test_sigint (void)
{
  check_stop_on_signal (SIGINT);
}

static void
test_sigterm_idle (void)
{
  g_autoptr (Child) child = start_server ();

  child_read_port (child);
  g_assert_cmpint (kill (child->pid, SIGTERM), ==, 0);
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
}

static void
check_usage_error (const char *const *args, const char *expected)
{
  g_autoptr (Child) child = child_spawn (args);

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 2);
  g_test_message ("stderr: %s", child->err->str);
  g_assert_nonnull (strstr (child->err->str, expected));
  g_assert_cmpstr (child->out->str, ==, "");
}

static void
test_bad_port (void)
{
  const char *args[] = { "--port", "70000", "--bind", "127.0.0.1", NULL };

  check_usage_error (args, "70000");
  {
    const char *negative[] = { "--port", "-1", NULL };

    check_usage_error (negative, "port");
  }
}

static void
test_bad_threads (void)
{
  const char *args[] = { "--port", "0", "--threads", "abc", NULL };
  const char *zero[] = { "--port", "0", "--threads", "0", NULL };

  check_usage_error (args, "abc");
  check_usage_error (zero, "threads");
}

static void
test_extra_argument (void)
{
  const char *args[] = { "--port", "0", "surplus", NULL };

  check_usage_error (args, "surplus");
}

/* A listening socket on 127.0.0.1 with an OS-chosen port. */
static int
listen_somewhere (guint16 *port)
{
  struct sockaddr_in address = { 0 };
  socklen_t length = sizeof address;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==,
                   0);
  g_assert_cmpint (listen (fd, 1), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &address, &length), ==,
                   0);
  *port = ntohs (address.sin_port);
  return fd;
}

static void
test_port_in_use (void)
{
  guint16 port;
  int fd = listen_somewhere (&port);
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char *args[] = { "--port", port_text, "--bind", "127.0.0.1", NULL };
  g_autoptr (Child) child = child_spawn (args);
  const char *newline;

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 1);
  close (fd);
  g_test_message ("stderr: %s", child->err->str);
  /* One line, naming the port. */
  newline = strchr (child->err->str, '\n');
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline + 1, ==, "");
  g_assert_nonnull (strstr (child->err->str, port_text));
  g_assert_cmpstr (child->out->str, ==, "");
}

/* The secret is read from the first line of the file; a HELLO without it
 * is refused, one with it joins. */
static void
test_password_file (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sockchat-password-XXXXXX", &path, NULL);
  g_autofree char *threads = threads_arg ();
  const char *args[] = { "--port",          "0",         "--bind",
                         "127.0.0.1",       "--threads", threads,
                         "--password-file", NULL,        NULL };
  g_autoptr (Child) child = NULL;
  g_autoptr (ScTestPeer) guest = NULL;
  g_autoptr (ScTestPeer) member = NULL;
  ScMessage *hello;
  g_autoptr (ScMessage) refused = NULL;
  g_autoptr (ScMessage) joined = NULL;
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "letmein\nignored\n", 16), ==, 16);
  close (fd);
  args[7] = path;
  child = child_spawn (args);
  port = child_read_port (child);

  guest = sc_test_peer_connect (port);
  hello = sc_message_new (SC_MSG_HELLO, 0);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("");
  refused = sc_test_peer_request (guest, hello);
  g_assert_cmpuint (refused->status, ==, SC_STATUS_AUTH_FAILED);
  sc_test_peer_expect_closed (guest);

  member = sc_test_peer_connect (port);
  hello = sc_message_new (SC_MSG_HELLO, 0);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("");
  hello->password = g_strdup ("letmein");
  joined = sc_test_peer_request (member, hello);
  g_assert_cmpuint (joined->status, ==, SC_STATUS_OK);

  kill (child->pid, SIGTERM);
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  g_unlink (path);
}

/* The admission limits from the command line and from a configuration
 * file: --max-per-address 2 (file) turns the oldest of three silent
 * connections from one address away, --frame-timeout 1 (command line)
 * closes a client that trickles a frame; bad values are usage errors. */
static void
test_admission_limits (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sockchat-config-XXXXXX", &path, NULL);
  static const char config[] = "[server]\nmax-per-address=2\n"
                               "max-pending=64\n";
  g_autofree char *threads = threads_arg ();
  const char *args[] = { "--port",          "0",     "--bind",   "127.0.0.1",
                         "--threads",       threads, "--config", NULL,
                         "--frame-timeout", "1",     NULL };
  const char *bad_pending[] = { "--port", "0", "--max-pending", "0", NULL };
  const char *bad_frame[] = { "--port", "0", "--frame-timeout", "0", NULL };
  g_autoptr (Child) child = NULL;
  ScTestPeer *silent[3];
  g_autoptr (ScTestPeer) slow = NULL;
  g_autoptr (ScMessage) evicted = NULL;
  g_autoptr (ScMessage) timeout = NULL;
  g_autoptr (ScMessage) broadcast = sc_message_new (SC_MSG_BROADCAST, 1);
  g_autoptr (GBytes) frame = NULL;
  const guint8 *bytes;
  gsize size;
  guint16 port;
  gint64 start;
  guint sent = 0;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, config, strlen (config)), ==, strlen (config));
  close (fd);
  args[7] = path;
  child = child_spawn (args);
  port = child_read_port (child);

  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    silent[i] = sc_test_peer_connect (port);
  evicted = sc_test_peer_try_expect (silent[0], SC_MSG_PROTOCOL_ERROR, 5000);
  g_assert_nonnull (evicted);
  g_assert_cmpuint (evicted->status, ==, SC_STATUS_SERVER_FULL);
  sc_test_peer_expect_closed (silent[0]);
  sc_test_peer_expect_none (silent[2], SC_MSG_PROTOCOL_ERROR, 50);

  slow = sc_test_peer_connect (port);
  sc_message_free (sc_test_peer_hello (slow, "slow"));
  broadcast->text = sc_test_text (200, 'x');
  frame = sc_message_encode (broadcast);
  bytes = g_bytes_get_data (frame, &size);
  start = g_get_monotonic_time ();
  /* One byte every 100 ms (the answer is waited for in between). */
  while (timeout == NULL && sent < size &&
         g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC)
    {
      sc_test_peer_send_raw (slow, bytes + sent++, 1);
      timeout = sc_test_peer_try_expect (slow, SC_MSG_PROTOCOL_ERROR, 100);
    }
  g_assert_nonnull (timeout);
  g_assert_cmpuint (timeout->status, ==, SC_STATUS_TIMEOUT);

  kill (child->pid, SIGTERM);
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (silent); i++)
    sc_test_peer_free (silent[i]);
  g_unlink (path);

  check_usage_error (bad_pending, "max-pending");
  check_usage_error (bad_frame, "frame-timeout");
}

/* An empty or unreadable password file is a usage error, not a server
 * that lets everyone in. */
static void
test_bad_password_file (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sockchat-password-XXXXXX", &path, NULL);
  const char *empty[] = { "--port", "0", "--password-file", NULL, NULL };
  const char *missing[] = { "--port", "0", "--password-file",
                            "/nonexistent/sockchat-password", NULL };

  g_assert_cmpint (fd, >=, 0);
  close (fd);
  empty[3] = path;
  check_usage_error (empty, "password file");
  check_usage_error (missing, "/nonexistent/sockchat-password");
  g_unlink (path);
}

static void
test_version (void)
{
  const char *args[] = { "--version", NULL };
  g_autoptr (Child) child = child_spawn (args);

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  g_assert_cmpstr (child->out->str, ==,
                   "sockchat-server " PACKAGE_VERSION "\n");
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

  g_test_add_func ("/server/signal/sigterm", test_sigterm);
  g_test_add_func ("/server/signal/sigint", test_sigint);
  g_test_add_func ("/server/signal/sigterm-idle", test_sigterm_idle);
  g_test_add_func ("/server/cli/bad-port", test_bad_port);
  g_test_add_func ("/server/cli/bad-threads", test_bad_threads);
  g_test_add_func ("/server/cli/extra-argument", test_extra_argument);
  g_test_add_func ("/server/cli/port-in-use", test_port_in_use);
  g_test_add_func ("/server/cli/password-file", test_password_file);
  g_test_add_func ("/server/cli/bad-password-file", test_bad_password_file);
  g_test_add_func ("/server/cli/version", test_version);
  g_test_add_func ("/server/cli/admission-limits", test_admission_limits);

  return g_test_run ();
}
