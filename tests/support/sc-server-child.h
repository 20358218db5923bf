/* sc-server-child.h: the sockchat-server binary as a child process, for
 * every test that runs the real program rather than an in-process
 * ScServer (the signal and command-line tests, the fault tests, the CLI
 * test and the soak).
 *
 * A thread collects the child's standard output and error and reaps it
 * when they end, so every wait (for the port line, a log line or the
 * exit) is a wait on a condition variable with a deadline.  The child gets
 * PR_SET_PDEATHSIG, so a test that aborts on a failed assertion does not leave
 * it running.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScServerChild ScServerChild;

typedef struct
{
  /* The program; SC_SERVER_BINARY (set by meson) when NULL. */
  const char *binary;
  /* Run the server through these first (e.g. "ip", "netns", "exec",
   * "NAME"); NULL-terminated, may be NULL. */
  const char *const *prefix;
  /* The command line after the program; NULL-terminated, may be NULL. */
  const char *const *args;
  /* When non-zero, RLIMIT_NOFILE (soft and hard) in the child. */
  guint max_files;
  /* Standard error to /dev/null instead of collected: for runs long
   * enough that the connection log would grow without bound. */
  gboolean discard_stderr;
  /* G_DEBUG for the child; NULL leaves the test's own. */
  const char *g_debug;
} ScServerChildOptions;

/* Whether @output (all of the child's standard error so far) shows what a
 * test waits for.  Called with the child's lock held. */
typedef gboolean (*ScServerChildMatch) (const char *output, gconstpointer data);

ScServerChild *sc_server_child_spawn (const ScServerChildOptions *options,
                                      GError **error);
void sc_server_child_free (ScServerChild *child);

guint16 sc_server_child_read_port (ScServerChild *child,
                                   guint timeout_ms,
                                   GError **error);
guint16 sc_server_child_get_port (ScServerChild *child);
GPid sc_server_child_get_pid (ScServerChild *child);
char *sc_server_child_get_stdout (ScServerChild *child);
char *sc_server_child_get_stderr (ScServerChild *child);
gboolean sc_server_child_wait_stderr (ScServerChild *child,
                                      ScServerChildMatch match,
                                      gconstpointer data,
                                      guint timeout_ms);
gboolean sc_server_child_wait_log (ScServerChild *child,
                                   const char *needle,
                                   guint timeout_ms);
gboolean sc_server_child_signal (ScServerChild *child, int signal_number);
gboolean sc_server_child_is_running (ScServerChild *child);
gboolean sc_server_child_wait_reaped (ScServerChild *child, guint timeout_ms);
int sc_server_child_get_wait_status (ScServerChild *child);
int sc_server_child_wait_exit (ScServerChild *child,
                               guint timeout_ms,
                               GError **error);
int
sc_server_child_stop (ScServerChild *child, guint timeout_ms, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScServerChild, sc_server_child_free)

G_END_DECLS
