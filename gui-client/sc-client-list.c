/* sc-client-list.c: the client list model.  Rows stay sorted by id, so a
 * joined client lands where a refresh would put it. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sc-client-list.h"

struct _ScClientList
{
  GtkListStore parent_instance;

  guint32 self_id;
};

G_DEFINE_FINAL_TYPE (ScClientList, sc_client_list, GTK_TYPE_LIST_STORE)

static char *
format_since (gint64 since_ms)
{
  g_autoptr (GDateTime) local = NULL;

  if (since_ms <= 0)
    return g_strdup ("");
  local = g_date_time_new_from_unix_local (since_ms / 1000);
  /* The date only when it is not today; the full stamp is long. */
  if (local == NULL)
    return g_strdup ("");
  else
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      gboolean today =
        g_date_time_get_day_of_year (now) ==
          g_date_time_get_day_of_year (local) &&
        g_date_time_get_year (now) == g_date_time_get_year (local);

      return g_date_time_format (local, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M");
    }
}

static char *
display_name (const char *nickname, gboolean is_self)
{
  /* A dash for a client without a nickname: short enough that "(you)"
   * still fits the column. */
  const char *shown = nickname && *nickname ? nickname : "—";

  /* Translators: marks the user's own row in the client list. */
  return is_self ? g_strdup_printf (_ ("%s (you)"), shown) : g_strdup (shown);
}

static void
set_display (ScClientList *self, GtkTreeIter *iter, const char *nickname)
{
  guint id;
  gboolean is_self;
  g_autofree char *shown = NULL;

  gtk_tree_model_get (GTK_TREE_MODEL (self), iter, SC_CLIENT_LIST_COLUMN_ID,
                      &id, -1);
  is_self = self->self_id != 0 && id == self->self_id;
  shown = display_name (nickname, is_self);
  gtk_list_store_set (
    GTK_LIST_STORE (self), iter, SC_CLIENT_LIST_COLUMN_NICKNAME, nickname,
    SC_CLIENT_LIST_COLUMN_IS_SELF, is_self, SC_CLIENT_LIST_COLUMN_WEIGHT,
    is_self ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL,
    SC_CLIENT_LIST_COLUMN_DISPLAY, shown, -1);
}

/* Finds the row for @id, or (returning FALSE) the row it belongs before,
 * with @iter invalid when it belongs at the end. */
static gboolean
find_row (ScClientList *self, guint32 id, GtkTreeIter *iter, gboolean *at_end)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self);
  gboolean valid = gtk_tree_model_get_iter_first (model, iter);

  for (; valid; valid = gtk_tree_model_iter_next (model, iter))
    {
      guint row_id;

      gtk_tree_model_get (model, iter, SC_CLIENT_LIST_COLUMN_ID, &row_id, -1);
      if (row_id == id)
        return TRUE;
      if (row_id > id)
        break;
    }
  if (at_end)
    *at_end = !valid;
  return FALSE;
}

void
sc_client_list_upsert (ScClientList *self, const ScPeer *info)
{
  GtkTreeIter iter, before;
  gboolean at_end = FALSE;
  g_autofree char *since = NULL;

  g_return_if_fail (SC_IS_CLIENT_LIST (self));
  g_return_if_fail (info != NULL);

  if (!find_row (self, info->id, &before, &at_end))
    gtk_list_store_insert_before (GTK_LIST_STORE (self), &iter,
                                  at_end ? NULL : &before);
  else
    iter = before;
  since = format_since (info->connected_since_ms);
  gtk_list_store_set (
    GTK_LIST_STORE (self), &iter, SC_CLIENT_LIST_COLUMN_ID, info->id,
    SC_CLIENT_LIST_COLUMN_ADDRESS, info->address, SC_CLIENT_LIST_COLUMN_PORT,
    (guint) info->port, SC_CLIENT_LIST_COLUMN_SINCE, since,
    SC_CLIENT_LIST_COLUMN_SINCE_MS, info->connected_since_ms, -1);
  set_display (self, &iter, info->nickname);
}

gboolean
sc_client_list_remove (ScClientList *self, guint32 id)
{
  GtkTreeIter iter;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), FALSE);
  if (!find_row (self, id, &iter, NULL))
    return FALSE;
  gtk_list_store_remove (GTK_LIST_STORE (self), &iter);
  return TRUE;
}

gboolean
sc_client_list_rename (ScClientList *self, guint32 id, const char *nickname)
{
  GtkTreeIter iter;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), FALSE);
  if (!find_row (self, id, &iter, NULL))
    return FALSE;
  set_display (self, &iter, nickname);
  return TRUE;
}

/* Makes the rows match @infos (ScPeer*, as the core returns them from a
 * list request).  Rows that stay are updated in place, not
 * removed and added again, so the view keeps its selection. */
