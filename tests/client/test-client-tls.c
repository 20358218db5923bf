/* test-client-tls.c: ScClient over TLS against the in-process server's
 * TLS listener, with a self-signed certificate made for each test.
 *
 * No authority signs it, so it is trusted on first use: the first
 * connection shows its SHA-256 fingerprint and remembers it in
 * $XDG_CONFIG_HOME/sockchat/known-servers (the test's own, through
 * G_TEST_OPTION_ISOLATE_DIRS) only when allowed to; later ones find it
 * there; a different certificate for the same host and port is refused
 * with its own error code even when new ones may be trusted.
 */
#define G_LOG_DOMAIN "test-client"

#include "config.h"

#include "client-harness.h"
#include "sc-known-servers.h"
#include "sc-tls.h"

typedef ScTestServer TlsFixture;

static const ScTestServerOptions tls_server = { .tls = TRUE };

static Peer *
tls_peer_new (gboolean trust_new)
{
  Peer *peer = peer_new_in (NULL);

  sc_client_set_tls (peer->client, TRUE);
  sc_client_set_trust_new (peer->client, trust_new);
  return peer;
}

static char *
server_fingerprint (TlsFixture *fixture)
{
  g_autoptr (GError) error = NULL;
  char *fingerprint =
    sc_tls_fingerprint_file (fixture->config->tls_cert, &error);

  g_assert_no_error (error);
  return fingerprint;
}

static char *
remembered (TlsFixture *fixture)
{
  g_autofree char *path = sc_known_servers_default_path ();
  g_autoptr (GError) error = NULL;
  char *fingerprint =
    sc_known_servers_lookup (path, "127.0.0.1", fixture->tls_port, &error);

  g_assert_no_error (error);
  return fingerprint;
}

/* Two clients over TLS exchange a message, both ways. */
static void
test_chat (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) alice = tls_peer_new (TRUE);
  g_autoptr (Peer) bob = tls_peer_new (TRUE);
  g_autofree char *expected = server_fingerprint (fixture);

  peer_connect (alice, fixture->tls_port, "alice");
  g_assert_cmpint (sc_client_get_tls_trust (alice->client), ==,
                   SC_TLS_TRUST_FIRST_USE);
  g_assert_cmpstr (sc_client_get_tls_fingerprint (alice->client), ==, expected);
  peer_connect (bob, fixture->tls_port, "bob");
  g_assert_cmpint (sc_client_get_tls_trust (bob->client), ==,
                   SC_TLS_TRUST_REMEMBERED);

  peer_send (alice, peer_id (bob), "hello over TLS");
  wait_until (bob->received->len == 1);
  g_assert_cmpstr (peer_received (bob, 0)->text, ==, "hello over TLS");
  peer_send (bob, peer_id (alice), "and back");
  wait_until (alice->received->len == 1);
  g_assert_cmpstr (peer_received (alice, 0)->text, ==, "and back");
  wait_until (alice->receipts->len == 1);
  g_assert_cmpuint (peer_receipt (alice, 0)->status, ==, SC_STATUS_OK);
}

/* Trust on first use: refused without consent, the fingerprint shown;
 * accepted once the user has accepted that fingerprint; known after. */
static void
test_first_use (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) careful = tls_peer_new (FALSE);
  g_autoptr (Peer) later = tls_peer_new (FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = server_fingerprint (fixture);
  g_autofree char *stored = NULL;
  g_autofree char *shown = NULL;

  error = peer_try_connect (careful, "127.0.0.1", fixture->tls_port, "me");
  g_assert_error (error, SC_ERROR, SC_ERROR_TLS_UNKNOWN_CERTIFICATE);
  g_assert_nonnull (strstr (error->message, expected));
  shown = g_strdup (sc_client_get_tls_fingerprint (careful->client));
  g_assert_cmpstr (shown, ==, expected);
  stored = remembered (fixture);
  g_assert_null (stored);

  sc_client_set_accepted_fingerprint (careful->client, shown);
  g_clear_error (&error);
  error = peer_try_connect (careful, "127.0.0.1", fixture->tls_port, "me");
  g_assert_no_error (error);
  g_assert_cmpint (sc_client_get_tls_trust (careful->client), ==,
                   SC_TLS_TRUST_FIRST_USE);
  stored = remembered (fixture);
  g_assert_cmpstr (stored, ==, expected);

  peer_connect (later, fixture->tls_port, "later");
  g_assert_cmpint (sc_client_get_tls_trust (later->client), ==,
                   SC_TLS_TRUST_REMEMBERED);
}

