/* sc-client-list.h: the model behind the conversation list, a
 * GtkListStore: three fixed rows (All activity, Everyone, Server), then
 * one row per connected client in id order, fed from the client core's
 * indications, each with its conversation's unread count. */
#pragma once

#include <gtk/gtk.h>

#include "sc-peer.h"

G_BEGIN_DECLS

typedef enum
{
  SC_CLIENT_LIST_COLUMN_ID,       /* guint */
  SC_CLIENT_LIST_COLUMN_NICKNAME, /* the nickname as the server has it */
  SC_CLIENT_LIST_COLUMN_ADDRESS,
  SC_CLIENT_LIST_COLUMN_PORT,  /* guint */
  SC_CLIENT_LIST_COLUMN_SINCE, /* local time, formatted */
  SC_CLIENT_LIST_COLUMN_IS_SELF,
  SC_CLIENT_LIST_COLUMN_WEIGHT,   /* PangoWeight: bold for our own row */
  SC_CLIENT_LIST_COLUMN_DISPLAY,  /* nickname plus "(you)" */
  SC_CLIENT_LIST_COLUMN_SINCE_MS, /* gint64: when it connected */
  SC_CLIENT_LIST_COLUMN_KIND,     /* ScConversationKind */
  SC_CLIENT_LIST_COLUMN_KEY,      /* the conversation's key */
  SC_CLIENT_LIST_COLUMN_UNREAD,   /* guint */
  SC_CLIENT_LIST_COLUMN_BADGE,    /* markup: last time and unread count */
  SC_CLIENT_LIST_COLUMN_MARKUP,   /* markup: name, then id and address */
  SC_CLIENT_LIST_COLUMN_ICON,     /* icon name */
  SC_CLIENT_LIST_N_COLUMNS
} ScClientListColumn;

typedef enum
{
  SC_CONVERSATION_ALL,      /* every line, as the lab's single log */
  SC_CONVERSATION_EVERYONE, /* broadcasts */
  SC_CONVERSATION_SERVER,   /* answers, joins and leaves */
  SC_CONVERSATION_PERSON,   /* private messages with one client */
} ScConversationKind;

#define SC_CONVERSATION_KEY_ALL      "all"
#define SC_CONVERSATION_KEY_EVERYONE "everyone"
#define SC_CONVERSATION_KEY_SERVER   "server"

#define SC_TYPE_CLIENT_LIST (sc_client_list_get_type ())
G_DECLARE_FINAL_TYPE (
  ScClientList, sc_client_list, SC, CLIENT_LIST, GtkListStore)

ScClientList *sc_client_list_new (void);
void sc_client_list_set_self_id (ScClientList *self, guint32 id);
void sc_client_list_upsert (ScClientList *self, const ScPeer *peer);
gboolean sc_client_list_remove (ScClientList *self, guint32 id);
gboolean
sc_client_list_rename (ScClientList *self, guint32 id, const char *nickname);
void sc_client_list_replace (ScClientList *self, GPtrArray *infos);
char *sc_client_list_describe (ScClientList *self, guint32 id);
ScPeer *sc_client_list_lookup (ScClientList *self, guint32 id);
gboolean
sc_client_list_find (ScClientList *self, guint32 id, GtkTreeIter *iter);
void sc_client_list_clear_people (ScClientList *self);
guint sc_client_list_get_n_people (ScClientList *self);
char *sc_client_list_get_key (ScClientList *self, guint32 id);
char *sc_client_list_key_title (ScClientList *self, const char *key);
gboolean sc_client_list_find_key (ScClientList *self,
                                  const char *key,
                                  GtkTreeIter *iter);
void sc_client_list_set_activity (ScClientList *self,
                                  const char *key,
                                  guint unread,
                                  gint64 last_us);
gboolean sc_client_list_search_equal (GtkTreeModel *model,
                                      int column,
                                      const char *key,
                                      GtkTreeIter *iter,
                                      gpointer unused);

G_END_DECLS
