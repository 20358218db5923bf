/* sc-history-entry.c: ScHistoryEntry, a boxed type. */
#include "config.h"

#include "sc-history-entry.h"

G_DEFINE_BOXED_TYPE (ScHistoryEntry,
                     sc_history_entry,
                     sc_history_entry_copy,
                     sc_history_entry_free)

/* @sender_nickname may be NULL; @text NULL is stored as "". */
ScHistoryEntry *
sc_history_entry_new (const char *server,
                      const char *conversation,
                      gint64 time_us,
                      ScHistoryKind kind,
                      const char *sender_nickname,
                      guint32 sender_id,
                      const char *text,
                      guint64 message_id,
                      int state)
{
  ScHistoryEntry *entry;

  g_return_val_if_fail (server != NULL && conversation != NULL, NULL);
  entry = g_new0 (ScHistoryEntry, 1);
  entry->server = g_strdup (server);
  entry->conversation = g_strdup (conversation);
  entry->time_us = time_us;
  entry->kind = kind;
  entry->sender_nickname = g_strdup (sender_nickname);
  entry->sender_id = sender_id;
  entry->text = g_strdup (text ? text : "");
  entry->message_id = message_id;
  entry->state = state;
  return entry;
}

ScHistoryEntry *
sc_history_entry_copy (const ScHistoryEntry *entry)
{
  ScHistoryEntry *copy;

  g_return_val_if_fail (entry != NULL, NULL);
  copy =
    sc_history_entry_new (entry->server, entry->conversation, entry->time_us,
                          entry->kind, entry->sender_nickname, entry->sender_id,
                          entry->text, entry->message_id, entry->state);
  copy->row = entry->row;
  return copy;
}

void
sc_history_entry_free (ScHistoryEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->server);
  g_free (entry->conversation);
  g_free (entry->sender_nickname);
  g_free (entry->text);
  g_free (entry);
}
