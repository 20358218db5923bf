/* sc-backplane-nats-roster.c: rosters, a node's whole list of clients
 * over core NATS (sc-backplane-nats.c has the whole picture; the section
 * below says when they go, their frame and their order with the
 * directory).
 */
#include "config.h"

#include "sc-backplane-nats-private.h"

/* Rosters (see "Rosters" below): at most one a second from a node, in
 * chunks of at most this many bytes (or the server's max payload). */
#define ROSTER_INTERVAL_US  G_USEC_PER_SEC
#define ROSTER_CHUNK_MAX    (256 * 1024)
#define ROSTER_HEADER_BYTES (4 + 8 + 8 + 2 + 2)
/* How long a client another node said had left stays refused to its
 * rosters: far longer than a roster takes to arrive, which is what it
 * guards against (a roster built before the leave, served after it). */
#define TOMBSTONE_KEEP_S 60

/* ------------------------------------------------------------------ */
/* Rosters: a node's whole list of clients, over core NATS.
 *
 * The directory is served only once JetStream's Raft groups have
 * elected leaders, 4 to 9 s per election after NATS returns.  Core NATS
 * works as soon as the servers take connections, so a node publishes
 * its roster on "<cluster>.roster" when another node may lack its
 * clients: it heard a node it did not know, had taken for dead, or not
 * heard since its own link came back, or a node whose link came back
 * (sc_nats_touch_node, sc_nats_on_heartbeat); and, while its own directory
 * writes are not known to have landed, whenever its clients change.  At most
 * one a second; never in steady state.
 *
 * A roster is one or more chunks (messages), each
 *   u32 node, u64 incarnation, u64 change counter, u16 chunk, u16 chunks
 * then records
 *   u32 id, u64 change counter of its last change, u8 presence,
 *   u64 connected since (ms), u16 port, u16 length + address,
 *   u16 length + nickname (UTF-8),
 * all big-endian.  The receiver applies it once every chunk is in.
 *
 * Order between rosters and the directory: every node counts the changes
 * of its clients (a client ready or changed, a client gone), and the
 * directory's values, the delete markers it writes for its own clients
 * and the rosters carry that counter.  The local copy keeps, per client,
 * the counter of the state it holds, and per node the counter of the
 * last roster applied.  A directory put at or below the roster's counter,
 * or below the client's, is stale and ignored; a roster changes only
 * clients whose state in it is newer, and removes its node's clients
 * it does not hold unless their state is newer than it.  A delete always
 * applies (ids are never reused); one the client's own node wrote keeps
 * a tombstone for TOMBSTONE_KEEP_S, so that a roster built before the
 * leave but applied after it does not bring the client back.  A resync
 * keeps the clients a roster told of that the directory does not hold
 * yet.  So a client told of by both makes one notice, and when all is
 * quiet the copy is the directory. */

struct _RosterAssembly
{
  guint node;
  guint64 incarnation;
  guint64 seq;
  guint16 count;
  guint16 received;
  GBytes **chunks; /* count of them; NULL: not yet */
};

void
sc_nats_roster_assembly_free (RosterAssembly *assembly)
{
  for (guint i = 0; i < assembly->count; i++)
    if (assembly->chunks[i] != NULL)
      g_bytes_unref (assembly->chunks[i]);
  g_free (assembly->chunks);
  g_free (assembly);
}

typedef struct
{
  ScBackplaneNats *self;
  RosterAssembly *assembly;
} RosterArrival;

static void
roster_arrival_free (RosterArrival *arrival)
{
  sc_nats_roster_assembly_free (arrival->assembly);
  g_free (arrival);
}

static void
put_roster_record (GByteArray *out, const LocalClient *client)
{
  sc_wire_append_u32 (out, client->info.id);
  sc_wire_append_u64 (out, client->seq);
  sc_wire_append_u8 (out, client->wants_presence ? 1 : 0);
  sc_wire_append_u64 (out, (guint64) client->info.connected_since_ms);
  sc_wire_append_u16 (out, client->info.port);
  sc_wire_append_string (out, client->info.address);
  sc_wire_append_string (out, client->info.nickname);
}

