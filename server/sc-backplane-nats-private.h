/* sc-backplane-nats-private.h: what the parts of the NATS backplane
 * (sc-backplane-nats.c lists them) share: the object, the records its
 * tables hold, the decoder of batches and rosters, and the calls one part
 * makes into another.  Everything else stays static in its part. */
#pragma once

#include <glib/gi18n.h>

#include <nats/nats.h>
#include <string.h>

#include "sc-backplane.h"
#include "sc-directory-sweeper.h"
#include "sc-nickname.h"
#include "sc-outbox.h"
#include "sc-server-private.h"
#include "sc-tsan.h"
#include "sc-wire.h"
#include "sc-worker.h"

#ifdef SC_TSAN
/* ThreadSanitizer cannot see GLib's futex-based mutexes (sc-tsan.h), and
 * the backplane's state is shared between libnats's threads, the cluster
 * thread and the workers under three of them: each lock and wait states
 * the order it gives. */
static inline void
tsan_mutex_lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  SC_HAPPENS_AFTER (mutex);
}

static inline void
tsan_mutex_unlock (GMutex *mutex)
{
  SC_HAPPENS_BEFORE (mutex);
  g_mutex_unlock (mutex);
}

static inline gboolean
tsan_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean signalled;

  SC_HAPPENS_BEFORE (mutex);
  signalled = g_cond_wait_until (cond, mutex, end_time);
  SC_HAPPENS_AFTER (mutex);
  return signalled;
}

#define g_mutex_lock      tsan_mutex_lock
#define g_mutex_unlock    tsan_mutex_unlock
#define g_cond_wait_until tsan_cond_wait_until
#endif

G_BEGIN_DECLS

typedef struct
{
  guint32 id;
  guint node;
  guint64 incarnation;
  gboolean wants_presence;
  ScClientInfo info;
  GStrv looks;       /* of its nickname (sc-nickname.h), NULL for none */
  guint64 seq;       /* its node's change counter for this state */
  gboolean rostered; /* learnt from a roster, not yet from the directory */
} RemoteClient;

typedef struct
{
  guint node;
  guint64 incarnation;
  gint64 last_seen;     /* monotonic */
  guint reconnects;     /* as its heartbeats count them */
  guint64 dir_revision; /* the directory's revision it last told */
  guint64 roster_seq;   /* the change counter of its last roster applied */
  guint heard_epoch;    /* this node's link_epoch when last heard */
} NodeState;

typedef struct
{
  guint64 message_id;
  guint32 recipient_id;
} PendingKey;

typedef struct
{
  PendingKey key;
  guint32 sender_id;
  guint node;
  guint64 incarnation;
} Pending;

typedef struct
{
  ScClientInfo info;
  gboolean wants_presence;
  guint64 seq; /* the change counter of its last change */
} LocalClient;

