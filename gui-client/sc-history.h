/* sc-history.h: the conversation history, kept in SQLite.
 *
 * One database file holds every server's conversations.  A conversation
 * is named by two opaque strings the caller chooses: the server
 * ("host:port") and the conversation ("everyone", "server",
 * "peer:alice", ...).
 *
 * Threads: sc_history_append(), sc_history_update_state() and
 * sc_history_set_limit() only queue work for the history's writer
 * thread, which commits it in batches (at most 256 rows or 100 ms
 * apart); they never wait and may be called from any thread.  The other
 * calls wait for the writer to commit what was queued before them, then
 * read or write; call them from the thread that owns the object.
 *
 * The store keeps at most the limit's number of rows per conversation
 * (sc_history_set_limit()); older rows are pruned after each commit. */
#pragma once

#include <gio/gio.h>

#include "sc-history-entry.h"

G_BEGIN_DECLS

#define SC_HISTORY_ERROR (sc_history_error_quark ())
GQuark sc_history_error_quark (void);

typedef enum
{
  SC_HISTORY_ERROR_OPEN,    /* the file or its folder could not be opened */
  SC_HISTORY_ERROR_CORRUPT, /* not an SQLite database, or a damaged one */
  SC_HISTORY_ERROR_VERSION, /* written by a newer SockChat */
  SC_HISTORY_ERROR_FAILED,  /* any other database failure */
} ScHistoryError;

/* Conversations keep this many rows unless told otherwise. */
#define SC_HISTORY_DEFAULT_LIMIT 10000

#define SC_TYPE_HISTORY (sc_history_get_type ())
G_DECLARE_FINAL_TYPE (ScHistory, sc_history, SC, HISTORY, GObject)

char *sc_history_default_path (void);
ScHistory *sc_history_new (const char *path, GError **error);
const char *sc_history_get_path (ScHistory *self);

void sc_history_append (ScHistory *self, const ScHistoryEntry *entry);
void sc_history_update_state (ScHistory *self,
                              const char *server,
                              guint64 message_id,
                              int state);
void sc_history_set_limit (ScHistory *self, guint per_conversation);
void sc_history_flush (ScHistory *self);

GPtrArray *sc_history_load (ScHistory *self,
                            const char *server,
                            const char *conversation,
                            guint limit,
                            GError **error);
GPtrArray *sc_history_search (ScHistory *self,
                              const char *server,
                              const char *conversation,
                              const char *needle,
                              guint limit,
                              GError **error);

GPtrArray *sc_history_load_range (ScHistory *self,
                                  const char *server,
                                  const char *conversation,
                                  gint64 from_row,
                                  gint64 before_row,
                                  GError **error);
void sc_history_count_older_async (ScHistory *self,
                                   const char *server,
                                   const char *conversation,
                                   const char *needle,
                                   gint64 before_row,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean sc_history_count_older_finish (ScHistory *self,
                                        GAsyncResult *result,
                                        guint *n_older,
                                        gint64 *newest_row,
                                        GError **error);

gboolean sc_history_clear (ScHistory *self, GError **error);
gboolean
sc_history_clear_server (ScHistory *self, const char *server, GError **error);

G_END_DECLS
