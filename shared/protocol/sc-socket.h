/* sc-socket.h: the few raw BSD-socket helpers every program needs. */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

gboolean
sc_socket_set_nonblocking (int fd, gboolean nonblocking, GError **error);
gboolean sc_socket_set_cloexec (int fd, GError **error);
gboolean
sc_socket_send_all (int fd, const void *data, gsize length, GError **error);
char *sc_socket_format_address (const struct sockaddr *address,
                                socklen_t length,
                                guint16 *port);
gboolean sc_socket_peer_address (int fd, char **address, guint16 *port);
guint16 sc_socket_local_port (int fd);
int sc_socket_listen (const char *bind_address,
                      guint16 port,
                      int backlog,
                      GError **error);
int sc_socket_connect (const char *host,
                       guint16 port,
                       guint timeout_ms,
                       GError **error);
void sc_socket_set_keepalive (
  int fd, int idle_s, int interval_s, int count, guint user_timeout_ms);

G_END_DECLS
