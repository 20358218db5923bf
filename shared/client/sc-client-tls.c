/* sc-client-tls.c: the client's TLS session (see sc-client-tls.h).
 *
 * The socket stays blocking, with the receive and send timeouts the
 * plain connection uses; GnuTLS reads and writes it directly
 * (gnutls_transport_set_int()), so a timeout shows as GNUTLS_E_AGAIN.
 *
 * The certificate is checked after the handshake, not inside it, so that
 * a self-signed server can still be trusted on first use: a chain to the
 * system's authorities that names the host is enough; otherwise the
 * certificate's SHA-256 fingerprint must be the one remembered for the
 * host and port (sc-known-servers.c), or, the first time, be accepted.
 * A fingerprint that differs from the remembered one is never accepted
 * here: the user has to remove the old line on purpose.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "sc-client-tls.h"
#include "sc-known-servers.h"
#include "sc-protocol.h"
#include "sc-tls.h"

struct _ScClientTls
{
  gnutls_session_t session;
  gnutls_certificate_credentials_t credentials;
};

void
sc_client_tls_free (ScClientTls *tls)
{
  if (tls == NULL)
    return;
  if (tls->session)
    gnutls_deinit (tls->session);
  if (tls->credentials)
    gnutls_certificate_free_credentials (tls->credentials);
  g_free (tls);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScClientTls, sc_client_tls_free)

static gboolean
tls_failed (GError **error, const char *what, int ret)
{
  g_set_error (error, SC_ERROR, SC_ERROR_TLS, "%s: %s", what,
               ret == GNUTLS_E_AGAIN ? "timed out" : gnutls_strerror (ret));
  return FALSE;
}

static gboolean
start_session (ScClientTls *tls, int fd, const char *host, GError **error)
{
  const char *where = NULL;
  int ret;

  ret = gnutls_certificate_allocate_credentials (&tls->credentials);
  if (ret < 0)
    return tls_failed (error, "TLS", ret);
  /* No authority on this system is no reason not to connect: trust on
   * first use still protects later connections. */
  (void) gnutls_certificate_set_x509_system_trust (tls->credentials);
  ret = gnutls_init (&tls->session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
  if (ret >= 0)
    ret = gnutls_priority_set_direct (tls->session, SC_TLS_PRIORITY, &where);
  if (ret >= 0)
    ret = gnutls_credentials_set (tls->session, GNUTLS_CRD_CERTIFICATE,
                                  tls->credentials);
  if (ret >= 0 && !g_hostname_is_ip_address (host))
    ret = gnutls_server_name_set (tls->session, GNUTLS_NAME_DNS, host,
                                  strlen (host));
  if (ret < 0)
    return tls_failed (error, "TLS", ret);
  gnutls_transport_set_int (tls->session, fd);
  return TRUE;
}

static char *
peer_fingerprint (ScClientTls *tls)
{
  unsigned int n = 0;
  const gnutls_datum_t *chain = gnutls_certificate_get_peers (tls->session, &n);

  return n > 0 ? sc_tls_fingerprint (&chain[0]) : NULL;
}

/* Decides whether the server's certificate is trusted, and how. */
static gboolean
check_certificate (ScClientTls *tls,
                   const ScClientTlsPolicy *policy,
                   const char *fingerprint,
                   ScTlsTrust *trust,
                   GError **error)
{
  g_autofree char *known = NULL;
  g_autoptr (GError) local_error = NULL;
  unsigned int status = 0;
  int ret;

  ret = gnutls_certificate_verify_peers3 (tls->session, policy->host, &status);
  if (ret >= 0 && status == 0)
    {
      *trust = SC_TLS_TRUST_AUTHORITY;
      return TRUE;
    }
  known = sc_known_servers_lookup (policy->known_path, policy->host,
                                   policy->port, &local_error);
  if (local_error != NULL)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TLS,
                   "cannot read the known servers: %s", local_error->message);
      return FALSE;
    }
  if (known != NULL && g_ascii_strcasecmp (known, fingerprint) == 0)
    {
      *trust = SC_TLS_TRUST_REMEMBERED;
      return TRUE;
    }
  if (known != NULL)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TLS_CERTIFICATE_CHANGED,
                   "WARNING: the certificate of %s port %u has CHANGED. "
                   "Someone may be intercepting the connection, or the "
                   "server got a new certificate. Remembered: %s; offered "
                   "now: %s. If the change is expected, remove the line "
                   "for this server from %s.",
                   policy->host, policy->port, known, fingerprint,
                   policy->known_path);
      return FALSE;
    }
  if (policy->accepted != NULL &&
      g_ascii_strcasecmp (policy->accepted, fingerprint) != 0)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TLS_CERTIFICATE_CHANGED,
                   "WARNING: the certificate of %s port %u has CHANGED since "
                   "it was shown to you. Someone may be intercepting the "
                   "connection. You accepted: %s; offered now: %s. Nothing "
                   "was remembered.",
                   policy->host, policy->port, policy->accepted, fingerprint);
      return FALSE;
    }
  if (!policy->trust_new && policy->accepted == NULL)
    {
      g_autofree char *problem = NULL;

      if (ret >= 0)
        {
          gnutls_datum_t text = { NULL, 0 };

          gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509,
                                                        &text, 0);
          problem = g_strdup ((const char *) text.data);
          gnutls_free (text.data);
        }
      g_set_error (error, SC_ERROR, SC_ERROR_TLS_UNKNOWN_CERTIFICATE,
                   "the certificate of %s port %u is not signed by a trusted "
                   "authority for this name (%s) and was never seen before; "
                   "its SHA-256 fingerprint is %s",
                   policy->host, policy->port,
                   problem ? problem : gnutls_strerror (ret), fingerprint);
      return FALSE;
    }
  if (!sc_known_servers_remember (policy->known_path, policy->host,
                                  policy->port, fingerprint, &local_error))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TLS,
                   "cannot remember the server's certificate: %s",
                   local_error->message);
      return FALSE;
    }
  *trust = SC_TLS_TRUST_FIRST_USE;
  return TRUE;
}

