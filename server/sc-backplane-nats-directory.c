/* sc-backplane-nats-directory.c: the directory, the "<cluster>-dir"
 * bucket (sc-backplane-nats.c has the whole picture).  Directory entries
 * are written by plain publications on the bucket's subjects, which
 * never wait, and read back by a watcher into a local copy; that copy
 * answers the server's questions about the clients of other nodes.
 */
#include "config.h"

#include "sc-backplane-nats-private.h"

#define REREGISTER_PER_TICK 500

/* ------------------------------------------------------------------ */
/* Writes: each publication names its key, and JetStream's answer comes
 * back later (sc_nats_on_dir_ack). */

void
sc_nats_dir_key (ScBackplaneNats *self,
                 char *out,
                 gsize size,
                 guint node,
                 guint64 incarnation,
                 guint32 id)
{
  g_snprintf (out, size, "%s%u.%" G_GINT64_MODIFIER "x.%u", self->dir_prefix,
              node, incarnation, id);
}

static gboolean
parse_key (const char *key, guint *node, guint64 *incarnation, guint32 *id);

/* Only this incarnation's own entries are written again, and with their
 * state at that time, so a retry never undoes a later change.  Any
 * thread, with or without self->lock held: the set has its own lock. */
static void
mark_dirty (ScBackplaneNats *self, const char *subject)
{
  guint node;
  guint64 incarnation;
  guint32 id;

  if (!g_str_has_prefix (subject, self->dir_prefix) ||
      !parse_key (subject + strlen (self->dir_prefix), &node, &incarnation,
                  &id) ||
      node != self->node || incarnation != self->incarnation)
    return;
  g_mutex_lock (&self->dirty_lock);
  g_hash_table_add (self->dirty, GUINT_TO_POINTER (id));
  g_mutex_unlock (&self->dirty_lock);
}

/* A directory write: published without waiting for JetStream's answer.
 * When JetStream refuses it or does not answer in time (a leader
 * election, a lost link), on_dir_error marks the client dirty and the
 * cluster thread writes its current state again.  @delete: a delete
 * marker, whose @value (NULL or the owner's change counter) says who
 * wrote it (see tombstones). */
static void
publish_dir (ScBackplaneNats *self,
             const char *subject,
             const char *value,
             gboolean delete)
{
  jsPubOptions options;
  natsMsg *msg = NULL;

  if (natsMsg_Create (&msg, subject, NULL, value,
                      value ? (int) strlen (value) : 0) != NATS_OK)
    return;
  if (delete)
    natsMsgHeader_Set (msg, "KV-Operation", "DEL");
  jsPubOptions_Init (&options);
  /* Without it an answer that never comes (a stream without a leader)
   * is never reported. */
  options.MaxWait = 2000;
  if (js_PublishMsgAsync (self->dir_js, &msg, &options) != NATS_OK)
    {
      mark_dirty (self, subject);
      natsMsg_Destroy (msg);
    }
}

/* Removes a directory key of another node (a dead one): a delete
 * marker without a value. */
void
sc_nats_publish_purge (ScBackplaneNats *self, const char *subject)
{
  publish_dir (self, subject, NULL, TRUE);
}

/* Removes one of this node's own keys: a delete marker that holds the
 * change counter of the leave, so that the other nodes know the owner
 * wrote it (a client that left never comes back). */
static void
publish_own_delete (ScBackplaneNats *self, guint32 id, guint64 seq)
{
  char subject[256];
  char value[32];

  sc_nats_dir_key (self, subject, sizeof subject, self->node, self->incarnation,
                   id);
  g_snprintf (value, sizeof value, "%" G_GUINT64_FORMAT, seq);
  publish_dir (self, subject, value, TRUE);
}

/* libnats thread: JetStream's answer to a directory write.  A failure
 * marks the client for another write; a success tells the revision the
 * directory reached, which the heartbeats spread (sc_nats_check_watcher_lag).
 */
void
sc_nats_on_dir_ack (
  jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error, void *closure)
{
  ScBackplaneNats *self = closure;

  if (ack != NULL)
    {
      g_mutex_lock (&self->revision_lock);
      self->written_revision = MAX (self->written_revision, ack->Sequence);
      g_mutex_unlock (&self->revision_lock);
    }
  else
    mark_dirty (self, natsMsg_GetSubject (msg));
  natsMsg_Destroy (msg);
}

