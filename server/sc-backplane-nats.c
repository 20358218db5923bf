/* sc-backplane-nats.c: the backplane on NATS (docs/CLUSTER.md).
 *
 * - Core NATS carries what must be fast: each node subscribes to
 *   "<cluster>.node.<id>", where other nodes' workers publish, once per
 *   round and destination, batches of messages for its clients and of
 *   receipts for its senders; and every node publishes a heartbeat on
 *   "<cluster>.heartbeat" every --heartbeat-interval.
 * - Two JetStream key-value buckets keep what must outlive a node:
 *   "<cluster>-nodes" holds the node leases ("node.<id>": the incarnation
 *   that holds it) and the client id counter ("ids"), both changed by
 *   compare-and-set; "<cluster>-dir" holds the directory, one key
 *   "<node>.<incarnation>.<client id>" per ready client.
 * - Rosters: a node's whole list of clients, on core NATS subject
 *   "<cluster>.roster", when another node may lack them (see
 *   sc-backplane-nats-roster.c for when, the frame and how they are
 *   ordered with the directory): the lists converge as soon as NATS
 *   takes connections, before JetStream serves the directory again.
 *
 * Threads: libnats calls back on its own threads; those only copy what
 * arrived and post it to a worker (SC_WORK_CALL), by origin node, so one
 * node's batches are served in order.  A "sc-cluster" thread publishes
 * heartbeats, declares nodes dead, fails their receipts, purges their
 * keys and leases id blocks; a "sc-cluster-watch" thread follows the
 * directory.  Workers only publish, which does not wait.
 *
 * This file holds the object: its creation, start and stop, the link's
 * callbacks, the cluster thread, the leases of the node id and client
 * ids, and the hand-over of work to the workers.  The other parts,
 * which share sc-backplane-nats-private.h:
 * - sc-backplane-nats-routing.c: the per-thread batches of messages and
 *   receipts, what a node does with a batch from another, and the
 *   one outcome of each remote delivery;
 * - sc-backplane-nats-liveness.c: heartbeats, which nodes are dead,
 *   the link and the directory watcher's lag;
 * - sc-backplane-nats-directory.c: the directory's writes, its watcher
 *   and re-reads, and the local copy's queries;
 * - sc-backplane-nats-roster.c: rosters.
 */
#include "config.h"

#include "sc-backplane-nats-private.h"

/* ------------------------------------------------------------------ */
/* Tables. */

static guint
pending_key_hash (gconstpointer key)
{
  const PendingKey *k = key;

  return g_int64_hash (&k->message_id) ^ k->recipient_id;
}

static gboolean
pending_key_equal (gconstpointer a, gconstpointer b)
{
  const PendingKey *x = a, *y = b;

  return x->message_id == y->message_id && x->recipient_id == y->recipient_id;
}

static void
remote_client_free (RemoteClient *client)
{
  g_strfreev (client->looks);
  sc_client_info_clear (&client->info);
  g_free (client);
}

static void
local_client_free (LocalClient *client)
{
  sc_client_info_clear (&client->info);
  g_free (client);
}

