/* sc-backplane-nats-liveness.c: which nodes are alive, and whether this
 * node still follows (sc-backplane-nats.c has the whole picture).
 * Heartbeats tell a node's incarnation, its reconnections and the
 * directory revision it knows of; every heartbeat interval the cluster
 * thread takes silent nodes for dead, fails what was owed to them and
 * what waited on a lost link, and reads the directory again when its
 * watcher fell behind.
 */
#include "config.h"

#include "sc-backplane-nats-private.h"

/* How long the watcher may stay behind a directory revision another node
 * (or an acknowledged write of this one) has told, before it is taken
 * for stalled.  A live watcher follows within milliseconds. */
#define WATCHER_LAG_GRACE_US (2 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------ */
/* Heartbeats and liveness. */

/* Any thread: this node's roster is to go out (at most one a second,
 * so what asks for it within the second rides on one roster). */
void
sc_nats_want_roster (ScBackplaneNats *self)
{
  g_atomic_int_set (&self->roster_wanted, 1);
  g_async_queue_push (self->wakeups, GINT_TO_POINTER (1));
}

/* With the lock held: incarnation @incarnation of @node spoke (a
 * heartbeat or a roster).  When this node had not heard of it, had taken
 * it for dead, heard a new incarnation, or has not heard it since its
 * own link came back, the two may disagree on each other's clients:
 * this node's roster goes out, and the other's comes the same way. */
NodeState *
sc_nats_touch_node (ScBackplaneNats *self, guint node, guint64 incarnation)
{
  NodeState *state = g_hash_table_lookup (self->nodes, GUINT_TO_POINTER (node));
  guint epoch = (guint) g_atomic_int_get (&self->link_epoch);
  gboolean news = FALSE;

  if (state == NULL)
    {
      state = g_new0 (NodeState, 1);
      state->node = node;
      state->incarnation = incarnation;
      g_hash_table_insert (self->nodes, GUINT_TO_POINTER (node), state);
      news = TRUE;
    }
  else if (state->incarnation != incarnation)
    {
      /* The node restarted: its earlier incarnation is dead now. */
      g_array_append_val (self->replaced, *state);
      state->incarnation = incarnation;
      state->roster_seq = 0;
      news = TRUE;
    }
  if (state->heard_epoch != epoch)
    news = TRUE;
  state->heard_epoch = epoch;
  state->last_seen = g_get_monotonic_time ();
  if (news)
    sc_nats_want_roster (self);
  return state;
}

/* libnats thread. */
void
sc_nats_on_heartbeat (natsConnection *nc,
                      natsSubscription *sub,
                      natsMsg *msg,
                      void *closure)
{
  ScBackplaneNats *self = closure;
  g_autofree char *text =
    g_strndup (natsMsg_GetData (msg), natsMsg_GetDataLength (msg));
  guint node = 0;
  guint64 incarnation = 0;
  guint reconnects;
  guint64 revision;
  char *end = NULL;
  NodeState *state;

  natsMsg_Destroy (msg);
  node = (guint) g_ascii_strtoull (text, &end, 10);
  if (end == NULL || *end != ' ')
    return;
  incarnation = g_ascii_strtoull (end + 1, &end, 16);
  reconnects = (guint) g_ascii_strtoull (end, &end, 10);
  revision = g_ascii_strtoull (end, NULL, 10); /* 0 from older nodes */
  g_mutex_lock (&self->lock);
  if (node == self->node)
    {
      if (incarnation != self->incarnation)
        self->self_conflict_at = g_get_monotonic_time ();
      g_mutex_unlock (&self->lock);
      return;
    }
  state = sc_nats_touch_node (self, node, incarnation);
  /* Its link came back: it may have missed this node's changes. */
  if (state->reconnects != reconnects)
    sc_nats_want_roster (self);
  /* A change of its count of reconnections (a NATS server went away,
   * perhaps with the consumer behind this node's watcher) used to make
   * this node read the whole directory again.  The revision it tells
   * finds a stalled watcher without that (sc_nats_check_watcher_lag), and the
   * reads, one per reconnection of every node, each of every delete
   * marker the directory holds, came in bursts after NATS restarted. */
  state->reconnects = reconnects;
  state->dir_revision = revision;
  g_mutex_unlock (&self->lock);
}

/* The newest directory revision this node knows of: what its watcher
 * applied or JetStream acknowledged for its own writes. */
static guint64
known_revision (ScBackplaneNats *self)
{
  guint64 revision;

  g_mutex_lock (&self->revision_lock);
  revision = MAX (self->watched_revision, self->written_revision);
  g_mutex_unlock (&self->revision_lock);
  return revision;
}