typedef struct
{
  ScBackplane parent;
  ScServerConfig *config;
  guint node;
  guint64 incarnation;
  char *own_subject;
  char *heartbeat_subject;
  char *roster_subject;
  char *dir_prefix; /* "$KV.<cluster>-dir." */
  char *nodes_bucket;
  char *dir_bucket;
  gint64 started_at;

  natsOptions *options;
  natsConnection *nc;
  jsCtx *js;
  jsCtx *dir_js; /* asynchronous directory writes, retried on failure */
  kvStore *nodes_kv;
  kvStore *dir_kv;
  kvWatcher *watcher;
  ScDirectorySweeper *sweeper; /* removes old delete markers */
  natsSubscription *route_sub;
  natsSubscription *heartbeat_sub;
  natsSubscription *dir_leader_sub; /* the directory's leader elections */
  natsSubscription *roster_sub;

  GThread *cluster_thread;
  GThread *watch_thread;
  GAsyncQueue *wakeups; /* pokes the cluster thread */
  gint stopping;        /* atomic */
  gint link_up;         /* atomic */
  gint64 link_down_since;
  gint reregister;    /* atomic: the link came back */
  gint resync;        /* atomic: the watcher starts over, for the same reason */
  gint reconnects;    /* atomic: told in heartbeats (for the logs of others) */
  gint link_epoch;    /* atomic: counts the link's returns */
  gint dir_stale;     /* atomic: the link was lost and the directory not read */
  gint roster_wanted; /* atomic: another node may lack this one's clients */
  gint local_changed; /* atomic: a client came, changed or left */
  gint64 last_roster; /* monotonic; the cluster thread's */

  GMutex lock;           /* the tables below, up to dirty_lock */
  GHashTable *remote;    /* id -> RemoteClient */
  GTree *remote_sorted;  /* id -> RemoteClient (borrowed) */
  GHashTable *nodes;     /* node -> NodeState */
  GArray *replaced;      /* NodeState: incarnations a newer one replaced */
  GHashTable *pending;   /* PendingKey -> Pending */
  GHashTable *in_flight; /* batch seq -> InFlight, until acknowledged */
  guint64 next_seq;      /* atomic, not locked: the last batch number */
  GHashTable *routes;    /* remote sender id -> node it spoke from */
  GHashTable *local;     /* id -> LocalClient: this node's own clients */
  GArray *to_reregister; /* ids still to write again after a reconnect */
  GMutex dirty_lock;
  GHashTable *dirty;       /* own client ids whose last write failed */
  gint64 self_conflict_at; /* another process heartbeats with our node id */
  guint64 change_seq;      /* under lock: counts this node's client changes */
  GHashTable *tombstones;  /* under lock: id -> second it left (see Rosters) */

  GMutex roster_lock;
  GHashTable *assemblies; /* node -> RosterAssembly, chunks still coming */

  GMutex ids_lock;
  GCond ids_cond; /* also: the connection's closed callback has run */
  gboolean closed;
  guint32 ids_next, ids_end;
  guint32 spare_next, spare_end;

  /* The directory's revisions (its stream's sequence numbers), so that a
   * watcher whose consumer went away with a NATS server is noticed even
   * when no node reconnected (see sc_nats_check_watcher_lag). */
  GMutex revision_lock;
  guint64 watched_revision; /* the last the watcher applied */
  guint64 written_revision; /* the last own write JetStream acknowledged */
  guint64 lag_target;       /* a revision the watcher has yet to reach */
  gint64 lag_since;         /* monotonic; 0: not behind */
  guint64 lag_resynced;     /* the target of the last resync for lag */
} ScBackplaneNats;

typedef struct
{
  guint32 sender_id;
  guint32 recipient_id;
  guint64 message_id;
  ScStatus status;
} Outcome;

/* ------------------------------------------------------------------ */
/* Decoding: fields read one after another over ScWireReader (sc-wire.h),
 * remembering whether one did not fit, so that a batch or a roster is
 * checked once, at its end. */

typedef struct
{
  ScWireReader wire;
  gboolean bad;
} Reader;

static inline guint8
get_u8 (Reader *reader)
{
  guint8 value = 0;

  reader->bad = reader->bad || !sc_wire_read_u8 (&reader->wire, &value, NULL);
  return value;
}

static inline guint16
get_u16 (Reader *reader)
{
  guint16 value = 0;

  reader->bad = reader->bad || !sc_wire_read_u16 (&reader->wire, &value, NULL);
  return value;
}

static inline guint32
get_u32 (Reader *reader)
{
  guint32 value = 0;

  reader->bad = reader->bad || !sc_wire_read_u32 (&reader->wire, &value, NULL);
  return value;
}

static inline guint64
get_u64 (Reader *reader)
{
  guint64 value = 0;

  reader->bad = reader->bad || !sc_wire_read_u64 (&reader->wire, &value, NULL);
  return value;
}

/* Passes over @n bytes, which the caller reads from where they were. */
static inline void
skip (Reader *reader, gsize n)
{
  if (reader->bad || n > sc_wire_reader_remaining (&reader->wire))
    reader->bad = TRUE;
  else
    reader->wire.pos += n;
}

static inline gboolean
reader_done (const Reader *reader)
{
  return reader->bad || sc_wire_reader_remaining (&reader->wire) == 0;
}

static inline gboolean
link_is_up (ScBackplaneNats *self)
{
  return g_atomic_int_get (&self->link_up);
}
typedef struct _InFlight InFlight;
typedef struct _RosterAssembly RosterAssembly;

/* sc-backplane-nats.c */
void sc_nats_post_call (ScBackplaneNats *self,
                        guint worker_index,
                        void (*call) (ScWorker *, gpointer),
                        gpointer data,
                        GDestroyNotify data_free);