static int
compare_ids (gconstpointer a, gconstpointer b, gpointer unused)
{
  guint32 x = GPOINTER_TO_UINT (a), y = GPOINTER_TO_UINT (b);

  return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ */
/* Handing work to the workers. */

void
sc_nats_post_call (ScBackplaneNats *self,
                   guint worker_index,
                   void (*call) (ScWorker *, gpointer),
                   gpointer data,
                   GDestroyNotify data_free)
{
  ScServer *server = self->parent.server;
  ScWorkItem *item = sc_work_item_new (SC_WORK_CALL, 0);

  item->call = call;
  item->call_data = data;
  item->call_free = data_free;
  sc_server_post (server, worker_index % server->n_workers, item);
}

/* A presence notice about a client of another node, for every local
 * client that wants them. */
static void
notify_presence (ScWorker *worker, gpointer data)
{
  ScServer *server = sc_worker_get_server (worker);
  g_autoptr (GBytes) frame = sc_message_encode (data);
  g_autoptr (ScRegistrySnapshot) snapshot =
    sc_registry_snapshot (server->registry);

  for (guint i = 0; i < snapshot->len; i++)
    if (snapshot->entries[i].wants_presence)
      sc_outbox_send_frame (snapshot->entries[i].outbox, frame, worker);
}

void
sc_nats_post_presence (ScBackplaneNats *self, ScMessage *notice)
{
  /* --hide-addresses holds for the clients of other nodes too. */
  if (notice->type == SC_MSG_CLIENT_JOINED && self->config->hide_addresses)
    {
      g_free (notice->sender.address);
      notice->sender.address = g_strdup ("");
      notice->sender.port = 0;
    }
  /* One worker for every notice keeps a client's joined, renamed and
   * left in order. */
  sc_nats_post_call (self, 0, notify_presence, notice,
                     (GDestroyNotify) sc_message_free);
}

void
sc_nats_post_left (ScBackplaneNats *self, guint32 id, ScStatus status)
{
  ScMessage *left = sc_message_new (SC_MSG_CLIENT_LEFT, 0);

  left->client_id = id;
  left->status = status;
  left->reason =
    g_strdup (status == SC_STATUS_OK ? "disconnected" : "its server stopped");
  sc_nats_post_presence (self, left);
}

/* Receipts the origin resolved on its own (a node died, the link was
 * lost): each to its local sender, if it is still here. */
static void
deliver_outcomes (ScWorker *worker, gpointer data)
{
  ScServer *server = sc_worker_get_server (worker);
  GArray *outcomes = data;

  for (guint i = 0; i < outcomes->len; i++)
    {
      Outcome *outcome = &g_array_index (outcomes, Outcome, i);
      g_autoptr (ScOutbox) sender =
        sc_registry_lookup_ready (server->registry, outcome->sender_id);

      if (sender != NULL)
        sc_outbox_owe_receipt (sender, outcome->message_id,
                               outcome->recipient_id, outcome->status, worker);
    }
}

static int
compare_outcomes (gconstpointer a, gconstpointer b)
{
  const Outcome *x = a, *y = b;

  return x->message_id < y->message_id ? -1 : x->message_id > y->message_id;
}

void
sc_nats_post_outcomes (ScBackplaneNats *self, GArray *outcomes)
{
  if (outcomes->len == 0)
    {
      g_array_unref (outcomes);
      return;
    }
  /* In the order they were sent: message ids only grow per sender. */
  g_array_sort (outcomes, compare_outcomes);
  sc_nats_post_call (self, 0, deliver_outcomes, outcomes,
                     (GDestroyNotify) g_array_unref);
}

/* ------------------------------------------------------------------ */
/* Leases: the node id and blocks of client ids. */

static gboolean
lease_node (ScBackplaneNats *self, GError **error)
{
  g_autofree char *key = g_strdup_printf ("node.%u", self->node);
  g_autofree char *value =
    g_strdup_printf ("%" G_GINT64_MODIFIER "x", self->incarnation);
  kvEntry *entry = NULL;
  uint64_t revision = 0;
  natsStatus s;

  s = kvStore_Get (&entry, self->nodes_kv, key);
  if (s == NATS_NOT_FOUND)
    {
      s = kvStore_CreateString (&revision, self->nodes_kv, key, value);
      if (s == NATS_OK)
        return TRUE;
      g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_NODE_IN_USE,
                   "cluster: node id %u was just taken by another server",
                   self->node);
      return FALSE;
    }
  if (s != NATS_OK)
    {
      g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_FAILED,
                   "cluster: cannot read the lease of node %u: %s", self->node,
                   natsStatus_GetText (s));
      return FALSE;
    }
  revision = kvEntry_Revision (entry);
  kvEntry_Destroy (entry);
  /* Held by another incarnation: taken over only if no heartbeat with
   * this node id is heard for the node timeout. */
  g_message ("cluster: node id %u was leased before; listening %u ms for "
             "its holder",
             self->node, self->config->node_timeout_ms);
  g_usleep ((gulong) self->config->node_timeout_ms * 1000);
  g_mutex_lock (&self->lock);
  if (self->self_conflict_at != 0)
    {
      g_mutex_unlock (&self->lock);
      g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_NODE_IN_USE,
                   "cluster: node id %u is in use by a live server",
                   self->node);
      return FALSE;
    }
  g_mutex_unlock (&self->lock);
  s = kvStore_UpdateString (NULL, self->nodes_kv, key, value, revision);
  if (s != NATS_OK)
    {
      g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_NODE_IN_USE,
                   "cluster: node id %u was just taken by another server",
                   self->node);
      return FALSE;
    }
  return TRUE;
}

