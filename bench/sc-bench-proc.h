/* sc-bench-proc.h: what /proc tells about another process. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* CPU time (utime + stime, all threads) of process pid, in nanoseconds,
 * or -1 when it cannot be read. */
gint64 sc_bench_proc_cpu_ns (int pid);
/* Resident set size (VmRSS) of process pid in bytes, or -1. */
gint64 sc_bench_proc_rss_bytes (int pid);
/* This process's own CPU time (user + system), in nanoseconds. */
gint64 sc_bench_proc_self_cpu_ns (void);
/* Waits until process pid has used no CPU for quiet_ms, at most
 * timeout_ms; returns whether it became quiet. */
gboolean sc_bench_proc_wait_quiet (int pid, guint quiet_ms, guint timeout_ms);

G_END_DECLS
