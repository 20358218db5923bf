/* test-server-replay.c: every fuzz seed and every past crash input, sent
 * through a real server connection, the path fuzz-server exercises.
 *
 * Each file is written to a fresh connection, which is then half-closed;
 * whatever the server answers is read until it closes its side.  Then a
 * well-behaved client must still be served.  An input that once crashed
 * the fuzz-server target becomes a regression test by being saved in
 * tests/fuzz/crashes/.
 *
 * The same samples go once more behind a TLS session to the TLS
 * listener (/server/replay-tls/...): the bytes reach the same frame
 * reader after the record layer, the session is ended with close_notify
 * (TLS's half-close), and a TLS client must still be served after.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-socket.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"
#include "sc-tls.h"

typedef ScTestServer Fixture;

/* The files' paths live as long as the test program. */
static GPtrArray *paths;

/* The test data is the file's path, not server options. */
static void
setup (Fixture *fixture, gconstpointer data)
{
  sc_test_server_setup (fixture, NULL);
}

static void
assert_still_served (Fixture *fixture)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) hello = sc_test_peer_hello (peer, "after");
  g_autoptr (ScMessage) name =
    sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));

  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
}

static const ScTestServerOptions tls_server = { .tls = TRUE };

static void
setup_tls (Fixture *fixture, gconstpointer data)
{
  sc_test_server_setup (fixture, &tls_server);
}

typedef struct
{
  int fd;
  gnutls_certificate_credentials_t credentials;
  gnutls_session_t session;
} TlsConnection;

static void
tls_connect (TlsConnection *tls, guint16 port)
{
  g_autoptr (GError) error = NULL;
  struct timeval timeout = { 5, 0 };
  int ret;

  tls->fd = sc_socket_connect ("127.0.0.1", port, 2000, &error);
  g_assert_no_error (error);
  setsockopt (tls->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt (tls->fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  g_assert_cmpint (gnutls_certificate_allocate_credentials (&tls->credentials),
                   ==, 0);
  g_assert_cmpint (gnutls_init (&tls->session, GNUTLS_CLIENT), ==, 0);
  g_assert_cmpint (
    gnutls_priority_set_direct (tls->session, SC_TLS_PRIORITY, NULL), ==, 0);
  gnutls_credentials_set (tls->session, GNUTLS_CRD_CERTIFICATE,
                          tls->credentials);
  gnutls_transport_set_int (tls->session, tls->fd);
  do
    ret = gnutls_handshake (tls->session);
  while (ret < 0 && gnutls_error_is_fatal (ret) == 0 && ret != GNUTLS_E_AGAIN);
  g_assert_cmpint (ret, ==, 0);
}

static void
tls_close (TlsConnection *tls)
{
  gnutls_deinit (tls->session);
  gnutls_certificate_free_credentials (tls->credentials);
  close (tls->fd);
}

/* Reads records until the server ends the session; TRUE when it did. */
static gboolean
tls_drain_until_closed (TlsConnection *tls)
{
  guint8 sink[16384];

  for (;;)
    {
      ssize_t n = gnutls_record_recv (tls->session, sink, sizeof sink);

      if (n > 0 || n == GNUTLS_E_INTERRUPTED)
        continue;
      return n != GNUTLS_E_AGAIN; /* the end, a reset, or a bad record */
    }
}

/* A TLS client that says hello after the sample is served. */
static void
assert_tls_still_served (Fixture *fixture)
{
  static const guint8 get_name[] = { 0x53, 0x43, 1, 0x03, 0, 0, 0, 0,
                                     0,    0,    0, 1,    0, 0, 0, 0 };
  TlsConnection tls;
  guint8 reply[16];
  ssize_t n;

  tls_connect (&tls, fixture->tls_port);
  /* A GET_NAME before hello is answered NOT_READY: the server reads. */
  g_assert_cmpint (gnutls_record_send (tls.session, get_name, sizeof get_name),
                   ==, sizeof get_name);
  do
    n = gnutls_record_recv (tls.session, reply, sizeof reply);
  while (n == GNUTLS_E_INTERRUPTED);
  g_assert_cmpint (n, >, 0);
  g_assert_cmpuint (reply[0], ==, 0x53);
  tls_close (&tls);
}

static void
test_replay_tls (Fixture *fixture, gconstpointer data)
{
  const char *path = data;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  TlsConnection tls;
  gsize length, done = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  tls_connect (&tls, fixture->tls_port);
  /* As in clear, the server may close mid-way through a bad input. */
  while (done < length)
    {
      ssize_t n = gnutls_record_send (tls.session, contents + done,
                                      MIN (length - done, 16384));

      if (n < 0 && n != GNUTLS_E_INTERRUPTED)
        break;
      done += n > 0 ? (gsize) n : 0;
    }
  gnutls_bye (tls.session, GNUTLS_SHUT_WR);
  g_assert_true (tls_drain_until_closed (&tls));
  tls_close (&tls);
  assert_tls_still_served (fixture);
}

static void
test_replay (Fixture *fixture, gconstpointer data)
{
  const char *path = data;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;
  int fd;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  fd = sc_socket_connect ("127.0.0.1", fixture->port, 2000, &error);
  g_assert_no_error (error);
  /* The server may close mid-way through a bad input: a failed send is
   * part of the test, not an error. */
  sc_socket_send_all (fd, contents, length, NULL);
  shutdown (fd, SHUT_WR);
  g_assert_true (sc_test_drain_until_closed (fd, 5000));
  close (fd);
  assert_still_served (fixture);
}

/* Registers one replay subtest per sample in the directory that
 * @variable names; returns how many were added. */
static guint
add_directory (const char *variable, const char *kind)
{
  const char *directory = g_getenv (variable);
  g_autoptr (GPtrArray) names = NULL;

  /* A missing corpus fails /server/replay/corpus-found. */
  if (directory == NULL ||
      (names = sc_test_sample_names (directory, NULL)) == NULL)
    return 0;
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *test_path =
        g_strdup_printf ("/server/replay/%s/%s", kind, file);
      char *path = g_build_filename (directory, file, NULL);

      g_ptr_array_add (paths, path);
      g_test_add_vtable (test_path, sizeof (Fixture), path,
                         (GTestFixtureFunc) setup,
                         (GTestFixtureFunc) test_replay,
                         (GTestFixtureFunc) sc_test_server_teardown);
      g_free (test_path);
      test_path = g_strdup_printf ("/server/replay-tls/%s/%s", kind, file);
      g_test_add_vtable (test_path, sizeof (Fixture), path,
                         (GTestFixtureFunc) setup_tls,
                         (GTestFixtureFunc) test_replay_tls,
                         (GTestFixtureFunc) sc_test_server_teardown);
    }
  return names->len;
}

static void
test_corpus_found (gconstpointer data)
{
  g_assert_cmpuint (GPOINTER_TO_UINT (data), >, 0);
}

int
main (int argc, char *argv[])
{
  guint n_corpus;
  int status;

  sc_test_init (&argc, &argv);
  paths = g_ptr_array_new_with_free_func (g_free);
  n_corpus = add_directory ("SC_FUZZ_CORPUS", "corpus");
  add_directory ("SC_FUZZ_CRASHES", "crashes");
  g_test_add_data_func ("/server/replay/corpus-found",
                        GUINT_TO_POINTER (n_corpus), test_corpus_found);
  status = g_test_run ();
  g_ptr_array_unref (paths);
  return status;
}
