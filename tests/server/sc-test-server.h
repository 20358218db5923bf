/* sc-test-server.h: an in-process server on 127.0.0.1 with an
 * OS-chosen port, as a g_test_add() fixture, and small helpers the server
 * tests share.  It includes sc-test-util.h (sc_test_init(),
 * sc_test_threads() and the rest of the support every test shares). */
#pragma once

#include <glib.h>

#include "sc-server.h"
#include "sc-test-util.h"

G_BEGIN_DECLS

/* Settings a test wants changed from the defaults; 0 keeps the default.
 * Pass a pointer to one as the test data of g_test_add(). */
typedef struct
{
  guint max_clients;
  guint max_payload;
  guint hello_timeout_s;
  guint idle_timeout_s;
  guint ping_timeout_s;
  gsize output_cap;
  guint max_unacked;
  const char *password;
  gsize max_memory;
  guint write_timeout_s;
  guint fanout_rate;
  guint frame_timeout_s;
  guint max_pending;
  guint max_per_address;
  guint threads; /* 0: SC_TEST_THREADS */
  /* Registered nicknames, "nickname:password"; NULL-terminated. */
  const char *const *accounts;
  gboolean accounts_only;
  gboolean hide_addresses;
  gboolean tls; /* a TLS listener too, with a fresh self-signed cert */
  /* The password over TLS only, as the server does by default; the
   * fixture otherwise allows it in clear, as the tests before TLS did. */
  gboolean password_over_tls_only;
  gboolean no_plaintext;
} ScTestServerOptions;

typedef struct
{
  ScServerConfig *config;
  ScServer *server;
  guint16 port;
  guint16 tls_port; /* 0 without options->tls */
  char *tls_folder; /* the certificate's, removed at teardown */
} ScTestServer;

void sc_test_server_setup (ScTestServer *fixture, gconstpointer data);
void sc_test_server_teardown (ScTestServer *fixture, gconstpointer data);
void sc_test_server_wait_n_clients (ScTestServer *fixture,
                                    guint n_clients,
                                    guint timeout_ms);
gsize sc_test_vm_rss (void);
gsize sc_test_server_memory_held (ScTestServer *fixture);
void sc_test_server_wait_memory_below (ScTestServer *fixture,
                                       gsize bytes,
                                       guint timeout_ms);
int sc_test_compare_int64 (gconstpointer a, gconstpointer b);
char *sc_test_text (gsize length, char fill);

G_END_DECLS