/* Leases the next block of client ids: [*first, *first + id_block).
 * The block is numbered by the revision JetStream gives a write to the
 * key "ids", a sequence number no two writes share, so blocks never
 * overlap.  (A counter changed by compare-and-set would be the obvious
 * way, but nats-server before 2.10 may accept two concurrent updates
 * with the same expected revision on a replicated stream: nats-server
 * issue 4320; tests/cluster saw blocks leased twice.)  Blocking: the
 * cluster thread or start. */
static gboolean
lease_block (ScBackplaneNats *self, guint32 *first)
{
  guint64 block = self->config->id_block;
  g_autofree char *holder = g_strdup_printf ("%u.%" G_GINT64_MODIFIER "x",
                                             self->node, self->incarnation);
  uint64_t revision = 0;
  natsStatus s = kvStore_PutString (&revision, self->nodes_kv, "ids", holder);

  if (s != NATS_OK)
    {
      g_message ("cluster: cannot lease client ids: %s",
                 natsStatus_GetText (s));
      return FALSE;
    }
  if (revision == 0 || revision * block > G_MAXUINT32)
    {
      g_warning ("cluster: client ids are exhausted");
      return FALSE;
    }
  *first = (guint32) (1 + (revision - 1) * block);
  g_debug ("cluster: leased client ids %u to %" G_GUINT64_FORMAT, *first,
           revision * block);
  return TRUE;
}

/* Cluster thread: keeps one block in reserve. */
static void
refill_ids (ScBackplaneNats *self)
{
  guint32 first;
  gboolean wanted;

  g_mutex_lock (&self->ids_lock);
  wanted = self->spare_next == self->spare_end;
  g_mutex_unlock (&self->ids_lock);
  if (!wanted || !link_is_up (self) || !lease_block (self, &first))
    return;
  g_mutex_lock (&self->ids_lock);
  self->spare_next = first;
  self->spare_end = first + self->config->id_block;
  g_cond_broadcast (&self->ids_cond);
  g_mutex_unlock (&self->ids_lock);
}

/* Accept thread. */
static gboolean
nats_take_client_id (ScBackplane *backplane, guint32 *id)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  gboolean taken = FALSE;

  g_mutex_lock (&self->ids_lock);
  while (self->ids_next == self->ids_end)
    {
      if (self->spare_next != self->spare_end)
        {
          self->ids_next = self->spare_next;
          self->ids_end = self->spare_end;
          self->spare_next = self->spare_end = 0;
          g_async_queue_push (self->wakeups, GINT_TO_POINTER (1));
          break;
        }
      if (!g_cond_wait_until (&self->ids_cond, &self->ids_lock, deadline))
        break;
    }
  if (self->ids_next != self->ids_end)
    {
      *id = self->ids_next++;
      taken = TRUE;
    }
  g_mutex_unlock (&self->ids_lock);
  return taken;
}

/* ------------------------------------------------------------------ */
/* The cluster thread and the link. */

