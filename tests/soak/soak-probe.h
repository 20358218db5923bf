/* soak-probe.h: the innocent client of the soak.  In a thread of its
 * own, so that the soak's busy main loop does not add to what it
 * measures, it joins like any user and times GET_TIME round trips for as
 * long as it runs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SoakProbe SoakProbe;

SoakProbe *soak_probe_start (guint16 port,
                             const char *source,
                             const char *password,
                             guint interval_ms);
gboolean soak_probe_wait_ready (SoakProbe *probe, guint timeout_ms);
guint32 soak_probe_get_id (SoakProbe *probe);
void soak_probe_stop (SoakProbe *probe);
gboolean soak_probe_report (SoakProbe *probe, guint window_s, double bound_ms);
void soak_probe_free (SoakProbe *probe);

G_END_DECLS