void sc_nats_post_presence (ScBackplaneNats *self, ScMessage *notice);
void sc_nats_post_left (ScBackplaneNats *self, guint32 id, ScStatus status);
void sc_nats_post_outcomes (ScBackplaneNats *self, GArray *outcomes);

/* sc-backplane-nats-routing.c */
void sc_nats_in_flight_free (InFlight *in_flight);
void sc_nats_flush (ScBackplane *backplane);
void sc_nats_check_in_flight (ScBackplaneNats *self);
ScStatus sc_nats_route_message (ScBackplane *backplane,
                                guint32 sender_id,
                                guint32 recipient_id,
                                guint64 message_id,
                                GBytes *frame,
                                gboolean receipt);
gboolean sc_nats_route_receipt (ScBackplane *backplane,
                                guint32 sender_id,
                                guint64 message_id,
                                guint32 recipient_id,
                                ScStatus status);
void sc_nats_on_route (natsConnection *nc,
                       natsSubscription *sub,
                       natsMsg *msg,
                       void *closure);

/* sc-backplane-nats-liveness.c */
void sc_nats_want_roster (ScBackplaneNats *self);
NodeState *
sc_nats_touch_node (ScBackplaneNats *self, guint node, guint64 incarnation);
void sc_nats_on_heartbeat (natsConnection *nc,
                           natsSubscription *sub,
                           natsMsg *msg,
                           void *closure);
void sc_nats_publish_heartbeat (ScBackplaneNats *self);
gboolean
sc_nats_node_alive (ScBackplaneNats *self, guint node, guint64 incarnation);
void sc_nats_check_liveness (ScBackplaneNats *self);
void sc_nats_check_link (ScBackplaneNats *self);
void sc_nats_check_watcher_lag (ScBackplaneNats *self);
void sc_nats_on_dir_leader_elected (natsConnection *nc,
                                    natsSubscription *sub,
                                    natsMsg *msg,
                                    void *closure);
void
sc_nats_note_watched (ScBackplaneNats *self, kvEntry *entry, gboolean restart);

/* sc-backplane-nats-directory.c */
void sc_nats_dir_key (ScBackplaneNats *self,
                      char *out,
                      gsize size,
                      guint node,
                      guint64 incarnation,
                      guint32 id);
void sc_nats_publish_purge (ScBackplaneNats *self, const char *subject);
void sc_nats_on_dir_ack (
  jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error, void *closure);
void sc_nats_rewrite_dirty (ScBackplaneNats *self);
void sc_nats_client_ready (ScBackplane *backplane,
                           const ScClientInfo *info,
                           gboolean wants_presence);
void sc_nats_client_left (ScBackplane *backplane, guint32 id);
ScMessage *sc_nats_upsert_remote (ScBackplaneNats *self,
                                  guint node,
                                  guint64 incarnation,
                                  guint64 seq,
                                  gboolean wants_presence,
                                  const ScClientInfo *info);
ScMessage *sc_nats_apply_delete (ScBackplaneNats *self,
                                 guint node,
                                 guint64 incarnation,
                                 guint32 id,
                                 gboolean by_owner);
gpointer sc_nats_watch_thread (gpointer data);
gboolean sc_nats_load_directory (ScBackplaneNats *self, GError **error);
gboolean sc_nats_has_client (ScBackplane *backplane, guint32 id);
char *sc_nats_nickname_holder (ScBackplane *backplane, const char *look);
GArray *sc_nats_remote_ids (ScBackplane *backplane);
guint sc_nats_count_remote (ScBackplane *backplane);
GPtrArray *sc_nats_list_after (ScBackplane *backplane,
                               guint32 after_id,
                               guint limit,
                               gboolean *more);
void sc_nats_reregister_some (ScBackplaneNats *self);

/* sc-backplane-nats-roster.c */
void sc_nats_roster_assembly_free (RosterAssembly *assembly);
gint64 sc_nats_maybe_publish_roster (ScBackplaneNats *self, gint64 now);
void sc_nats_on_roster (natsConnection *nc,
                        natsSubscription *sub,
                        natsMsg *msg,
                        void *closure);
void sc_nats_prune_tombstones (ScBackplaneNats *self);

G_END_DECLS