/* "<node> <incarnation> <reconnections> <directory revision>". */
void
sc_nats_publish_heartbeat (ScBackplaneNats *self)
{
  char text[96];

  g_snprintf (text, sizeof text,
              "%u %" G_GINT64_MODIFIER "x %u %" G_GUINT64_FORMAT, self->node,
              self->incarnation, (guint) g_atomic_int_get (&self->reconnects),
              known_revision (self));
  natsConnection_PublishString (self->nc, self->heartbeat_subject, text);
}

static gboolean
is_dead (NodeState *state, gint64 now, gint64 timeout)
{
  return now - state->last_seen > timeout;
}

/* With the lock held: whether (@node, @incarnation) is heard from. */
gboolean
sc_nats_node_alive (ScBackplaneNats *self, guint node, guint64 incarnation)
{
  NodeState *state = g_hash_table_lookup (self->nodes, GUINT_TO_POINTER (node));

  return state != NULL && state->incarnation == incarnation &&
         !is_dead (state, g_get_monotonic_time (),
                   (gint64) self->config->node_timeout_ms * 1000);
}

/* Does @node (a live one) come first among the live nodes?  It is the
 * one that purges the keys of the dead. */
static gboolean
leads_purges (ScBackplaneNats *self, gint64 now, gint64 timeout)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((NodeState *) value)->node < self->node &&
        !is_dead (value, now, timeout))
      return FALSE;
  return TRUE;
}

/* With the lock held: is incarnation @incarnation of @node among the dead
 * (replaced, timed out, or never heard from since this node started)? */
static gboolean
incarnation_dead (ScBackplaneNats *self,
                  GArray *dead,
                  guint node,
                  guint64 incarnation)
{
  for (guint i = 0; i < dead->len; i++)
    {
      NodeState *state = &g_array_index (dead, NodeState, i);

      if (state->node == node && state->incarnation == incarnation)
        return TRUE;
    }
  return FALSE;
}

/* Every heartbeat interval: nodes silent for the node timeout are dead.
 * Their clients leave this node's view (CLIENT_LEFT), the receipts this
 * node owes for them fail with RECIPIENT_LEFT, and the first live node
 * purges their keys. */
void
sc_nats_check_liveness (ScBackplaneNats *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 timeout = (gint64) self->config->node_timeout_ms * 1000;
  g_autoptr (GArray) dead = g_array_new (FALSE, FALSE, sizeof (NodeState));
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GPtrArray) purges = g_ptr_array_new_with_free_func (g_free);
  GArray *outcomes = g_array_new (FALSE, FALSE, sizeof (Outcome));
  GHashTableIter iter;
  gpointer value;
  gboolean purge;

  g_mutex_lock (&self->lock);
  g_array_append_vals (dead, self->replaced->data, self->replaced->len);
  g_array_set_size (self->replaced, 0);
  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (is_dead (value, now, timeout))
      {
        g_array_append_val (dead, *(NodeState *) value);
        g_message ("cluster: node %u (incarnation %" G_GINT64_MODIFIER
                   "x) missed its heartbeats: taken for dead",
                   ((NodeState *) value)->node,
                   ((NodeState *) value)->incarnation);
        g_hash_table_iter_remove (&iter);
      }
  /* Entries of incarnations never heard from: after the timeout since
   * this node started, they are ghosts. */
  g_hash_table_iter_init (&iter, self->remote);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RemoteClient *client = value;
      NodeState *state =
        g_hash_table_lookup (self->nodes, GUINT_TO_POINTER (client->node));

      if ((state == NULL || state->incarnation != client->incarnation) &&
          now - self->started_at > timeout &&
          !incarnation_dead (self, dead, client->node, client->incarnation))
        {
          NodeState ghost = { client->node, client->incarnation, 0 };

          g_array_append_val (dead, ghost);
        }
    }
  g_hash_table_iter_init (&iter, self->remote);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      RemoteClient *client = value;
      char key[256];

      if (!incarnation_dead (self, dead, client->node, client->incarnation))
        continue;
      g_array_append_val (gone, client->id);
      sc_nats_dir_key (self, key, sizeof key, client->node, client->incarnation,
                       client->id);
      g_ptr_array_add (purges, g_strdup (key));
      g_tree_remove (self->remote_sorted, GUINT_TO_POINTER (client->id));
      g_hash_table_remove (self->routes, GUINT_TO_POINTER (client->id));
      g_hash_table_iter_remove (&iter);
    }
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Pending *pending = value;

      if (incarnation_dead (self, dead, pending->node, pending->incarnation))
        {
          Outcome outcome = { pending->sender_id, pending->key.recipient_id,
                              pending->key.message_id,
                              SC_STATUS_RECIPIENT_LEFT };

          g_array_append_val (outcomes, outcome);
          g_hash_table_iter_remove (&iter);
        }
    }
  purge = link_is_up (self) && leads_purges (self, now, timeout);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < gone->len; i++)
    sc_nats_post_left (self, g_array_index (gone, guint32, i),
                       SC_STATUS_TIMEOUT);
  sc_nats_post_outcomes (self, outcomes);
  for (guint i = 0; purge && i < purges->len; i++)
    sc_nats_publish_purge (self, g_ptr_array_index (purges, i));
  if (purge)
    sc_directory_sweeper_poke (self->sweeper, now);
}