/* Runs the handshake on @fd (connected, blocking, with timeouts) and
 * checks the certificate.  *fingerprint is set whenever the server
 * showed one, also when it is refused, so the caller can show it.
 * (transfer full) */
ScClientTls *
sc_client_tls_handshake (int fd,
                         const ScClientTlsPolicy *policy,
                         char **fingerprint,
                         ScTlsTrust *trust,
                         GError **error)
{
  g_autoptr (ScClientTls) tls = g_new0 (ScClientTls, 1);
  int ret;

  *fingerprint = NULL;
  *trust = SC_TLS_TRUST_NONE;
  if (!start_session (tls, fd, policy->host, error))
    return NULL;
  do
    ret = gnutls_handshake (tls->session);
  while (ret < 0 && ret != GNUTLS_E_AGAIN && gnutls_error_is_fatal (ret) == 0);
  if (ret < 0)
    {
      tls_failed (error, "TLS handshake failed", ret);
      return NULL;
    }
  *fingerprint = peer_fingerprint (tls);
  if (*fingerprint == NULL)
    {
      g_set_error_literal (error, SC_ERROR, SC_ERROR_TLS,
                           "the server showed no certificate");
      return NULL;
    }
  if (!check_certificate (tls, policy, *fingerprint, trust, error))
    return NULL;
  return g_steal_pointer (&tls);
}

/* Like recv(): > 0 bytes read, 0 at the end of the stream (with or
 * without the server's close_notify), -1 on failure with errno EAGAIN for
 * a timeout and *why saying what happened. */
ssize_t
sc_client_tls_recv (ScClientTls *tls,
                    void *buffer,
                    gsize size,
                    const char **why)
{
  for (;;)
    {
      ssize_t n = gnutls_record_recv (tls->session, buffer, size);

      if (n >= 0)
        return n;
      if (n == GNUTLS_E_INTERRUPTED)
        continue;
      if (n == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
      *why = gnutls_strerror ((int) n);
      errno = n == GNUTLS_E_AGAIN ? EAGAIN : EPROTO;
      return -1;
    }
}

/* Like send() on a blocking socket: at most one record.  On
 * GNUTLS_E_AGAIN (errno EAGAIN) the record is kept by GnuTLS and the
 * next call must offer the same bytes again. */
ssize_t
sc_client_tls_send (ScClientTls *tls,
                    const void *data,
                    gsize size,
                    const char **why)
{
  for (;;)
    {
      ssize_t n = gnutls_record_send (tls->session, data, size);

      if (n >= 0)
        return n;
      if (n == GNUTLS_E_INTERRUPTED)
        continue;
      *why = gnutls_strerror ((int) n);
      errno = n == GNUTLS_E_AGAIN ? EAGAIN : EPROTO;
      return -1;
    }
}

/* The handshake thread's writes: all of @data, within the socket's send
 * timeout. */
gboolean
sc_client_tls_send_all (ScClientTls *tls,
                        const void *data,
                        gsize size,
                        GError **error)
{
  const guint8 *bytes = data;
  gsize done = 0;

  while (done < size)
    {
      const char *why = NULL;
      ssize_t n = sc_client_tls_send (tls, bytes + done, size - done, &why);

      if (n < 0)
        {
          g_set_error (error, SC_ERROR, SC_ERROR_CLOSED, "sending failed: %s",
                       errno == EAGAIN ? "timed out" : why);
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}
