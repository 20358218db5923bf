/* sc-auth-failures.c: password attempts per address and in total, and
 * the comparison.
 *
 * Three things keep guessing slow:
 * - attempts under way are bounded per address and in total, so that
 *   parallel connections do not multiply a guesser's rate;
 * - an address with recent failures waits longer and longer (250 ms,
 *   doubling, up to 8 s) before each attempt is answered, whether the
 *   password is right or wrong, so the time of the answer says nothing;
 * - all checks are paced by two token buckets, one for "clean" addresses
 *   (no recent failure, no other attempt under way) and one for "suspect"
 *   ones, so that a guesser with many addresses gets no more than both
 *   buckets' rates together, and legitimate users from clean addresses do
 *   not queue behind a guesser whose addresses have already failed.
 * An attempt's outcome is reported when it is answered, never earlier:
 * the state the next attempt sees cannot reveal an answer not yet given.
 */
#include "config.h"

#include <string.h>

#include "sc-auth-failures.h"
#include "sc-tsan.h"

/* A failure is forgotten after this long without another. */
#define FORGET_AFTER_US (10 * 60 * G_USEC_PER_SEC)
#define FREE_ATTEMPTS   2
#define MAX_DELAY_MS    8000
/* Addresses remembered at most; stale entries go first. */
#define MAX_ENTRIES 4096

typedef struct
{
  guint count;    /* recent failures */
  gint64 last;    /* monotonic time of the last failure */
  guint attempts; /* under way */
} Entry;

/* A token bucket kept as the virtual time of the last token taken. */
typedef struct
{
  gint64 last;
  gint64 interval_us;
  gint64 burst;
  gint64 horizon_us;
} Bucket;

struct _ScAuthFailures
{
  GMutex lock;
  GHashTable *by_address; /* char* -> Entry* */
  guint attempts;         /* under way, in total */
  Bucket clean;
  Bucket suspect;
};

static void
bucket_init (Bucket *bucket, guint interval_ms, guint burst, guint horizon_ms)
{
  bucket->interval_us = (gint64) interval_ms * 1000;
  bucket->burst = burst;
  bucket->horizon_us = (gint64) horizon_ms * 1000;
  bucket->last = G_MININT64 / 2;
}

/* Takes a token: returns when the check may run (now, or later when the
 * bucket is empty), or -1 when that would be past the horizon; then
 * nothing is taken. */
static gint64
bucket_take (Bucket *bucket, gint64 now)
{
  gint64 base = MAX (bucket->last, now - bucket->burst * bucket->interval_us);
  gint64 start = MAX (now, base + bucket->interval_us);

  if (start - now > bucket->horizon_us)
    return -1;
  bucket->last = base + bucket->interval_us;
  return start;
}

/* A right password, or no check at all, costs no token: only wrong
 * guesses use up the rate. */
static void
bucket_give_back (Bucket *bucket)
{
  bucket->last -= bucket->interval_us;
}

ScAuthFailures *
sc_auth_failures_new (void)
{
  ScAuthFailures *failures = g_new0 (ScAuthFailures, 1);

  g_mutex_init (&failures->lock);
  failures->by_address =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  bucket_init (&failures->clean, SC_AUTH_CLEAN_INTERVAL_MS, SC_AUTH_CLEAN_BURST,
               SC_AUTH_CLEAN_HORIZON_MS);
  bucket_init (&failures->suspect, SC_AUTH_SUSPECT_INTERVAL_MS,
               SC_AUTH_SUSPECT_BURST, SC_AUTH_SUSPECT_HORIZON_MS);
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
    {
      Entry *entry = value;

      if (entry->attempts == 0 && now - entry->last > FORGET_AFTER_US)
        g_hash_table_iter_remove (&iter);
    }
}

/* The entry of @address, created if there is room; NULL when the table
 * is full of fresh entries. */
static Entry *
lookup_entry (ScAuthFailures *failures, const char *address, gint64 now)
{
  Entry *entry = g_hash_table_lookup (failures->by_address, address);

  if (entry == NULL && g_hash_table_size (failures->by_address) >= MAX_ENTRIES)
    forget_stale (failures, now);
  if (entry == NULL && g_hash_table_size (failures->by_address) < MAX_ENTRIES)
    {
      entry = g_new0 (Entry, 1);
      entry->last = now;
      g_hash_table_insert (failures->by_address, g_strdup (address), entry);
    }
  if (entry != NULL && now - entry->last > FORGET_AFTER_US)
    entry->count = 0;
  return entry;
}

