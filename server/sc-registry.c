/* sc-registry.c: the id table behind list, send and broadcast.
 *
 * A reader-writer lock guards the table, held only for a lookup, a list
 * page or a short update.  Requests that reach every client (broadcasts,
 * presence notices) do not iterate under it: they take a snapshot, an
 * immutable array of outbox references that is rebuilt under the write
 * lock only when the set of ready clients changed since the last one, and
 * then shared by every reader until the next change.  (The lock held
 * across those iterations let overlapping readers keep a writer out for
 * seconds.)
 *
 * The same table keeps the nicknames in use, by their looks (confusable
 * skeletons, sc-nickname.c), so that taking a name and checking that nobody
 * holds it are one step under the write lock, which a rename takes anyway.
 */
#include "config.h"

#include <string.h>

#include "sc-outbox.h"
#include "sc-registry.h"
#include "sc-tsan.h"

typedef struct
{
  ScClientInfo info;
  ScOutbox *outbox;        /* a reference */
  GStrv looks;             /* its nickname's, or NULL for none */
  gboolean ready;          /* said hello: listed and reachable */
  gboolean wants_presence; /* gets joined/left/renamed notices */
} Entry;

struct _ScRegistry
{
  GRWLock lock;
  GHashTable *entries;          /* id -> Entry */
  GHashTable *names;            /* each look -> Entry (borrowed) */
  GArray *ready_ids;            /* sorted ids of ready entries */
  ScRegistrySnapshot *snapshot; /* NULL when out of date */
};

static void
entry_free (Entry *entry)
{
  sc_client_info_clear (&entry->info);
  g_strfreev (entry->looks);
  sc_outbox_unref (entry->outbox);
  g_free (entry);
}

static void
lock (ScRegistry *registry)
{
  g_rw_lock_writer_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
}

static void
unlock (ScRegistry *registry)
{
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_writer_unlock (&registry->lock);
}

static void
read_lock (ScRegistry *registry)
{
  g_rw_lock_reader_lock (&registry->lock);
  SC_HAPPENS_AFTER (registry);
}

static void
read_unlock (ScRegistry *registry)
{
  SC_HAPPENS_BEFORE (registry);
  g_rw_lock_reader_unlock (&registry->lock);
}

/* With the lock held: the set of ready clients (or a flag) changed. */
static void
invalidate_snapshot (ScRegistry *registry)
{
  g_clear_pointer (&registry->snapshot, sc_registry_snapshot_unref);
}

ScRegistry *
sc_registry_new (void)
{
  ScRegistry *registry = g_new0 (ScRegistry, 1);

  g_rw_lock_init (&registry->lock);
  registry->entries =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) entry_free);
  registry->names = g_hash_table_new (g_str_hash, g_str_equal);
  registry->ready_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  return registry;
}

void
sc_registry_free (ScRegistry *registry)
{
  if (registry == NULL)
    return;
  g_clear_pointer (&registry->snapshot, sc_registry_snapshot_unref);
  g_hash_table_unref (registry->names);
  g_hash_table_unref (registry->entries);
  g_array_unref (registry->ready_ids);
  g_rw_lock_clear (&registry->lock);
  g_free (registry);
}