void
sc_client_list_replace (ScClientList *self, GPtrArray *infos)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self);
  g_autoptr (GHashTable) wanted = g_hash_table_new (NULL, NULL);
  GtkTreeIter iter;
  gboolean valid;

  g_return_if_fail (SC_IS_CLIENT_LIST (self));

  for (guint i = 0; infos && i < infos->len; i++)
    {
      const ScPeer *info = g_ptr_array_index (infos, i);

      g_hash_table_add (wanted, GUINT_TO_POINTER (info->id));
      sc_client_list_upsert (self, info);
    }
  valid = gtk_tree_model_get_iter_first (model, &iter);
  while (valid)
    {
      guint id;

      gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &id, -1);
      if (g_hash_table_contains (wanted, GUINT_TO_POINTER (id)))
        valid = gtk_tree_model_iter_next (model, &iter);
      else
        valid = gtk_list_store_remove (GTK_LIST_STORE (self), &iter);
    }
}

/* Marks our own row; 0 when not connected. */
void
sc_client_list_set_self_id (ScClientList *self, guint32 id)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self);
  GtkTreeIter iter;
  gboolean valid;

  g_return_if_fail (SC_IS_CLIENT_LIST (self));
  self->self_id = id;
  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      g_autofree char *nickname = NULL;

      gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_NICKNAME,
                          &nickname, -1);
      set_display (self, &iter, nickname);
    }
}

/* Returns "#id nickname" for a known client, "#id" otherwise. */
char *
sc_client_list_describe (ScClientList *self, guint32 id)
{
  GtkTreeIter iter;
  g_autofree char *nickname = NULL;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), NULL);
  if (find_row (self, id, &iter, NULL))
    gtk_tree_model_get (GTK_TREE_MODEL (self), &iter,
                        SC_CLIENT_LIST_COLUMN_NICKNAME, &nickname, -1);
  if (nickname && *nickname)
    return g_strdup_printf ("#%u %s", id, nickname);
  return g_strdup_printf ("#%u", id);
}

gboolean
sc_client_list_find (ScClientList *self, guint32 id, GtkTreeIter *iter)
{
  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), FALSE);
  return find_row (self, id, iter, NULL);
}

/* The person in the row for @id, or NULL when nobody has that id.
 * (transfer full) (nullable) */
ScPeer *
sc_client_list_lookup (ScClientList *self, guint32 id)
{
  GtkTreeIter iter;
  g_autofree char *nickname = NULL;
  g_autofree char *address = NULL;
  guint port;
  gint64 since_ms;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), NULL);
  if (!find_row (self, id, &iter, NULL))
    return NULL;
  gtk_tree_model_get (
    GTK_TREE_MODEL (self), &iter, SC_CLIENT_LIST_COLUMN_NICKNAME, &nickname,
    SC_CLIENT_LIST_COLUMN_ADDRESS, &address, SC_CLIENT_LIST_COLUMN_PORT, &port,
    SC_CLIENT_LIST_COLUMN_SINCE_MS, &since_ms, -1);
  return sc_peer_new (id, nickname, address, (guint16) port, since_ms);
}

/* The view's type-ahead: a row matches when its nickname contains what
 * was typed (case aside), or when "#N" or "N" is its id.  Returns FALSE
 * for a match, as GtkTreeViewSearchEqualFunc wants. */
gboolean
sc_client_list_search_equal (GtkTreeModel *model,
                             int column,
                             const char *key,
                             GtkTreeIter *iter,
                             gpointer unused)
{
  g_autofree char *nickname = NULL;
  g_autofree char *folded_key = NULL;
  g_autofree char *folded_name = NULL;
  const char *digits = key[0] == '#' ? key + 1 : key;
  guint64 wanted;
  guint id;

  gtk_tree_model_get (model, iter, SC_CLIENT_LIST_COLUMN_ID, &id,
                      SC_CLIENT_LIST_COLUMN_NICKNAME, &nickname, -1);
  if (*digits &&
      g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT32, &wanted, NULL))
    return wanted != id;
  folded_key = g_utf8_casefold (key, -1);
  folded_name = g_utf8_casefold (nickname ? nickname : "", -1);
  return strstr (folded_name, folded_key) == NULL;
}

ScClientList *
sc_client_list_new (void)
{
  return g_object_new (SC_TYPE_CLIENT_LIST, NULL);
}

static void
sc_client_list_class_init (ScClientListClass *klass)
{
}

static void
sc_client_list_init (ScClientList *self)
{
  GType types[SC_CLIENT_LIST_N_COLUMNS] = {
    G_TYPE_UINT,    G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT,  G_TYPE_STRING,
    G_TYPE_BOOLEAN, G_TYPE_INT,    G_TYPE_STRING, G_TYPE_INT64,
  };

  gtk_list_store_set_column_types (GTK_LIST_STORE (self),
                                   SC_CLIENT_LIST_N_COLUMNS, types);
}