static gpointer
cluster_thread (gpointer data)
{
  ScBackplaneNats *self = data;
  guint64 interval = (guint64) self->config->heartbeat_interval_ms * 1000;
  gint64 next_beat = g_get_monotonic_time ();

  while (!g_atomic_int_get (&self->stopping))
    {
      gint64 now = g_get_monotonic_time ();
      gint64 wake;

      if (now >= next_beat)
        {
          next_beat = now + (gint64) interval;
          if (link_is_up (self))
            sc_nats_publish_heartbeat (self);
          sc_nats_check_liveness (self);
          sc_nats_check_link (self);
          sc_nats_check_watcher_lag (self);
          sc_nats_check_in_flight (self);
          sc_nats_reregister_some (self);
          sc_nats_rewrite_dirty (self);
          sc_nats_prune_tombstones (self);
        }
      /* Once the directory was read again, JetStream answers: this
       * node's clients are written at once rather than at the next
       * beat, which shortens convergence after NATS returns by up to a
       * heartbeat interval. */
      if (g_atomic_int_get (&self->reregister))
        sc_nats_reregister_some (self);
      refill_ids (self);
      now = g_get_monotonic_time ();
      wake = MIN (next_beat, sc_nats_maybe_publish_roster (self, now));
      g_async_queue_timeout_pop (self->wakeups, (guint64) MAX (1, wake - now));
    }
  return NULL;
}

/* libnats thread. */
static void
on_disconnected (natsConnection *nc, void *closure)
{
  ScBackplaneNats *self = closure;

  g_mutex_lock (&self->lock);
  if (g_atomic_int_get (&self->link_up))
    self->link_down_since = g_get_monotonic_time ();
  g_atomic_int_set (&self->link_up, 0);
  g_atomic_int_set (&self->dir_stale, 1);
  g_mutex_unlock (&self->lock);
  if (!g_atomic_int_get (&self->stopping))
    g_message ("cluster: lost the link to NATS");
}

/* libnats thread: the last callback of the connection.  It runs on the
 * thread that ran the others (disconnected, reconnected), so once it has,
 * none of them still uses this object. */
static void
on_closed (natsConnection *nc, void *closure)
{
  ScBackplaneNats *self = closure;

  g_mutex_lock (&self->ids_lock);
  self->closed = TRUE;
  g_cond_broadcast (&self->ids_cond);
  g_mutex_unlock (&self->ids_lock);
}

/* After natsConnection_Close(): waits (at most 2 s) for on_closed, as
 * the object is freed next. */
static void
wait_closed (ScBackplaneNats *self)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&self->ids_lock);
  while (!self->closed)
    if (!g_cond_wait_until (&self->ids_cond, &self->ids_lock, deadline))
      {
        g_warning ("cluster: the NATS connection did not report its close");
        break;
      }
  g_mutex_unlock (&self->ids_lock);
}

static void
on_reconnected (natsConnection *nc, void *closure)
{
  ScBackplaneNats *self = closure;

  g_atomic_int_set (&self->dir_stale, 1);
  g_atomic_int_set (&self->link_up, 1);
  g_atomic_int_set (&self->resync, 1);
  g_atomic_int_inc (&self->reconnects);
  /* Every node heard from now on is sent this node's roster once. */
  g_atomic_int_inc (&self->link_epoch);
  sc_nats_want_roster (self);
  g_message ("cluster: the link to NATS is back");
}

static gboolean
nats_refuses_clients (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;

  return self->config->backplane_lost_refuse && !link_is_up (self);
}

static gboolean
fail (GError **error, const char *what, natsStatus s)
{
  g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_FAILED,
               "cluster: %s: %s", what, natsStatus_GetText (s));
  return FALSE;
}

