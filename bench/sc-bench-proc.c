/* sc-bench-proc.c: /proc/PID/stat and /proc/PID/status readers. */
#include "sc-bench-proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

gint64
sc_bench_proc_cpu_ns (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *p;
  guint64 utime, stime;
  long ticks = sysconf (_SC_CLK_TCK);

  if (pid <= 0 || !g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  /* The command name is in parentheses and may itself hold spaces or
   * parentheses, so fields are counted from the last ')'. */
  p = strrchr (contents, ')');
  if (p == NULL)
    return -1;
  p++;
  /* After ')' come field 3 (state) onwards; utime and stime are fields
   * 14 and 15. */
  for (int field = 3; field < 14; field++)
    {
      p = strchr (p + 1, ' ');
      if (p == NULL)
        return -1;
    }
  if (sscanf (p, " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &utime, &stime) !=
        2 ||
      ticks <= 0)
    return -1;
  return (gint64) ((utime + stime) * (G_USEC_PER_SEC * 1000 / ticks));
}

gint64
sc_bench_proc_rss_bytes (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  const char *p;

  if (pid <= 0 || !g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  p = strstr (contents, "\nVmRSS:");
  if (p == NULL)
    return -1;
  return g_ascii_strtoll (p + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

gint64
sc_bench_proc_self_cpu_ns (void)
{
  struct rusage usage;

  if (getrusage (RUSAGE_SELF, &usage) != 0)
    return -1;
  return ((gint64) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000 +
         ((gint64) usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000;
}

gboolean
sc_bench_proc_wait_quiet (int pid, guint quiet_ms, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gint64 last = sc_bench_proc_cpu_ns (pid);

  if (last < 0)
    return FALSE;
  while (g_get_monotonic_time () < deadline)
    {
      gint64 now;

      g_usleep (quiet_ms * 1000);
      now = sc_bench_proc_cpu_ns (pid);
      if (now < 0)
        return FALSE;
      if (now == last)
        return TRUE;
      last = now;
    }
  return FALSE;
}