void
sc_registry_add (ScRegistry *registry,
                 const ScClientInfo *info,
                 ScOutbox *outbox)
{
  Entry *entry = g_new0 (Entry, 1);

  sc_client_info_copy_into (&entry->info, info);
  entry->outbox = sc_outbox_ref (outbox);
  lock (registry);
  g_hash_table_replace (registry->entries, GUINT_TO_POINTER (info->id), entry);
  unlock (registry);
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

/* With the lock held: @entry's nickname is free for others to take. */
static void
release_name (ScRegistry *registry, Entry *entry)
{
  if (entry->looks == NULL)
    return;
  for (guint i = 0; entry->looks[i] != NULL; i++)
    if (g_hash_table_lookup (registry->names, entry->looks[i]) == entry)
      g_hash_table_remove (registry->names, entry->looks[i]);
  g_clear_pointer (&entry->looks, g_strfreev);
}

/* With the lock held: an entry other than @self holding a nickname with
 * any of @looks.  Every look is checked: a rename to another case of
 * one's own name shares the first look with oneself, not the second. */
static Entry *
find_holder (ScRegistry *registry, const char *const *looks, Entry *self)
{
  for (guint i = 0; looks != NULL && looks[i] != NULL; i++)
    {
      Entry *holder = g_hash_table_lookup (registry->names, looks[i]);

      if (holder != NULL && holder != self)
        return holder;
    }
  return NULL;
}

void
sc_registry_remove (ScRegistry *registry, guint32 id)
{
  gboolean found;
  guint pos;
  Entry *entry;

  lock (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL)
    release_name (registry, entry);
  g_hash_table_remove (registry->entries, GUINT_TO_POINTER (id));
  pos = ready_position (registry->ready_ids, id, &found);
  if (found)
    {
      g_array_remove_index (registry->ready_ids, pos);
      invalidate_snapshot (registry);
    }
  unlock (registry);
}

/* Marks @id as having said hello with @nickname, or renames it when it
 * already has.  @looks is sc_nickname_looks (@nickname), or NULL for no
 * nickname.  Fails when another client holds a nickname with any of the
 * same looks, and then returns that nickname in @holder (transfer full)
 * and changes nothing. */
gboolean
sc_registry_set_ready (ScRegistry *registry,
                       guint32 id,
                       const char *nickname,
                       const char *const *looks,
                       char **holder)
{
  Entry *entry;
  Entry *other;
  gboolean found;
  guint pos;

  lock (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  other = find_holder (registry, looks, entry);
  if (other != NULL)
    {
      if (holder != NULL)
        *holder = g_strdup (other->info.nickname);
      unlock (registry);
      return FALSE;
    }
  if (entry != NULL)
    {
      g_free (entry->info.nickname);
      entry->info.nickname = g_strdup (nickname);
      release_name (registry, entry);
      if (looks != NULL)
        {
          entry->looks = g_strdupv ((GStrv) looks);
          for (guint i = 0; entry->looks[i] != NULL; i++)
            g_hash_table_insert (registry->names, entry->looks[i], entry);
        }
      if (!entry->ready)
        {
          entry->ready = TRUE;
          pos = ready_position (registry->ready_ids, id, &found);
          g_array_insert_val (registry->ready_ids, pos, id);
          invalidate_snapshot (registry);
        }
    }
  unlock (registry);
  return TRUE;
}

/* Returns a reference to the outbox of a client other than @except_id
 * whose nickname has any of @looks, or NULL when none has.
 * (transfer full) */
ScOutbox *
sc_registry_lookup_holder (ScRegistry *registry,
                           const char *const *looks,
                           guint32 except_id)
{
  ScOutbox *outbox = NULL;
  Entry *entry;

  read_lock (registry);
  entry = find_holder (
    registry, looks,
    g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (except_id)));
  if (entry != NULL)
    outbox = sc_outbox_ref (entry->outbox);
  read_unlock (registry);
  return outbox;
}

/* Returns a reference to the outbox of ready client @id, or NULL.
 * (transfer full) */
ScOutbox *
sc_registry_lookup_ready (ScRegistry *registry, guint32 id)
{
  ScOutbox *outbox = NULL;
  Entry *entry;

  read_lock (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL && entry->ready)
    outbox = sc_outbox_ref (entry->outbox);
  read_unlock (registry);
  return outbox;
}

void
sc_registry_set_presence (ScRegistry *registry,
                          guint32 id,
                          gboolean wants_presence)
{
  Entry *entry;

  lock (registry);
  entry = g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
  if (entry != NULL && entry->wants_presence != wants_presence)
    {
      entry->wants_presence = wants_presence;
      invalidate_snapshot (registry);
    }
  unlock (registry);
}

static ScRegistrySnapshot *
build_snapshot (ScRegistry *registry)
{
  ScRegistrySnapshot *snapshot = g_atomic_rc_box_new0 (ScRegistrySnapshot);
  guint n = registry->ready_ids->len;

  snapshot->len = n;
  snapshot->entries = g_new (ScRegistrySnapshotEntry, n);
  for (guint i = 0; i < n; i++)
    {
      guint32 id = g_array_index (registry->ready_ids, guint32, i);
      Entry *entry =
        g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));

      snapshot->entries[i].id = id;
      snapshot->entries[i].wants_presence = entry->wants_presence;
      snapshot->entries[i].outbox = sc_outbox_ref (entry->outbox);
    }
  return snapshot;
}

/* Returns the ready clients as of now, in id order.  Cheap when nothing
 * changed since the last call: the same snapshot is shared.
 * (transfer full) */