static kvStore *
open_bucket (ScBackplaneNats *self, const char *bucket, natsStatus *status)
{
  kvConfig config;
  kvStore *kv = NULL;

  kvConfig_Init (&config);
  config.Bucket = bucket;
  config.History = 1;
  config.Replicas = (int) self->config->kv_replicas;
  *status = js_CreateKeyValue (&kv, self->js, &config);
  if (*status != NATS_OK)
    *status = js_KeyValue (&kv, self->js, bucket);
  return kv;
}

static gboolean
nats_start (ScBackplane *backplane, GError **error)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  g_auto (GStrv) urls = g_strsplit (self->config->cluster_urls, ",", -1);
  g_autofree char *name = g_strdup_printf ("sockchat-node-%u", self->node);
  jsOptions js_options;
  guint32 first;
  natsStatus s;

  natsOptions_Create (&self->options);
  natsOptions_SetServers (self->options, (const char **) urls,
                          (int) g_strv_length (urls));
  natsOptions_SetName (self->options, name);
  /* Without it a publication waits for the library's flusher: about a
   * millisecond per hop. */
  natsOptions_SetSendAsap (self->options, true);
  natsOptions_SetNoEcho (self->options, true);
  natsOptions_SetMaxReconnect (self->options, -1);
  natsOptions_SetReconnectWait (self->options, 100);
  natsOptions_SetTimeout (self->options, 2000);
  natsOptions_SetDisconnectedCB (self->options, on_disconnected, self);
  natsOptions_SetReconnectedCB (self->options, on_reconnected, self);
  natsOptions_SetClosedCB (self->options, on_closed, self);
  s = natsConnection_Connect (&self->nc, self->options);
  if (s != NATS_OK)
    return fail (error, "cannot connect to NATS", s);
  g_atomic_int_set (&self->link_up, 1);
  /* Requests give up after a second, so that the directory is read again
   * soon after JetStream answers again (the watch is retried). */
  jsOptions_Init (&js_options);
  js_options.Wait = 1000;
  s = natsConnection_JetStream (&self->js, self->nc, &js_options);
  if (s != NATS_OK)
    return fail (error, "no JetStream", s);
  jsOptions_Init (&js_options);
  js_options.Wait = 2000;
  /* Never reached in practice: a worker's publication must not stall. */
  js_options.PublishAsync.MaxPending = 1 << 20;
  js_options.PublishAsync.AckHandler = sc_nats_on_dir_ack;
  js_options.PublishAsync.AckHandlerClosure = self;
  s = natsConnection_JetStream (&self->dir_js, self->nc, &js_options);
  if (s != NATS_OK)
    return fail (error, "no JetStream", s);
  self->nodes_kv = open_bucket (self, self->nodes_bucket, &s);
  if (s != NATS_OK)
    return fail (error, "cannot open the node bucket", s);
  self->dir_kv = open_bucket (self, self->dir_bucket, &s);
  if (s != NATS_OK)
    return fail (error, "cannot open the directory bucket", s);
  self->sweeper = sc_directory_sweeper_new (
    self->dir_kv, self->config->delete_markers_kept_s);

  s = natsConnection_Subscribe (&self->heartbeat_sub, self->nc,
                                self->heartbeat_subject, sc_nats_on_heartbeat,
                                self);
  if (s == NATS_OK)
    {
      g_autofree char *advisory = g_strdup_printf (
        "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.KV_%s", self->dir_bucket);

      s = natsConnection_Subscribe (&self->dir_leader_sub, self->nc, advisory,
                                    sc_nats_on_dir_leader_elected, self);
    }
  if (s != NATS_OK)
    return fail (error, "cannot subscribe to heartbeats", s);
  if (!lease_node (self, error))
    return FALSE;
  s = natsConnection_Subscribe (&self->route_sub, self->nc, self->own_subject,
                                sc_nats_on_route, self);
  if (s != NATS_OK)
    return fail (error, "cannot subscribe to its subject", s);
  natsSubscription_SetPendingLimits (self->route_sub, -1, 256 * 1024 * 1024);
  s = natsConnection_Subscribe (&self->roster_sub, self->nc,
                                self->roster_subject, sc_nats_on_roster, self);
  if (s != NATS_OK)
    return fail (error, "cannot subscribe to rosters", s);
  natsSubscription_SetPendingLimits (self->roster_sub, -1, 256 * 1024 * 1024);
  if (!sc_nats_load_directory (self, error))
    return FALSE;
  if (!lease_block (self, &first))
    return fail (error, "cannot lease client ids", NATS_ERR);
  self->ids_next = first;
  self->ids_end = first + self->config->id_block;
  self->started_at = g_get_monotonic_time ();
  sc_nats_publish_heartbeat (self);
  self->cluster_thread = g_thread_new ("sc-cluster", cluster_thread, self);
  self->watch_thread =
    g_thread_new ("sc-cluster-watch", sc_nats_watch_thread, self);
  g_message ("cluster: node %u (incarnation %" G_GINT64_MODIFIER
             "x) joined cluster “%s”; %u clients on other nodes",
             self->node, self->incarnation, self->config->cluster_name,
             sc_nats_count_remote (backplane));
  return TRUE;
}