/* ------------------------------------------------------------------ */
/* The directory. */

/* "<presence 0|1>\t<since ms>\t<port>\t<address>\t<change counter>\t
 * <nickname>": the nickname last, so that nothing in it can shift the
 * other fields. */
static char *
entry_value (const LocalClient *client)
{
  return g_strdup_printf (
    "%d\t%" G_GINT64_FORMAT "\t%u\t%s\t%" G_GUINT64_FORMAT "\t%s",
    client->wants_presence ? 1 : 0, client->info.connected_since_ms,
    client->info.port, client->info.address, client->seq,
    client->info.nickname);
}

static void
publish_entry (ScBackplaneNats *self, const LocalClient *client)
{
  char key[256];
  g_autofree char *value = entry_value (client);

  sc_nats_dir_key (self, key, sizeof key, self->node, self->incarnation,
                   client->info.id);
  publish_dir (self, key, value, FALSE);
}

/* Cluster thread: the clients whose last directory write failed get
 * their present state written again. */
void
sc_nats_rewrite_dirty (ScBackplaneNats *self)
{
  GHashTableIter iter;
  gpointer key;

  g_autoptr (GHashTable) dirty = NULL;

  if (!link_is_up (self))
    return;
  g_mutex_lock (&self->dirty_lock);
  dirty = self->dirty;
  self->dirty = g_hash_table_new (NULL, NULL);
  g_mutex_unlock (&self->dirty_lock);
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, dirty);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      LocalClient *client = g_hash_table_lookup (self->local, key);

      /* A client gone: the counter now is past its leave. */
      if (client != NULL)
        publish_entry (self, client);
      else
        publish_own_delete (self, GPOINTER_TO_UINT (key), self->change_seq);
    }
  g_mutex_unlock (&self->lock);
}

/* Worker: wants_presence -1 keeps what the client said in its hello. */
void
sc_nats_client_ready (ScBackplane *backplane,
                      const ScClientInfo *info,
                      gboolean wants_presence)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  LocalClient *client;

  g_mutex_lock (&self->lock);
  client = g_hash_table_lookup (self->local, GUINT_TO_POINTER (info->id));
  if (client == NULL)
    {
      client = g_new0 (LocalClient, 1);
      client->wants_presence = TRUE;
      g_hash_table_insert (self->local, GUINT_TO_POINTER (info->id), client);
    }
  sc_client_info_clear (&client->info);
  sc_client_info_copy_into (&client->info, info);
  if (wants_presence != -1)
    client->wants_presence = wants_presence;
  client->seq = ++self->change_seq;
  publish_entry (self, client);
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&self->local_changed, 1);
}

void
sc_nats_client_left (ScBackplane *backplane, guint32 id)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  guint64 seq;

  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->local, GUINT_TO_POINTER (id));
  seq = ++self->change_seq;
  g_mutex_unlock (&self->lock);
  publish_own_delete (self, id, seq);
  g_atomic_int_set (&self->local_changed, 1);
}

static gboolean
parse_key (const char *key, guint *node, guint64 *incarnation, guint32 *id)
{
  g_auto (GStrv) parts = g_strsplit (key, ".", 4);

  if (g_strv_length (parts) != 3)
    return FALSE;
  *node = (guint) g_ascii_strtoull (parts[0], NULL, 10);
  *incarnation = g_ascii_strtoull (parts[1], NULL, 16);
  *id = (guint32) g_ascii_strtoull (parts[2], NULL, 10);
  return *id != 0;
}

/* With the lock held: client @info->id of incarnation @incarnation of
 * @node is as told, at change @seq of that node.  Returns the notice the
 * change makes for local clients (CLIENT_JOINED or CLIENT_RENAMED), or
 * NULL.  The watcher and the rosters both come here, so that the same
 * client told twice (once by each) makes one notice. */
