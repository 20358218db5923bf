/* sc-directory-sweeper.c: see sc-directory-sweeper.h.
 *
 * A client that leaves is deleted from the directory with a delete
 * marker, and a dead node's clients with purge markers.  JetStream keeps
 * each marker, one per client that ever was, until someone removes it:
 * left alone, the bucket grows with every connection and every node's
 * start reads all of it.  The markers must stay a while, for watchers
 * that are behind and for the order of late writes (docs/CLUSTER.md), so
 * only those older than --delete-markers-kept seconds go.
 *
 * kvStore_PurgeDeletes() reads every key and sends one purge request per
 * marker: seconds of blocking calls for a large directory.  So it runs on
 * a thread of its own, never on the cluster thread that sends the
 * heartbeats, at most once per half the keeping time, and only on the
 * node that leads purges (the caller decides).  A run is cut short when
 * the connection closes. */
#include "config.h"

#include "sc-directory-sweeper.h"

/* How long one run may take to gather the keys, in milliseconds. */
#define GATHER_TIMEOUT_MS 30000

struct _ScDirectorySweeper
{
  kvStore *directory; /* borrowed: outlives the sweeper */
  gint64 keep_us;
  gint64 last_start; /* monotonic: the last run, or the start */
  GThread *thread;
  gint running; /* atomic */
};

static gpointer
sweep (gpointer data)
{
  ScDirectorySweeper *self = data;
  kvPurgeOptions options;
  natsStatus status;
  gint64 started = g_get_monotonic_time ();

  kvPurgeOptions_Init (&options);
  options.Timeout = GATHER_TIMEOUT_MS;
  options.DeleteMarkersOlderThan = self->keep_us * 1000;
  status = kvStore_PurgeDeletes (self->directory, &options);
  if (status == NATS_OK)
    g_message ("cluster: removed the directory's delete markers older than "
               "%" G_GINT64_FORMAT " s in %" G_GINT64_FORMAT " ms",
               self->keep_us / G_USEC_PER_SEC,
               (g_get_monotonic_time () - started) / 1000);
  else
    g_message ("cluster: removing the directory's old delete markers "
               "stopped: %s; the next run goes on",
               natsStatus_GetText (status));
  g_atomic_int_set (&self->running, 0);
  return NULL;
}

ScDirectorySweeper *
sc_directory_sweeper_new (kvStore *directory, guint keep_s)
{
  ScDirectorySweeper *self = g_new0 (ScDirectorySweeper, 1);

  self->directory = directory;
  self->keep_us = (gint64) keep_s * G_USEC_PER_SEC;
  /* Not at once: a node just started takes itself for the leader until
   * it has heard the others, and markers of departures are young then. */
  self->last_start = g_get_monotonic_time ();
  return self;
}

/* Cluster thread, on the node that leads purges: starts a run when none
 * is under way and the last one began half the keeping time ago. */
void
sc_directory_sweeper_poke (ScDirectorySweeper *self, gint64 now)
{
  if (g_atomic_int_get (&self->running))
    return;
  if (now - self->last_start < self->keep_us / 2)
    return;
  if (self->thread != NULL)
    g_thread_join (g_steal_pointer (&self->thread));
  self->last_start = now;
  g_atomic_int_set (&self->running, 1);
  self->thread = g_thread_new ("sc-cluster-sweep", sweep, self);
}

/* After the connection has closed, which ends a run under way. */
void
sc_directory_sweeper_free (ScDirectorySweeper *self)
{
  if (self == NULL)
    return;
  if (self->thread != NULL)
    g_thread_join (self->thread);
  g_free (self);
}
