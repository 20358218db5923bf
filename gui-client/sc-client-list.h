/* sc-client-list.h: the model behind the client list, a GtkListStore
 * kept in id order and fed from the client core's indications. */
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
  SC_CLIENT_LIST_N_COLUMNS
} ScClientListColumn;

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
gboolean sc_client_list_search_equal (GtkTreeModel *model,
                                      int column,
                                      const char *key,
                                      GtkTreeIter *iter,
                                      gpointer unused);

G_END_DECLS
