/* sc-registry.c: the id table behind list, send and broadcast. */
#include "config.h"

#include <string.h>

#include "sc-connection.h"
#include "sc-registry.h"
#include "sc-tsan.h"

typedef struct
{
  ScClientInfo info;
  ScConnection *connection; /* a reference */
  gboolean ready;           /* said hello: listed and reachable */
  gboolean wants_presence;  /* gets joined/left/renamed notices */
} Entry;

struct _ScRegistry
{
  GRWLock lock;
  GHashTable *entries; /* id -> Entry */
  GArray *ready_ids;   /* sorted ids of ready entries, for list pages */
};

static void
entry_free (Entry *entry)
{
  sc_client_info_clear (&entry->info);
  sc_connection_unref (entry->connection);
  g_free (entry);
}

ScRegistry *
sc_registry_new (void)
{
  ScRegistry *registry = g_new0 (ScRegistry, 1);

  g_rw_lock_init (&registry->lock);
  registry->entries =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) entry_free);
  registry->ready_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  return registry;
}

void
sc_registry_free (ScRegistry *registry)
{
  if (registry == NULL)
    return;
  g_hash_table_unref (registry->entries);
  g_array_unref (registry->ready_ids);
  g_rw_lock_clear (&registry->lock);
  g_free (registry);
}

void
sc_registry_add (ScRegistry *registry,
                 const ScClientInfo *info,
                 ScConnection *connection)
{
  Entry *entry = g_new0 (Entry, 1);

  sc_client_info_copy_into (&entry->info, info);
  entry->connection = sc_connection_ref (connection);
  g_rw_lock_writer_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  g_hash_table_replace (registry->entries, GUINT_TO_POINTER (info->id), entry);
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_writer_unlock (&registry->lock);
}

/* Position of @id in the sorted ready ids, or where it would go. */
static guint
ready_position (GArray *ids, guint32 id, gboolean *found)
{
  guint lo = 0, hi = ids->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      guint32 value = g_array_index (ids, guint32, mid);

      if (value < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < ids->len && g_array_index (ids, guint32, lo) == id;
  return lo;
}

void
sc_registry_remove (ScRegistry *registry, guint32 id)
{
  gboolean found;
  guint pos;

  g_rw_lock_writer_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  g_hash_table_remove (registry->entries, GUINT_TO_POINTER (id));
  pos = ready_position (registry->ready_ids, id, &found);
  if (found)
    g_array_remove_index (registry->ready_ids, pos);
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_writer_unlock (&registry->lock);
}

/* Marks @id as having said hello, or renames it when it already has. */
void
sc_registry_set_ready (ScRegistry *registry, guint32 id, const char *nickname)
{
  Entry *entry;
  gboolean found;
  guint pos;

  g_rw_lock_writer_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL)
    {
      g_free (entry->info.nickname);
      entry->info.nickname = g_strdup (nickname);
      if (!entry->ready)
        {
          entry->ready = TRUE;
          pos = ready_position (registry->ready_ids, id, &found);
          g_array_insert_val (registry->ready_ids, pos, id);
        }
    }
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_writer_unlock (&registry->lock);
}

/* Returns a reference to the connection of ready client @id, or NULL.
 * (transfer full) */
ScConnection *
sc_registry_lookup_ready (ScRegistry *registry, guint32 id)
{
  ScConnection *connection = NULL;
  Entry *entry;

  g_rw_lock_reader_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL && entry->ready)
    connection = sc_connection_ref (entry->connection);
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_reader_unlock (&registry->lock);
  return connection;
}

void
sc_registry_set_presence (ScRegistry *registry,
                          guint32 id,
                          gboolean wants_presence)
{
  Entry *entry;

  g_rw_lock_writer_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL)
    entry->wants_presence = wants_presence;
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_writer_unlock (&registry->lock);
}

static GPtrArray *
collect_ready (ScRegistry *registry, guint32 except_id, gboolean presence_only)
{
  GPtrArray *out =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_connection_unref);

  g_rw_lock_reader_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  for (guint i = 0; i < registry->ready_ids->len; i++)
    {
      guint32 id = g_array_index (registry->ready_ids, guint32, i);
      Entry *entry =
        g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));

      if (id != except_id && (!presence_only || entry->wants_presence))
        g_ptr_array_add (out, sc_connection_ref (entry->connection));
    }
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_reader_unlock (&registry->lock);
  return out;
}

/* Returns references to every ready client's connection but
 * @except_id's, in id order.  (transfer full) */
GPtrArray *
sc_registry_ready_connections (ScRegistry *registry, guint32 except_id)
{
  return collect_ready (registry, except_id, FALSE);
}

/* The same, only the clients that want presence notices. */
GPtrArray *
sc_registry_presence_connections (ScRegistry *registry, guint32 except_id)
{
  return collect_ready (registry, except_id, TRUE);
}

guint
sc_registry_count_ready (ScRegistry *registry)
{
  guint n;

  g_rw_lock_reader_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  n = registry->ready_ids->len;
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_reader_unlock (&registry->lock);
  return n;
}

static gsize
encoded_size (const ScClientInfo *info)
{
  return 4 + 2 + 8 + 2 + strlen (info->nickname) + 2 + strlen (info->address);
}

/* Copies the ready clients with ids above @after_id, in id order, until
 * their encoding would pass @byte_budget.  (transfer full) */
GPtrArray *
sc_registry_list_page (ScRegistry *registry,
                       guint32 after_id,
                       gsize byte_budget,
                       gboolean *more)
{
  GPtrArray *page =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  gsize used = 0;
  gboolean found;
  guint i;

  g_rw_lock_reader_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
  i = ready_position (registry->ready_ids, after_id, &found);
  if (found)
    i++;
  for (; i < registry->ready_ids->len; i++)
    {
      guint32 id = g_array_index (registry->ready_ids, guint32, i);
      Entry *entry =
        g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
      gsize size = encoded_size (&entry->info);

      if (used + size > byte_budget)
        break;
      used += size;
      g_ptr_array_add (page, sc_client_info_copy (&entry->info));
    }
  *more = i < registry->ready_ids->len;
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_reader_unlock (&registry->lock);
  return page;
}
