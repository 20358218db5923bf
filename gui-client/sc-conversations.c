/* sc-conversations.c: the conversations' logs, unread counts and last
 * message times.
 *
 * A conversation's log is made the first time something is said in it
 * or it is opened, so a server with thousands of clients costs logs only
 * for the people one talks to.  Each log keeps its own bounded number of
 * lines (the "log-lines" setting, copied from the All activity log).
 * ::log-created lets the window fill a new log from history before any
 * new line reaches it. */
#include "config.h"

#include "sc-conversations.h"

typedef struct
{
  char *key;
  ScMessageLog *log; /* owned by the stack; the all log for "all" */
  GtkWidget *scroller;
  guint unread;
  gint64 last_us;
} Conversation;

struct _ScConversations
{
  GObject parent_instance;

  GtkStack *stack;
  ScMessageLog *all_log;
  ScClientList *list;
  GHashTable *by_key; /* key -> Conversation */
  char *visible_key;
  /* Conversations whose row shows an old count; one idle per burst
   * updates them, so a flood changes each row once per batch, not once
   * per message. */
  GHashTable *stale_rows; /* Conversation* set */
  guint rows_source;
};

enum
{
  SIGNAL_LOG_CREATED,
  SIGNAL_UNREAD_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ScConversations, sc_conversations, G_TYPE_OBJECT)

static void
conversation_free (Conversation *conversation)
{
  g_free (conversation->key);
  g_free (conversation);
}

static Conversation *
add_conversation (ScConversations *self, const char *key, ScMessageLog *log)
{
  Conversation *conversation = g_new0 (Conversation, 1);

  conversation->key = g_strdup (key);
  conversation->log = log;
  g_hash_table_insert (self->by_key, conversation->key, conversation);
  return conversation;
}

/* A log in its own scrolled window, as the All activity log is. */
static Conversation *
create_conversation (ScConversations *self, const char *key)
{
  GtkWidget *scroller = gtk_scrolled_window_new (NULL, NULL);
  GtkWidget *log = sc_message_log_new ();
  Conversation *conversation;
  g_autofree char *title = sc_client_list_key_title (self->list, key);

  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (scroller),
                                       GTK_SHADOW_IN);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller),
                                  GTK_POLICY_EXTERNAL, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_margin_end (scroller, 6);
  g_object_bind_property (self->all_log, "max-lines", log, "max-lines",
                          G_BINDING_SYNC_CREATE);
  atk_object_set_name (gtk_widget_get_accessible (log), title);
  gtk_container_add (GTK_CONTAINER (scroller), log);
  gtk_widget_show_all (scroller);
  gtk_stack_add_named (self->stack, scroller, key);
  conversation = add_conversation (self, key, SC_MESSAGE_LOG (log));
  conversation->scroller = scroller;
  g_signal_emit (self, signals[SIGNAL_LOG_CREATED], 0, key, log);
  return conversation;
}

static Conversation *
ensure_conversation (ScConversations *self, const char *key)
{
  Conversation *conversation = g_hash_table_lookup (self->by_key, key);

  return conversation ? conversation : create_conversation (self, key);
}

/* The log of conversation @key, made now if it has none.
 * (transfer none) */
ScMessageLog *
sc_conversations_get_log (ScConversations *self, const char *key)
{
  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), NULL);
  return ensure_conversation (self, key)->log;
}

/* The log of conversation @key if it has one.  (transfer none) */
ScMessageLog *
sc_conversations_lookup_log (ScConversations *self, const char *key)
{
  Conversation *conversation;

  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), NULL);
  conversation = g_hash_table_lookup (self->by_key, key);
  return conversation ? conversation->log : NULL;
}

static gboolean
on_update_rows (gpointer data)
{
  ScConversations *self = data;
  GHashTableIter iter;
  Conversation *conversation;

  self->rows_source = 0;
  g_hash_table_iter_init (&iter, self->stale_rows);
  while (g_hash_table_iter_next (&iter, (gpointer *) &conversation, NULL))
    sc_client_list_set_activity (self->list, conversation->key,
                                 conversation->unread, conversation->last_us);
  g_hash_table_remove_all (self->stale_rows);
  return G_SOURCE_REMOVE;
}

static void
show_activity (ScConversations *self, Conversation *conversation)
{
  g_hash_table_add (self->stale_rows, conversation);
  if (self->rows_source == 0)
    self->rows_source =
      g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, on_update_rows, self, NULL);
}

/* Shows every count now (tests, and before the window reads a row). */
void
sc_conversations_update_rows (ScConversations *self)
{
  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  g_clear_handle_id (&self->rows_source, g_source_remove);
  on_update_rows (self);
}

/* Shows conversation @key.  The divider of the one left behind goes:
 * what was under it has been seen. */
void
sc_conversations_show (ScConversations *self, const char *key)
{
  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  if (g_strcmp0 (self->visible_key, key) == 0)
    return;
  if (self->visible_key)
    {
      Conversation *left =
        g_hash_table_lookup (self->by_key, self->visible_key);

      if (left && left->unread == 0)
        sc_message_log_clear_unread_mark (left->log);
    }
  ensure_conversation (self, key);
  g_free (self->visible_key);
  self->visible_key = g_strdup (key);
  gtk_stack_set_visible_child_name (self->stack, key);
}

