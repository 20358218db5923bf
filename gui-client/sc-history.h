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

#include <glib-object.h>

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

/* Stored as integers: append new kinds at the end. */
typedef enum
{
  SC_HISTORY_KIND_INCOMING,      /* a private message to us */
  SC_HISTORY_KIND_OUTGOING,      /* our private message to someone */
  SC_HISTORY_KIND_BROADCAST_IN,  /* someone's message to everyone */
  SC_HISTORY_KIND_BROADCAST_OUT, /* our message to everyone */
  SC_HISTORY_KIND_EVENT,         /* a join, a leave, a server answer */
} ScHistoryKind;

/* One message of a conversation.  Every string is owned by the entry
 * and valid UTF-8; sender_nickname may be NULL. */
typedef struct
{
  char *server;       /* "host:port" */
  char *conversation; /* the caller's key, opaque to the store */
  gint64 time_us;     /* real time, as g_get_real_time() */
  ScHistoryKind kind;
  char *sender_nickname;
  guint32 sender_id;
  char *text;
  guint64 message_id; /* the server's id for it, 0 for none */
  int state;          /* the caller's delivery state; opaque here */
} ScHistoryEntry;

#define SC_TYPE_HISTORY_ENTRY (sc_history_entry_get_type ())
GType sc_history_entry_get_type (void) G_GNUC_CONST;

ScHistoryEntry *sc_history_entry_new (const char *server,
                                      const char *conversation,
                                      gint64 time_us,
                                      ScHistoryKind kind,
                                      const char *sender_nickname,
                                      guint32 sender_id,
                                      const char *text,
                                      guint64 message_id,
                                      int state);
ScHistoryEntry *sc_history_entry_copy (const ScHistoryEntry *entry);
void sc_history_entry_free (ScHistoryEntry *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScHistoryEntry, sc_history_entry_free)

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

gboolean sc_history_clear (ScHistory *self, GError **error);
gboolean
sc_history_clear_server (ScHistory *self, const char *server, GError **error);

G_END_DECLS