/* The chunks' bodies, each under @limit bytes (a record never spans
 * two), and in *seq the change counter the roster is at. */
static GPtrArray *
roster_bodies (ScBackplaneNats *self, gsize limit, guint64 *seq)
{
  GPtrArray *bodies =
    g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr (GByteArray) record = g_byte_array_new ();
  GByteArray *body = g_byte_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_ptr_array_add (bodies, body);
  g_mutex_lock (&self->lock);
  *seq = self->change_seq;
  g_hash_table_iter_init (&iter, self->local);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_byte_array_set_size (record, 0);
      put_roster_record (record, value);
      if (body->len > 0 && body->len + record->len > limit)
        {
          body = g_byte_array_new ();
          g_ptr_array_add (bodies, body);
        }
      g_byte_array_append (body, record->data, record->len);
    }
  g_mutex_unlock (&self->lock);
  return bodies;
}

/* Cluster thread: publishes this node's roster. */
static void
publish_roster (ScBackplaneNats *self)
{
  gint64 max_payload = natsConnection_GetMaxPayload (self->nc);
  gsize limit = ROSTER_CHUNK_MAX;
  g_autoptr (GPtrArray) bodies = NULL;
  g_autoptr (GByteArray) chunk = g_byte_array_new ();
  guint64 seq;

  if (max_payload > 2 * ROSTER_HEADER_BYTES + 1024)
    limit = MIN (limit, (gsize) max_payload - ROSTER_HEADER_BYTES - 1024);
  bodies = roster_bodies (self, limit, &seq);
  if (bodies->len > G_MAXUINT16)
    return; /* millions of clients: not a case this node can hold */
  for (guint i = 0; i < bodies->len; i++)
    {
      GByteArray *body = g_ptr_array_index (bodies, i);
      natsStatus s;

      g_byte_array_set_size (chunk, 0);
      sc_wire_append_u32 (chunk, self->node);
      sc_wire_append_u64 (chunk, self->incarnation);
      sc_wire_append_u64 (chunk, seq);
      sc_wire_append_u16 (chunk, (guint16) i);
      sc_wire_append_u16 (chunk, (guint16) bodies->len);
      g_byte_array_append (chunk, body->data, body->len);
      s = natsConnection_Publish (self->nc, self->roster_subject, chunk->data,
                                  (int) chunk->len);
      if (s != NATS_OK)
        {
          /* Asked again: the next event that wants it sends it whole. */
          g_debug ("cluster: cannot publish the roster: %s",
                   natsStatus_GetText (s));
          g_atomic_int_set (&self->roster_wanted, 1);
          return;
        }
    }
  g_debug ("cluster: roster at change %" G_GUINT64_FORMAT " published in %u "
           "chunks",
           seq, bodies->len);
}

/* Cluster thread: are this node's directory writes not known to have
 * landed?  The link was lost and the directory not read since, or
 * writes wait to be made again.  Meanwhile the other nodes learn of
 * this node's changes from its rosters. */
static gboolean
directory_behind (ScBackplaneNats *self)
{
  gboolean behind;

  if (g_atomic_int_get (&self->dir_stale) ||
      g_atomic_int_get (&self->reregister))
    return TRUE;
  g_mutex_lock (&self->lock);
  behind = self->to_reregister->len > 0;
  g_mutex_unlock (&self->lock);
  g_mutex_lock (&self->dirty_lock);
  behind = behind || g_hash_table_size (self->dirty) > 0;
  g_mutex_unlock (&self->dirty_lock);
  return behind;
}

/* Cluster thread: the roster goes out if it is wanted and the last one
 * went a second ago or more.  Returns when to look again (monotonic), or
 * G_MAXINT64 when nothing waits. */
gint64
sc_nats_maybe_publish_roster (ScBackplaneNats *self, gint64 now)
{
  gint64 due = self->last_roster + ROSTER_INTERVAL_US;

  if (g_atomic_int_get (&self->local_changed) && directory_behind (self))
    {
      g_atomic_int_set (&self->local_changed, 0);
      g_atomic_int_set (&self->roster_wanted, 1);
    }
  if (!g_atomic_int_get (&self->roster_wanted))
    return G_MAXINT64;
  if (!link_is_up (self))
    return G_MAXINT64; /* on_reconnected asks again */
  if (self->last_roster != 0 && now < due)
    return due;
  g_atomic_int_set (&self->roster_wanted, 0);
  self->last_roster = now;
  publish_roster (self);
  return G_MAXINT64;
}

