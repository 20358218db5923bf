/* sc-work-item.h: what one worker asks another to do.  Items carry ids,
 * never connection pointers: the receiving worker looks the id up in its
 * own table, so a client that has gone is simply not found. */
#pragma once

#include <glib.h>
#include <unistd.h>

#include "sc-message.h"

G_BEGIN_DECLS

typedef enum
{
  SC_WORK_ADOPT,      /* a new connection: fd and info */
  SC_WORK_DELIVER,    /* a MESSAGE frame for target_id, to be acknowledged */
  SC_WORK_FRAME,      /* any other frame for target_id (receipts) */
  SC_WORK_NOTIFY_ALL, /* a frame for every ready client but target_id */
  SC_WORK_SHUTDOWN,
} ScWorkKind;

typedef struct
{
  ScWorkKind kind;
  guint32 target_id;
  guint32 sender_id;
  guint sender_worker;
  guint64 message_id;
  GBytes *frame;
  int fd;
  ScClientInfo info;
} ScWorkItem;

static inline ScWorkItem *
sc_work_item_new (ScWorkKind kind, guint32 target_id, GBytes *frame)
{
  ScWorkItem *item = g_new0 (ScWorkItem, 1);

  item->kind = kind;
  item->target_id = target_id;
  item->frame = frame ? g_bytes_ref (frame) : NULL;
  item->fd = -1;
  return item;
}

static inline void
sc_work_item_free (ScWorkItem *item)
{
  if (item->fd >= 0)
    close (item->fd); /* an adoption that never happened */
  g_clear_pointer (&item->frame, g_bytes_unref);
  sc_client_info_clear (&item->info);
  g_free (item);
}

G_END_DECLS
