/* sc-auth-failures.c: the failed-password table and the comparison. */
#include "config.h"

#include <string.h>

#include "sc-auth-failures.h"
#include "sc-tsan.h"

/* A failure is forgotten after this long without another. */
#define FORGET_AFTER_US (10 * 60 * G_USEC_PER_SEC)
#define FREE_ATTEMPTS   2
#define MAX_DELAY_MS    8000
/* Addresses remembered at most; the oldest entries go first. */
#define MAX_ENTRIES 4096

typedef struct
{
  guint count;
  gint64 last;
} Entry;

struct _ScAuthFailures
{
  GMutex lock;
  GHashTable *by_address; /* char* -> Entry* */
};

ScAuthFailures *
sc_auth_failures_new (void)
{
  ScAuthFailures *failures = g_new0 (ScAuthFailures, 1);

  g_mutex_init (&failures->lock);
  failures->by_address =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return failures;
}

void
sc_auth_failures_free (ScAuthFailures *failures)
{
  if (failures == NULL)
    return;
  g_hash_table_unref (failures->by_address);
  g_mutex_clear (&failures->lock);
  g_free (failures);
}

static void
forget_stale (ScAuthFailures *failures, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, failures->by_address);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (now - ((Entry *) value)->last > FORGET_AFTER_US)
      g_hash_table_iter_remove (&iter);
}

/* Returns how many failures @address has had recently, this one
 * included. */
guint
sc_auth_failures_record (ScAuthFailures *failures,
                         const char *address,
                         gint64 now)
{
  Entry *entry;
  guint count;

  g_mutex_lock (&failures->lock);
  SC_HAPPENS_AFTER (failures);
  if (g_hash_table_size (failures->by_address) >= MAX_ENTRIES)
    forget_stale (failures, now);
  entry = g_hash_table_lookup (failures->by_address, address);
  if (entry == NULL && g_hash_table_size (failures->by_address) < MAX_ENTRIES)
    {
      entry = g_new0 (Entry, 1);
      g_hash_table_insert (failures->by_address, g_strdup (address), entry);
    }
  if (entry != NULL && now - entry->last > FORGET_AFTER_US)
    entry->count = 0;
  if (entry != NULL)
    {
      entry->count++;
      entry->last = now;
    }
  /* A table full of fresh entries means an attack from many addresses:
   * treat the unknown address as a repeat offender. */
  count = entry ? entry->count : FREE_ATTEMPTS + 4;
  SC_HAPPENS_BEFORE (failures);
  g_mutex_unlock (&failures->lock);
  return count;
}

void
sc_auth_failures_forget (ScAuthFailures *failures, const char *address)
{
  g_mutex_lock (&failures->lock);
  SC_HAPPENS_AFTER (failures);
  g_hash_table_remove (failures->by_address, address);
  SC_HAPPENS_BEFORE (failures);
  g_mutex_unlock (&failures->lock);
}

/* The first attempts are answered at once; then 250 ms, doubling, up to
 * 8 s. */
guint
sc_auth_failures_delay_ms (guint count)
{
  if (count <= FREE_ATTEMPTS)
    return 0;
  if (count - FREE_ATTEMPTS > 6)
    return MAX_DELAY_MS;
  return MIN (MAX_DELAY_MS, 250u << (count - FREE_ATTEMPTS - 1));
}

/* Compares in time that depends only on the length of @given, so the
 * answer's timing says nothing about how much of a guess was right. */
gboolean
sc_auth_password_matches (const char *expected, const char *given)
{
  gsize expected_length = strlen (expected);
  gsize given_length = given ? strlen (given) : 0;
  guint8 difference = expected_length != given_length;

  for (gsize i = 0; i < given_length; i++)
    difference |= (guint8) (given[i] ^ expected[i % expected_length]);
  return difference == 0;
}
