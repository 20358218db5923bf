/* sc-pending-table.h: the connections that have not said HELLO yet, by
 * age and by source address, shared by the accept thread (which adds
 * them) and the workers (which remove them when they say HELLO or
 * close).
 *
 * Such connections do not count against max_clients; they are bounded
 * here instead, in total and per address, and when a bound is passed the
 * oldest of them (the oldest of the same address, for the per-address
 * bound) is the one to close: a client that says HELLO at once is never
 * the oldest for long, whoever floods.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScPendingTable ScPendingTable;

ScPendingTable *sc_pending_table_new (guint max_total, guint max_per_address);
void sc_pending_table_free (ScPendingTable *table);
void sc_pending_table_add (ScPendingTable *table,
                           guint32 id,
                           const char *address,
                           GArray *evicted);
void sc_pending_table_remove (ScPendingTable *table, guint32 id);
guint sc_pending_table_get_count (ScPendingTable *table);

G_END_DECLS