ScMessage *
sc_nats_upsert_remote (ScBackplaneNats *self,
                       guint node,
                       guint64 incarnation,
                       guint64 seq,
                       gboolean wants_presence,
                       const ScClientInfo *info)
{
  RemoteClient *client =
    g_hash_table_lookup (self->remote, GUINT_TO_POINTER (info->id));
  ScMessage *notice = NULL;

  if (client == NULL)
    {
      client = g_new0 (RemoteClient, 1);
      client->id = info->id;
      g_hash_table_insert (self->remote, GUINT_TO_POINTER (info->id), client);
      g_tree_insert (self->remote_sorted, GUINT_TO_POINTER (info->id), client);
      notice = sc_message_new (SC_MSG_CLIENT_JOINED, 0);
      sc_client_info_copy_into (&notice->sender, info);
    }
  else if (g_strcmp0 (client->info.nickname, info->nickname) != 0)
    {
      notice = sc_message_new (SC_MSG_CLIENT_RENAMED, 0);
      notice->client_id = info->id;
      notice->nickname = g_strdup (info->nickname);
    }
  client->node = node;
  client->incarnation = incarnation;
  client->seq = seq;
  client->wants_presence = wants_presence;
  sc_client_info_clear (&client->info);
  sc_client_info_copy_into (&client->info, info);
  g_strfreev (client->looks);
  client->looks =
    info->nickname[0] != '\0' ? sc_nickname_looks (info->nickname) : NULL;
  return notice;
}

/* With the lock held: is a put at change @seq of (@node, @incarnation)
 * for client @id older than what this node holds?  Either the client's
 * own state is newer, or a roster of that node at a later change was
 * applied: the roster held the client's latest state then, or the
 * client had left (the order between rosters and the directory,
 * docs/CLUSTER.md). */
static gboolean
put_is_stale (ScBackplaneNats *self,
              guint node,
              guint64 incarnation,
              guint32 id,
              guint64 seq)
{
  NodeState *state = g_hash_table_lookup (self->nodes, GUINT_TO_POINTER (node));
  RemoteClient *client =
    g_hash_table_lookup (self->remote, GUINT_TO_POINTER (id));

  if (state != NULL && state->incarnation == incarnation &&
      seq <= state->roster_seq)
    return TRUE;
  return client != NULL && client->node == node &&
         client->incarnation == incarnation && seq < client->seq;
}

/* With the lock held: a directory put's value, parsed and applied.
 * Values written before the change counter (five fields) count as
 * change 0. */
static ScMessage *
apply_put (ScBackplaneNats *self,
           guint node,
           guint64 incarnation,
           guint32 id,
           const char *value)
{
  g_auto (GStrv) fields = g_strsplit (value ? value : "", "\t", 6);
  guint n = g_strv_length (fields);
  ScClientInfo info = { 0 };
  guint64 seq;
  ScMessage *notice;

  if (n != 5 && n != 6)
    return NULL;
  seq = n == 6 ? g_ascii_strtoull (fields[4], NULL, 10) : 0;
  if (put_is_stale (self, node, incarnation, id, seq))
    return NULL;
  info.id = id;
  info.connected_since_ms = g_ascii_strtoll (fields[1], NULL, 10);
  info.port = (guint16) g_ascii_strtoull (fields[2], NULL, 10);
  info.address = fields[3];
  info.nickname = fields[n - 1];
  notice = sc_nats_upsert_remote (self, node, incarnation, seq,
                                  g_str_equal (fields[0], "1"), &info);
  ((RemoteClient *) g_hash_table_lookup (self->remote, GUINT_TO_POINTER (id)))
    ->rostered = FALSE;
  return notice;
}

/* With the lock held: a purged client of a live node stays, and as the
 * directory does not hold it until its node writes it again, a re-read
 * meanwhile keeps it as it keeps a client told of by a roster only. */
static ScMessage *
keep_purged (ScBackplaneNats *self, guint32 id)
{
  RemoteClient *client =
    g_hash_table_lookup (self->remote, GUINT_TO_POINTER (id));

  if (client != NULL)
    client->rostered = TRUE;
  return NULL;
}

/* With the lock held: a directory delete.  A client that left never
 * comes back (ids are not reused), so a delete always applies; one its
 * own node wrote (it holds a value) also keeps a roster built before the
 * leave from bringing the client back. */
