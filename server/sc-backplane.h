/* sc-backplane.h: what joins several servers into one (docs/CLUSTER.md).
 *
 * The server talks to the other nodes only through this interface; an
 * engine (sc-backplane-nats*.c: NATS core for routing, heartbeats and
 * receipts, JetStream key-value buckets for the directory and the id
 * leases) implements the class.  Every function takes a NULL backplane
 * and then does what a single server does, so the hooks in the request
 * handlers need no test of their own.
 *
 * Threads: take_client_id runs on the accept thread; everything else on
 * workers, which it never blocks on the network.  What arrives from other
 * nodes is handed to the workers as SC_WORK_CALL items.
 */
#pragma once

#include <glib.h>
#include <gmodule.h>

#include "sc-message.h"

G_BEGIN_DECLS

#define SC_BACKPLANE_ERROR (sc_backplane_error_quark ())

typedef enum
{
  SC_BACKPLANE_ERROR_FAILED,      /* the engine cannot be reached or used */
  SC_BACKPLANE_ERROR_NODE_IN_USE, /* another live server has this node id */
} ScBackplaneError;

GQuark sc_backplane_error_quark (void);

typedef struct _ScServer ScServer;
typedef struct _ScWorker ScWorker;
typedef struct _ScBackplane ScBackplane;

typedef struct
{
  gboolean (*start) (ScBackplane *backplane, GError **error);
  void (*stop) (ScBackplane *backplane);
  void (*free) (ScBackplane *backplane);
  gboolean (*take_client_id) (ScBackplane *backplane, guint32 *id);
  gboolean (*refuses_clients) (ScBackplane *backplane);
  /* wants_presence: TRUE, FALSE, or -1 to keep what the hello said (a
   * rename). */
  void (*client_ready) (ScBackplane *backplane,
                        const ScClientInfo *info,
                        gboolean wants_presence);
  void (*client_left) (ScBackplane *backplane, guint32 id);
  gboolean (*has_client) (ScBackplane *backplane, guint32 id);
  /* The nickname of another node's client that has @look among its
   * looks (sc-nickname.h), or NULL.  (transfer full) */
  char *(*nickname_holder) (ScBackplane *backplane, const char *look);
  GArray *(*remote_ids) (ScBackplane *backplane);
  guint (*count_remote) (ScBackplane *backplane);
  GPtrArray *(*list_after) (ScBackplane *backplane,
                            guint32 after_id,
                            guint limit,
                            gboolean *more);
  ScStatus (*route_message) (ScBackplane *backplane,
                             guint32 sender_id,
                             guint32 recipient_id,
                             guint64 message_id,
                             GBytes *frame,
                             gboolean receipt);
  gboolean (*route_receipt) (ScBackplane *backplane,
                             guint32 sender_id,
                             guint64 message_id,
                             guint32 recipient_id,
                             ScStatus status);
  void (*flush) (ScBackplane *backplane);
} ScBackplaneClass;

struct _ScBackplane
{
  const ScBackplaneClass *klass;
  ScServer *server;
};

ScBackplane *sc_backplane_new (ScServer *server, GError **error);
gboolean sc_backplane_start (ScBackplane *backplane, GError **error);
void sc_backplane_stop (ScBackplane *backplane);
void sc_backplane_free (ScBackplane *backplane);

gboolean sc_backplane_take_client_id (ScBackplane *backplane, guint32 *id);
gboolean sc_backplane_refuses_clients (ScBackplane *backplane);
void sc_backplane_client_ready (ScBackplane *backplane,
                                const ScClientInfo *info,
                                gboolean wants_presence);
void sc_backplane_client_left (ScBackplane *backplane, guint32 id);
gboolean sc_backplane_has_client (ScBackplane *backplane, guint32 id);
char *sc_backplane_nickname_holder (ScBackplane *backplane, const char *look);
GArray *sc_backplane_remote_ids (ScBackplane *backplane);
guint sc_backplane_count_remote (ScBackplane *backplane);
GPtrArray *sc_backplane_merge_list (ScBackplane *backplane,
                                    GPtrArray *local_page,
                                    gboolean *more,
                                    guint32 after_id,
                                    gsize byte_budget);
ScStatus sc_backplane_route_message (ScBackplane *backplane,
                                     guint32 sender_id,
                                     guint32 recipient_id,
                                     guint64 message_id,
                                     GBytes *frame,
                                     gboolean receipt);
gboolean sc_backplane_route_receipt (ScBackplane *backplane,
                                     guint32 sender_id,
                                     guint64 message_id,
                                     guint32 recipient_id,
                                     ScStatus status);
void sc_backplane_flush (ScBackplane *backplane);

/* Engines: the NATS one is in a module (sockchat-backplane-nats), which
 * sc_backplane_new() loads by this name. */
G_MODULE_EXPORT ScBackplane *sc_backplane_nats_new (ScServer *server,
                                                    GError **error);

G_END_DECLS
