/* sc-registry.h: every connected client, by id, shared by all workers.
 *
 * To reach a client, a worker looks its id up here and gets a reference
 * to its connection, whose output side any worker may use.  A client is
 * listed and reachable once it has said hello, and forgotten before its
 * connection is closed, so a message is never addressed to a client that
 * has gone: a connection found here may still be closing, and then
 * refuses the message. */
#pragma once

#include <glib.h>

#include "sc-message.h"

G_BEGIN_DECLS

typedef struct _ScRegistry ScRegistry;
typedef struct _ScConnection ScConnection;

ScRegistry *sc_registry_new (void);
void sc_registry_free (ScRegistry *registry);

void sc_registry_add (ScRegistry *registry,
                      const ScClientInfo *info,
                      ScConnection *connection);
void sc_registry_remove (ScRegistry *registry, guint32 id);
void
sc_registry_set_ready (ScRegistry *registry, guint32 id, const char *nickname);
void sc_registry_set_presence (ScRegistry *registry,
                               guint32 id,
                               gboolean wants_presence);
ScConnection *sc_registry_lookup_ready (ScRegistry *registry, guint32 id);
GPtrArray *sc_registry_ready_connections (ScRegistry *registry,
                                          guint32 except_id);
GPtrArray *sc_registry_presence_connections (ScRegistry *registry,
                                             guint32 except_id);
guint sc_registry_count_ready (ScRegistry *registry);
GPtrArray *sc_registry_list_page (ScRegistry *registry,
                                  guint32 after_id,
                                  gsize byte_budget,
                                  gboolean *more);

G_END_DECLS
