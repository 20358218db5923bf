/* sc-conversations.h: the window's conversations.  Each has its own
 * message log, made when it is first needed and kept in a GtkStack
 * next to the "All activity" log, plus its unread count and the time
 * of its last message, which the conversation list shows. */
#pragma once

#include <gtk/gtk.h>

#include "sc-client-list.h"
#include "sc-message-log.h"

G_BEGIN_DECLS

#define SC_TYPE_CONVERSATIONS (sc_conversations_get_type ())
G_DECLARE_FINAL_TYPE (
  ScConversations, sc_conversations, SC, CONVERSATIONS, GObject)

ScConversations *sc_conversations_new (GtkStack *stack,
                                       ScMessageLog *all_log,
                                       ScClientList *list);
ScMessageLog *sc_conversations_get_log (ScConversations *self, const char *key);
ScMessageLog *sc_conversations_lookup_log (ScConversations *self,
                                           const char *key);
void sc_conversations_show (ScConversations *self, const char *key);
const char *sc_conversations_get_visible_key (ScConversations *self);
ScMessageLog *sc_conversations_get_visible_log (ScConversations *self);
void sc_conversations_note_message (ScConversations *self,
                                    const char *key,
                                    gboolean unread);
void sc_conversations_mark_read (ScConversations *self, const char *key);
guint sc_conversations_get_unread (ScConversations *self, const char *key);
guint sc_conversations_get_total_unread (ScConversations *self);
void sc_conversations_update_rows (ScConversations *self);
void sc_conversations_forget_logs (ScConversations *self);
void sc_conversations_foreach_log (ScConversations *self,
                                   GFunc func,
                                   gpointer user_data);

G_END_DECLS
