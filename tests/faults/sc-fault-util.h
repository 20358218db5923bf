/* sc-fault-util.h: what the fault-injection tests share: the real
 * sockchat-server binary as a child (an ScServerChild, from
 * tests/support) started the way they all want it, and readings of a
 * process's resources from /proc.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "sc-server-child.h"
#include "sc-test-util.h"

G_BEGIN_DECLS

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

ScServerChild *sc_fault_server_start (const ScFaultServerOptions *options);
int sc_fault_server_stop (ScServerChild *server, guint timeout_ms);
gboolean sc_fault_server_wait_disconnect_log (ScServerChild *server,
                                              guint32 client_id,
                                              guint timeout_ms);

gsize sc_fault_proc_rss (GPid pid);
guint sc_fault_proc_n_fds (GPid pid);
guint64 sc_fault_proc_cpu_ticks (GPid pid);
char sc_fault_proc_state (GPid pid);
void sc_fault_proc_stop (GPid pid);
gboolean sc_fault_tcp_queues (guint16 local_port,
                              guint16 remote_port,
                              guint *tx,
                              guint *rx);

gboolean sc_fault_sanitized (void);

G_END_DECLS