/* While the link is down past the receipt timeout, every pending receipt
 * fails with UNREACHABLE: what was in flight may never arrive. */
void
sc_nats_check_link (ScBackplaneNats *self)
{
  GArray *outcomes = g_array_new (FALSE, FALSE, sizeof (Outcome));
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  if (!link_is_up (self) && g_get_monotonic_time () - self->link_down_since >
                              (gint64) self->config->receipt_timeout_ms * 1000)
    {
      g_hash_table_iter_init (&iter, self->pending);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Pending *pending = value;
          Outcome outcome = { pending->sender_id, pending->key.recipient_id,
                              pending->key.message_id, SC_STATUS_UNREACHABLE };

          g_array_append_val (outcomes, outcome);
          g_hash_table_iter_remove (&iter);
        }
    }
  g_mutex_unlock (&self->lock);
  sc_nats_post_outcomes (self, outcomes);
}

/* With the lock held: the newest directory revision a live node told. */
static guint64
told_revision (ScBackplaneNats *self)
{
  GHashTableIter iter;
  gpointer value;
  guint64 revision = 0;

  g_hash_table_iter_init (&iter, self->nodes);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    revision = MAX (revision, ((NodeState *) value)->dir_revision);
  return revision;
}

/* Every heartbeat interval.  The watcher follows the directory through
 * an ordered consumer that lives on one NATS server; when that server
 * dies, the consumer is gone and the watcher waits in silence (libnats
 * notices only after missing the consumer's heartbeats, 10 s or more).
 * Nothing else says so when no node was connected to the server that
 * died (a node's reconnection only asks for rosters,
 * sc_nats_on_heartbeat).  So the
 * heartbeats carry the revision each node knows of: a watcher still
 * short of a revision after WATCHER_LAG_GRACE_US reads the directory
 * again.  No request is made for it. */
void
sc_nats_check_watcher_lag (ScBackplaneNats *self)
{
  gint64 now = g_get_monotonic_time ();
  guint64 told;

  g_mutex_lock (&self->lock);
  told = told_revision (self);
  g_mutex_unlock (&self->lock);
  g_mutex_lock (&self->revision_lock);
  told = MAX (told, self->written_revision);
  if (self->lag_since != 0 && self->watched_revision >= self->lag_target)
    self->lag_since = 0;
  /* A target a resync could not reach (the stream was made anew, with
   * lower numbers) is not chased again. */
  if (self->lag_since == 0 && told > self->watched_revision &&
      told > self->lag_resynced)
    {
      self->lag_target = told;
      self->lag_since = now;
    }
  else if (self->lag_since != 0 && now - self->lag_since > WATCHER_LAG_GRACE_US)
    {
      g_message (
        "cluster: the directory watcher stalled at revision %" G_GUINT64_FORMAT
        " (revision %" G_GUINT64_FORMAT " exists): reading it again",
        self->watched_revision, self->lag_target);
      self->lag_resynced = self->lag_target;
      self->lag_since = 0;
      g_atomic_int_set (&self->resync, 1);
    }
  g_mutex_unlock (&self->revision_lock);
}

/* libnats thread: JetStream's advisory that the directory's stream
 * elected a leader.  The old leader may have gone with this node's
 * watcher's consumer (scenario 5 of tests/cluster), which then waits in
 * silence; the revision check would find it only once a write JetStream
 * acknowledged after the election has been told in a heartbeat and the
 * grace has passed, seconds later.  Elections are rare, so the directory
 * is read again at each; no periodic traffic comes of it. */
void
sc_nats_on_dir_leader_elected (natsConnection *nc,
                               natsSubscription *sub,
                               natsMsg *msg,
                               void *closure)
{
  ScBackplaneNats *self = closure;

  natsMsg_Destroy (msg);
  g_atomic_int_set (&self->resync, 1);
  g_message ("cluster: the directory's stream elected a leader: reading it "
             "again");
}

/* Watch thread: the watcher applied @entry.  @restart: the first entry
 * of a fresh read, whose numbers may be lower than before. */
void
sc_nats_note_watched (ScBackplaneNats *self, kvEntry *entry, gboolean restart)
{
  guint64 revision = kvEntry_Revision (entry);

  g_mutex_lock (&self->revision_lock);
  if (restart)
    self->watched_revision = revision;
  else
    self->watched_revision = MAX (self->watched_revision, revision);
  g_mutex_unlock (&self->revision_lock);
}
