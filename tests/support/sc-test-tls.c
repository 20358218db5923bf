/* sc-test-tls.c: see sc-test-tls.h. */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

#include "sc-test-tls.h"

#define CHECK(call) g_assert_cmpint ((call), >=, 0)

static void
write_pem (const char *path, const gnutls_datum_t *pem)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents_full (path, (const char *) pem->data, pem->size,
                            G_FILE_SET_CONTENTS_NONE, 0600, &error);
  g_assert_no_error (error);
}

/* Writes @name.crt and @name.key in @folder: an ECDSA P-256 key and a
 * self-signed certificate for "localhost" and 127.0.0.1, valid for a day.
 * Each call makes a new key, so two certificates never match. */
void
sc_test_tls_make_certificate (const char *folder,
                              const char *name,
                              char **cert_path,
                              char **key_path)
{
  static const guint8 loopback[4] = { 127, 0, 0, 1 };
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_datum_t pem = { NULL, 0 };
  guint8 serial[8];
  time_t now = time (NULL);
  g_autofree char *cert_name = g_strdup_printf ("%s.crt", name);
  g_autofree char *key_name = g_strdup_printf ("%s.key", name);

  for (gsize i = 0; i < sizeof serial; i++)
    serial[i] = (guint8) g_random_int_range (0, 256);
  serial[0] &= 0x7f;
  CHECK (gnutls_x509_privkey_init (&key));
  CHECK (gnutls_x509_privkey_generate (
    key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
    0));
  CHECK (gnutls_x509_crt_init (&crt));
  CHECK (gnutls_x509_crt_set_version (crt, 3));
  CHECK (gnutls_x509_crt_set_serial (crt, serial, sizeof serial));
  CHECK (gnutls_x509_crt_set_activation_time (crt, now - 3600));
  CHECK (gnutls_x509_crt_set_expiration_time (crt, now + 86400));
  CHECK (gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                        "localhost", strlen ("localhost")));
  CHECK (gnutls_x509_crt_set_subject_alt_name (
    crt, GNUTLS_SAN_DNSNAME, "localhost", strlen ("localhost"),
    GNUTLS_FSAN_SET));
  CHECK (gnutls_x509_crt_set_subject_alt_name (
    crt, GNUTLS_SAN_IPADDRESS, loopback, sizeof loopback, GNUTLS_FSAN_APPEND));
  CHECK (gnutls_x509_crt_set_key (crt, key));
  CHECK (gnutls_x509_crt_set_basic_constraints (crt, 0, -1));
  CHECK (gnutls_x509_crt_set_key_usage (crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
  CHECK (
    gnutls_x509_crt_set_key_purpose_oid (crt, GNUTLS_KP_TLS_WWW_SERVER, 0));
  CHECK (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0));

  *cert_path = g_build_filename (folder, cert_name, NULL);
  *key_path = g_build_filename (folder, key_name, NULL);
  CHECK (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem));
  write_pem (*cert_path, &pem);
  gnutls_free (pem.data);
  CHECK (gnutls_x509_privkey_export2 (key, GNUTLS_X509_FMT_PEM, &pem));
  write_pem (*key_path, &pem);
  gnutls_free (pem.data);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
}
