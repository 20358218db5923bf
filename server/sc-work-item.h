/* sc-work-item.h: what the accept thread or another worker asks a worker
 * to do.  Items carry ids, never connection pointers: the receiving
 * worker looks the id up in its own table, so a client that has gone is
 * simply not found. */
#pragma once

#include <glib.h>
#include <unistd.h>

#include "sc-message.h"

G_BEGIN_DECLS

typedef enum
{
  SC_WORK_ADOPT, /* a new connection: fd and info */
  SC_WORK_CLOSE, /* close target_id: status and reason (NULL: the reason
                    its owner chose when it asked to close once drained) */
  SC_WORK_SHUTDOWN,
  SC_WORK_EVICT,   /* turn target_id away if it still has not said hello:
                      status and reason */
  SC_WORK_MIGRATE, /* take over @connection (a reference) from the worker
                      that posted it */
  SC_WORK_CALL,    /* run call (worker, call_data) on the worker's thread:
                      what the backplane's threads hand over */
} ScWorkKind;

typedef struct
{
  ScWorkKind kind;
  guint32 target_id;
  int fd;
  gboolean tls; /* ADOPT: it came to the TLS listener */
  ScClientInfo info;
  ScStatus status;
  char *reason;
  gpointer connection;            /* MIGRATE: an ScConnection reference */
  GDestroyNotify connection_free; /* for a MIGRATE never handled */
  void (*call) (struct _ScWorker *worker, gpointer data); /* CALL */
  gpointer call_data;
  GDestroyNotify call_free;
} ScWorkItem;

static inline ScWorkItem *
sc_work_item_new (ScWorkKind kind, guint32 target_id)
{
  ScWorkItem *item = g_new0 (ScWorkItem, 1);

  item->kind = kind;
  item->target_id = target_id;
  item->fd = -1;
  return item;
}

static inline void
sc_work_item_free (ScWorkItem *item)
{
  if (item->fd >= 0)
    close (item->fd); /* an adoption that never happened */
  g_free (item->reason);
  sc_client_info_clear (&item->info);
  if (item->connection != NULL)
    item->connection_free (item->connection);
  if (item->call_free != NULL)
    item->call_free (item->call_data);
  g_free (item);
}

G_END_DECLS
