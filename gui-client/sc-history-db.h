/* sc-history-db.h: the history's SQLite file, for sc-history.c and
 * sc-history-writer.c only.
 *
 * The helpers set SC_HISTORY_ERROR errors.  An ScHistoryDb is a reading
 * connection with its prepared queries; it is used by one thread at a
 * time, the one that opened it. */
#pragma once

#include <gio/gio.h>
#include <sqlite3.h>

#include "sc-history-entry.h"

G_BEGIN_DECLS

typedef struct _ScHistoryDb ScHistoryDb;

sqlite3 *sc_history_db_open (const char *path, GError **error);
gboolean sc_history_db_ensure_folder (const char *path, GError **error);
gboolean sc_history_db_ensure_schema (sqlite3 *db, GError **error);

gboolean
sc_history_db_fail (GError **error, sqlite3 *db, int rc, const char *doing);
gboolean sc_history_db_exec (sqlite3 *db, const char *sql, GError **error);
gboolean sc_history_db_prepare (sqlite3 *db,
                                const char *sql,
                                sqlite3_stmt **stmt,
                                GError **error);
gboolean sc_history_db_step_done (sqlite3_stmt *stmt, GError **error);
void sc_history_db_bind_text (sqlite3_stmt *stmt, int index, const char *text);

ScHistoryDb *sc_history_db_new (const char *path, GError **error);
void sc_history_db_free (ScHistoryDb *self);
GPtrArray *sc_history_db_load (ScHistoryDb *self,
                               const char *server,
                               const char *conversation,
                               guint limit,
                               GError **error);
GPtrArray *sc_history_db_search (ScHistoryDb *self,
                                 const char *server,
                                 const char *conversation,
                                 const char *needle,
                                 guint limit,
                                 GError **error);

GPtrArray *sc_history_db_load_range (ScHistoryDb *self,
                                     const char *server,
                                     const char *conversation,
                                     gint64 from_row,
                                     gint64 before_row,
                                     GError **error);
gboolean sc_history_db_count_older (ScHistoryDb *self,
                                    const char *server,
                                    const char *conversation,
                                    const char *needle,
                                    gint64 before_row,
                                    guint *n_older,
                                    gint64 *newest_row,
                                    GError **error);
void sc_history_db_set_cancellable (ScHistoryDb *self,
                                    GCancellable *cancellable);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScHistoryDb, sc_history_db_free)

G_END_DECLS
