/* sc-pending-table.c: connections waiting for HELLO, oldest first. */
#include "config.h"

#include "sc-pending-table.h"
#include "sc-tsan.h"

typedef struct
{
  guint32 id;
  const char *address;  /* the key of @same_address in by_address */
  GQueue *same_address; /* the queue of its address, which it is in */
  GList age_link;       /* in the table's queue, oldest first */
  GList address_link;   /* in @same_address, oldest first */
} Entry;

struct _ScPendingTable
{
  GMutex lock;
  guint max_total;
  guint max_per_address;
  GQueue by_age;          /* Entry*, oldest first */
  GHashTable *by_id;      /* id -> Entry*, owning */
  GHashTable *by_address; /* char* -> GQueue* of Entry*, oldest first */
};

/* The queues link entries through links inside them, which are freed
 * with the entries: a queue is freed without its links. */
static void
free_queue (GQueue *queue)
{
  g_queue_init (queue);
  g_queue_free (queue);
}

ScPendingTable *
sc_pending_table_new (guint max_total, guint max_per_address)
{
  ScPendingTable *table = g_new0 (ScPendingTable, 1);

  g_return_val_if_fail (max_total > 0 && max_per_address > 0, NULL);
  g_mutex_init (&table->lock);
  table->max_total = max_total;
  table->max_per_address = max_per_address;
  g_queue_init (&table->by_age);
  table->by_id = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  table->by_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             (GDestroyNotify) free_queue);
  return table;
}

void
sc_pending_table_free (ScPendingTable *table)
{
  if (table == NULL)
    return;
  g_hash_table_unref (table->by_address);
  g_hash_table_unref (table->by_id);
  g_mutex_clear (&table->lock);
  g_free (table);
}

/* Called with the lock held. */
static void
forget (ScPendingTable *table, Entry *entry)
{
  g_queue_unlink (&table->by_age, &entry->age_link);
  g_queue_unlink (entry->same_address, &entry->address_link);
  if (g_queue_is_empty (entry->same_address))
    {
      /* The key is the entry's address: remove it without freeing it
       * before it has been looked up. */
      gpointer key = NULL, queue = NULL;
      gboolean found = g_hash_table_steal_extended (
        table->by_address, entry->address, &key, &queue);

      g_assert (found);
      g_free (key);
      free_queue (queue);
    }
  g_hash_table_remove (table->by_id, GUINT_TO_POINTER (entry->id));
}

static void
evict (ScPendingTable *table, Entry *entry, GArray *evicted)
{
  g_array_append_val (evicted, entry->id);
  forget (table, entry);
}

/* Accept thread: connection @id from @address waits for its HELLO.  The
 * ids of the connections to close to keep within the bounds are appended
 * to @evicted, oldest first. */
void
sc_pending_table_add (ScPendingTable *table,
                      guint32 id,
                      const char *address,
                      GArray *evicted)
{
  Entry *entry = g_new0 (Entry, 1);
  gpointer key = NULL, same_address = NULL;

  g_mutex_lock (&table->lock);
  SC_HAPPENS_AFTER (table);
  if (!g_hash_table_lookup_extended (table->by_address, address, &key,
                                     &same_address))
    {
      key = g_strdup (address);
      same_address = g_queue_new ();
      g_hash_table_insert (table->by_address, key, same_address);
    }
  entry->id = id;
  entry->address = key;
  entry->same_address = same_address;
  entry->age_link.data = entry;
  entry->address_link.data = entry;
  g_queue_push_tail_link (&table->by_age, &entry->age_link);
  g_queue_push_tail_link (same_address, &entry->address_link);
  g_hash_table_insert (table->by_id, GUINT_TO_POINTER (id), entry);

  /* The newest entry is never the oldest while a bound is at least 1. */
  while (entry->same_address->length > table->max_per_address)
    evict (table, entry->same_address->head->data, evicted);
  while (table->by_age.length > table->max_total)
    evict (table, table->by_age.head->data, evicted);
  SC_HAPPENS_BEFORE (table);
  g_mutex_unlock (&table->lock);
}

/* Any worker: @id said HELLO or closed.  Nothing happens if it is not
 * listed (any more). */
void
sc_pending_table_remove (ScPendingTable *table, guint32 id)
{
  Entry *entry;

  g_mutex_lock (&table->lock);
  SC_HAPPENS_AFTER (table);
  entry = g_hash_table_lookup (table->by_id, GUINT_TO_POINTER (id));
  if (entry != NULL)
    forget (table, entry);
  SC_HAPPENS_BEFORE (table);
  g_mutex_unlock (&table->lock);
}

guint
sc_pending_table_get_count (ScPendingTable *table)
{
  guint count;

  g_mutex_lock (&table->lock);
  SC_HAPPENS_AFTER (table);
  count = table->by_age.length;
  SC_HAPPENS_BEFORE (table);
  g_mutex_unlock (&table->lock);
  return count;
}