ScMessage *
sc_nats_apply_delete (ScBackplaneNats *self,
                      guint node,
                      guint64 incarnation,
                      guint32 id,
                      gboolean by_owner)
{
  RemoteClient *client =
    g_hash_table_lookup (self->remote, GUINT_TO_POINTER (id));
  ScMessage *notice;

  if (by_owner)
    g_hash_table_insert (
      self->tombstones, GUINT_TO_POINTER (id),
      GUINT_TO_POINTER ((guint) (g_get_monotonic_time () / G_USEC_PER_SEC)));
  if (client == NULL || client->node != node ||
      client->incarnation != incarnation)
    return NULL;
  notice = sc_message_new (SC_MSG_CLIENT_LEFT, 0);
  notice->client_id = id;
  notice->status = SC_STATUS_OK;
  notice->reason = g_strdup ("disconnected");
  g_tree_remove (self->remote_sorted, GUINT_TO_POINTER (id));
  g_hash_table_remove (self->remote, GUINT_TO_POINTER (id));
  return notice;
}

static void
post_notice (ScBackplaneNats *self, ScMessage *notice, gboolean notify)
{
  if (notice != NULL && notify)
    sc_nats_post_presence (self, notice);
  else if (notice != NULL)
    sc_message_free (notice);
}

/* Whether client @id is still one of this node's. */
static gboolean
has_local (ScBackplaneNats *self, guint32 id)
{
  gboolean local;

  g_mutex_lock (&self->lock);
  local = g_hash_table_contains (self->local, GUINT_TO_POINTER (id));
  g_mutex_unlock (&self->lock);
  return local;
}

/* One directory change, from the watcher.  Notices only once the initial
 * values are in: those describe clients that were there before. */
static void
apply_entry (ScBackplaneNats *self,
             kvEntry *entry,
             gboolean notify,
             GHashTable *seen,
             GHashTable *own)
{
  guint node;
  guint64 incarnation;
  guint32 id;
  ScMessage *notice;
  gboolean put = kvEntry_Operation (entry) == kvOp_Put;

  if (!parse_key (kvEntry_Key (entry), &node, &incarnation, &id))
    return;
  if (node == self->node && incarnation == self->incarnation && own != NULL &&
      put)
    g_hash_table_add (own, GUINT_TO_POINTER (id));
  if (node == self->node)
    {
      char key[256];

      sc_nats_dir_key (self, key, sizeof key, node, incarnation, id);
      /* An earlier incarnation of this node left entries: purge them. */
      if (incarnation != self->incarnation && put)
        sc_nats_publish_purge (self, key);
      /* Another node took this one for dead (all of NATS was down
       * longer than the node timeout) and purged its entries: a client
       * still here is written again. */
      else if (incarnation == self->incarnation && !put &&
               kvEntry_ValueLen (entry) == 0 && has_local (self, id))
        mark_dirty (self, key);
      return;
    }
  g_mutex_lock (&self->lock);
  if (put && seen != NULL)
    g_hash_table_add (seen, GUINT_TO_POINTER (id));
  if (put)
    notice =
      apply_put (self, node, incarnation, id, kvEntry_ValueString (entry));
  /* A purge by a node that took this client's node for dead, when this
   * node hears it alive: the verdict was wrong (every NATS server was
   * down past the node timeout), and the owner writes the entry again.
   * Applied, it would remove a client whose later writes and rosters
   * this node takes for stale. */
  else if (kvEntry_ValueLen (entry) == 0 &&
           sc_nats_node_alive (self, node, incarnation))
    notice = keep_purged (self, id);
  else
    notice = sc_nats_apply_delete (self, node, incarnation, id,
                                   kvEntry_ValueLen (entry) > 0);
  g_mutex_unlock (&self->lock);
  post_notice (self, notice, notify);
}

/* After a reconnection the watcher may have missed changes, and the
 * other nodes may have been taken for dead meanwhile: a new watcher reads
 * the whole directory again, with notices for what changed, and what is
 * no longer there leaves.  Retried until JetStream answers. */
