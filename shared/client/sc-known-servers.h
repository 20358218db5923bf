/* sc-known-servers.h: the certificates a user trusted on first use, per
 * host and port, like SSH's known_hosts.  The file is
 * $XDG_CONFIG_HOME/sockchat/known-servers, one server a line:
 *
 *   HOST PORT SHA256-FINGERPRINT
 *
 * with the fingerprint as sc_tls_fingerprint() writes it; lines starting
 * with '#' and blank lines are kept as they are. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *sc_known_servers_default_path (void);
char *sc_known_servers_lookup (const char *path,
                               const char *host,
                               guint16 port,
                               GError **error);
gboolean sc_known_servers_remember (const char *path,
                                    const char *host,
                                    guint16 port,
                                    const char *fingerprint,
                                    GError **error);

G_END_DECLS
