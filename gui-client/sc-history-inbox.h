/* sc-history-inbox.h: operations for the history's writer thread and
 * the queue that carries them, for sc-history.c and sc-history-writer.c
 * only.  Any thread may push; only the writer takes. */
#pragma once

#include "sc-history-entry.h"

G_BEGIN_DECLS

/* A caller waiting for the writer to have committed an operation; it
 * lives on the waiter's stack. */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean done;
  GError *error;
} ScHistoryWait;

typedef enum
{
  OP_APPEND,
  OP_UPDATE_STATE,
  OP_SET_LIMIT,
  OP_CLEAR, /* server NULL: every server */
  OP_FLUSH,
  OP_QUIT,
} ScHistoryOpKind;

typedef struct
{
  ScHistoryOpKind kind;
  ScHistoryEntry *entry; /* OP_APPEND */
  char *server;          /* OP_UPDATE_STATE, OP_CLEAR */
  guint64 message_id;
  int state;
  guint limit;
  ScHistoryWait *wait; /* not owned: the waiter outlives the operation */
} ScHistoryOp;

ScHistoryOp *sc_history_op_new (ScHistoryOpKind kind);
void sc_history_op_free (ScHistoryOp *op);

void sc_history_wait_init (ScHistoryWait *wait);
gboolean sc_history_wait_finish (ScHistoryWait *wait, GError **error);
void sc_history_wait_complete (ScHistoryWait *wait, const GError *error);

typedef struct _ScHistoryInbox ScHistoryInbox;

ScHistoryInbox *sc_history_inbox_new (void);
ScHistoryInbox *sc_history_inbox_ref (ScHistoryInbox *inbox);
void sc_history_inbox_unref (ScHistoryInbox *inbox);
gboolean
sc_history_inbox_push (ScHistoryInbox *inbox, ScHistoryOp *op, guint max);
void
sc_history_inbox_take (ScHistoryInbox *inbox, GQueue *into, gint64 deadline);
guint sc_history_inbox_get_pending (ScHistoryInbox *inbox);
void sc_history_inbox_committed (ScHistoryInbox *inbox, guint n);

G_END_DECLS
