/* sc-server-child.c: sockchat-server as a child process; see
 * sc-server-child.h. */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc-server-child.h"
#include "sc-tsan.h"

#define PORT_PREFIX "sockchat-server: listening on port "

struct _ScServerChild
{
  GPid pid;
  /* Owned by the reader thread once it runs; -1 once closed. */
  int out_fd;
  int err_fd;
  guint max_files; /* read in the forked child before exec */
  guint16 port;    /* 0 until read */
  GThread *reader;

  GMutex lock;
  GCond changed;
  /* Under @lock; only the reader thread writes them. */
  GString *out;
  GString *err;
  gboolean out_closed;
  gboolean err_closed;
  gboolean reaped;
  int wait_status;
};

/* GLib's locks are invisible to ThreadSanitizer (see sc-tsan.h), so
 * every acquisition and release of @lock says what it orders. */
static void
child_lock (ScServerChild *child)
{
  g_mutex_lock (&child->lock);
  SC_HAPPENS_AFTER (&child->lock);
}

static void
child_unlock (ScServerChild *child)
{
  SC_HAPPENS_BEFORE (&child->lock);
  g_mutex_unlock (&child->lock);
}

/* Appends what *@fd has to @buffer; at its end closes it and sets
 * *@closed. */
static void
drain (ScServerChild *child, int *fd, GString *buffer, gboolean *closed)
{
  char chunk[4096];
  ssize_t n;

  do
    n = read (*fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR);
  child_lock (child);
  if (n > 0)
    g_string_append_len (buffer, chunk, n);
  else
    {
      close (*fd);
      *fd = -1;
      *closed = TRUE;
    }
  g_cond_broadcast (&child->changed);
  child_unlock (child);
}

/* Waits for the child to exit, then reaps it under the lock, so that
 * sc_server_child_signal() (which signals under the lock) can never reach
 * a process that took over the pid. */
static void
reap (ScServerChild *child)
{
  siginfo_t info = { 0 };
  int status = 0;
  pid_t pid;

  while (waitid (P_PID, child->pid, &info, WEXITED | WNOWAIT) < 0)
    if (errno != EINTR)
      g_error ("waitid: %s", g_strerror (errno));
  child_lock (child);
  do
    pid = waitpid (child->pid, &status, 0);
  while (pid < 0 && errno == EINTR);
  g_assert_cmpint (pid, ==, child->pid);
  child->wait_status = status;
  child->reaped = TRUE;
  g_cond_broadcast (&child->changed);
  child_unlock (child);
}

/* Reads both outputs until they end, which they do when the child exits,
 * then reaps it.  (A pidfd would tell of the exit directly, but valgrind,
 * which runs the server tests in CI, does not know pidfd_open.) */
static gpointer
reader_thread (gpointer data)
{
  ScServerChild *child = data;

  while (child->out_fd >= 0 || child->err_fd >= 0)
    {
      struct pollfd pfds[2] = { { child->out_fd, POLLIN, 0 },
                                { child->err_fd, POLLIN, 0 } };

      if (poll (pfds, G_N_ELEMENTS (pfds), -1) < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("poll: %s", g_strerror (errno));
        }
      if (pfds[0].revents != 0)
        drain (child, &child->out_fd, child->out, &child->out_closed);
      if (pfds[1].revents != 0)
        drain (child, &child->err_fd, child->err, &child->err_closed);
    }
  reap (child);
  /* What this thread wrote outside the lock (the descriptors) is read by
   * sc_server_child_free() after g_thread_join(). */
  SC_HAPPENS_BEFORE (child);
  return NULL;
}

