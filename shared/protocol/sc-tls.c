/* sc-tls.c: certificate fingerprints, as the clients show and remember
 * them and the server logs them. */
#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "sc-protocol.h"
#include "sc-tls.h"

/* The SHA-256 digest of a DER certificate, as upper-case hexadecimal
 * pairs separated by colons (what `openssl x509 -fingerprint -sha256`
 * prints), so a user can compare it with what the operator published.
 * (transfer full) */
char *
sc_tls_fingerprint (const gnutls_datum_t *der)
{
  guint8 digest[32];
  GString *text = g_string_sized_new (sizeof digest * 3);

  g_return_val_if_fail (der != NULL, NULL);
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, der->data, der->size, digest) < 0)
    return g_string_free (text, TRUE), NULL;
  for (gsize i = 0; i < sizeof digest; i++)
    g_string_append_printf (text, i == 0 ? "%02X" : ":%02X", digest[i]);
  return g_string_free (text, FALSE);
}

/* The fingerprint of the first certificate of a PEM file. */
char *
sc_tls_fingerprint_file (const char *pem_path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length;
  gnutls_x509_crt_t crt;
  gnutls_datum_t pem, der = { NULL, 0 };
  char *fingerprint = NULL;
  int ret;

  if (!g_file_get_contents (pem_path, &contents, &length, error))
    return NULL;
  pem.data = (unsigned char *) contents;
  pem.size = (unsigned int) length;
  gnutls_x509_crt_init (&crt);
  ret = gnutls_x509_crt_import (crt, &pem, GNUTLS_X509_FMT_PEM);
  if (ret >= 0)
    ret = gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &der);
  if (ret >= 0)
    fingerprint = sc_tls_fingerprint (&der);
  else
    g_set_error (error, SC_ERROR, SC_ERROR_TLS, "%s: %s", pem_path,
                 gnutls_strerror (ret));
  gnutls_free (der.data);
  gnutls_x509_crt_deinit (crt);
  return fingerprint;
}
