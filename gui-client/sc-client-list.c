/* sc-client-list.c: the conversation list model.  The three fixed rows
 * have id 0 and stay first; client rows stay sorted by id, so a joined
 * client lands where a refresh would put it.
 *
 * A client's conversation is keyed by nickname, so that it finds its
 * history again when the same person comes back with a new id; the key
 * is chosen when the row is made and kept through renames, since a
 * rename does not make someone else of them. */
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

#define N_FIXED_ROWS 3

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

/* Two lines: the name, then what the lab's list showed (id, address,
 * port and connection time) in small print. */
static char *
person_markup (const char *shown,
               guint id,
               const char *address,
               guint port,
               const char *since)
{
  /* Translators: under a client's name: id, address:port, since when. */
  g_autofree char *details =
    g_strdup_printf (_ ("#%u · %s:%u · since %s"), id, address, port, since);

  return g_markup_printf_escaped ("%s\n<small>%s</small>", shown, details);
}

static void
set_display (ScClientList *self, GtkTreeIter *iter, const char *nickname)
{
  guint id, port;
  gboolean is_self;
  g_autofree char *shown = NULL;
  g_autofree char *address = NULL;
  g_autofree char *since = NULL;
  g_autofree char *markup = NULL;

  gtk_tree_model_get (GTK_TREE_MODEL (self), iter, SC_CLIENT_LIST_COLUMN_ID,
                      &id, SC_CLIENT_LIST_COLUMN_ADDRESS, &address,
                      SC_CLIENT_LIST_COLUMN_PORT, &port,
                      SC_CLIENT_LIST_COLUMN_SINCE, &since, -1);
  is_self = self->self_id != 0 && id == self->self_id;
  shown = display_name (nickname, is_self);
  markup =
    person_markup (shown, id, address ? address : "", port, since ? since : "");
  gtk_list_store_set (
    GTK_LIST_STORE (self), iter, SC_CLIENT_LIST_COLUMN_NICKNAME, nickname,
    SC_CLIENT_LIST_COLUMN_IS_SELF, is_self, SC_CLIENT_LIST_COLUMN_WEIGHT,
    is_self ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL,
    SC_CLIENT_LIST_COLUMN_DISPLAY, shown, SC_CLIENT_LIST_COLUMN_MARKUP, markup,
    -1);
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
      if (row_id == 0)
        continue; /* a fixed row */
      if (row_id == id)
        return TRUE;
      if (row_id > id)
        break;
    }
  if (at_end)
    *at_end = !valid;
  return FALSE;
}

/* "peer:alice"; "peer:alice#7" while another alice is connected (a
 * server that lets two share a name must not merge their talks);
 * "peer:#7" for a client without a nickname. */
static char *
new_person_key (ScClientList *self, const ScPeer *info)
{
  g_autofree char *key = NULL;
  GtkTreeIter iter;

  if (info->nickname == NULL || *info->nickname == '\0')
    return g_strdup_printf ("peer:#%u", info->id);
  key = g_strconcat ("peer:", info->nickname, NULL);
  if (sc_client_list_find_key (self, key, &iter))
    return g_strdup_printf ("%s#%u", key, info->id);
  return g_steal_pointer (&key);
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
    {
      g_autofree char *key = NULL;

      if (info->id == 0)
        return; /* not a client */
      key = new_person_key (self, info);
      gtk_list_store_insert_before (GTK_LIST_STORE (self), &iter,
                                    at_end ? NULL : &before);
      gtk_list_store_set (
        GTK_LIST_STORE (self), &iter, SC_CLIENT_LIST_COLUMN_KIND,
        SC_CONVERSATION_PERSON, SC_CLIENT_LIST_COLUMN_KEY, key,
        SC_CLIENT_LIST_COLUMN_ICON, "avatar-default-symbolic", -1);
    }
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
      if (id == 0 || g_hash_table_contains (wanted, GUINT_TO_POINTER (id)))
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
      guint row_id;

      gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &row_id,
                          SC_CLIENT_LIST_COLUMN_NICKNAME, &nickname, -1);
      if (row_id != 0)
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
    return id == 0 || wanted != id;
  folded_key = g_utf8_casefold (key, -1);
  folded_name = g_utf8_casefold (nickname ? nickname : "", -1);
  return strstr (folded_name, folded_key) == NULL;
}

/* Removes every client row, keeping the fixed ones (after a
 * disconnect: the next connection lists its own clients). */
void
sc_client_list_clear_people (ScClientList *self)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self);
  GtkTreeIter iter;
  gboolean valid;

  g_return_if_fail (SC_IS_CLIENT_LIST (self));
  valid = gtk_tree_model_get_iter_first (model, &iter);
  while (valid)
    {
      guint id;

      gtk_tree_model_get (model, &iter, SC_CLIENT_LIST_COLUMN_ID, &id, -1);
      if (id == 0)
        valid = gtk_tree_model_iter_next (model, &iter);
      else
        valid = gtk_list_store_remove (GTK_LIST_STORE (self), &iter);
    }
}

guint
sc_client_list_get_n_people (ScClientList *self)
{
  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), 0);
  return (guint) gtk_tree_model_iter_n_children (GTK_TREE_MODEL (self), NULL) -
         N_FIXED_ROWS;
}