/* Parses a chunk's records into @out (RosterRecord); FALSE if malformed. */
typedef struct
{
  guint64 seq;
  gboolean wants_presence;
  ScClientInfo info;
} RosterRecord;

static void
roster_record_clear (RosterRecord *record)
{
  sc_client_info_clear (&record->info);
}

static char *
get_string (Reader *reader)
{
  char *text = NULL;

  reader->bad =
    reader->bad || !sc_wire_read_string (&reader->wire, &text, NULL);
  return text;
}

static gboolean
parse_roster_chunk (GBytes *chunk, GArray *out)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (chunk, &size);
  Reader reader = { { 0 }, FALSE };

  sc_wire_reader_init (&reader.wire, data, size);
  skip (&reader, ROSTER_HEADER_BYTES);
  while (!reader_done (&reader))
    {
      RosterRecord record = { 0 };

      record.info.id = get_u32 (&reader);
      record.seq = get_u64 (&reader);
      record.wants_presence = get_u8 (&reader) != 0;
      record.info.connected_since_ms = (gint64) get_u64 (&reader);
      record.info.port = get_u16 (&reader);
      record.info.address = get_string (&reader);
      record.info.nickname = get_string (&reader);
      if (reader.bad || record.info.id == 0)
        {
          roster_record_clear (&record);
          return FALSE;
        }
      g_array_append_val (out, record);
    }
  return !reader.bad;
}

/* With the lock held: the roster's clients are added or updated, with
 * the watcher's notices; a client its node's own delete marker said had
 * left is not brought back. */
static void
roster_upsert (ScBackplaneNats *self,
               RosterAssembly *roster,
               GArray *records,
               GHashTable *held,
               GPtrArray *notices)
{
  for (guint i = 0; i < records->len; i++)
    {
      RosterRecord *record = &g_array_index (records, RosterRecord, i);
      guint32 id = record->info.id;
      RemoteClient *client =
        g_hash_table_lookup (self->remote, GUINT_TO_POINTER (id));
      ScMessage *notice;

      g_hash_table_add (held, GUINT_TO_POINTER (id));
      if (g_hash_table_contains (self->tombstones, GUINT_TO_POINTER (id)))
        continue;
      if (client != NULL && (client->node != roster->node ||
                             client->incarnation != roster->incarnation ||
                             record->seq <= client->seq))
        continue;
      notice = sc_nats_upsert_remote (self, roster->node, roster->incarnation,
                                      record->seq, record->wants_presence,
                                      &record->info);
      ((RemoteClient *) g_hash_table_lookup (self->remote,
                                             GUINT_TO_POINTER (id)))
        ->rostered = TRUE;
      if (notice != NULL)
        g_ptr_array_add (notices, notice);
    }
}

/* With the lock held: the node's clients the roster does not hold leave,
 * unless their state is newer than the roster (the directory told of a
 * client that came after it was built). */
static void
roster_remove_absent (ScBackplaneNats *self,
                      RosterAssembly *roster,
                      GHashTable *held,
                      GPtrArray *notices)
{
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->remote);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RemoteClient *client = value;

      if (client->node == roster->node &&
          client->incarnation == roster->incarnation &&
          client->seq <= roster->seq &&
          !g_hash_table_contains (held, GUINT_TO_POINTER (client->id)))
        g_array_append_val (gone, client->id);
    }
  for (guint i = 0; i < gone->len; i++)
    {
      guint32 id = g_array_index (gone, guint32, i);

      g_ptr_array_add (notices,
                       sc_nats_apply_delete (self, roster->node,
                                             roster->incarnation, id, FALSE));
    }
}

/* Worker 0 (where presence notices are made, so they stay in order): a
 * whole roster arrived. */
