/* test-server-signal.c: the real sockchat-server binary as a child: its
 * command line, its exit statuses and its shutdown on SIGTERM/SIGINT.
 *
 * The binary comes from SC_SERVER_BINARY (set by meson) and runs as an
 * ScServerChild (tests/support).  Every wait on the child has a deadline;
 * a child that outlives one is killed and the test fails.
 */
#include "config.h"

#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "sc-server-child.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

/* Starts the server binary with @args; waits for nothing.  Its output
 * is collected for the checks.  (transfer full) */
static ScServerChild *
child_spawn (const char *const *args)
{
  ScServerChildOptions options = { .args = args };
  g_autoptr (GError) error = NULL;
  ScServerChild *child = sc_server_child_spawn (&options, &error);

  g_assert_no_error (error);
  return child;
}

/* Waits for the child to exit and close its output; returns its exit
 * status, failing the test if it is killed by a signal or is too slow. */
static int
child_wait_exit (ScServerChild *child, guint timeout_ms)
{
  g_autoptr (GError) error = NULL;
  int status = sc_server_child_wait_exit (child, timeout_ms, &error);

  g_assert_no_error (error);
  return status;
}

static guint16
child_read_port (ScServerChild *child)
{
  g_autoptr (GError) error = NULL;
  guint16 port = sc_server_child_read_port (child, 5000, &error);

  g_assert_no_error (error);
  return port;
}

static char *
threads_arg (void)
{
  return g_strdup_printf ("%u", sc_test_threads ());
}

static ScServerChild *
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
  g_autoptr (ScServerChild) child = start_server ();
  guint16 port = child_read_port (child);
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (port);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (port);
  g_autoptr (ScMessage) notice_a = NULL;
  g_autoptr (ScMessage) notice_b = NULL;
  gint64 start;

  sc_message_free (sc_test_peer_hello (a, "alice"));
  sc_message_free (sc_test_peer_hello (b, "bob"));
  start = g_get_monotonic_time ();
  g_assert_true (sc_server_child_signal (child, signal_number));

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
  g_autoptr (ScServerChild) child = start_server ();

  child_read_port (child);
  g_assert_true (sc_server_child_signal (child, SIGTERM));
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
}

static void
check_usage_error (const char *const *args, const char *expected)
{
  g_autoptr (ScServerChild) child = child_spawn (args);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 2);
  out = sc_server_child_get_stdout (child);
  err = sc_server_child_get_stderr (child);
  g_test_message ("stderr: %s", err);
  g_assert_nonnull (strstr (err, expected));
  g_assert_cmpstr (out, ==, "");
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

/* The cluster's numeric settings are checked whether or not --cluster is
 * given, so one configuration file serves every build. */
static void
test_bad_cluster_setting (void)
{
  const char *zero[] = { "--port", "0", "--delete-markers-kept", "0", NULL };
  const char *word[] = { "--port", "0", "--delete-markers-kept", "soon", NULL };

  check_usage_error (zero, "delete-markers-kept must be between 1 and 604800");
  check_usage_error (word, "delete-markers-kept wants a number, not “soon”");
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
  g_autoptr (ScServerChild) child = child_spawn (args);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *newline;

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 1);
  close (fd);
  out = sc_server_child_get_stdout (child);
  err = sc_server_child_get_stderr (child);
  g_test_message ("stderr: %s", err);
  /* One line, naming the port. */
  newline = strchr (err, '\n');
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline + 1, ==, "");
  g_assert_nonnull (strstr (err, port_text));
  g_assert_cmpstr (out, ==, "");
}

/* The secret is read from the first line of the file; a HELLO without it
 * is refused, one with it joins. */