const char *
sc_conversations_get_visible_key (ScConversations *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), NULL);
  return self->visible_key;
}

ScMessageLog *
sc_conversations_get_visible_log (ScConversations *self)
{
  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), NULL);
  return sc_conversations_get_log (self, self->visible_key);
}

/* A message is about to be added to @key's log.  When @unread (nobody
 * is reading that conversation now), it counts, and the first one gets
 * the "New messages" divider above it. */
void
sc_conversations_note_message (ScConversations *self,
                               const char *key,
                               gboolean unread)
{
  Conversation *conversation;

  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  conversation = ensure_conversation (self, key);
  conversation->last_us = g_get_real_time ();
  if (unread)
    {
      if (conversation->unread == 0)
        sc_message_log_mark_unread (conversation->log);
      conversation->unread++;
    }
  show_activity (self, conversation);
  if (unread)
    g_signal_emit (self, signals[SIGNAL_UNREAD_CHANGED], 0, key);
}

/* The user has seen @key's messages.  The divider stays until they
 * leave the conversation, so they can still see where the new ones
 * started. */
void
sc_conversations_mark_read (ScConversations *self, const char *key)
{
  Conversation *conversation;

  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  conversation = g_hash_table_lookup (self->by_key, key);
  if (conversation == NULL || conversation->unread == 0)
    return;
  conversation->unread = 0;
  show_activity (self, conversation);
  g_signal_emit (self, signals[SIGNAL_UNREAD_CHANGED], 0, key);
}

guint
sc_conversations_get_unread (ScConversations *self, const char *key)
{
  Conversation *conversation;

  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), 0);
  conversation = g_hash_table_lookup (self->by_key, key);
  return conversation ? conversation->unread : 0;
}

guint
sc_conversations_get_total_unread (ScConversations *self)
{
  GHashTableIter iter;
  Conversation *conversation;
  guint total = 0;

  g_return_val_if_fail (SC_IS_CONVERSATIONS (self), 0);
  g_hash_table_iter_init (&iter, self->by_key);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conversation))
    total += conversation->unread;
  return total;
}

/* Drops every conversation's log but the All activity one (another
 * server's conversations are other conversations). */
void
sc_conversations_forget_logs (ScConversations *self)
{
  GHashTableIter iter;
  Conversation *conversation;

  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  sc_conversations_show (self, SC_CONVERSATION_KEY_ALL);
  g_hash_table_iter_init (&iter, self->by_key);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conversation))
    {
      if (conversation->scroller == NULL)
        continue;
      g_hash_table_remove (self->stale_rows, conversation);
      sc_client_list_set_activity (self->list, conversation->key, 0, 0);
      gtk_widget_destroy (conversation->scroller);
      g_hash_table_iter_remove (&iter);
    }
}

/* Calls @func (log, @user_data) for every log, the All one included. */
void
sc_conversations_foreach_log (ScConversations *self,
                              GFunc func,
                              gpointer user_data)
{
  GHashTableIter iter;
  Conversation *conversation;

  g_return_if_fail (SC_IS_CONVERSATIONS (self));
  g_hash_table_iter_init (&iter, self->by_key);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conversation))
    func (conversation->log, user_data);
}

ScConversations *
sc_conversations_new (GtkStack *stack,
                      ScMessageLog *all_log,
                      ScClientList *list)
{
  ScConversations *self = g_object_new (SC_TYPE_CONVERSATIONS, NULL);

  self->stack = g_object_ref (stack);
  self->all_log = g_object_ref (all_log);
  self->list = g_object_ref (list);
  add_conversation (self, SC_CONVERSATION_KEY_ALL, all_log);
  self->visible_key = g_strdup (SC_CONVERSATION_KEY_ALL);
  return self;
}

static void
sc_conversations_finalize (GObject *object)
{
  ScConversations *self = SC_CONVERSATIONS (object);

  g_clear_handle_id (&self->rows_source, g_source_remove);
  g_hash_table_unref (self->stale_rows);
  g_hash_table_unref (self->by_key);
  g_clear_object (&self->stack);
  g_clear_object (&self->all_log);
  g_clear_object (&self->list);
  g_free (self->visible_key);
  G_OBJECT_CLASS (sc_conversations_parent_class)->finalize (object);
}

static void
sc_conversations_class_init (ScConversationsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sc_conversations_finalize;

  /* A conversation's log was made, empty: (key, log). */
  signals[SIGNAL_LOG_CREATED] = g_signal_new (
    "log-created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
    NULL, G_TYPE_NONE, 2, G_TYPE_STRING, SC_TYPE_MESSAGE_LOG);
  /* A conversation's unread count changed: (key). */
  signals[SIGNAL_UNREAD_CHANGED] = g_signal_new (
    "unread-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
sc_conversations_init (ScConversations *self)
{
  self->by_key = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify) conversation_free);
  self->stale_rows = g_hash_table_new (NULL, NULL);
}