static void
apply_roster (ScWorker *worker, gpointer data)
{
  RosterArrival *arrival = data;
  ScBackplaneNats *self = arrival->self;
  RosterAssembly *roster = arrival->assembly;
  g_autoptr (GArray) records = g_array_new (FALSE, TRUE, sizeof (RosterRecord));
  g_autoptr (GHashTable) held = g_hash_table_new (NULL, NULL);
  g_autoptr (GPtrArray) notices = g_ptr_array_new ();
  NodeState *state;

  g_array_set_clear_func (records, (GDestroyNotify) roster_record_clear);
  for (guint i = 0; i < roster->count; i++)
    if (!parse_roster_chunk (roster->chunks[i], records))
      {
        g_warning ("cluster: a malformed roster from node %u", roster->node);
        return;
      }
  g_mutex_lock (&self->lock);
  state = sc_nats_touch_node (self, roster->node, roster->incarnation);
  if (roster->seq >= state->roster_seq)
    {
      state->roster_seq = roster->seq;
      roster_upsert (self, roster, records, held, notices);
      roster_remove_absent (self, roster, held, notices);
    }
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < notices->len; i++)
    sc_nats_post_presence (self, g_ptr_array_index (notices, i));
  g_debug ("cluster: roster of node %u at change %" G_GUINT64_FORMAT
           ": %u clients, %u notices",
           roster->node, roster->seq, records->len, notices->len);
}

/* libnats thread (one for the subscription): the chunks of a roster are
 * gathered; a newer roster of the same node drops what an older one had
 * in. */
void
sc_nats_on_roster (natsConnection *nc,
                   natsSubscription *sub,
                   natsMsg *msg,
                   void *closure)
{
  ScBackplaneNats *self = closure;
  Reader reader = { { 0 }, FALSE };
  RosterAssembly *assembly, *complete = NULL;
  guint node;
  guint64 incarnation, seq;
  guint16 index, count;

  sc_wire_reader_init (&reader.wire, (const guint8 *) natsMsg_GetData (msg),
                       (gsize) natsMsg_GetDataLength (msg));
  node = get_u32 (&reader);
  incarnation = get_u64 (&reader);
  seq = get_u64 (&reader);
  index = get_u16 (&reader);
  count = get_u16 (&reader);

  if (reader.bad || count == 0 || index >= count || node == self->node)
    {
      natsMsg_Destroy (msg);
      return;
    }
  g_mutex_lock (&self->roster_lock);
  assembly = g_hash_table_lookup (self->assemblies, GUINT_TO_POINTER (node));
  if (assembly == NULL || assembly->incarnation != incarnation ||
      assembly->seq != seq || assembly->count != count)
    {
      assembly = g_new0 (RosterAssembly, 1);
      assembly->node = node;
      assembly->incarnation = incarnation;
      assembly->seq = seq;
      assembly->count = count;
      assembly->chunks = g_new0 (GBytes *, count);
      g_hash_table_replace (self->assemblies, GUINT_TO_POINTER (node),
                            assembly);
    }
  if (assembly->chunks[index] == NULL)
    {
      assembly->chunks[index] =
        g_bytes_new (reader.wire.data, reader.wire.length);
      assembly->received++;
    }
  if (assembly->received == assembly->count)
    g_hash_table_steal_extended (self->assemblies, GUINT_TO_POINTER (node),
                                 NULL, (gpointer *) &complete);
  g_mutex_unlock (&self->roster_lock);
  natsMsg_Destroy (msg);
  if (complete != NULL)
    {
      RosterArrival *arrival = g_new0 (RosterArrival, 1);

      arrival->self = self;
      arrival->assembly = complete;
      sc_nats_post_call (self, 0, apply_roster, arrival,
                         (GDestroyNotify) roster_arrival_free);
    }
}

/* Cluster thread: tombstones older than TOMBSTONE_KEEP_S go. */
void
sc_nats_prune_tombstones (ScBackplaneNats *self)
{
  guint now = (guint) (g_get_monotonic_time () / G_USEC_PER_SEC);
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->tombstones);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (now - GPOINTER_TO_UINT (value) > TOMBSTONE_KEEP_S)
      g_hash_table_iter_remove (&iter);
  g_mutex_unlock (&self->lock);
}