static void
nats_stop (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;

  if (!g_atomic_int_compare_and_exchange (&self->stopping, 0, 1))
    return;
  g_async_queue_push (self->wakeups, GINT_TO_POINTER (1));
  if (self->cluster_thread)
    g_thread_join (g_steal_pointer (&self->cluster_thread));
  if (self->watch_thread)
    g_thread_join (g_steal_pointer (&self->watch_thread));
  if (self->watcher)
    kvWatcher_Stop (self->watcher);
  if (self->nc != NULL && link_is_up (self) && self->nodes_kv != NULL)
    {
      g_autofree char *key = g_strdup_printf ("node.%u", self->node);

      /* The clients' keys went as they were closed; the lease goes now,
       * so that this node id can start again at once. */
      kvStore_Delete (self->nodes_kv, key);
      natsConnection_FlushTimeout (self->nc, 1000);
    }
  if (self->route_sub)
    natsSubscription_Unsubscribe (self->route_sub);
  if (self->heartbeat_sub)
    natsSubscription_Unsubscribe (self->heartbeat_sub);
  if (self->dir_leader_sub)
    natsSubscription_Unsubscribe (self->dir_leader_sub);
  if (self->roster_sub)
    natsSubscription_Unsubscribe (self->roster_sub);
  if (self->nc)
    {
      natsConnection_Close (self->nc);
      wait_closed (self);
    }
  /* After the close, which ends a sweep under way. */
  g_clear_pointer (&self->sweeper, sc_directory_sweeper_free);
}

static void
nats_free (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;

  nats_stop (backplane);
  g_clear_pointer (&self->watcher, kvWatcher_Destroy);
  g_clear_pointer (&self->route_sub, natsSubscription_Destroy);
  g_clear_pointer (&self->heartbeat_sub, natsSubscription_Destroy);
  g_clear_pointer (&self->dir_leader_sub, natsSubscription_Destroy);
  g_clear_pointer (&self->roster_sub, natsSubscription_Destroy);
  g_clear_pointer (&self->nodes_kv, kvStore_Destroy);
  g_clear_pointer (&self->dir_kv, kvStore_Destroy);
  g_clear_pointer (&self->js, jsCtx_Destroy);
  g_clear_pointer (&self->dir_js, jsCtx_Destroy);
  g_clear_pointer (&self->nc, natsConnection_Destroy);
  g_clear_pointer (&self->options, natsOptions_Destroy);
  g_async_queue_unref (self->wakeups);
  g_tree_unref (self->remote_sorted);
  g_hash_table_unref (self->remote);
  g_hash_table_unref (self->nodes);
  g_array_unref (self->replaced);
  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->in_flight);
  g_hash_table_unref (self->routes);
  g_hash_table_unref (self->local);
  g_array_unref (self->to_reregister);
  g_hash_table_unref (self->dirty);
  g_hash_table_unref (self->tombstones);
  g_hash_table_unref (self->assemblies);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->roster_lock);
  g_mutex_clear (&self->ids_lock);
  g_mutex_clear (&self->dirty_lock);
  g_mutex_clear (&self->revision_lock);
  g_cond_clear (&self->ids_cond);
  g_free (self->own_subject);
  g_free (self->heartbeat_subject);
  g_free (self->roster_subject);
  g_free (self->dir_prefix);
  g_free (self->nodes_bucket);
  g_free (self->dir_bucket);
  g_free (self);
}