/* Another certificate than the remembered one: refused, with the
 * distinct error, even for a client that trusts new certificates; the
 * remembered one is left alone. */
static void
test_changed (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = tls_peer_new (TRUE);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = sc_known_servers_default_path ();
  g_autofree char *stored = NULL;
  const char *old = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

  g_assert_true (sc_known_servers_remember (path, "127.0.0.1",
                                            fixture->tls_port, old, NULL));
  error = peer_try_connect (peer, "127.0.0.1", fixture->tls_port, "me");
  g_assert_error (error, SC_ERROR, SC_ERROR_TLS_CERTIFICATE_CHANGED);
  g_assert_nonnull (strstr (error->message, "CHANGED"));
  g_assert_nonnull (strstr (error->message, old));
  g_assert_cmpint (sc_client_get_state (peer->client), ==,
                   SC_CLIENT_STATE_DISCONNECTED);
  stored = remembered (fixture);
  g_assert_cmpstr (stored, ==, old);
  /* Nothing was said to the server: no hello, no client. */
  sc_test_server_wait_n_clients (fixture, 0, 5000);
}

/* The user accepted one certificate, and the server then shows another
 * (someone stepped in between the question and the answer): a warning
 * that it changed, not a new "never seen before" question; nothing is
 * remembered, and the answer does not carry over to the next attempt. */
static void
test_changed_after_accept (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) peer = tls_peer_new (FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree char *offered = server_fingerprint (fixture);
  g_autofree char *stored = NULL;
  const char *accepted = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                         "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

  sc_client_set_accepted_fingerprint (peer->client, accepted);
  error = peer_try_connect (peer, "127.0.0.1", fixture->tls_port, "me");
  g_assert_error (error, SC_ERROR, SC_ERROR_TLS_CERTIFICATE_CHANGED);
  g_assert_nonnull (strstr (error->message, accepted));
  g_assert_nonnull (strstr (error->message, offered));
  stored = remembered (fixture);
  g_assert_null (stored);
  sc_test_server_wait_n_clients (fixture, 0, 5000);

  g_clear_error (&error);
  error = peer_try_connect (peer, "127.0.0.1", fixture->tls_port, "me");
  g_assert_error (error, SC_ERROR, SC_ERROR_TLS_UNKNOWN_CERTIFICATE);
}

/* The plain client of a TLS-only port, and a TLS client of a plain port,
 * fail with an error instead of hanging. */
static void
test_wrong_port (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (Peer) tls_to_plain = tls_peer_new (TRUE);
  g_autoptr (GError) error = NULL;

  error = peer_try_connect (tls_to_plain, "127.0.0.1", fixture->port, "me");
  g_assert_error (error, SC_ERROR, SC_ERROR_TLS);
}

/* The known-servers file keeps other lines and replaces a server's. */
static void
test_known_servers_file (void)
{
  g_autofree char *path = sc_known_servers_default_path ();
  g_autofree char *contents = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  g_assert_true (
    sc_known_servers_remember (path, "a.example", 5331, "AA", NULL));
  g_assert_true (
    sc_known_servers_remember (path, "b.example", 5331, "BB", NULL));
  g_assert_true (
    sc_known_servers_remember (path, "A.example", 5331, "CC", NULL));
  a = sc_known_servers_lookup (path, "a.example", 5331, NULL);
  b = sc_known_servers_lookup (path, "b.example", 5331, NULL);
  g_assert_cmpstr (a, ==, "CC");
  g_assert_cmpstr (b, ==, "BB");
  g_assert_null (sc_known_servers_lookup (path, "a.example", 5332, NULL));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "AA"));
  g_assert_false (sc_known_servers_remember (path, "a b", 1, "DD", NULL));
}

#define add_tls_test(path, func)                                         \
  g_test_add (path, TlsFixture, &tls_server, sc_test_server_setup, func, \
              sc_test_server_teardown)

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

  add_tls_test ("/client/tls/chat", test_chat);
  add_tls_test ("/client/tls/first-use", test_first_use);
  add_tls_test ("/client/tls/changed", test_changed);
  add_tls_test ("/client/tls/changed-after-accept", test_changed_after_accept);
  add_tls_test ("/client/tls/wrong-port", test_wrong_port);
  g_test_add_func ("/client/tls/known-servers-file", test_known_servers_file);
  return g_test_run ();
}
