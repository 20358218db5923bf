/* sc-fault-util.h: what the fault-injection tests share: the real
 * sockchat-server binary as a child whose output is collected by a
 * thread, and readings of a process's resources from /proc.
 *
 * A server child gets PR_SET_PDEATHSIG, so a test that aborts on a failed
 * assertion does not leave it running.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _ScFaultServer ScFaultServer;

typedef struct
{
  /* Run the server through these first (e.g. "ip", "netns", "exec",
   * "NAME"); NULL-terminated, may be NULL. */
  const char *const *prefix;
  /* Extra command-line options; NULL-terminated, may be NULL. */
  const char *const *args;
  /* When non-zero, RLIMIT_NOFILE (soft and hard) in the child. */
  guint max_files;
  /* Bind address; "127.0.0.1" when NULL. */
  const char *bind;
} ScFaultServerOptions;

ScFaultServer *sc_fault_server_start (const ScFaultServerOptions *options);
void sc_fault_server_free (ScFaultServer *server);

GPid sc_fault_server_get_pid (ScFaultServer *server);
guint16 sc_fault_server_get_port (ScFaultServer *server);
char *sc_fault_server_get_log (ScFaultServer *server);
gboolean sc_fault_server_wait_log (ScFaultServer *server,
                                   const char *needle,
                                   guint timeout_ms);
gboolean sc_fault_server_wait_disconnect_log (ScFaultServer *server,
                                              guint32 client_id,
                                              guint timeout_ms);
void sc_fault_server_signal (ScFaultServer *server, int signal_number);
gboolean sc_fault_server_is_running (ScFaultServer *server);
int sc_fault_server_stop (ScFaultServer *server, guint timeout_ms);

gsize sc_fault_proc_rss (GPid pid);
guint sc_fault_proc_n_fds (GPid pid);
guint64 sc_fault_proc_cpu_ticks (GPid pid);
char sc_fault_proc_state (GPid pid);
void sc_fault_proc_stop (GPid pid);

gboolean sc_fault_sanitized (void);
const char *sc_fault_server_binary (void);
guint sc_fault_threads (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScFaultServer, sc_fault_server_free)

G_END_DECLS
