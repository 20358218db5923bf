/* sc-registry.h: every connected client, by id, shared by all workers.
 *
 * To reach a client, a worker looks its id up here and gets a reference
 * to its outbox, the output side any worker may use.  A client is
 * listed and reachable once it has said hello, and forgotten before its
 * connection is closed, so a message is never addressed to a client that
 * has gone: an outbox found here may still be closing, and then refuses
 * the message. */
#pragma once

#include <glib.h>

#include "sc-message.h"

G_BEGIN_DECLS

typedef struct _ScRegistry ScRegistry;
typedef struct _ScOutbox ScOutbox;

/* One ready client, as a snapshot sees it. */
typedef struct
{
  guint32 id;
  gboolean wants_presence;
  ScOutbox *outbox; /* a reference, held by the snapshot */
} ScRegistrySnapshotEntry;

/* The ready clients at one moment, in id order: immutable and reference
 * counted, so broadcasts and presence notices iterate it without holding
 * the registry's lock. */
typedef struct
{
  guint len;
  ScRegistrySnapshotEntry *entries;
} ScRegistrySnapshot;

ScRegistry *sc_registry_new (void);
void sc_registry_free (ScRegistry *registry);

void sc_registry_add (ScRegistry *registry,
                      const ScClientInfo *info,
                      ScOutbox *outbox);
void sc_registry_remove (ScRegistry *registry, guint32 id);
gboolean sc_registry_set_ready (ScRegistry *registry,
                                guint32 id,
                                const char *nickname,
                                const char *const *looks,
                                char **holder);
void sc_registry_set_presence (ScRegistry *registry,
                               guint32 id,
                               gboolean wants_presence);
ScOutbox *sc_registry_lookup_ready (ScRegistry *registry, guint32 id);
ScOutbox *sc_registry_lookup_holder (ScRegistry *registry,
                                     const char *const *looks,
                                     guint32 except_id);
guint sc_registry_count_ready (ScRegistry *registry);
GPtrArray *sc_registry_list_page (ScRegistry *registry,
                                  guint32 after_id,
                                  gsize byte_budget,
                                  guint32 viewer_id,
                                  gboolean hide_addresses,
                                  gboolean *more);
GPtrArray *sc_registry_all_outboxes (ScRegistry *registry);

ScRegistrySnapshot *sc_registry_snapshot (ScRegistry *registry);
ScRegistrySnapshot *sc_registry_snapshot_ref (ScRegistrySnapshot *snapshot);
void sc_registry_snapshot_unref (ScRegistrySnapshot *snapshot);
guint sc_registry_snapshot_count_except (ScRegistrySnapshot *snapshot,
                                         guint32 except_id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScRegistrySnapshot, sc_registry_snapshot_unref)

G_END_DECLS
