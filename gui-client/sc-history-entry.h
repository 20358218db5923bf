/* sc-history-entry.h: ScHistoryEntry, one message of a conversation as
 * the history stores it. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

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
  /* Its number in the conversation, counting up from 1 without gaps;
   * set on entries read from the store, 0 on the caller's own. */
  gint64 row;
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

G_END_DECLS