static const ScBackplaneClass nats_class = {
  .start = nats_start,
  .stop = nats_stop,
  .free = nats_free,
  .take_client_id = nats_take_client_id,
  .refuses_clients = nats_refuses_clients,
  .client_ready = sc_nats_client_ready,
  .client_left = sc_nats_client_left,
  .has_client = sc_nats_has_client,
  .nickname_holder = sc_nats_nickname_holder,
  .remote_ids = sc_nats_remote_ids,
  .count_remote = sc_nats_count_remote,
  .list_after = sc_nats_list_after,
  .route_message = sc_nats_route_message,
  .route_receipt = sc_nats_route_receipt,
  .flush = sc_nats_flush,
};

ScBackplane *
sc_backplane_nats_new (ScServer *server, GError **error)
{
  ScBackplaneNats *self = g_new0 (ScBackplaneNats, 1);
  const char *cluster = server->config->cluster_name;

  self->parent.klass = &nats_class;
  self->parent.server = server;
  self->config = server->config;
  self->node = server->config->node_id;
  /* Never 0, so that "no incarnation" cannot be mistaken for one. */
  self->incarnation = ((guint64) g_random_int () << 32 | g_random_int ()) | 1;
  self->own_subject = g_strdup_printf ("%s.node.%u", cluster, self->node);
  self->heartbeat_subject = g_strdup_printf ("%s.heartbeat", cluster);
  self->roster_subject = g_strdup_printf ("%s.roster", cluster);
  self->nodes_bucket = g_strdup_printf ("%s-nodes", cluster);
  self->dir_bucket = g_strdup_printf ("%s-dir", cluster);
  self->dir_prefix = g_strdup_printf ("$KV.%s.", self->dir_bucket);
  self->wakeups = g_async_queue_new ();
  g_mutex_init (&self->lock);
  g_mutex_init (&self->ids_lock);
  g_mutex_init (&self->dirty_lock);
  g_mutex_init (&self->revision_lock);
  g_cond_init (&self->ids_cond);
  self->remote = g_hash_table_new_full (NULL, NULL, NULL,
                                        (GDestroyNotify) remote_client_free);
  self->remote_sorted = g_tree_new_full (compare_ids, NULL, NULL, NULL);
  self->nodes = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->replaced = g_array_new (FALSE, FALSE, sizeof (NodeState));
  self->pending =
    g_hash_table_new_full (pending_key_hash, pending_key_equal, NULL, g_free);
  self->in_flight =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                           (GDestroyNotify) sc_nats_in_flight_free);
  self->routes = g_hash_table_new (NULL, NULL);
  self->local = g_hash_table_new_full (NULL, NULL, NULL,
                                       (GDestroyNotify) local_client_free);
  self->to_reregister = g_array_new (FALSE, FALSE, sizeof (guint32));
  self->dirty = g_hash_table_new (NULL, NULL);
  self->tombstones = g_hash_table_new (NULL, NULL);
  g_mutex_init (&self->roster_lock);
  self->assemblies = g_hash_table_new_full (
    NULL, NULL, NULL, (GDestroyNotify) sc_nats_roster_assembly_free);
  self->started_at = g_get_monotonic_time ();
  return &self->parent;
}
