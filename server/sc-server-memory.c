/* sc-server-memory.c: the server's memory budget (--max-memory).
 *
 * Every byte the server holds for a client (its output queue, its read
 * buffer, its table of unacknowledged messages and the receipts it is
 * owed) is charged by the client's outbox.  While the total is over the
 * limit, new work that would allocate is refused with SERVER_BUSY
 * (sc-connection-requests.c, sc-outbox.c), and at the end of a worker's
 * round the clients holding the most are dropped until the server is back
 * under 90 % of the limit.
 *
 * The count is split so that relaying a message touches no cache line
 * another core writes: each worker thread keeps its own share (what it
 * charged, which may be negative when it frees what another allocated),
 * other threads charge one atomic counter, and the total is their sum.
 * The "over budget" flag every delivery reads is recomputed only when a
 * worker's share has moved by SLACK since it last was, and at the end of
 * every round, so the limit can be passed by at most SLACK per worker
 * between two checks.
 */
#include "config.h"

#include <unistd.h>

#include "sc-outbox.h"
#include "sc-server-private.h"
#include "sc-tsan.h"
#include "sc-worker.h"

/* Memory released since the last trim that makes another one worth it. */
#define TRIM_THRESHOLD (8 * 1024 * 1024)
/* Dropping victims takes their owners a round; don't pick again sooner. */
#define RELIEF_INTERVAL_US (100 * 1000)
/* How far a worker's share may move before the flag is recomputed. */
#define SLACK (64 * 1024)

G_LOCK_DEFINE_STATIC (relief);

/* The default --max-memory: a quarter of the machine's memory. */
gsize
sc_server_default_max_memory (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  if (pages <= 0 || page_size <= 0)
    return (gsize) 1 << 30;
  return (gsize) pages * (gsize) page_size / 4;
}

/* Bytes held for clients right now: the sum of every share. */
gsize
sc_server_get_memory_held (ScServer *server)
{
  gssize held = __atomic_load_n (&server->memory_held, __ATOMIC_RELAXED);

  for (guint i = 0; i < server->n_workers; i++)
    if (server->workers[i] != NULL)
      held += sc_worker_get_memory_delta (server->workers[i]);
  return held > 0 ? (gsize) held : 0;
}

/* Recomputes the flag every delivery reads; asks for relief when over. */
void
sc_server_update_budget (ScServer *server)
{
  gsize held = sc_server_get_memory_held (server);
  gboolean over = held > server->config->max_memory;
  gsize peak = __atomic_load_n (&server->memory_peak, __ATOMIC_RELAXED);

  /* The highest total since the last trim, for sc_server_memory_released. */
  while (held > peak &&
         !__atomic_compare_exchange_n (&server->memory_peak, &peak, held, TRUE,
                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    ;

  if (over != g_atomic_int_get (&server->over_budget))
    g_atomic_int_set (&server->over_budget, over);
  if (over)
    g_atomic_int_set (&server->relief_wanted, 1);
}

/* Any thread, usually under an outbox lock: so this only counts, and
 * leaves the dropping to the end of a worker's round. */
void
sc_server_charge_memory (ScServer *server, gssize delta)
{
  ScWorker *self = sc_worker_self ();

  if (self != NULL && sc_worker_get_server (self) == server)
    {
      if (sc_worker_charge_memory (self, delta, SLACK))
        sc_server_update_budget (server);
      return;
    }
  __atomic_add_fetch (&server->memory_held, delta, __ATOMIC_RELAXED);
  sc_server_update_budget (server);
}

gboolean
sc_server_memory_exceeded (ScServer *server)
{
  return g_atomic_int_get (&server->over_budget);
}

static int
compare_held_desc (gconstpointer a, gconstpointer b)
{
  gsize x = sc_outbox_get_held (*(ScOutbox *const *) a);
  gsize y = sc_outbox_get_held (*(ScOutbox *const *) b);

  return x < y ? 1 : x > y ? -1 : 0;
}

static void
drop_biggest (ScServer *server, gsize to_free)
{
  g_autoptr (GPtrArray) outboxes = sc_registry_all_outboxes (server->registry);
  gsize freed = 0;

  g_ptr_array_sort (outboxes, compare_held_desc);
  for (guint i = 0; i < outboxes->len && freed < to_free; i++)
    {
      ScOutbox *outbox = g_ptr_array_index (outboxes, i);
      gsize held = sc_outbox_get_held (outbox);
      g_autofree char *why = NULL;

      if (held == 0)
        break;
      g_message ("memory limit of %" G_GSIZE_FORMAT " bytes reached: "
                 "dropping client %u, which holds %" G_GSIZE_FORMAT " bytes",
                 server->config->max_memory, sc_outbox_get_id (outbox), held);
      why =
        g_strdup_printf ("too slow: it held the most memory (%" G_GSIZE_FORMAT
                         " bytes) when the server reached its limit",
                         held);
      sc_outbox_drop (outbox, NULL, SC_STATUS_RECIPIENT_SLOW, why);
      freed += held;
    }
}

/* At the end of a worker's round: when the budget was overrun, drops the
 * clients holding the most until the rest fits in 90 % of the limit. */
void
sc_server_relieve_memory (ScServer *server)
{
  gint64 now;
  gsize held, target;

  if (!g_atomic_int_get (&server->relief_wanted))
    return;
  now = g_get_monotonic_time ();
  G_LOCK (relief);
  SC_HAPPENS_AFTER (&server->relief_at);
  if (now - server->relief_at < RELIEF_INTERVAL_US)
    {
      SC_HAPPENS_BEFORE (&server->relief_at);
      G_UNLOCK (relief);
      return;
    }
  server->relief_at = now;
  g_atomic_int_set (&server->relief_wanted, 0);
  SC_HAPPENS_BEFORE (&server->relief_at);
  G_UNLOCK (relief);

  held = sc_server_get_memory_held (server);
  target = server->config->max_memory / 10 * 9;
  if (held > server->config->max_memory)
    drop_biggest (server, held - target);
}

/* TRUE, once, after the total went down by a lot from its peak since the
 * last time: time to hand freed memory back to the system (malloc_trim),
 * so that a burst does not leave the server's resident size high for
 * good.  Called by one worker's tick. */
gboolean
sc_server_memory_released (ScServer *server)
{
  gsize held = sc_server_get_memory_held (server);
  gsize peak = __atomic_load_n (&server->memory_peak, __ATOMIC_RELAXED);

  if (peak < held + TRIM_THRESHOLD)
    return FALSE;
  __atomic_store_n (&server->memory_peak, held, __ATOMIC_RELAXED);
  return TRUE;
}