/* An entry with nothing to remember is dropped at once, so the table
 * holds only addresses that failed recently or are trying now. */
static void
drop_if_empty (ScAuthFailures *failures, const char *address, Entry *entry)
{
  if (entry != NULL && entry->count == 0 && entry->attempts == 0)
    g_hash_table_remove (failures->by_address, address);
}

/* A client from @address sent a password.  Returns whether the attempt
 * may go on; if so, *@delay_ms is when to check it and answer, and
 * @ticket must be handed to sc_auth_failures_end() exactly once. */
ScAuthAdmission
sc_auth_failures_begin (ScAuthFailures *failures,
                        const char *address,
                        gint64 now,
                        guint *delay_ms,
                        ScAuthTicket *ticket)
{
  ScAuthAdmission admission = SC_AUTH_BUSY;
  Entry *entry;
  guint count;
  gint64 start;

  g_mutex_lock (&failures->lock);
  SC_HAPPENS_AFTER (failures);
  entry = lookup_entry (failures, address, now);
  /* A table full of fresh entries means an attack from many addresses:
   * an address it has no room for is treated as a repeat offender. */
  count = entry ? entry->count : FREE_ATTEMPTS + 4;
  ticket->suspect = count > 0 || entry == NULL || entry->attempts > 0;
  ticket->counted = entry != NULL;
  if (failures->attempts >= SC_AUTH_MAX_ATTEMPTS)
    admission = SC_AUTH_BUSY;
  else if (entry && entry->attempts >= SC_AUTH_MAX_ATTEMPTS_PER_ADDRESS)
    admission = SC_AUTH_BUSY_ADDRESS;
  else if ((start = bucket_take (
              ticket->suspect ? &failures->suspect : &failures->clean, now)) >=
           0)
    {
      gint64 answer_at = MAX (
        start, now + (gint64) sc_auth_failures_delay_ms (count + 1) * 1000);

      *delay_ms = (guint) ((answer_at - now + 999) / 1000);
      failures->attempts++;
      if (entry)
        entry->attempts++;
      admission = SC_AUTH_ADMITTED;
    }
  if (admission != SC_AUTH_ADMITTED)
    drop_if_empty (failures, address, entry);
  SC_HAPPENS_BEFORE (failures);
  g_mutex_unlock (&failures->lock);
  return admission;
}

/* The attempt was answered (or its client left first). */
void
sc_auth_failures_end (ScAuthFailures *failures,
                      const char *address,
                      const ScAuthTicket *ticket,
                      ScAuthOutcome outcome,
                      gint64 now)
{
  Bucket *bucket;
  Entry *entry;

  g_mutex_lock (&failures->lock);
  SC_HAPPENS_AFTER (failures);
  bucket = ticket->suspect ? &failures->suspect : &failures->clean;
  g_assert (failures->attempts > 0);
  failures->attempts--;
  entry = outcome == SC_AUTH_FAILED
            ? lookup_entry (failures, address, now)
            : g_hash_table_lookup (failures->by_address, address);
  if (entry && ticket->counted && entry->attempts > 0)
    entry->attempts--;
  switch (outcome)
    {
    case SC_AUTH_SUCCEEDED:
      if (entry)
        entry->count = 0;
      bucket_give_back (bucket);
      break;
    case SC_AUTH_ABANDONED: bucket_give_back (bucket); break;
    case SC_AUTH_FAILED:
      if (entry)
        {
          entry->count++;
          entry->last = now;
        }
      break;
    default: g_assert_not_reached ();
    }
  drop_if_empty (failures, address, entry);
  SC_HAPPENS_BEFORE (failures);
  g_mutex_unlock (&failures->lock);
}

/* Attempts admitted and not yet answered. */
guint
sc_auth_failures_get_n_attempts (ScAuthFailures *failures)
{
  guint attempts;

  g_mutex_lock (&failures->lock);
  SC_HAPPENS_AFTER (failures);
  attempts = failures->attempts;
  SC_HAPPENS_BEFORE (failures);
  g_mutex_unlock (&failures->lock);
  return attempts;
}

/* The wait before answering an attempt that would be failure @count from
 * its address: the first two at once; then 250 ms, doubling, up to 8 s. */
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
