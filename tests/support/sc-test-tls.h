/* sc-test-tls.h: self-signed certificates made at test time with the
 * GnuTLS API (no certtool needed), for the TLS listener's tests. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void sc_test_tls_make_certificate (const char *folder,
                                   const char *name,
                                   char **cert_path,
                                   char **key_path);

G_END_DECLS