static void
test_password_file (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sockchat-password-XXXXXX", &path, NULL);
  g_autofree char *threads = threads_arg ();
  const char *args[] = { "--port",
                         "0",
                         "--bind",
                         "127.0.0.1",
                         "--threads",
                         threads,
                         "--password-file",
                         NULL,
                         "--allow-plaintext-password",
                         NULL };
  g_autoptr (ScServerChild) child = NULL;
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

  g_assert_true (sc_server_child_signal (child, SIGTERM));
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
  g_autoptr (ScServerChild) child = NULL;
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

  g_assert_true (sc_server_child_signal (child, SIGTERM));
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

/* sockchat-server --accounts-file FILE --add-account NAME, the password
 * on standard input (not a terminal); returns the exit status. */
static int
add_account (const char *path, const char *nickname, const char *password)
{
  const char *binary = g_getenv ("SC_SERVER_BINARY");
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = g_subprocess_new (
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE,
    &error, binary, "--accounts-file", path, "--add-account", nickname, NULL);
  g_autofree char *input = g_strdup_printf ("%s\n", password);

  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (process);
}

/* --add-account writes a 0600 file and refuses a name registered
 * already, in any case; the server then lets the owner in with the
 * password and, with --accounts-only, nobody unregistered. */
static void
test_accounts_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sockchat-accounts-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "accounts", NULL);
  g_autofree char *threads = threads_arg ();
  const char *args[] = { "--port", "0", "--bind", "127.0.0.1", "--threads",
                         threads, "--accounts-file", path, "--accounts-only",
                         /* Over plain TCP: the test's peer has no TLS. */
                         "--allow-plaintext-password", NULL };
  g_autoptr (ScServerChild) child = NULL;
  g_autoptr (ScTestPeer) peer = NULL;
  g_autoptr (ScMessage) refused = NULL;
  g_autoptr (ScMessage) joined = NULL;
  ScMessage *hello;
  GStatBuf st;

  g_assert_cmpint (add_account (path, "alice", "wonderland"), ==, 0);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (add_account (path, "Alice", "other"), ==, 1);
  g_assert_cmpint (add_account (path, "bad\u202Ename", "x"), ==, 1);

  child = child_spawn (args);
  peer = sc_test_peer_connect (child_read_port (child));
  hello = sc_message_new (SC_MSG_HELLO, 0);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("carol");
  refused = sc_test_peer_request (peer, hello);
  g_assert_cmpuint (refused->status, ==, SC_STATUS_INVALID_NICKNAME);
  hello = sc_message_new (SC_MSG_HELLO, 0);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("alice");
  hello->password = g_strdup ("wonderland");
  joined = sc_test_peer_request (peer, hello);
  g_assert_cmpuint (joined->status, ==, SC_STATUS_OK);
  g_assert_true (sc_server_child_signal (child, SIGTERM));
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  g_unlink (path);
  g_rmdir (dir);
}

/* The status of a HELLO as @nickname with @password, on a new
 * connection. */
static ScStatus
hello_status (guint16 port, const char *nickname, const char *password)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (port);
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autoptr (ScMessage) reply = NULL;

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup (nickname);
  hello->password = g_strdup (password);
  reply = sc_test_peer_request (peer, hello);
  return reply->status;
}

typedef struct
{
  guint16 port;
  const char *nickname, *password;
} Login;

static gboolean
login_accepted (gpointer data)
{
  Login *login = data;

  return hello_status (login->port, login->nickname, login->password) ==
         SC_STATUS_OK;
}

/* An account added while the server runs is taken on SIGHUP; a file
 * broken meanwhile is refused on SIGHUP and the accounts read before
 * stay. */
static void
test_sighup_accounts (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sockchat-accounts-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "accounts", NULL);
  const char *args[] = { "--port",
                         "0",
                         "--bind",
                         "127.0.0.1",
                         "--accounts-file",
                         path,
                         "--accounts-only",
                         "--allow-plaintext-password",
                         NULL };
  g_autoptr (ScServerChild) child = NULL;
  g_autofree char *log = NULL;
  Login bob = { 0, "bob", "builder" };
  FILE *file;

  /* The refused reload's warning must not abort the server. */
  ScServerChildOptions options = { .args = args, .g_debug = "" };
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (add_account (path, "alice", "wonderland"), ==, 0);
  child = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  bob.port = child_read_port (child);
  g_assert_cmpint (add_account (path, "bob", "builder"), ==, 0);
  /* Not yet: the server read the file when it started. */
  g_assert_cmpuint (hello_status (bob.port, "bob", "builder"), ==,
                    SC_STATUS_INVALID_NICKNAME);
  g_assert_true (sc_server_child_signal (child, SIGHUP));
  sc_test_wait_until (login_accepted, &bob, 5000);

  file = g_fopen (path, "a");
  g_assert_nonnull (file);
  fputs ("carol-without-a-hash\n", file);
  fclose (file);
  g_assert_true (sc_server_child_signal (child, SIGHUP));
  /* The warning comes once the signal is handled; until then and after
   * it, both accounts hold. */
  g_assert_cmpuint (hello_status (bob.port, "alice", "wonderland"), ==,
                    SC_STATUS_OK);
  g_assert_cmpuint (hello_status (bob.port, "bob", NULL), ==,
                    SC_STATUS_NICKNAME_REGISTERED);
  g_assert_true (sc_server_child_signal (child, SIGTERM));
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  log = sc_server_child_get_stderr (child);
  g_assert_nonnull (strstr (log, "reloaded the accounts file: 2 registered"));
  g_assert_nonnull (strstr (log, "accounts not reloaded, the earlier ones "
                                 "stay"));
  g_unlink (path);
  g_rmdir (dir);
}