/* The conversation key of client @id, or NULL when it is not listed. */
char *
sc_client_list_get_key (ScClientList *self, guint32 id)
{
  GtkTreeIter iter;
  char *key = NULL;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), NULL);
  if (find_row (self, id, &iter, NULL))
    gtk_tree_model_get (GTK_TREE_MODEL (self), &iter, SC_CLIENT_LIST_COLUMN_KEY,
                        &key, -1);
  return key;
}

gboolean
sc_client_list_find_key (ScClientList *self, const char *key, GtkTreeIter *iter)
{
  GtkTreeModel *model = GTK_TREE_MODEL (self);
  gboolean valid;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), FALSE);
  for (valid = gtk_tree_model_get_iter_first (model, iter); valid;
       valid = gtk_tree_model_iter_next (model, iter))
    {
      g_autofree char *row_key = NULL;

      gtk_tree_model_get (model, iter, SC_CLIENT_LIST_COLUMN_KEY, &row_key, -1);
      if (g_strcmp0 (row_key, key) == 0)
        return TRUE;
    }
  return FALSE;
}

/* What a conversation is called in headers and notifications: the
 * fixed rows' names, a person's nickname (even once they have left). */
char *
sc_client_list_key_title (ScClientList *self, const char *key)
{
  GtkTreeIter iter;

  g_return_val_if_fail (SC_IS_CLIENT_LIST (self), NULL);
  if (sc_client_list_find_key (self, key, &iter))
    {
      char *title = NULL;

      gtk_tree_model_get (GTK_TREE_MODEL (self), &iter,
                          SC_CLIENT_LIST_COLUMN_NICKNAME, &title, -1);
      if (title && *title)
        return title;
      g_free (title);
    }
  if (g_str_has_prefix (key, "peer:"))
    return g_strdup (key + strlen ("peer:"));
  return g_strdup (key);
}

static char *
format_badge (guint unread, gint64 last_us)
{
  g_autofree char *time = NULL;

  if (last_us <= 0)
    return g_strdup ("");
  time = format_since (last_us / 1000);
  if (unread == 0)
    return g_markup_printf_escaped ("<small>%s</small>", time);
  return g_markup_printf_escaped ("<small>%s</small>\n<b>%u</b>", time, unread);
}

/* Shows a conversation's unread count and the time of its last
 * message on its row, if it has one. */
void
sc_client_list_set_activity (ScClientList *self,
                             const char *key,
                             guint unread,
                             gint64 last_us)
{
  GtkTreeIter iter;
  g_autofree char *badge = NULL;

  g_return_if_fail (SC_IS_CLIENT_LIST (self));
  if (!sc_client_list_find_key (self, key, &iter))
    return;
  badge = format_badge (unread, last_us);
  gtk_list_store_set (GTK_LIST_STORE (self), &iter,
                      SC_CLIENT_LIST_COLUMN_UNREAD, unread,
                      SC_CLIENT_LIST_COLUMN_BADGE, badge, -1);
}

static void
add_fixed_row (ScClientList *self,
               ScConversationKind kind,
               const char *icon,
               const char *key,
               const char *title,
               const char *subtitle)
{
  g_autofree char *markup =
    g_markup_printf_escaped ("%s\n<small>%s</small>", title, subtitle);

  gtk_list_store_insert_with_values (
    GTK_LIST_STORE (self), NULL, -1, SC_CLIENT_LIST_COLUMN_ID, 0,
    SC_CLIENT_LIST_COLUMN_NICKNAME, title, SC_CLIENT_LIST_COLUMN_DISPLAY, title,
    SC_CLIENT_LIST_COLUMN_WEIGHT, PANGO_WEIGHT_NORMAL,
    SC_CLIENT_LIST_COLUMN_KIND, kind, SC_CLIENT_LIST_COLUMN_KEY, key,
    SC_CLIENT_LIST_COLUMN_MARKUP, markup, SC_CLIENT_LIST_COLUMN_BADGE, "",
    SC_CLIENT_LIST_COLUMN_ICON, icon, -1);
}

static void
add_fixed_rows (ScClientList *self)
{
  add_fixed_row (self, SC_CONVERSATION_ALL, "view-list-symbolic",
                 SC_CONVERSATION_KEY_ALL, _ ("All activity"),
                 _ ("Everything, as one log"));
  add_fixed_row (self, SC_CONVERSATION_EVERYONE, "system-users-symbolic",
                 SC_CONVERSATION_KEY_EVERYONE, _ ("Everyone"),
                 _ ("Broadcasts to every client"));
  add_fixed_row (self, SC_CONVERSATION_SERVER, "network-server-symbolic",
                 SC_CONVERSATION_KEY_SERVER, _ ("Server"),
                 _ ("Time, name, lists, joins and leaves"));
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
    G_TYPE_UINT,    G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT,   G_TYPE_STRING,
    G_TYPE_BOOLEAN, G_TYPE_INT,    G_TYPE_STRING, G_TYPE_INT64,  G_TYPE_INT,
    G_TYPE_STRING,  G_TYPE_UINT,   G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
  };

  gtk_list_store_set_column_types (GTK_LIST_STORE (self),
                                   SC_CLIENT_LIST_N_COLUMNS, types);
  add_fixed_rows (self);
}
