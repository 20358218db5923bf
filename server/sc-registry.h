/* sc-registry.h: every connected client, by id, shared by all workers.
 *
 * Workers never touch each other's connections.  To reach a client they
 * ask the registry which worker owns its id and post work there; the
 * owner looks the id up again in its own table, so a client that left in
 * the meantime is simply not found. */
#pragma once

#include <glib.h>

#include "sc-message.h"

G_BEGIN_DECLS

typedef struct _ScRegistry ScRegistry;

ScRegistry *sc_registry_new (void);
void sc_registry_free (ScRegistry *registry);

void sc_registry_add (ScRegistry *registry,
                      const ScClientInfo *info,
                      guint worker_index);
void sc_registry_remove (ScRegistry *registry, guint32 id);
void
sc_registry_set_ready (ScRegistry *registry, guint32 id, const char *nickname);
gboolean sc_registry_lookup_ready (ScRegistry *registry,
                                   guint32 id,
                                   guint *worker_index);
GArray *sc_registry_ready_ids (ScRegistry *registry, guint32 except_id);
guint sc_registry_count_ready (ScRegistry *registry);
GPtrArray *sc_registry_list_page (ScRegistry *registry,
                                  guint32 after_id,
                                  gsize byte_budget,
                                  gboolean *more);

G_END_DECLS
