/* sc-owed-receipts.h: the delivery receipts one client is owed and that
 * are not yet encoded, kept as 16-byte records until its output has room
 * for them.
 *
 * A plain data structure with no lock; ScOutbox holds one under its lock
 * and decides when there is room (sc-outbox.c). */
#pragma once

#include <glib.h>

#include "sc-protocol.h"

G_BEGIN_DECLS

typedef struct
{
  GArray *receipts; /* OwedReceipt, from head on; NULL while none is owed */
  guint head;
} ScOwedReceipts;

void sc_owed_receipts_add (ScOwedReceipts *owed,
                           guint64 message_id,
                           guint32 recipient_id,
                           ScStatus status);
gsize sc_owed_receipts_count (const ScOwedReceipts *owed);
gboolean sc_owed_receipts_encode_next (ScOwedReceipts *owed,
                                       guint batch_limit,
                                       GByteArray *out);
void sc_owed_receipts_clear (ScOwedReceipts *owed);

G_END_DECLS
