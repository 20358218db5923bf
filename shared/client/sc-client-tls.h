/* sc-client-tls.h: the client's side of a TLS session over its raw
 * socket: the handshake with the server's certificate checked (a trusted
 * authority and the host name, or trust on first use), then record I/O
 * for the receiver thread (reading) and the sender thread (writing),
 * which GnuTLS allows at the same time. */
#pragma once

#include <sys/types.h>

#include "sc-client.h"

G_BEGIN_DECLS

typedef struct _ScClientTls ScClientTls;

typedef struct
{
  const char *host;
  guint16 port;
  gboolean trust_new;     /* remember a certificate seen the first time */
  const char *accepted;   /* the user accepted this fingerprint */
  const char *known_path; /* the known-servers file */
} ScClientTlsPolicy;

ScClientTls *sc_client_tls_handshake (int fd,
                                      const ScClientTlsPolicy *policy,
                                      char **fingerprint,
                                      ScTlsTrust *trust,
                                      GError **error);
ssize_t sc_client_tls_recv (ScClientTls *tls,
                            void *buffer,
                            gsize size,
                            const char **why);
ssize_t sc_client_tls_send (ScClientTls *tls,
                            const void *data,
                            gsize size,
                            const char **why);
gboolean sc_client_tls_send_all (ScClientTls *tls,
                                 const void *data,
                                 gsize size,
                                 GError **error);
void sc_client_tls_free (ScClientTls *tls);

G_END_DECLS