ScRegistrySnapshot *
sc_registry_snapshot (ScRegistry *registry)
{
  ScRegistrySnapshot *snapshot = NULL;

  read_lock (registry);
  if (registry->snapshot != NULL)
    snapshot = sc_registry_snapshot_ref (registry->snapshot);
  read_unlock (registry);
  if (snapshot != NULL)
    return snapshot;
  lock (registry);
  if (registry->snapshot == NULL)
    registry->snapshot = build_snapshot (registry);
  snapshot = sc_registry_snapshot_ref (registry->snapshot);
  unlock (registry);
  return snapshot;
}

ScRegistrySnapshot *
sc_registry_snapshot_ref (ScRegistrySnapshot *snapshot)
{
  return g_atomic_rc_box_acquire (snapshot);
}

static void
snapshot_clear (ScRegistrySnapshot *snapshot)
{
  SC_HAPPENS_AFTER (snapshot);
  for (guint i = 0; i < snapshot->len; i++)
    sc_outbox_unref (snapshot->entries[i].outbox);
  g_free (snapshot->entries);
}

void
sc_registry_snapshot_unref (ScRegistrySnapshot *snapshot)
{
  SC_HAPPENS_BEFORE (snapshot);
  g_atomic_rc_box_release_full (snapshot, (GDestroyNotify) snapshot_clear);
}

/* The number of clients in @snapshot other than @except_id. */
guint
sc_registry_snapshot_count_except (ScRegistrySnapshot *snapshot,
                                   guint32 except_id)
{
  guint n = snapshot->len;

  for (guint i = 0; i < snapshot->len; i++)
    if (snapshot->entries[i].id == except_id)
      n--;
  return n;
}

/* References to every connected client's outbox, ready or not, for the
 * memory budget to find the clients holding the most.  (transfer full) */
GPtrArray *
sc_registry_all_outboxes (ScRegistry *registry)
{
  GPtrArray *out =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_outbox_unref);
  GHashTableIter iter;
  gpointer value;

  read_lock (registry);
  g_hash_table_iter_init (&iter, registry->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (out, sc_outbox_ref (((Entry *) value)->outbox));
  read_unlock (registry);
  return out;
}

guint
sc_registry_count_ready (ScRegistry *registry)
{
  guint n;

  read_lock (registry);
  n = registry->ready_ids->len;
  read_unlock (registry);
  return n;
}

static gsize
encoded_size (const ScClientInfo *info)
{
  return 4 + 2 + 8 + 2 + strlen (info->nickname) + 2 + strlen (info->address);
}

/* The entry as @viewer_id may see it: with --hide-addresses, only its
 * own address and port.  (transfer full) */
static ScClientInfo *
copy_for_viewer (const ScClientInfo *info,
                 guint32 viewer_id,
                 gboolean hide_addresses)
{
  ScClientInfo *copy = sc_client_info_copy (info);

  if (hide_addresses && info->id != viewer_id)
    {
      g_free (copy->address);
      copy->address = g_strdup ("");
      copy->port = 0;
    }
  return copy;
}

/* Copies the ready clients with ids above @after_id, in id order, as
 * many as their encoding fits in @byte_budget, as @viewer_id may see
 * them.  (transfer full) */
GPtrArray *
sc_registry_list_page (ScRegistry *registry,
                       guint32 after_id,
                       gsize byte_budget,
                       guint32 viewer_id,
                       gboolean hide_addresses,
                       gboolean *more)
{
  GPtrArray *page =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  gsize used = 0;
  gboolean found;
  guint i;

  read_lock (registry);
  i = ready_position (registry->ready_ids, after_id, &found);
  if (found)
    i++;
  for (; i < registry->ready_ids->len; i++)
    {
      guint32 id = g_array_index (registry->ready_ids, guint32, i);
      Entry *entry =
        g_hash_table_lookup (registry->entries, GUINT_TO_POINTER (id));
      g_autoptr (ScClientInfo) shown =
        copy_for_viewer (&entry->info, viewer_id, hide_addresses);
      gsize size = encoded_size (shown);

      if (used + size > byte_budget)
        break;
      used += size;
      g_ptr_array_add (page, g_steal_pointer (&shown));
    }
  *more = i < registry->ready_ids->len;
  read_unlock (registry);
  return page;
}