static void
resync_directory (ScBackplaneNats *self)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) own = g_hash_table_new (NULL, NULL);
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) stale = g_array_new (FALSE, FALSE, sizeof (guint32));
  kvWatcher *fresh = NULL, *old;
  kvWatchOptions options;
  GHashTableIter iter;
  gpointer key, value;
  gboolean first = TRUE;

  kvWatchOptions_Init (&options);
  if (kvStore_Watch (&fresh, self->dir_kv, ">", &options) != NATS_OK)
    {
      /* Tried again soon: a request that JetStream cannot answer yet
       * already waits a second (js_options.Wait), and one made while
       * the link is down fails at once without reaching anyone. */
      g_atomic_int_set (&self->resync, 1);
      g_usleep (200 * 1000);
      return;
    }
  g_mutex_lock (&self->lock);
  old = self->watcher;
  self->watcher = fresh;
  g_mutex_unlock (&self->lock);
  kvWatcher_Stop (old);
  kvWatcher_Destroy (old);
  for (;;)
    {
      kvEntry *entry = NULL;
      natsStatus s = kvWatcher_Next (&entry, fresh, 5000);

      if (s != NATS_OK)
        {
          g_atomic_int_set (&self->resync, 1);
          return;
        }
      if (entry == NULL)
        break;
      apply_entry (self, entry, TRUE, seen, own);
      sc_nats_note_watched (self, entry, first);
      first = FALSE;
      kvEntry_Destroy (entry);
    }
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->remote);
  /* A client a roster told of and the directory does not hold yet (its
   * node writes its entries again only now) stays: its node's delete,
   * its next roster or its death removes it.  So does any client of a
   * node that is heard from: right after JetStream elects its leaders a
   * read can come back short (a default run saw 1 of 33 remote clients),
   * and a live node's rosters and deletes say what it holds. */
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (seen, key) &&
        !((RemoteClient *) value)->rostered &&
        !sc_nats_node_alive (self, ((RemoteClient *) value)->node,
                             ((RemoteClient *) value)->incarnation))
      {
        guint32 id = GPOINTER_TO_UINT (key);

        g_array_append_val (gone, id);
        g_tree_remove (self->remote_sorted, key);
        g_hash_table_iter_remove (&iter);
      }
  /* This node's own entries for clients that left while JetStream did
   * not answer: their delete markers were lost. */
  g_hash_table_iter_init (&iter, own);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (self->local, key))
      {
        guint32 id = GPOINTER_TO_UINT (key);

        g_array_append_val (stale, id);
      }
  /* Written as the owner's deletes (with the change counter): the other
   * nodes ignore a bare delete of a live node's entry as a purge. */
  for (guint i = 0; i < stale->len; i++)
    publish_own_delete (self, g_array_index (stale, guint32, i),
                        self->change_seq);
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < gone->len; i++)
    sc_nats_post_left (self, g_array_index (gone, guint32, i), SC_STATUS_OK);
  /* JetStream answers again: this node's own entries, some of which may
   * have been lost or purged meanwhile, are written again. */
  g_atomic_int_set (&self->reregister, 1);
  g_atomic_int_set (&self->dir_stale, 0);
  g_async_queue_push (self->wakeups, GINT_TO_POINTER (1));
  g_message ("cluster: directory read again: %u clients on other nodes",
             g_hash_table_size (seen));
}

gpointer
sc_nats_watch_thread (gpointer data)
{
  ScBackplaneNats *self = data;

  while (!g_atomic_int_get (&self->stopping))
    {
      kvEntry *entry = NULL;
      natsStatus s;

      if (g_atomic_int_compare_and_exchange (&self->resync, 1, 0))
        {
          resync_directory (self);
          continue;
        }
      s = kvWatcher_Next (&entry, self->watcher, 200);

      if (s == NATS_TIMEOUT)
        continue;
      if (s != NATS_OK)
        {
          if (g_atomic_int_get (&self->stopping))
            break;
          g_usleep (100 * 1000);
          continue;
        }
      if (entry == NULL)
        continue;
      apply_entry (self, entry, TRUE, NULL, NULL);
      sc_nats_note_watched (self, entry, FALSE);
      kvEntry_Destroy (entry);
    }
  return NULL;
}

/* Start: reads the whole directory before serving, without notices. */
gboolean
sc_nats_load_directory (ScBackplaneNats *self, GError **error)
{
  kvWatchOptions options;
  natsStatus s;

  kvWatchOptions_Init (&options);
  s = kvStore_Watch (&self->watcher, self->dir_kv, ">", &options);
  if (s != NATS_OK)
    {
      g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_FAILED,
                   "cluster: cannot watch the directory: %s",
                   natsStatus_GetText (s));
      return FALSE;
    }
  for (;;)
    {
      kvEntry *entry = NULL;

      s = kvWatcher_Next (&entry, self->watcher, 10000);
      if (s != NATS_OK)
        {
          g_set_error (error, SC_BACKPLANE_ERROR, SC_BACKPLANE_ERROR_FAILED,
                       "cluster: cannot read the directory: %s",
                       natsStatus_GetText (s));
          return FALSE;
        }
      if (entry == NULL)
        return TRUE; /* the initial values are in */
      apply_entry (self, entry, FALSE, NULL, NULL);
      sc_nats_note_watched (self, entry, FALSE);
      kvEntry_Destroy (entry);
    }
}

