/* sc-tls.h: what the server's listener and the clients' connections
 * agree on about TLS: the protocol versions, and how a certificate's
 * fingerprint is written.  GnuTLS runs over the same raw descriptors the
 * plain protocol uses (gnutls_transport_set_int()). */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/* TLS 1.3, with 1.2 as the oldest version either side accepts. */
#define SC_TLS_PRIORITY     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define SC_TLS_DEFAULT_PORT 5331

/* The first byte of a TLS record carrying a handshake message, and the
 * major version byte that follows it: a ClientHello starts so. */
#define SC_TLS_RECORD_HANDSHAKE 0x16
#define SC_TLS_RECORD_MAJOR     0x03

char *sc_tls_fingerprint (const gnutls_datum_t *der);
char *sc_tls_fingerprint_file (const char *pem_path, GError **error);

G_END_DECLS
