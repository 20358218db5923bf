/* sc-fault-util.c: a sockchat-server child for the fault tests, and
 * /proc readings. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc-fault-util.h"

struct _ScFaultServer
{
  GPid pid;
  guint16 port;
  gboolean reaped;
  int wait_status;
  int out_fd;
  int err_fd;
  int stop_pipe[2];
  GThread *reader;

  GMutex lock;
  GCond changed;
  GString *out; /* under @lock */
  GString *err; /* under @lock */
  gboolean out_closed;
  guint max_files;
};

/* The binary under test, from SC_SERVER_BINARY (set by meson). */
const char *
sc_fault_server_binary (void)
{
  const char *binary = g_getenv ("SC_SERVER_BINARY");

  if (binary == NULL)
    g_error ("SC_SERVER_BINARY is not set");
  return binary;
}

/* Worker threads for the server under test: SC_TEST_THREADS or 4, so
 * that forwarding crosses workers. */
guint
sc_fault_threads (void)
{
  const char *text = g_getenv ("SC_TEST_THREADS");
  guint64 threads = 4;

  if (text != NULL &&
      !g_ascii_string_to_unsigned (text, 10, 1, 64, &threads, NULL))
    g_error ("SC_TEST_THREADS must be a number from 1 to 64, not “%s”", text);
  return (guint) threads;
}

/* TRUE in an AddressSanitizer build: the server is several times slower
 * and keeps freed memory in quarantine, so memory bounds differ. */
gboolean
sc_fault_sanitized (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return TRUE;
#else
  return FALSE;
#endif
#else
  return FALSE;
#endif
}