gboolean
sc_nats_has_client (ScBackplane *backplane, guint32 id)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  gboolean found;

  g_mutex_lock (&self->lock);
  found = g_hash_table_contains (self->remote, GUINT_TO_POINTER (id));
  g_mutex_unlock (&self->lock);
  return found;
}

char *
sc_nats_nickname_holder (ScBackplane *backplane, const char *look)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  GHashTableIter iter;
  RemoteClient *client;
  char *holder = NULL;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->remote);
  while (holder == NULL &&
         g_hash_table_iter_next (&iter, NULL, (gpointer *) &client))
    if (client->looks != NULL &&
        g_strv_contains ((const char *const *) client->looks, look))
      holder = g_strdup (client->info.nickname);
  g_mutex_unlock (&self->lock);
  return holder;
}

GArray *
sc_nats_remote_ids (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->remote);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint32 id = GPOINTER_TO_UINT (key);

      g_array_append_val (ids, id);
    }
  g_mutex_unlock (&self->lock);
  return ids;
}

guint
sc_nats_count_remote (ScBackplane *backplane)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  guint n;

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->remote);
  g_mutex_unlock (&self->lock);
  return n;
}

GPtrArray *
sc_nats_list_after (ScBackplane *backplane,
                    guint32 after_id,
                    guint limit,
                    gboolean *more)
{
  ScBackplaneNats *self = (ScBackplaneNats *) backplane;
  GPtrArray *page =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  GTreeNode *node;

  g_mutex_lock (&self->lock);
  node = g_tree_upper_bound (self->remote_sorted, GUINT_TO_POINTER (after_id));
  for (; node != NULL && page->len < limit; node = g_tree_node_next (node))
    g_ptr_array_add (
      page,
      sc_client_info_copy (&((RemoteClient *) g_tree_node_value (node))->info));
  *more = node != NULL;
  g_mutex_unlock (&self->lock);
  return page;
}

/* ------------------------------------------------------------------ */
/* Writing this node's clients again after the link came back. */

void
sc_nats_reregister_some (ScBackplaneNats *self)
{
  g_mutex_lock (&self->lock);
  if (g_atomic_int_compare_and_exchange (&self->reregister, 1, 0))
    {
      GHashTableIter iter;
      gpointer key;

      g_array_set_size (self->to_reregister, 0);
      g_hash_table_iter_init (&iter, self->local);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          guint32 id = GPOINTER_TO_UINT (key);

          g_array_append_val (self->to_reregister, id);
        }
    }
  g_mutex_unlock (&self->lock);
  /* Rate-limited, so that a node with many clients does not flood the
   * cluster as it comes back; acknowledged writes, retried next time
   * when JetStream does not take them yet. */
  for (guint i = 0; i < REREGISTER_PER_TICK; i++)
    {
      g_autofree char *value = NULL;
      g_autofree char *key = NULL;
      LocalClient *client;
      guint32 id;
      guint last;

      g_mutex_lock (&self->lock);
      if (self->to_reregister->len == 0)
        {
          g_mutex_unlock (&self->lock);
          break;
        }
      last = self->to_reregister->len - 1;
      id = g_array_index (self->to_reregister, guint32, last);
      client = g_hash_table_lookup (self->local, GUINT_TO_POINTER (id));
      if (client != NULL)
        value = entry_value (client);
      g_mutex_unlock (&self->lock);
      if (value == NULL)
        {
          g_mutex_lock (&self->lock);
          g_array_remove_index_fast (self->to_reregister, last);
          g_mutex_unlock (&self->lock);
          continue;
        }
      key = g_strdup_printf ("%u.%" G_GINT64_MODIFIER "x.%u", self->node,
                             self->incarnation, id);
      if (kvStore_PutString (NULL, self->dir_kv, key, value) != NATS_OK)
        break;
      g_mutex_lock (&self->lock);
      /* A new reconnection may have refilled the list meanwhile. */
      if (last < self->to_reregister->len &&
          g_array_index (self->to_reregister, guint32, last) == id)
        g_array_remove_index_fast (self->to_reregister, last);
      g_mutex_unlock (&self->lock);
    }
}
