/* sc-worker.h: one worker thread with its own main context, serving the
 * connections it was given for their whole life. */
#pragma once

#include <glib.h>

#include "sc-server-private.h"

G_BEGIN_DECLS

typedef struct _ScConnection ScConnection;
typedef struct _ScOutbox ScOutbox;

ScWorker *sc_worker_new (ScServer *server, guint index, GError **error);
void sc_worker_start (ScWorker *worker);
void sc_worker_post (ScWorker *worker, ScWorkItem *item);
void sc_worker_join (ScWorker *worker);
void sc_worker_free (ScWorker *worker);

ScServer *sc_worker_get_server (ScWorker *worker);
void sc_worker_schedule_flush (ScWorker *worker, ScOutbox *outbox);
void sc_worker_schedule_input (ScWorker *worker, ScConnection *connection);
void sc_worker_schedule_close (ScWorker *worker, ScConnection *connection);
void sc_worker_schedule_move (ScWorker *worker, ScConnection *connection);
void sc_worker_watch (
  ScWorker *worker, int fd, gpointer tag, gboolean input, gboolean output);
void sc_worker_close_now (ScWorker *worker, ScWorkItem *item);
void sc_worker_set_events (
  ScWorker *worker, int fd, gpointer tag, gboolean input, gboolean output);
gboolean sc_worker_is_stopping (ScWorker *worker);

ScWorker *sc_worker_self (void);
gboolean sc_worker_charge_memory (ScWorker *worker, gssize delta, gsize slack);
gboolean sc_worker_settle_memory (ScWorker *worker);
gssize sc_worker_get_memory_delta (ScWorker *worker);

G_END_DECLS