static gpointer
reader_thread (gpointer data)
{
  ScFaultServer *server = data;

  for (;;)
    {
      struct pollfd pfds[3] = { { server->out_fd, POLLIN, 0 },
                                { server->err_fd, POLLIN, 0 },
                                { server->stop_pipe[0], POLLIN, 0 } };
      GString *targets[2] = { server->out, server->err };

      if (server->out_fd < 0 && server->err_fd < 0)
        break;
      if (poll (pfds, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (pfds[2].revents != 0)
        break;
      for (int i = 0; i < 2; i++)
        {
          int *fd = i == 0 ? &server->out_fd : &server->err_fd;
          char chunk[4096];
          ssize_t n;

          if (*fd < 0 || pfds[i].revents == 0)
            continue;
          n = read (*fd, chunk, sizeof chunk);
          if (n < 0 && errno == EINTR)
            continue;
          g_mutex_lock (&server->lock);
          if (n > 0)
            g_string_append_len (targets[i], chunk, n);
          else
            {
              close (*fd);
              *fd = -1;
              if (i == 0)
                server->out_closed = TRUE;
            }
          g_cond_broadcast (&server->changed);
          g_mutex_unlock (&server->lock);
        }
    }
  return NULL;
}

static void
child_setup (gpointer data)
{
  ScFaultServer *server = data;

  /* Only async-signal-safe calls here: this runs between fork and exec. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (server->max_files > 0)
    {
      struct rlimit limit = { server->max_files, server->max_files };

      setrlimit (RLIMIT_NOFILE, &limit);
    }
}

/* Waits until @needle is in the output (stdout and stderr) or the
 * deadline passes; called with the lock held. */
static gboolean
wait_locked (ScFaultServer *server,
             gboolean (*found) (ScFaultServer *server, gconstpointer what),
             gconstpointer what,
             guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!found (server, what))
    if (!g_cond_wait_until (&server->changed, &server->lock, deadline))
      return found (server, what);
  return TRUE;
}

static gboolean
has_port_line (ScFaultServer *server, gconstpointer what)
{
  const char *line = strstr (server->out->str, what);

  return server->out_closed || (line != NULL && strchr (line, '\n') != NULL);
}

static guint16
read_port (ScFaultServer *server)
{
  static const char prefix[] = "sockchat-server: listening on port ";
  g_autofree char *digits = NULL;
  const char *line;
  guint64 port = 0;

  g_mutex_lock (&server->lock);
  wait_locked (server, has_port_line, prefix, 10000);
  line = strstr (server->out->str, prefix);
  if (line == NULL || strchr (line, '\n') == NULL)
    g_error ("sockchat-server announced no port; stdout: “%s”, stderr: “%s”",
             server->out->str, server->err->str);
  line += strlen (prefix);
  digits = g_strndup (line, strcspn (line, "\n"));
  g_mutex_unlock (&server->lock);
  g_assert_true (
    g_ascii_string_to_unsigned (digits, 10, 1, 65535, &port, NULL));
  return (guint16) port;
}

/* Starts the server binary on an OS-chosen port and waits for it to
 * announce the port.  (transfer full) */
ScFaultServer *
sc_fault_server_start (const ScFaultServerOptions *options)
{
  ScFaultServer *server = g_new0 (ScFaultServer, 1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) envp = g_get_environ ();

  for (gsize i = 0; options->prefix && options->prefix[i]; i++)
    g_ptr_array_add (argv, g_strdup (options->prefix[i]));
  g_ptr_array_add (argv, g_strdup (sc_fault_server_binary ()));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup ("0"));
  g_ptr_array_add (argv, g_strdup ("--bind"));
  g_ptr_array_add (argv,
                   g_strdup (options->bind ? options->bind : "127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--threads"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", sc_fault_threads ()));
  for (gsize i = 0; options->args && options->args[i]; i++)
    g_ptr_array_add (argv, g_strdup (options->args[i]));
  g_ptr_array_add (argv, NULL);

  /* Criticals stay fatal in the server; its warnings (such as "cannot
   * accept connections" when descriptors run out) are part of what the
   * tests provoke. */
  envp = g_environ_setenv (envp, "G_DEBUG", "fatal-criticals", TRUE);

  server->max_files = options->max_files;
  server->out = g_string_new (NULL);
  server->err = g_string_new (NULL);
  g_mutex_init (&server->lock);
  g_cond_init (&server->changed);
  g_assert_cmpint (pipe2 (server->stop_pipe, O_CLOEXEC), ==, 0);
  g_assert_true (g_spawn_async_with_pipes (
    NULL, (char **) argv->pdata, envp,
    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH, child_setup, server,
    &server->pid, NULL, &server->out_fd, &server->err_fd, &error));
  g_assert_no_error (error);
  server->reader = g_thread_new ("sc-fault-log", reader_thread, server);
  server->port = read_port (server);
  return server;
}

static void
reap (ScFaultServer *server, gboolean block)
{
  pid_t pid;

  if (server->reaped)
    return;
  do
    pid = waitpid (server->pid, &server->wait_status, block ? 0 : WNOHANG);
  while (pid < 0 && errno == EINTR);
  if (pid == server->pid)
    server->reaped = TRUE;
}

void
sc_fault_server_free (ScFaultServer *server)
{
  if (server == NULL)
    return;
  reap (server, FALSE);
  if (!server->reaped)
    {
      kill (server->pid, SIGKILL);
      reap (server, TRUE);
    }
  g_assert_cmpint (write (server->stop_pipe[1], "x", 1), ==, 1);
  g_thread_join (server->reader);
  close (server->stop_pipe[0]);
  close (server->stop_pipe[1]);
  if (server->out_fd >= 0)
    close (server->out_fd);
  if (server->err_fd >= 0)
    close (server->err_fd);
  g_string_free (server->out, TRUE);
  g_string_free (server->err, TRUE);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->changed);
  g_free (server);
}

GPid
sc_fault_server_get_pid (ScFaultServer *server)
{
  return server->pid;
}

guint16
sc_fault_server_get_port (ScFaultServer *server)
{
  return server->port;
}

/* Everything the server wrote to stderr so far.  (transfer full) */
char *
sc_fault_server_get_log (ScFaultServer *server)
{
  char *log;

  g_mutex_lock (&server->lock);
  log = g_strdup (server->err->str);
  g_mutex_unlock (&server->lock);
  return log;
}

static gboolean
log_has (ScFaultServer *server, gconstpointer what)
{
  return strstr (server->err->str, what) != NULL;
}

gboolean
sc_fault_server_wait_log (ScFaultServer *server,
                          const char *needle,
                          guint timeout_ms)
{
  gboolean found;

  g_mutex_lock (&server->lock);
  found = wait_locked (server, log_has, needle, timeout_ms);
  g_mutex_unlock (&server->lock);
  return found;
}

/* Whether the log has the line "client ID (ADDRESS port N) disconnected:
 * ..." for @client_id. */
static gboolean
log_has_disconnect (ScFaultServer *server, gconstpointer what)
{
  g_autofree char *start =
    g_strdup_printf ("client %u (", GPOINTER_TO_UINT (what));
  const char *p = server->err->str;

  while ((p = strstr (p, start)) != NULL)
    {
      const char *end = strchr (p, '\n');
      const char *hit = strstr (p, ") disconnected: ");

      if (hit != NULL && (end == NULL || hit < end))
        return TRUE;
      p += strlen (start);
    }
  return FALSE;
}

gboolean
sc_fault_server_wait_disconnect_log (ScFaultServer *server,
                                     guint32 client_id,
                                     guint timeout_ms)
{
  gboolean found;

  g_mutex_lock (&server->lock);
  found = wait_locked (server, log_has_disconnect, GUINT_TO_POINTER (client_id),
                       timeout_ms);
  g_mutex_unlock (&server->lock);
  return found;
}

void
sc_fault_server_signal (ScFaultServer *server, int signal_number)
{
  g_assert_false (server->reaped);
  g_assert_cmpint (kill (server->pid, signal_number), ==, 0);
}

gboolean
sc_fault_server_is_running (ScFaultServer *server)
{
  reap (server, FALSE);
  return !server->reaped;
}

/* SIGTERM, then waits for the exit; returns the exit status, failing the
 * test when the server dies by a signal or outlives @timeout_ms. */
int
sc_fault_server_stop (ScFaultServer *server, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  sc_fault_server_signal (server, SIGTERM);
  while (sc_fault_server_is_running (server) &&
         g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (!server->reaped)
    {
      g_autofree char *log = sc_fault_server_get_log (server);

      g_error ("sockchat-server did not exit within %u ms; stderr: %s",
               timeout_ms, log);
    }
  if (!WIFEXITED (server->wait_status))
    {
      g_autofree char *log = sc_fault_server_get_log (server);

      g_error ("sockchat-server died with wait status 0x%x; stderr: %s",
               server->wait_status, log);
    }
  return WEXITSTATUS (server->wait_status);
}

static char *
proc_read (GPid pid, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, name);
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

/* The resident set size of @pid, in bytes. */
gsize
sc_fault_proc_rss (GPid pid)
{
  g_autofree char *status = proc_read (pid, "status");
  const char *line = strstr (status, "\nVmRSS:");

  g_assert_nonnull (line);
  return (gsize) g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* How many descriptors @pid has open. */
guint
sc_fault_proc_n_fds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* User plus system CPU time of @pid, in clock ticks. */
guint64
sc_fault_proc_cpu_ticks (GPid pid)
{
  g_autofree char *stat = proc_read (pid, "stat");
  g_auto (GStrv) fields = NULL;
  /* The command name is in parentheses and may hold spaces: count the
   * fields after its closing parenthesis. */
  const char *rest = strrchr (stat, ')');

  g_assert_nonnull (rest);
  fields = g_strsplit (rest + 2, " ", -1);
  /* After the name: state is field 3 of stat(5), utime 14, stime 15. */
  g_assert_cmpuint (g_strv_length (fields), >, 12);
  return g_ascii_strtoull (fields[11], NULL, 10) +
         g_ascii_strtoull (fields[12], NULL, 10);
}

/* The state letter of /proc/PID/stat: 'T' once a SIGSTOP has taken. */
char
sc_fault_proc_state (GPid pid)
{
  g_autofree char *stat = proc_read (pid, "stat");
  const char *end = strrchr (stat, ')');

  g_assert_nonnull (end);
  return end[2];
}

/* Stops @pid and waits until it really is stopped: kill() returns
 * before the signal has been acted on. */
void
sc_fault_proc_stop (GPid pid)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  while (sc_fault_proc_state (pid) != 'T')
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}