/* A HELLO for the login's nickname without a password is told that the
 * nickname is registered. */
static gboolean
registered_now (gpointer data)
{
  Login *login = data;

  return hello_status (login->port, login->nickname, NULL) ==
         SC_STATUS_NICKNAME_REGISTERED;
}

/* A client that took a nickname before it was registered does not own
 * the account: after the reload, changing the name's case needs the
 * password like any other claim, while the account's owner (who gave it)
 * may change the case freely. */
static void
test_sighup_accounts_holder (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sockchat-accounts-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "accounts", NULL);
  const char *args[] = { "--port",
                         "0",
                         "--bind",
                         "127.0.0.1",
                         "--accounts-file",
                         path,
                         "--allow-plaintext-password",
                         NULL };
  ScServerChildOptions options = { .args = args };
  g_autoptr (ScServerChild) child = NULL;
  g_autoptr (ScTestPeer) early = NULL;
  g_autoptr (ScMessage) joined = NULL;
  g_autoptr (ScMessage) renamed = NULL;
  g_autoptr (GError) error = NULL;
  Login frank = { 0, "frank", NULL };
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  ScMessage *rename = sc_message_new (SC_MSG_SET_NICKNAME, 0);

  g_assert_cmpint (add_account (path, "alice", "wonderland"), ==, 0);
  child = sc_server_child_spawn (&options, &error);
  g_assert_no_error (error);
  frank.port = child_read_port (child);
  early = sc_test_peer_connect (frank.port);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("frank");
  joined = sc_test_peer_request (early, hello);
  g_assert_cmpuint (joined->status, ==, SC_STATUS_OK);

  g_assert_cmpint (add_account (path, "frank", "sinatra"), ==, 0);
  g_assert_true (sc_server_child_signal (child, SIGHUP));
  g_assert_true (sc_test_wait_until (registered_now, &frank, 5000));
  rename->nickname = g_strdup ("Frank");
  renamed = sc_test_peer_request (early, rename);
  g_assert_cmpuint (renamed->status, ==, SC_STATUS_NICKNAME_REGISTERED);

  g_assert_true (sc_server_child_signal (child, SIGTERM));
  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_bad_accounts_file (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sockchat-accounts-XXXXXX", &path, NULL);
  const char *bad[] = { "--port", "0", "--accounts-file", NULL, NULL };
  const char *only[] = { "--port", "0", "--accounts-only", NULL };

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "# comment\nalice-no-hash\n", 24), ==, 24);
  close (fd);
  bad[3] = path;
  check_usage_error (bad, ":2: ");
  check_usage_error (only, "--accounts-only needs an --accounts-file");
  g_unlink (path);
}

static void
test_version (void)
{
  const char *args[] = { "--version", NULL };
  g_autoptr (ScServerChild) child = child_spawn (args);
  g_autofree char *out = NULL;

  g_assert_cmpint (child_wait_exit (child, 5000), ==, 0);
  out = sc_server_child_get_stdout (child);
  g_assert_cmpstr (out, ==, "sockchat-server " PACKAGE_VERSION "\n");
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
  g_test_add_func ("/server/cli/bad-cluster-setting", test_bad_cluster_setting);
  g_test_add_func ("/server/cli/extra-argument", test_extra_argument);
  g_test_add_func ("/server/cli/port-in-use", test_port_in_use);
  g_test_add_func ("/server/cli/password-file", test_password_file);
  g_test_add_func ("/server/cli/bad-password-file", test_bad_password_file);
  g_test_add_func ("/server/cli/accounts-file", test_accounts_file);
  g_test_add_func ("/server/cli/bad-accounts-file", test_bad_accounts_file);
  g_test_add_func ("/server/signal/sighup-accounts", test_sighup_accounts);
  g_test_add_func ("/server/signal/sighup-accounts-holder",
                   test_sighup_accounts_holder);
  g_test_add_func ("/server/cli/version", test_version);
  g_test_add_func ("/server/cli/admission-limits", test_admission_limits);

  return g_test_run ();
}
