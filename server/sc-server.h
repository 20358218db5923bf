/* sc-server.h: the SockChat server, embeddable so tests can run it
 * in-process. */
#pragma once

#include <glib.h>

#include "sc-server-config.h"

G_BEGIN_DECLS

typedef struct _ScServer ScServer;

ScServer *sc_server_new (const ScServerConfig *config);
gboolean sc_server_start (ScServer *server, GError **error);
guint16 sc_server_get_port (ScServer *server);
guint16 sc_server_get_tls_port (ScServer *server);
guint sc_server_get_n_clients (ScServer *server);
gsize sc_server_get_memory_held (ScServer *server);
gboolean
sc_server_reload_accounts (ScServer *server, guint *n_accounts, GError **error);
void sc_server_stop (ScServer *server);
void sc_server_free (ScServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScServer, sc_server_free)

G_END_DECLS