static void
child_setup (gpointer data)
{
  ScServerChild *child = data;

  /* Only async-signal-safe calls here: this runs between fork and exec. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (child->max_files > 0)
    {
      struct rlimit limit = { child->max_files, child->max_files };

      setrlimit (RLIMIT_NOFILE, &limit);
    }
}

/* Starts the server binary with the options' command line; does not wait
 * for anything.  (transfer full) */
ScServerChild *
sc_server_child_spawn (const ScServerChildOptions *options, GError **error)
{
  g_autoptr (ScServerChild) child = g_new0 (ScServerChild, 1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (GStrv) envp = g_get_environ ();
  const char *binary;

  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  binary = options->binary;
  if (binary == NULL)
    binary = g_getenv ("SC_SERVER_BINARY");
  if (binary == NULL)
    g_error ("SC_SERVER_BINARY is not set");
  for (gsize i = 0; options->prefix != NULL && options->prefix[i]; i++)
    g_ptr_array_add (argv, (gpointer) options->prefix[i]);
  g_ptr_array_add (argv, (gpointer) binary);
  for (gsize i = 0; options->args != NULL && options->args[i]; i++)
    g_ptr_array_add (argv, (gpointer) options->args[i]);
  g_ptr_array_add (argv, NULL);
  if (options->g_debug != NULL)
    envp = g_environ_setenv (envp, "G_DEBUG", options->g_debug, TRUE);

  child->pid = -1;
  child->out_fd = child->err_fd = -1;
  child->max_files = options->max_files;
  child->out = g_string_new (NULL);
  child->err = g_string_new (NULL);
  g_mutex_init (&child->lock);
  g_cond_init (&child->changed);
  if (!g_spawn_async_with_pipes (
        NULL, (char **) argv->pdata, envp,
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
          (options->discard_stderr ? G_SPAWN_STDERR_TO_DEV_NULL : 0),
        child_setup, child, &child->pid, NULL, &child->out_fd,
        options->discard_stderr ? NULL : &child->err_fd, error))
    {
      child->pid = -1;
      return NULL;
    }
  child->err_closed = options->discard_stderr;
  child->reader = g_thread_new ("sc-server-child", reader_thread, child);
  return g_steal_pointer (&child);
}

/* Kills the child if it still runs, and reaps it. */
void
sc_server_child_free (ScServerChild *child)
{
  if (child == NULL)
    return;
  if (child->reader != NULL)
    {
      /* The kill ends both outputs, and the reader then reaps the child
       * and returns. */
      sc_server_child_signal (child, SIGKILL);
      if (!sc_server_child_wait_reaped (child, 10000))
        g_error ("sockchat-server %d outlived SIGKILL by 10 s",
                 (int) child->pid);
      g_thread_join (child->reader);
      SC_HAPPENS_AFTER (child);
    }
  else if (child->pid > 0)
    {
      kill (child->pid, SIGKILL);
      waitpid (child->pid, NULL, 0);
    }
  if (child->out_fd >= 0)
    close (child->out_fd);
  if (child->err_fd >= 0)
    close (child->err_fd);
  if (child->out != NULL)
    g_string_free (child->out, TRUE);
  if (child->err != NULL)
    g_string_free (child->err, TRUE);
  g_mutex_clear (&child->lock);
  g_cond_clear (&child->changed);
  g_free (child);
}

typedef gboolean (*Predicate) (ScServerChild *child, gconstpointer data);

/* Waits until @predicate holds or the deadline passes; called with the
 * lock held.  Returns whether it holds. */
static gboolean
wait_locked (ScServerChild *child,
             Predicate predicate,
             gconstpointer data,
             guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!predicate (child, data))
    {
      gboolean signalled;

      SC_HAPPENS_BEFORE (&child->lock);
      signalled = g_cond_wait_until (&child->changed, &child->lock, deadline);
      SC_HAPPENS_AFTER (&child->lock);
      if (!signalled)
        return predicate (child, data);
    }
  return TRUE;
}

static gboolean
port_line_or_end (ScServerChild *child, gconstpointer data)
{
  const char *line = strstr (child->out->str, PORT_PREFIX);

  return child->out_closed || (line != NULL && strchr (line, '\n') != NULL);
}

/* Waits for the "listening on port N" line the server prints once it
 * listens, and returns N; 0 with @error set when it does not come. */
guint16
sc_server_child_read_port (ScServerChild *child,
                           guint timeout_ms,
                           GError **error)
{
  g_autofree char *digits = NULL;
  const char *line;
  guint64 port = 0;

  g_return_val_if_fail (child != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  child_lock (child);
  wait_locked (child, port_line_or_end, NULL, timeout_ms);
  line = strstr (child->out->str, PORT_PREFIX);
  if (line != NULL && strchr (line, '\n') != NULL)
    {
      line += strlen (PORT_PREFIX);
      digits = g_strndup (line, strcspn (line, "\n"));
    }
  if (digits == NULL ||
      !g_ascii_string_to_unsigned (digits, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, G_IO_ERROR,
                   child->out_closed ? G_IO_ERROR_FAILED : G_IO_ERROR_TIMED_OUT,
                   "sockchat-server announced no port within %u ms; "
                   "stdout: “%s”, stderr: “%s”",
                   timeout_ms, child->out->str, child->err->str);
      port = 0;
    }
  child_unlock (child);
  child->port = (guint16) port;
  return child->port;
}

/* The port sc_server_child_read_port() read; 0 before. */
guint16
sc_server_child_get_port (ScServerChild *child)
{
  g_return_val_if_fail (child != NULL, 0);

  return child->port;
}

GPid
sc_server_child_get_pid (ScServerChild *child)
{
  g_return_val_if_fail (child != NULL, -1);

  return child->pid;
}

static char *
copy_locked (ScServerChild *child, GString *buffer)
{
  char *copy;

  child_lock (child);
  copy = g_strdup (buffer->str);
  child_unlock (child);
  return copy;
}

/* Everything the child wrote to standard output so far.  (transfer
 * full) */
char *
sc_server_child_get_stdout (ScServerChild *child)
{
  g_return_val_if_fail (child != NULL, NULL);

  return copy_locked (child, child->out);
}

/* Everything the child wrote to standard error so far (its log).
 * (transfer full) */
char *
sc_server_child_get_stderr (ScServerChild *child)
{
  g_return_val_if_fail (child != NULL, NULL);

  return copy_locked (child, child->err);
}

typedef struct
{
  ScServerChildMatch match;
  gconstpointer data;
} MatchClosure;

static gboolean
stderr_matches (ScServerChild *child, gconstpointer data)
{
  const MatchClosure *closure = data;

  return closure->match (child->err->str, closure->data);
}

/* Waits until @match holds for the child's standard error; returns
 * whether it does by the deadline. */
gboolean
sc_server_child_wait_stderr (ScServerChild *child,
                             ScServerChildMatch match,
                             gconstpointer data,
                             guint timeout_ms)
{
  MatchClosure closure = { match, data };
  gboolean found;

  g_return_val_if_fail (child != NULL, FALSE);
  g_return_val_if_fail (match != NULL, FALSE);

  child_lock (child);
  found = wait_locked (child, stderr_matches, &closure, timeout_ms);
  child_unlock (child);
  return found;
}

static gboolean
contains (const char *output, gconstpointer needle)
{
  return strstr (output, needle) != NULL;
}

/* Waits until the child's standard error holds @needle. */
gboolean
sc_server_child_wait_log (ScServerChild *child,
                          const char *needle,
                          guint timeout_ms)
{
  return sc_server_child_wait_stderr (child, contains, needle, timeout_ms);
}

/* Sends @signal_number to the child; FALSE once it has been reaped.
 * The lock keeps the reader from reaping it in between, so the signal
 * cannot reach another process that took over the pid. */
gboolean
sc_server_child_signal (ScServerChild *child, int signal_number)
{
  gboolean sent;

  g_return_val_if_fail (child != NULL, FALSE);

  child_lock (child);
  sent = !child->reaped && kill (child->pid, signal_number) == 0;
  child_unlock (child);
  return sent;
}

/* Whether the child has not exited yet, exact at the moment of the call
 * (it asks the kernel, not the reader thread). */
gboolean
sc_server_child_is_running (ScServerChild *child)
{
  siginfo_t info = { 0 };
  gboolean running;

  g_return_val_if_fail (child != NULL, FALSE);

  child_lock (child);
  running =
    !child->reaped &&
    waitid (P_PID, child->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
    info.si_pid == 0;
  child_unlock (child);
  return running;
}

static gboolean
finished (ScServerChild *child, gconstpointer data)
{
  return child->reaped && child->out_closed && child->err_closed;
}

/* Waits until the child has exited, has been reaped and both its outputs
 * have ended; returns whether that happened by the deadline. */
gboolean
sc_server_child_wait_reaped (ScServerChild *child, guint timeout_ms)
{
  gboolean done;

  g_return_val_if_fail (child != NULL, FALSE);

  child_lock (child);
  done = wait_locked (child, finished, NULL, timeout_ms);
  child_unlock (child);
  return done;
}

/* The waitpid() status; only meaningful once sc_server_child_wait_reaped()
 * has returned TRUE. */
int
sc_server_child_get_wait_status (ScServerChild *child)
{
  int status;

  g_return_val_if_fail (child != NULL, 0);

  child_lock (child);
  g_assert_true (child->reaped);
  status = child->wait_status;
  child_unlock (child);
  return status;
}

/* Waits for the child to exit and returns its exit status; -1 with
 * @error set when it is still running at the deadline or died by a
 * signal.  The message holds its standard error. */
int
sc_server_child_wait_exit (ScServerChild *child,
                           guint timeout_ms,
                           GError **error)
{
  g_autofree char *log = NULL;
  int status;

  g_return_val_if_fail (child != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!sc_server_child_wait_reaped (child, timeout_ms))
    {
      log = sc_server_child_get_stderr (child);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "sockchat-server did not exit within %u ms; stderr: %s",
                   timeout_ms, log);
      return -1;
    }
  status = sc_server_child_get_wait_status (child);
  if (!WIFEXITED (status))
    {
      log = sc_server_child_get_stderr (child);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "sockchat-server died with wait status 0x%x; stderr: %s",
                   status, log);
      return -1;
    }
  return WEXITSTATUS (status);
}

/* SIGTERM, then sc_server_child_wait_exit(). */
int
sc_server_child_stop (ScServerChild *child, guint timeout_ms, GError **error)
{
  g_return_val_if_fail (child != NULL, -1);

  if (!sc_server_child_signal (child, SIGTERM))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "sockchat-server had already exited when told to stop");
      return -1;
    }
  return sc_server_child_wait_exit (child, timeout_ms, error);
}
